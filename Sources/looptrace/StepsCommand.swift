import ArgumentParser
import TraceAnalysis

/// `looptrace steps FILE`: the longest steps and callbacks, and per task busy time.
struct StepsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "steps",
        abstract: "The longest steps and callbacks, and the busiest tasks (steps, busy time, max step).",
        discussion: """
            Examples:
              looptrace steps slow.trace
              looptrace steps --top 50 --task handler slow.trace
            """
    )

    @OptionGroup var options: AnalysisCommandOptions

    @Option(help: ArgumentHelp("How many of each to list.", valueName: "n"))
    var top: Int = 10

    func validate() throws {
        if top < 1 || top > 100_000 { throw ValidationError("--top must be between 1 and 100000, got \(top)") }
    }

    func run() throws {
        let (result, reader) = try options.analyze { $0.topSteps = top }
        try options.emit(result, reader, json: .steps(top: top)) { ReportRenderer(result, style: options.style, file: options.input.file).steps(top: top) }
    }
}
