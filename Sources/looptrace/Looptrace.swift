import ArgumentParser

/// The `looptrace` command: inspect, validate, analyse and export traces recorded by LoopRuntime.
@main
struct Looptrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "looptrace",
        abstract: "See what the tasks of an async Swift program did, step by step.",
        discussion: """
            Record a trace by running a LoopRuntime program with LOOPTRACE=FILE set, then:

              looptrace info slow.trace        what is in the trace
              looptrace validate slow.trace    is it intact (exit 0) or damaged (exit 65)
              looptrace dump slow.trace        every event, one per line

            Exit codes: 0 success; 1 a --fail-on gate failed; 64 usage error (bad flag or value);
            65 the trace is damaged or not a trace (whatever could be recovered is still shown);
            66 the file cannot be read (missing, a directory, no permission).
            """,
        version: "looptrace 0.1.0 (trace format \(TraceSpecVersion.text))",
        subcommands: [InfoCommand.self, ValidateCommand.self, DumpCommand.self,
                      ReportCommand.self, LatencyCommand.self, BlockingCommand.self, StepsCommand.self, TasksCommand.self, LintsCommand.self,
                      ExportCommand.self, RecordCommand.self]
    )
}
