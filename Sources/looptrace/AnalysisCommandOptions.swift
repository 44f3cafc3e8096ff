import ArgumentParser
import Foundation
import TraceAnalysis
import TraceFormat

/// A `--fail-on` gate: `blocking`, `lints` or `p99>DURATION`.
enum FailGate: Sendable, CustomStringConvertible {
    case blocking
    case lints
    case p99(Int64)

    /// - Throws: ``DurationArgumentError`` for an unknown gate or a bad `p99>` duration.
    init(parsing argument: String) throws(DurationArgumentError) {
        switch argument {
        case "blocking": self = .blocking
        case "lints": self = .lints
        default:
            guard argument.hasPrefix("p99>") else { throw .init("not a gate: use blocking, lints or p99>DURATION (e.g. p99>5ms)") }
            self = .p99(try DurationArgument(parsing: String(argument.dropFirst(4))).nanos)
        }
    }

    var description: String {
        switch self {
        case .blocking: "blocking"
        case .lints: "lints"
        case .p99(let n): "p99>\(Durations.format(n))"
        }
    }

    /// Why the gate fails for `result`, or nil when it passes.
    func failure(_ result: AnalysisResult) -> String? {
        switch self {
        case .blocking:
            result.blocking.count > 0 ? "\(result.blocking.count) blocking step(s)/callback(s) ≥ \(Durations.format(result.blocking.thresholdNanos))" : nil
        case .lints:
            result.lints.count > 0 ? "\(result.lints.count) lint(s)" : nil
        case .p99(let limit):
            result.schedulingDelay.p99Nanos > limit
                ? "scheduling delay p99 \(Durations.format(result.schedulingDelay.p99Nanos)) > \(Durations.format(limit))" : nil
        }
    }
}

/// The options every analysis command takes.
struct AnalysisCommandOptions: ParsableArguments {
    @OptionGroup var input: TraceInputOptions

    @Flag(help: "Print JSON: report prints the whole analysis (schema looptrace.analysis/1), each other command its own part (looptrace.COMMAND/1); documented in the TraceAnalysis DocC.")
    var json = false

    // `.unconditional`: `--since -1s` reaches the parser, which says durations can't be negative,
    // instead of argument-parser taking `-1s` for an option and saying "Missing value".
    @Option(parsing: .unconditional,
            help: DurationArgument.help("Only count what happens from this time on (since the trace start: 1.5s, 200ms)."),
            transform: { try DurationArgument(parsing: $0) })
    var since: DurationArgument?

    @Option(parsing: .unconditional, help: DurationArgument.help("Only count what happens before this time."),
            transform: { try DurationArgument(parsing: $0) })
    var until: DurationArgument?

    @Option(help: ArgumentHelp("Only look at the tasks with this name or id (task-level figures).", valueName: "name|id"))
    var task: String?

    @Option(parsing: .unconditional,
            help: DurationArgument.help("The blocking threshold: steps and callbacks this long or longer are findings (ns, us, ms, s).",
                                        default: DurationArgument.defaultThreshold),
            transform: { try DurationArgument(parsing: $0) })
    var threshold = DurationArgument.defaultThreshold

    @Option(name: .customLong("fail-on"),
            help: ArgumentHelp("Exit 1 when the gate fails: blocking, lints or p99>DURATION (repeatable).", valueName: "gate"),
            transform: { try FailGate(parsing: $0) })
    var failOn: [FailGate] = []

    @Flag(name: .customLong("no-color"), help: "Never color the output (color is only used on a terminal anyway).")
    var noColor = false

    func validate() throws {
        if let since, let until, until.nanos <= since.nanos {
            throw ValidationError("--until (\(Durations.format(until.nanos))) must be after --since (\(Durations.format(since.nanos)))")
        }
        if threshold.nanos <= 0 { throw ValidationError("--threshold must be positive") }
    }

    var style: TextStyle {
        TextStyle(color: !noColor && isatty(1) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil)
    }

    /// Runs the one pass and returns the figures; errors become one line and the documented exit
    /// code (66 unreadable, 65 not a trace, 64 unknown task).
    func analyze(_ configure: (inout AnalysisOptions) -> Void = { _ in }) throws -> (AnalysisResult, TraceReader) {
        var options = AnalysisOptions()
        options.blockingThreshold = threshold.nanos
        options.since = since?.nanos
        options.until = until?.nanos
        options.taskFilter = task.map(TaskFilter.init)
        configure(&options)
        let reader = try input.open()
        let session = AnalysisSession(options: options)
        var progress = ProgressBar()
        try input.read(reader) { chunk in
            session.consume(chunk)
            progress.update(Double(chunk.offset) / Double(max(1, reader.fileSize)))
        }
        progress.clear()
        let result = session.finish(reader: reader)
        warnIfWindowIsEmpty(result.trace)
        if let task, session.model.selectedTasks == 0 {
            printError("\(input.file): no task named or numbered '\(task)' (run `looptrace tasks \(input.file)` to list them)")
            throw ExitCodes.usage
        }
        return (result, reader)
    }

    /// A `--since`/`--until` window that misses every event still gives a report (of zeros), so
    /// say why it is empty rather than let it pass for an idle loop.
    func warnIfWindowIsEmpty(_ trace: AnalysisResult.TraceInfo) {
        guard since != nil || until != nil, trace.events > 0 else { return }
        let window = [since.map { "--since \($0)" }, until.map { "--until \($0)" }].compactMap { $0 }.joined(separator: " ")
        if trace.spanNanos <= 0 || (since?.nanos ?? 0) >= trace.lastNanos || (until?.nanos ?? .max) <= trace.firstNanos {
            printError("warning: the window \(window) is empty: the trace's events run from +\(Durations.formatTime(trace.firstNanos)) "
                       + "to +\(Durations.formatTime(trace.lastNanos))")
        }
    }

    /// Prints the output, then applies damage (exit 65) and the gates (exit 1).
    /// - Parameter part: what `--json` prints (``AnalysisJSON``).
    func emit(_ result: AnalysisResult, _ reader: TraceReader, json part: AnalysisJSON.Part, text: () -> String) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(AnalysisJSON(part: part, result: result))
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(text(), terminator: "")
        }
        try StandardOutput.check()
        try input.finish(reader, events: result.trace.events)
        let failures = failOn.compactMap { $0.failure(result) }
        if !failures.isEmpty {
            for f in failures { printError("gate failed: \(f)") }
            throw ExitCodes.gateFailed
        }
    }
}

/// A progress bar on stderr, shown only on a terminal and only once the pass has taken over a
/// second; redrawn at most ten times a second.
struct ProgressBar {
    let start = DispatchTime.now().uptimeNanoseconds
    var lastDraw: UInt64 = 0
    var shown = false
    let enabled = isatty(2) == 1

    mutating func update(_ fraction: Double) {
        guard enabled else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        guard now - start > 1_000_000_000, now - lastDraw > 100_000_000 else { return }
        lastDraw = now
        shown = true
        let width = 30
        let filled = Int(min(1, max(0, fraction)) * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        writeAll(fd: 2, Array(String(format: "\r  analysing %@ %3d %%", bar, Int(fraction * 100)).utf8))
    }

    mutating func clear() {
        guard shown else { return }
        writeAll(fd: 2, Array("\r\u{1B}[2K".utf8))
        shown = false
    }
}
