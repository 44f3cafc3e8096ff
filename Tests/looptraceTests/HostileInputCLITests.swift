import Foundation
import Testing
import TraceTestSupport

/// The hostile inputs that TraceFormatTests builds from a real sample (Tests/Fixtures/hostile),
/// with the exit status every command must give: 0 with a correct analysis, or 65.
let hostileFixtures: [(name: String, status: Int32)] = [
    ("clean-1.2", 0),
    ("window-ratio-2p23", 0),
    ("window-ratio-max", 0),
    ("stream-id-4194304", 0),
    ("stream-id-536870912", 0),
    ("stream-id-4294967295", 0),
    ("dense-16-chunks-of-4MiB", 0),
    ("live-tasks-2M", 0),
    ("pending-callbacks-3M", 0),
    ("minor-version-flipped-to-1", 65),
    ("minor-version-flipped-to-3", 65),
    ("middle-chunk-removed", 65),
    ("cut-at-chunk-boundary", 65),
    ("ended-abruptly", 0),
]

/// The most memory any command may take on any input.
let rssLimitKiB = 256 * 1024

/// Runs the built `looptrace` under `/usr/bin/time`, output discarded: the exit status, stderr
/// and the peak resident set in KiB.
func looptraceMeasured(_ arguments: [String]) throws -> (status: Int32, stderr: String, maxRSSKiB: Int) {
    let scratch = TemporaryDirectory(prefix: "cli")
    let rss = scratch.path + "/rss"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/time")
    process.arguments = ["-f", "%M", "-o", rss, builtProduct("looptrace").path] + arguments
    process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
    let err = Pipe()
    process.standardError = err
    try process.run()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = (try? String(contentsOfFile: rss, encoding: .utf8)) ?? ""
    let kib = text.split(separator: "\n").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.last ?? Int.max
    return (process.terminationStatus, String(decoding: stderr, as: UTF8.self), kib)
}

@Suite("Hostile inputs through every command")
struct HostileInputCLITests {
    static let commands = ["validate", "dump", "info", "report", "export"]

    /// The full matrix on the dense input decodes 19 M events per command, which takes minutes
    /// in a debug build: it runs with LOOPTRACE_HEAVY_TESTS=1; by default only `validate` (the
    /// reader's window, which grew with the thread count) runs on it, and only `report` (the
    /// model's live state) on the inputs of millions of tasks or callbacks.
    static var heavy: Bool { ProcessInfo.processInfo.environment["LOOPTRACE_HEAVY_TESTS"] == "1" }
    static let lightCommand = ["dense-16-chunks-of-4MiB": "validate", "live-tasks-2M": "report", "pending-callbacks-3M": "report"]

    @Test("Each hostile input gets exit 0 or 65 and stays under 256 MiB, in every command, on one thread and the default",
          arguments: hostileFixtures.map(\.name), commands)
    func hostileInput(fixture: String, command: String) throws {
        guard Self.lightCommand[fixture].map({ $0 == command }) ?? true || Self.heavy else { return }
        let status = hostileFixtures.first { $0.name == fixture }!.status
        let path = root + "/Tests/Fixtures/hostile/\(fixture).trace"
        let scratch = TemporaryDirectory(prefix: "cli")
        for threads in [["--threads", "1"], []] {
            var arguments = [command, path] + threads
            if command == "export" { arguments += ["-o", scratch.path + "/out.json"] }
            let run = try looptraceMeasured(arguments)
            #expect(run.status == status, "\(command) \(fixture) \(threads): \(run.stderr)")
            #expect(run.maxRSSKiB <= rssLimitKiB, "\(command) \(fixture) \(threads): \(run.maxRSSKiB) KiB")
            if status == 65 {
                #expect(run.stderr.split(separator: "\n").count == 1, "\(command) \(fixture): \(run.stderr)")
            }
        }
    }

    @Test("validate and info say when a recording ended abruptly, and validate names a missing chunk and a cut")
    func endingsAreReported() throws {
        let dir = root + "/Tests/Fixtures/hostile/"
        let abrupt = try looptrace(["validate", dir + "ended-abruptly.trace"])
        #expect(abrupt.status == 0)
        #expect(abrupt.stderr.contains("recording ended abruptly at +"), "\(abrupt.stderr)")
        #expect(abrupt.stderr.contains("may be missing"), "\(abrupt.stderr)")
        let info = try looptrace(["info", dir + "ended-abruptly.trace"])
        #expect(info.stdout.contains("recording ended abruptly at +"), "\(info.stdout)")
        let json = try looptrace(["info", "--json", dir + "ended-abruptly.trace"])
        #expect(json.stdout.contains("\"ending\":\"abrupt\""), "\(json.stdout)")
        let clean = try looptrace(["info", dir + "clean-1.2.trace"])
        #expect(clean.stdout.contains("closed cleanly"), "\(clean.stdout)")
        let gap = try looptrace(["validate", dir + "middle-chunk-removed.trace"])
        #expect(gap.status == 65)
        #expect(gap.stderr.contains("missing"), "\(gap.stderr)")
        let cut = try looptrace(["validate", dir + "cut-at-chunk-boundary.trace"])
        #expect(cut.status == 65)
        #expect(cut.stderr.contains("cut short"), "\(cut.stderr)")
    }

    /// A crafted trace of millions of tasks that never run took `report` to 475 MB: the model
    /// kept every live task. Past its live-state limit it skips them, and says so.
    @Test("report says which model limits a crafted trace reached, and how much it skipped")
    func limitsReachedAreReported() throws {
        let dir = root + "/Tests/Fixtures/hostile/"
        let tasks = try looptrace(["report", dir + "live-tasks-2M.trace"])
        #expect(tasks.status == 0)
        #expect(tasks.stdout.contains("limits reached:"), "\(tasks.stdout)")
        #expect(tasks.stdout.contains("events about tasks past the model's live-state limit"), "\(tasks.stdout)")
        let json = try looptrace(["report", "--json", dir + "pending-callbacks-3M.trace"])
        #expect(json.stdout.contains("callbacks scheduled past the model's live-state limit"), "\(json.stdout)")
        // A normal trace reaches no limit, and its JSON has no `limits` key.
        let clean = try looptrace(["report", "--json", dir + "clean-1.2.trace"])
        #expect(!clean.stdout.contains("\"limits\""), "\(clean.stdout)")
    }
}
