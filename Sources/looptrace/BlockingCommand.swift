import ArgumentParser
import TraceAnalysis

/// `looptrace blocking FILE`: every step or callback over the threshold, with its impact.
struct BlockingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blocking",
        abstract: "List the steps and callbacks that blocked the loop (≥ --threshold, default 100ms), with their impact.",
        discussion: """
            Impact: how many other tasks were ready, timers due and callbacks queued when it \
            ended, and the largest part of any one wait that fell inside it. Findings are also \
            grouped by site (resume → suspend).

            Examples:
              looptrace blocking slow.trace
              looptrace blocking --threshold 10ms slow.trace
              looptrace blocking --threshold 50ms --fail-on blocking --json slow.trace
            """
    )

    @OptionGroup var options: AnalysisCommandOptions

    @Option(help: ArgumentHelp("List at most this many findings (all are counted and grouped).", valueName: "n"))
    var limit: Int = 1_000

    @Flag(help: "Also print every stack the loop watchdog sampled, grouped, with counts.")
    var stacks = false

    func validate() throws {
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let (result, reader) = try options.analyze { $0.maxFindings = limit }
        try options.emit(result, reader, json: .blocking) { ReportRenderer(result, style: options.style, file: options.input.file).blocking(stacks: stacks) }
    }
}
