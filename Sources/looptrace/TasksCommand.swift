import ArgumentParser
import TraceAnalysis

/// `looptrace tasks FILE`: per task timelines, folded.
struct TasksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks",
        abstract: "Per task: parent, created, finished and outcome, steps, busy, ready-wait, suspended time, wakers.",
        discussion: """
            Tasks alive at any time in the window are listed, by id; --tree nests them under \
            their parents. At most --max-rows are listed (all are counted).

            Examples:
              looptrace tasks slow.trace
              looptrace tasks --tree slow.trace
              looptrace tasks --task 42 --json slow.trace
            """
    )

    @OptionGroup var options: AnalysisCommandOptions

    @Flag(help: "Group tasks under their parents.")
    var tree = false

    @Option(name: .customLong("max-rows"), help: ArgumentHelp("List at most this many tasks.", valueName: "n"))
    var maxRows: Int = 10_000

    func validate() throws {
        if maxRows < 1 { throw ValidationError("--max-rows must be at least 1") }
    }

    func run() throws {
        let (result, reader) = try options.analyze { $0.maxTaskRows = maxRows }
        try options.emit(result, reader, json: .tasks) { ReportRenderer(result, style: options.style, file: options.input.file).tasks(tree: tree) }
    }
}
