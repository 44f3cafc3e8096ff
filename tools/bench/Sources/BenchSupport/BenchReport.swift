import Foundation

/// The contract every benchmark in tools/ follows, and the results it has measured.
///
/// - `--help` (or `-h`) prints the benchmark's usage and exits 0 without running anything.
/// - `--json` makes the results machine-readable: the human report goes to stderr, and stdout
///   gets one JSON document at the end, `{"bench", "command", "machine", "loadAverageBefore",
///   "loadAverageAfter", "results": [...]}`, with one object per figure or ratio:
///   `{"name", "unit", "median", "min", "max"}`, plus `"goal"` (`">= 0.90"`, `"<= 5"`) and
///   `"met"` (the median checked against it) where the figure has a goal.
/// - The report starts with the command, the machine and the load average, and ends with the
///   load average again: figures on a shared machine mean little without it.
///
/// Typical use:
/// ```swift
/// let report = BenchReport(name: "loop-bench", usage: "… [--quick] [--json]")
/// report.printHeader()
/// let pp = measure(runs: 5) { … }
/// report.record("ping-pong", unit: "steps/s", pp)
/// report.record("ping-pong traced ÷ untraced", unit: "ratio", .ratio(on, off), goal: ">= 0.90")
/// report.finish()
/// ```
/// Main thread only.
public final class BenchReport {
    /// One figure or ratio of the results.
    public struct Figure: Sendable {
        /// What was measured, e.g. "ping-pong, tracing off".
        public var name: String
        /// Its unit, e.g. "steps/s", "ns/step", "ratio", "instructions/step".
        public var unit: String
        /// Median, min and max over the runs.
        public var value: Summary
        /// The goal as `">= X"` or `"<= X"`, if the figure has one.
        public var goal: String?

        /// Whether the median meets the goal; `nil` without a goal (or one that does not parse).
        public var met: Bool? {
            guard let goal else { return nil }
            let parts = goal.split(separator: " ")
            guard parts.count == 2, let bound = Double(parts[1]) else { return nil }
            switch parts[0] {
            case ">=": return value.median >= bound
            case "<=": return value.median <= bound
            default: return nil
            }
        }
    }

    /// The benchmark's name, e.g. "loop-bench".
    public let name: String
    /// The command-line arguments, without the program's path.
    public let arguments: [String]
    /// Whether `--json` was given.
    public let json: Bool
    /// The figures recorded so far.
    public private(set) var figures: [Figure] = []
    private let loadBefore = loadAverage()
    /// The original stdout while the human report goes to stderr (`--json`).
    private let jsonOutput: Int32

    /// Reads the common flags. On `--help` prints `usage` (and the common flags) and exits 0.
    /// On `--json` sends everything printed from now on to stderr, keeping stdout for the JSON.
    /// - Parameters:
    ///   - name: the benchmark's name.
    ///   - usage: its usage text: the command line and its own flags.
    ///   - arguments: the command line (by default this process's).
    public init(name: String, usage: String, arguments: [String] = CommandLine.arguments) {
        self.name = name
        self.arguments = Array(arguments.dropFirst())
        if self.arguments.contains("--help") || self.arguments.contains("-h") {
            print(usage.trimmingCharacters(in: .newlines))
            print("""

                Common to every benchmark in tools/:
                  --help     print this and exit
                  --json     results as JSON on stdout, one object per figure or ratio
                             ({"name", "unit", "median", "min", "max"[, "goal", "met"]});
                             the human report goes to stderr
                """)
            exit(0)
        }
        json = self.arguments.contains("--json")
        if json {
            fflush(nil)  // all streams: `stdout` itself is not concurrency-safe to name
            jsonOutput = dup(STDOUT_FILENO)
            dup2(STDERR_FILENO, STDOUT_FILENO)
        } else {
            jsonOutput = -1
        }
    }

    /// Whether `flag` is on the command line.
    public func flag(_ flag: String) -> Bool { arguments.contains(flag) }

    /// The argument after `option`, if any.
    public func value(_ option: String) -> String? {
        arguments.firstIndex(of: option).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
    }

    /// The command that reproduces this run, as the README quotes it.
    public var command: String {
        (["swift run -c release --package-path tools/bench", name] + arguments).joined(separator: " ")
    }

    /// Prints the command, the machine and the load average.
    public func printHeader() {
        print("\(name) — \(command)")
        print("machine: \(machineDescription())")
        print("load average (1/5/15 min) before: \(loadBefore)")
    }

    /// Adds a figure to the results (it is printed by the caller, in its own layout).
    /// - Parameters:
    ///   - name: what was measured.
    ///   - unit: its unit.
    ///   - value: median, min and max.
    ///   - goal: `">= X"` or `"<= X"`, if the figure has one.
    public func record(_ name: String, unit: String, _ value: Summary, goal: String? = nil) {
        figures.append(Figure(name: name, unit: unit, value: value, goal: goal))
    }

    /// Prints the load average after the runs and, with `--json`, writes the results to stdout.
    public func finish() {
        let loadAfter = loadAverage()
        print("load average (1/5/15 min) after: \(loadAfter)")
        fflush(nil)  // all streams: `stdout` itself is not concurrency-safe to name
        guard json else { return }
        var lines: [String] = []
        for figure in figures {
            var fields = ["\"name\": \(jsonString(figure.name))", "\"unit\": \(jsonString(figure.unit))",
                          "\"median\": \(jsonNumber(figure.value.median))", "\"min\": \(jsonNumber(figure.value.min))",
                          "\"max\": \(jsonNumber(figure.value.max))"]
            if let goal = figure.goal { fields.append("\"goal\": \(jsonString(goal))") }
            if let met = figure.met { fields.append("\"met\": \(met)") }
            lines.append("    {" + fields.joined(separator: ", ") + "}")
        }
        let document = """
            {
              "bench": \(jsonString(name)),
              "command": \(jsonString(command)),
              "machine": \(jsonString(machineDescription())),
              "loadAverageBefore": \(jsonString(loadBefore)),
              "loadAverageAfter": \(jsonString(loadAfter)),
              "results": [
            \(lines.joined(separator: ",\n"))
              ]
            }

            """
        let bytes = Array(document.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(jsonOutput, $0.baseAddress, $0.count) }
            if n <= 0 { if errno == EINTR { continue } else { break } }
            written += n
        }
    }
}

/// The 1-, 5- and 15-minute load averages from /proc/loadavg ("0.52 0.61 0.70"), or "n/a".
public func loadAverage() -> String {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "n/a" }
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}

/// CPU count, CPU model and kernel: "2 CPUs, AMD EPYC 9R45, Linux 6.1.0".
public func machineDescription() -> String {
    var model = "unknown CPU"
    if let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
       let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
       let colon = line.firstIndex(of: ":") {
        model = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    var names = utsname()
    uname(&names)
    let release = withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    return "\(ProcessInfo.processInfo.activeProcessorCount) CPUs, \(model), Linux \(release)"
}

func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + "\""
}

/// JSON has no NaN or infinity: those become null.
func jsonNumber(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }
