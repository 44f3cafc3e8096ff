import Foundation
import Testing

/// Runs the built `looptrace` binary from the package root, so that sample paths are relative
/// and the outputs hold no host-dependent path.
func looptraceInRoot(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    try looptrace(arguments, in: root, environment: ["NO_COLOR": "1"])
}

/// The samples in traces/, as paths relative to the package root.
let relativeSamples: [String] = samples.map { "traces/" + URL(fileURLWithPath: $0).lastPathComponent }

/// Golden outputs of the analysis commands for every sample in traces/: beside
/// `traces/NAME.trace` sit `NAME.COMMAND.txt` for each command and `NAME.report.json`.
///
/// Regenerate them on purpose only, after checking the new output is right:
///
///     LOOPTRACE_REGENERATE_GOLDEN=1 swift test --filter GoldenReportTests
///
/// CI never sets the variable, so a changed figure fails there until its golden is reviewed.
@Suite("Golden analysis outputs")
struct GoldenReportTests {
    static let commands = ["report", "latency", "blocking", "steps", "tasks", "lints"]
    static var regenerating: Bool { ProcessInfo.processInfo.environment["LOOPTRACE_REGENERATE_GOLDEN"] == "1" }

    /// (arguments, golden file) pairs for one sample.
    static func cases(_ sample: String) -> [(arguments: [String], golden: String)] {
        let stem = String(sample.dropLast(".trace".count))
        return commands.map { (["\($0)", "--no-color", sample], "\(stem).\($0).txt") }
            + [(["report", "--no-color", "--json", sample], "\(stem).report.json")]
    }

    @Test("Every command's text and the JSON match the goldens beside each sample", arguments: relativeSamples)
    func outputsMatchGoldens(sample: String) throws {
        for (arguments, golden) in Self.cases(sample) {
            let run = try looptraceInRoot(arguments)
            #expect(run.status == 0, "looptrace \(arguments.joined(separator: " ")): \(run.stderr)")
            let path = root + "/" + golden
            if Self.regenerating {
                try run.stdout.write(toFile: path, atomically: true, encoding: .utf8)
                continue
            }
            guard let expected = try? String(contentsOfFile: path, encoding: .utf8) else {
                Issue.record("\(golden) is missing: create it with LOOPTRACE_REGENERATE_GOLDEN=1 swift test --filter GoldenReportTests")
                continue
            }
            #expect(run.stdout == expected, "looptrace \(arguments.joined(separator: " ")) differs from \(golden)")
        }
    }

    @Test("The output is the same whatever the number of decoding threads", arguments: relativeSamples)
    func outputIsDeterministic(sample: String) throws {
        let one = try looptraceInRoot(["report", "--no-color", "--json", "--threads", "1", sample])
        let four = try looptraceInRoot(["report", "--no-color", "--json", "--threads", "4", sample])
        #expect(one.status == 0 && four.status == 0)
        #expect(one.stdout == four.stdout)
    }

    @Test("The JSON golden parses and agrees with the text golden on the headline figures", arguments: relativeSamples)
    func jsonAgreesWithText(sample: String) throws {
        guard !Self.regenerating else { return }
        let stem = root + "/" + String(sample.dropLast(".trace".count))
        guard let json = FileManager.default.contents(atPath: stem + ".report.json"),
              let text = try? String(contentsOfFile: stem + ".report.txt", encoding: .utf8) else { return }
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        let counts = try #require(object["counts"] as? [String: Any])
        let steps = try #require(counts["steps"] as? Int)
        let tasks = try #require(counts["tasks"] as? Int)
        // The text groups thousands with commas: 12,345.
        func grouped(_ n: Int) -> String {
            let digits = Array(String(n))
            return String(digits.enumerated().flatMap { i, d in (i > 0 && (digits.count - i) % 3 == 0) ? [",", d] : [d] })
        }
        #expect(text.contains("\(grouped(steps)) steps"))
        #expect(text.contains("tasks      \(grouped(tasks)) "))
    }
}
