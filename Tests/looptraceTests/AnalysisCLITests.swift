import Foundation
import Testing
import TraceTestSupport

/// The analysis commands (report, latency, blocking, steps, tasks, lints) run as a user runs
/// them: the built binary, its exit codes (documented in `looptrace --help`: 0 success, 1 a
/// `--fail-on` gate failed, 64 usage, 65 damaged trace, 66 unreadable file) and its outputs.
@Suite("looptrace analysis commands")
struct AnalysisCLITests {
    static let commands = ["report", "latency", "blocking", "steps", "tasks", "lints"]
    static let sample = root + "/traces/loop-shaped.trace"

    /// The sample cut in half: a damaged trace with some intact chunks.
    static func halfSample(in scratch: TemporaryDirectory) throws -> String {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: sample))
        let cut = scratch.path + "/half.trace"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
        return cut
    }

    @Test("A missing file: one line on stderr, nothing on stdout, exit 66", arguments: commands)
    func missingFile(command: String) throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let result = try looptrace([command, scratch.path + "/missing.trace"])
        #expect(result.status == 66, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(lines.first?.hasPrefix("looptrace: ") == true)
        #expect(lines.first?.contains("missing.trace") == true)
        #expect(result.stdout.isEmpty)
    }

    @Test("Not a trace at all: exit 65 with one line on stderr", arguments: commands)
    func notATrace(command: String) throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let path = scratch.path + "/random.trace"
        _ = FileManager.default.createFile(atPath: path, contents: Data((0..<100).map { UInt8(($0 * 37 + 11) % 256) }))
        let result = try looptrace([command, path])
        #expect(result.status == 65, "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("A damaged file: what was recovered is printed, then one line on what was lost, exit 65", arguments: commands)
    func damagedFile(command: String) throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let cut = try Self.halfSample(in: scratch)
        let text = try looptrace([command, "--no-color", cut])
        #expect(text.status == 65, "\(text.stderr)")
        #expect(!text.stdout.isEmpty, "nothing printed for what was recovered")
        let message = text.stderr.trimmingCharacters(in: .newlines)
        #expect(!message.contains("\n"), "more than one line: \(message)")
        #expect(message.contains("recovered"))
        #expect(message.contains("offset"))

        let json = try looptrace([command, "--json", cut])
        #expect(json.status == 65)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let trace = object?["trace"] as? [String: Any]
        let damage = trace?["damage"] as? [String: Any]
        #expect((damage?["damagedChunks"] as? Int ?? 0) > 0, "the JSON does not say what was lost: \(String(describing: damage))")
        #expect((trace?["events"] as? Int ?? 0) > 0)
    }

    @Test("A bad duration is a usage error naming the value, exit 64",
          arguments: [["--threshold", "10parsecs"], ["--since", "soon"], ["--until", "1h"], ["--fail-on", "p99>forever"],
                      ["--fail-on", "sometimes"]])
    func badDuration(arguments: [String]) throws {
        for command in Self.commands {
            let result = try looptrace([command] + arguments + [Self.sample])
            #expect(result.status == 64, "\(command) \(arguments): \(result.stderr)")
            #expect(result.stderr.contains(arguments[1]), "\(command): the message does not name '\(arguments[1])': \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test("An unknown task name or id is a usage error that says how to list the tasks, exit 64", arguments: commands)
    func unknownTask(command: String) throws {
        for task in ["no-such-task", "999999"] {
            let result = try looptrace([command, "--task", task, Self.sample])
            #expect(result.status == 64, "\(command) --task \(task): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(result.stderr)")
            #expect(lines.first?.contains("'\(task)'") == true)
            #expect(lines.first?.contains("looptrace tasks") == true)
            #expect(result.stdout.isEmpty)
        }
    }

    @Test("A known task name or id selects it", arguments: ["worker-3", "3"])
    func knownTask(task: String) throws {
        let result = try looptrace(["tasks", "--json", "--task", task, Self.sample])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let rows = (object?["tasks"] as? [String: Any])?["rows"] as? [[String: Any]]
        #expect(rows?.compactMap { $0["name"] as? String } == ["worker-3"])
    }

    @Test("--until before --since is a usage error, exit 64")
    func emptyWindow() throws {
        let result = try looptrace(["report", "--since", "2ms", "--until", "1ms", Self.sample])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--until"))
    }

    @Test("--fail-on gates exit 1 only when the gate fails, after printing the output",
          arguments: [
              (["--fail-on", "lints"], 1),             // the sample's 8 tasks are all unfinished
              (["--fail-on", "blocking"], 0),          // no step reaches 100 ms
              (["--fail-on", "blocking", "--threshold", "1us"], 1),
              (["--fail-on", "p99>1s"], 0),
              (["--fail-on", "p99>1us"], 1),
              (["--fail-on", "blocking", "--fail-on", "lints"], 1),
          ] as [([String], Int32)])
    func failOnGates(arguments: [String], status: Int32) throws {
        for command in Self.commands {
            let result = try looptrace([command, "--no-color"] + arguments + [Self.sample])
            #expect(result.status == status, "\(command) \(arguments): \(result.stderr)")
            #expect(!result.stdout.isEmpty)
            if status == 1 {
                #expect(result.stderr.contains("gate failed"), "\(result.stderr)")
            } else {
                #expect(result.stderr.isEmpty, "\(result.stderr)")
            }
        }
    }

    /// The keys each command's `--json` carries besides `schema` and `trace`.
    static let jsonParts: [String: (schema: String, keys: Set<String>)] = [
        "report": ("looptrace.analysis/1", ["counts", "loop", "schedulingDelay", "worstSchedulingDelay", "callbackQueueDelay",
                                            "timerLateness", "timerLatenessBySite", "stepDuration", "windows", "blocking",
                                            "longestSteps", "longestCallbacks", "tasks", "lints"]),
        "latency": ("looptrace.latency/1", ["loop", "schedulingDelay", "worstSchedulingDelay", "callbackQueueDelay", "timerLateness",
                                            "timerLatenessBySite", "stepDuration", "windows"]),
        "blocking": ("looptrace.blocking/1", ["blocking"]),
        "steps": ("looptrace.steps/1", ["counts", "stepDuration", "longestSteps", "longestCallbacks", "busiestTasks"]),
        "tasks": ("looptrace.tasks/1", ["counts", "tasks"]),
        "lints": ("looptrace.lints/1", ["lints"]),
    ]

    /// Every analysis command printed the same full document with --json.
    @Test("Each command's --json prints its own part, each key as the whole document has it", arguments: commands)
    func jsonIsTheCommandsPart(command: String) throws {
        let result = try looptrace([command, "--json", Self.sample])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let part = try #require(Self.jsonParts[command])
        #expect(object["schema"] as? String == part.schema)
        #expect(Set(object.keys) == part.keys.union(["schema", "trace"]), "\(command): \(object.keys.sorted())")

        let whole = try #require(try JSONSerialization.jsonObject(with: Data(try looptrace(["report", "--json", Self.sample]).stdout.utf8))
            as? [String: Any])
        for key in part.keys.union(["trace"]) where key != "busiestTasks" {
            #expect(NSDictionary(dictionary: [key: object[key] as Any]).isEqual(to: [key: whole[key] as Any]),
                    "\(command) --json's \(key) differs from report --json's")
        }
        if command == "steps" {
            let busiest = try #require(object["busiestTasks"] as? [[String: Any]])
            let busy = busiest.compactMap { $0["busyNanos"] as? Int }
            #expect(!busy.isEmpty && busy == busy.sorted(by: >))
        }
    }

    @Test("steps --json lists at most --top busiest tasks")
    func stepsJSONFollowsTop() throws {
        let result = try looptrace(["steps", "--json", "--top", "2", Self.sample])
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect((object?["busiestTasks"] as? [Any])?.count == 2)
    }

    /// `--threshold 5` silently meant 5 ns and `--threshold -5ms` said "Missing value".
    @Test("A duration without a unit, or a negative one, is refused with a message that says so",
          arguments: [("5", "needs a unit"), ("-5ms", "cannot be negative"), ("10parsecs", "ns, us, µs, ms or s"),
                      ("1.5", "needs a unit"), ("99999999999s", "too long")])
    func durationMessages(value: String, message: String) throws {
        for option in ["--threshold", "--since", "--until"] {
            for command in ["report", "export"] {
                let result = try looptrace([command, option, value, Self.sample])
                #expect(result.status == 64, "\(command) \(option) \(value): \(result.stderr)")
                #expect(result.stderr.contains(message), "\(command) \(option) \(value): \(result.stderr)")
                #expect(result.stderr.contains("'\(value)'"))
            }
        }
        let window = try looptrace(["latency", "--window", value, Self.sample])
        #expect(window.status == 64 && window.stderr.contains(message), "\(window.stderr)")
        let gate = try looptrace(["report", "--fail-on", "p99>\(value)", Self.sample])
        #expect(gate.status == 64 && gate.stderr.contains(message), "\(gate.stderr)")
    }

    @Test("Durations with a unit are accepted, µs included")
    func durationsWithUnits() throws {
        for value in ["100ms", "1.5s", "250us", "250µs", "800ns", "0.5ms"] {
            #expect(try looptrace(["report", "--threshold", value, Self.sample]).status == 0, "\(value)")
        }
    }

    /// Help showed `(default: DurationArgument(nanos: 100000000))`.
    @Test("Duration defaults print as durations in every command's help", arguments: commands + ["export"])
    func defaultsPrintAsDurations(command: String) throws {
        let help = try looptrace([command, "--help"]).stdout
        #expect(!help.contains("DurationArgument"), "\(help)")
        #expect(help.split(whereSeparator: \.isWhitespace).joined(separator: " ").contains("(default: 100ms)"), "\(help)")
    }

    /// `--since` beyond the end exited 0 with a 0 ns span and no word.
    @Test("A window that misses every event warns, with the trace's span, and still exits 0",
          arguments: [["--since", "100s"], ["--until", "1ns"]])
    func emptyWindowWarns(arguments: [String]) throws {
        for command in Self.commands {
            let result = try looptrace([command] + arguments + [Self.sample])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.hasPrefix("looptrace: warning: the window \(arguments.joined(separator: " ")) is empty"),
                    "\(command): \(result.stderr)")
        }
        let inside = try looptrace(["report", "--since", "1ms", Self.sample])
        #expect(inside.stderr.isEmpty, "\(inside.stderr)")
        let scratch = TemporaryDirectory(prefix: "cli")
        let export = try looptrace(["export", Self.sample, "-o", scratch.path + "/w.json"] + arguments)
        #expect(export.status == 0)
        #expect(export.stderr.contains("warning: nothing happens in the window"), "\(export.stderr)")
    }

    @Test("Each analysis command's --help shows examples", arguments: commands)
    func helpHasExamples(command: String) throws {
        let help = try looptrace([command, "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("Examples"))
    }
}
