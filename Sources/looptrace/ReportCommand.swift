import ArgumentParser
import TraceAnalysis

/// `looptrace report FILE`: the overview a user reads first.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "The overview: span, tasks, steps, loop utilization, worst scheduling delay, blocking steps, lints.",
        discussion: """
            Each line names the command that gives the detail.

            Examples:
              looptrace report slow.trace
              looptrace report --threshold 20ms --fail-on blocking slow.trace
              looptrace report --since 2s --until 3s --json slow.trace
            """
    )

    @OptionGroup var options: AnalysisCommandOptions

    func run() throws {
        let (result, reader) = try options.analyze()
        try options.emit(result, reader, json: .report) { ReportRenderer(result, style: options.style, file: options.input.file).report() }
    }
}
