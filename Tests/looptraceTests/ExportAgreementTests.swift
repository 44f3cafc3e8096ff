import Foundation
import Testing
import TraceTestSupport

/// `looptrace export` and `looptrace report --json` read a trace through one model: this checks
/// that they say the same about it, for every sample and for a trace recorded now.
///
/// The old exporter rebuilt task states on its own and disagreed with the reports: after a
/// yielded step it marked the task ready, where the model keeps it suspended until its wakeup,
/// and it counted the tasks a blocking step delayed on every stream. Each check below compares
/// what the two commands print, not what either computes inside.
@Suite("export and report agree")
struct ExportAgreementTests {
    /// What the JSON export shows, summed up the way the report counts.
    struct Export {
        var steps = 0
        var callbacks = 0
        var metadata: [String: String] = [:]
        /// Per task: step slices, and the total ns of its running, ready and suspended slices.
        var stepsByTask: [Int: Int] = [:]
        var running: [Int: Int64] = [:]
        var ready: [Int: Int64] = [:]
        var suspended: [Int: Int64] = [:]
        /// Blocking steps and callbacks: (begin ns, duration ns) → the tasks it delayed.
        var blocking: [[Int64]: [Int]] = [:]
        /// Steps and callbacks: (begin ns, duration ns).
        var slices: Set<[Int64]> = []

        /// ns from a µs value with three decimals, kept as text by the parser.
        static func nanos(_ value: Any?) -> Int64 {
            let text = "\(value ?? "")"
            let parts = text.split(separator: ".")
            guard parts.count == 2, let whole = Int64(parts[0]), let frac = Int64(parts[1]) else { return -1 }
            return whole * 1000 + frac
        }

        init(path: String) throws {
            // Decimals as text: a double would lose the nanoseconds of a long trace.
            var raw = try String(contentsOfFile: path, encoding: .utf8)
            raw = raw.replacingOccurrences(of: #"("ts|"dur)":([0-9.]+)"#, with: "$1\":\"$2\"", options: .regularExpression)
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any])
            metadata = doc["metadata"] as? [String: String] ?? [:]
            for event in doc["traceEvents"] as? [[String: Any]] ?? [] where event["ph"] as? String == "X" {
                let cat = event["cat"] as? String ?? ""
                let args = event["args"] as? [String: Any] ?? [:]
                let begin = Self.nanos(event["ts"]), duration = Self.nanos(event["dur"])
                let task = args["task"] as? Int ?? 0
                if cat.hasPrefix("step") || cat.hasPrefix("callback") { slices.insert([begin, duration]) }
                if cat.hasPrefix("step") {
                    steps += 1
                    stepsByTask[task, default: 0] += 1
                } else if cat.hasPrefix("callback") {
                    callbacks += 1
                } else if cat == "state" {
                    let name = event["name"] as? String ?? ""
                    if name == "running" { running[task, default: 0] += duration }
                    if name == "ready" { ready[task, default: 0] += duration }
                    if name.hasPrefix("suspended") { suspended[task, default: 0] += duration }
                }
                if cat.hasSuffix(",blocking") { blocking[[begin, duration]] = args["delayed"] as? [Int] ?? [-1] }
            }
        }
    }

    /// Compares the export of `trace` with its report.
    static func checkAgreement(_ trace: String) throws {
        let scratch = TemporaryDirectory(prefix: "export-agreement")
        let out = scratch.path + "/out.json"
        let exported = try looptrace(["export", trace, "-o", out])
        #expect(exported.status == 0, "\(exported.stderr)")
        let export = try Export(path: out)
        let report = try looptrace(["report", "--json", trace])
        #expect(report.status == 0, "\(report.stderr)")
        let r = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        let counts = try #require(r["counts"] as? [String: Any])
        let name = URL(fileURLWithPath: trace).lastPathComponent

        // Steps, callbacks and wakeups: the same counts.
        #expect(export.steps == counts["steps"] as? Int, "\(name): steps")
        #expect(export.callbacks == counts["callbacks"] as? Int, "\(name): callbacks")
        #expect(export.metadata["wakeups"] == (counts["wakeups"] as? Int).map(String.init), "\(name): wakeups")
        #expect(Int(export.metadata["flows"] ?? "") ?? .max <= counts["wakeups"] as? Int ?? 0, "\(name): more flows than wakeups")
        // The longest steps and callbacks the report names are in the export, as long.
        for key in ["longestSteps", "longestCallbacks"] {
            for item in r[key] as? [[String: Any]] ?? [] {
                let slice = [item["beginNanos"] as? Int64 ?? Int64(item["beginNanos"] as? Int ?? -1),
                             Int64(item["durationNanos"] as? Int ?? -1)]
                #expect(export.slices.contains(slice), "\(name): \(key) \(item) is not in the export")
            }
        }

        // Each task's timeline: its steps, and its running, ready and suspended time to the ns.
        let tasks = try #require(r["tasks"] as? [String: Any])
        #expect(tasks["omitted"] as? Int == 0)
        for row in tasks["rows"] as? [[String: Any]] ?? [] {
            let id = row["id"] as? Int ?? -1
            #expect(export.stepsByTask[id, default: 0] == row["steps"] as? Int, "\(name): task \(id) steps")
            #expect(export.running[id, default: 0] == Int64(row["busyNanos"] as? Int ?? -1), "\(name): task \(id) running time")
            #expect(export.ready[id, default: 0] == Int64(row["readyWaitNanos"] as? Int ?? -1), "\(name): task \(id) ready time")
            #expect(export.suspended[id, default: 0] == Int64(row["suspendedNanos"] as? Int ?? -1),
                    "\(name): task \(id) suspended time")
        }

        // Blocking steps and callbacks, each with the tasks it delayed.
        let blocking = try #require(r["blocking"] as? [String: Any])
        let findings = blocking["findings"] as? [[String: Any]] ?? []
        #expect(export.blocking.count == blocking["count"] as? Int, "\(name): blocking")
        for f in findings {
            let key = [Int64(f["beginNanos"] as? Int ?? -1), Int64(f["durationNanos"] as? Int ?? -1)]
            #expect(export.blocking[key] == f["delayedTasks"] as? [Int], "\(name): blocking \(key) delayed")
        }
    }

    @Test("export and report --json agree on steps, callbacks, wakeups, task times and blocking", arguments: samples)
    func sampleAgrees(sample: String) throws {
        try Self.checkAgreement(sample)
    }

    @Test("export and report --json agree on a slow-service trace recorded now")
    func freshSlowServiceAgrees() throws {
        let scratch = TemporaryDirectory(prefix: "export-agreement")
        let trace = scratch.path + "/slow.trace"
        let run = try runProcess(builtProduct("slow-service"), [], environment: ["LOOPTRACE": trace])
        #expect(run.status == 0, "\(run.stderr)")
        try Self.checkAgreement(trace)
        // Its 150 ms step is there, and it held up other tasks.
        let report = try looptrace(["report", "--json", trace])
        let r = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any]
        let findings = (r?["blocking"] as? [String: Any])?["findings"] as? [[String: Any]] ?? []
        #expect(findings.contains { ($0["delayedTasks"] as? [Int])?.isEmpty == false }, "\(findings)")
    }
}
