import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

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
            66 the file cannot be read (missing, a directory, no permission); 73 the output
            file cannot be created (export); 74 writing the output failed (a write or close
            error, on standard output too, e.g. a full disk).
            """,
        version: "looptrace 0.1.0 (trace format \(TraceSpecVersion.text))",
        subcommands: [InfoCommand.self, ValidateCommand.self, DumpCommand.self,
                      ReportCommand.self, LatencyCommand.self, BlockingCommand.self, StepsCommand.self, TasksCommand.self, LintsCommand.self,
                      ExportCommand.self, RecordCommand.self]
    )

    /// Runs the command as argument-parser's `main` does, with two additions: the crash
    /// backtracer is switched off first (``CrashBacktracer``), and a failed write to stdout
    /// anywhere ends the run with exit 74 (``StandardOutput``), help and usage text included.
    static func main() {
        CrashBacktracer.disable()
        // A closed pipe ends the CLI quietly, as it ends `cat` (see ``StandardOutput``), even when
        // the parent left SIGPIPE ignored (test runners and some shells do): an ignored SIGPIPE
        // is inherited across exec and would turn `dump | head` into an EPIPE error line.
        signal(SIGPIPE, SIG_DFL)
        var status: Int32
        do {
            var command = try parseAsRoot()
            try command.run()
            status = 0
        } catch {
            status = exitCode(for: error).rawValue
            let message = fullMessage(for: error)
            if !message.isEmpty {
                if status == 0 { print(message) } else { writeAll(fd: 2, Array((message + "\n").utf8)) }
            }
        }
        if status != ExitCodes.ioError.rawValue, let reason = StandardOutput.failure() {
            printError("cannot write to standard output: \(reason)")
            status = ExitCodes.ioError.rawValue
        }
        Glibc.exit(status)
    }
}
