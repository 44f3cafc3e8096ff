import ArgumentParser
import TraceAnalysis

/// `looptrace lints FILE`: problems in task timelines.
struct LintsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lints",
        abstract: "Find unfinished tasks, lost wakeups, spinning tasks, never-awaited tasks and unobserved failures.",
        discussion: """
            unfinished        not finished at the trace end
            lostWakeup        suspended at the end with no timer, I/O or ready work left on its loop
            spin              ≥ 100 wakeups, ≥ 90 % of them self-wakes (yield / sleep(0) loops)
            neverAwaited      finished with no task waiting for it and no done callback
            failedUnobserved  failed with no task waiting and no done callback (error not retrieved)

            Examples:
              looptrace lints slow.trace
              looptrace lints --fail-on lints slow.trace
            """
    )

    @OptionGroup var options: AnalysisCommandOptions

    func run() throws {
        let (result, reader) = try options.analyze()
        try options.emit(result, reader, json: .lints) { ReportRenderer(result, style: options.style, file: options.input.file).lints() }
    }
}
