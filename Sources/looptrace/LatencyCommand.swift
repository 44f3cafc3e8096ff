import ArgumentParser
import TraceAnalysis

/// `looptrace latency FILE`: scheduling delay, timer lateness, callback queue delay, utilization
/// per window.
struct LatencyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency",
        abstract: "Scheduling delay, timer lateness by site, callback queue delay, and loop utilization per window.",
        discussion: """
            Scheduling delay is wakeup → step begin; timer lateness is deadline → fired; callback \
            queue delay is ready → callback begin. The sparkline shows loop utilization per window \
            and the busiest windows are listed with their max lag.

            Examples:
              looptrace latency slow.trace
              looptrace latency --window 10ms --task handler slow.trace
              looptrace latency --fail-on 'p99>5ms' slow.trace
            """
    )

    @OptionGroup var options: AnalysisCommandOptions

    @Option(parsing: .unconditional,
            help: DurationArgument.help("The utilization window width (ns, us, ms, s).", default: Self.defaultWindow),
            transform: { try DurationArgument(parsing: $0) })
    var window = Self.defaultWindow

    static let defaultWindow = DurationArgument(nanos: 100_000_000)

    @Option(help: ArgumentHelp("How many of the busiest windows to list.", valueName: "n"))
    var worst: Int = 5

    func validate() throws {
        if window.nanos <= 0 { throw ValidationError("--window must be positive") }
        if worst < 0 { throw ValidationError("--worst must be 0 or more") }
    }

    func run() throws {
        let (result, reader) = try options.analyze { $0.windowNanos = window.nanos }
        try options.emit(result, reader, json: .latency) {
            ReportRenderer(result, style: options.style, file: options.input.file).latency(worstWindows: worst)
        }
    }
}
