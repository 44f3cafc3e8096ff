import Foundation
import Testing
import TraceTestSupport

/// Small programs the record tests build with the toolchain's compilers, once per test run.
enum RecordFixtures {
    /// An async-main program: `exit N` exits with N, `signal N` kills itself with signal N,
    /// `wait` sleeps until killed, `handle` handles SIGINT itself (as a server's graceful
    /// shutdown does) and exits 0 on it, or 9 after 20 s without one.
    static let source = """
        import Glibc
        nonisolated(unsafe) var interrupted: sig_atomic_t = 0
        @main struct Fixture {
            static func main() async throws {
                let arguments = CommandLine.arguments.dropFirst()
                try await Task.sleep(for: .milliseconds(5))
                let value = Int32(arguments.dropFirst().first ?? "0") ?? 0
                switch arguments.first {
                case "signal": kill(getpid(), value); sleep(5)
                case "wait": while true { try await Task.sleep(for: .milliseconds(20)) }
                case "handle":
                    signal(SIGINT) { _ in interrupted = 1 }
                    for _ in 0..<1000 where interrupted == 0 { try await Task.sleep(for: .milliseconds(20)) }
                    exit(interrupted == 0 ? 9 : 0)
                default: exit(value)
                }
            }
        }
        """

    static let directory: String = {
        let path = NSTemporaryDirectory() + "looptrace-record-fixtures-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try! source.write(toFile: path + "/fixture.swift", atomically: true, encoding: .utf8)
        try! "int main(int argc, char **argv) { return argc > 1 ? 3 : 0; }\n"
            .write(toFile: path + "/cprogram.c", atomically: true, encoding: .utf8)
        return path
    }()

    /// Builds `output` from the fixture with extra flags; nil if the compiler failed.
    static func build(_ output: String, compiler: String, _ arguments: [String]) -> String? {
        let path = directory + "/" + output
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [compiler] + arguments + ["-o", path]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        guard (try? process.run()) != nil else { return nil }
        process.waitUntilExit()
        return process.terminationStatus == 0 ? path : nil
    }

    static let asyncMain = build("async-main", compiler: "swiftc", ["-parse-as-library", "fixture.swift"])
    static let staticRuntime = build("static-runtime", compiler: "swiftc", ["-parse-as-library", "-static-stdlib", "fixture.swift"])
    static let cProgram = build("c-program", compiler: "clang", ["cprogram.c"])
}

/// Runs a built product (or any program) and returns its status, how it ended and its output.
func runProgram(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                removing: [String] = [], signalAfter: (seconds: Double, signal: Int32, whenExists: String)? = nil)
    throws -> (status: Int32, signaled: Bool, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    for name in removing { env[name] = nil }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    if let signalAfter {
        // Wait for the program to be attached (its trace file exists), then a little more.
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: signalAfter.whenExists), Date() < deadline { usleep(20_000) }
        usleep(UInt32(signalAfter.seconds * 1_000_000))
        kill(process.processIdentifier, signalAfter.signal)
    }
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, process.terminationReason == .uncaughtSignal,
            String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

@Suite("looptrace record, against the built binaries")
struct RecordTests {
    let looptracePath = builtProduct("looptrace").path
    let plainConcurrency = builtProduct("plain-concurrency").path
    let library = builtProduct("libLoopTraceAuto.so").path

    @Test("The program's exit status comes back from record: 0, 3, and death by the same signal",
          arguments: [(["exit", "0"], Int32(0), false), (["exit", "3"], Int32(3), false), (["signal", "15"], Int32(15), true)])
    func exitStatusPassesThrough(arguments: [String], status: Int32, signaled: Bool) throws {
        let program = try #require(RecordFixtures.asyncMain, "swiftc could not build the fixture")
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/fixture.trace"
        let run = try runProgram(looptracePath, ["record", "-o", trace, "--", program] + arguments)
        #expect(run.status == status, "\(run.stderr)")
        #expect(run.signaled == signaled)
        if !signaled {
            #expect(run.stderr.contains("trace written to \(trace)"), "\(run.stderr)")
            #expect(try looptrace(["validate", trace]).status == 0)
        }
    }

    @Test("SIGINT sent to record reaches the program, which finishes its trace and dies of SIGINT")
    func sigintReachesTheProgram() throws {
        let program = try #require(RecordFixtures.asyncMain, "swiftc could not build the fixture")
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/waiting.trace"
        let run = try runProgram(looptracePath, ["record", "-o", trace, "--", program, "wait"],
                                 signalAfter: (0.3, SIGINT, trace))
        #expect(run.signaled && run.status == SIGINT, "status \(run.status): \(run.stderr)")
        #expect(run.stderr.contains("trace written to \(trace)"), "\(run.stderr)")
        let validate = try looptrace(["validate", trace])
        #expect(validate.status == 0, "\(validate.stdout)\(validate.stderr)")
        let dump = try looptrace(["dump", trace])
        #expect(dump.stdout.contains("loopStop"), "the signal path did not finish the trace")
    }

    @Test("SIGINT sent to a record started with SIGINT ignored (a script's background job) reaches a program that handles it itself")
    func sigintReachesAProgramThatHandlesItWhenIgnoredOnEntry() throws {
        let program = try #require(RecordFixtures.asyncMain, "swiftc could not build the fixture")
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/handling.trace"
        // sh's `trap '' INT` ignores SIGINT for what it execs, as a non-interactive shell does for
        // its background jobs; looptrace is then the process the signal is sent to.
        let run = try runProgram("/bin/sh", ["-c", "trap '' INT; exec \"$0\" \"$@\"", looptracePath,
                                             "record", "-o", trace, "--", program, "handle"],
                                 signalAfter: (0.3, SIGINT, trace))
        #expect(!run.signaled && run.status == 0, "status \(run.status) (9: the program never saw SIGINT): \(run.stderr)")
        #expect(run.stderr.contains("trace written to \(trace)"), "\(run.stderr)")
        #expect(try looptrace(["validate", trace]).status == 0)
    }

    @Test("A sync-main program, a statically linked one and a C program each get one line, and their own exit status")
    func unattachableProgramsGetOneLine() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let cases: [(String?, [String], String, Int32)] = [
            (builtProduct("slow-service").path, ["--help"], "its main is synchronous", -1),
            (RecordFixtures.staticRuntime, ["exit", "3"], "links the Swift runtime statically", 3),
            (RecordFixtures.cProgram, ["x"], "not a Swift program", 3),
        ]
        for (program, arguments, reason, status) in cases {
            let program = try #require(program, "the fixture could not be built")
            let run = try runProgram(looptracePath, ["record", "-o", scratch.path + "/none.trace", "--", program] + arguments)
            let ours = run.stderr.split(separator: "\n").filter { $0.hasPrefix("looptrace:") }
            #expect(ours.count == 1, "\(run.stderr)")
            #expect(ours.first?.contains(reason) == true, "\(run.stderr)")
            if status >= 0 { #expect(run.status == status) }
            #expect(!FileManager.default.fileExists(atPath: scratch.path + "/none.trace"))
        }
    }

    @Test("plain-concurrency under record runs on one thread with unchanged output; the child it spawns is not traced")
    func childrenAreNotTraced() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/plain.trace"
        let plain = try runProgram(plainConcurrency, [])
        let run = try runProgram(looptracePath, ["record", "-o", trace, "--", plainConcurrency],
                                 environment: ["PLAIN_CONCURRENCY_THREADS": "1", "PLAIN_CONCURRENCY_SPAWN_CHILD": "1"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == plain.stdout.split(separator: "\n").first.map(String.init), "output changed: \(run.stdout)")
        #expect(lines.contains("threads: main only"), "\(run.stdout)")
        #expect(lines.contains { $0.hasPrefix("child threads: several") }, "\(run.stdout)")
        #expect(lines.contains("child environment: untraced"), "\(run.stdout)")
        #expect(try looptrace(["validate", trace]).status == 0)
    }

    @Test("Without the handshake variable the preloaded library leaves the default executors alone")
    func noHandshakeNoEffect() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let without = try runProgram(plainConcurrency, [], environment: ["LD_PRELOAD": library, "PLAIN_CONCURRENCY_THREADS": "1"],
                                     removing: ["LOOPTRACE"])
        #expect(without.status == 0)
        #expect(without.stdout.contains("threads: several"), "\(without.stdout)")
        // The same run with the handshake is on one thread: the check above can fail.
        let with = try runProgram(plainConcurrency, [], environment: ["LD_PRELOAD": library, "PLAIN_CONCURRENCY_THREADS": "1",
                                                                      "LOOPTRACE": scratch.path + "/with.trace"])
        #expect(with.stdout.contains("threads: main only"), "\(with.stdout)")
    }

    @Test("The plain-concurrency trace lists every task and finds the ~150 ms blocking step")
    func plainConcurrencyTrace() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/plain.trace"
        let run = try runProgram(looptracePath, ["record", "-o", trace, "--", plainConcurrency])
        #expect(run.status == 0, "\(run.stderr)")
        let tasks = try looptrace(["tasks", trace])
        // main, Task {}, Task.detached, two async lets, four group children.
        let rows = tasks.stdout.split(separator: "\n").filter { $0.contains(" #") && $0.contains("completed") }
        #expect(rows.count == 9, "\(tasks.stdout)")
        let blocking = try looptrace(["blocking", "--threshold", "100ms", trace])
        #expect(blocking.stdout.contains("1 step(s)/callback(s) ran ≥ 100.00 ms"), "\(blocking.stdout)")
    }

    @Test("Suspend sites of unmodified code come from its resume chains, as function and file:line, in reports and the export")
    func suspendSitesFromResumeChains() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/plain.trace"
        let run = try runProgram(looptracePath, ["record", "-o", trace, "--", plainConcurrency])
        #expect(run.status == 0, "\(run.stderr)")
        let steps = try looptrace(["steps", "--top", "100", trace])
        // `weigh` suspends in `Task.sleep` (line 45); `round` at its awaits of the group, the
        // main queue and the actor. A debug build gives exact lines.
        #expect(steps.stdout.contains("→ weigh(_:) PlainConcurrency.swift:45"), "\(steps.stdout)")
        #expect(steps.stdout.contains("→ round(_:blockingMillis:) PlainConcurrency.swift:"), "\(steps.stdout)")
        let blocking = try looptrace(["blocking", "--threshold", "100ms", trace])
        #expect(blocking.stdout.contains("round(_:blockingMillis:) PlainConcurrency.swift:"), "\(blocking.stdout)")
        // The export names the same sites and tasks.
        let json = scratch.path + "/plain.json"
        #expect(try looptrace(["export", "-o", json, trace]).status == 0)
        let exported = try String(contentsOfFile: json, encoding: .utf8)
        #expect(exported.contains("weigh(_:) PlainConcurrency.swift:45"))
        #expect(exported.contains("closure #1 in closure #3 in round(_:blockingMillis:)"))
    }

    @Test("Tasks of unmodified code are named after the closure they run")
    func tasksAreNamedAfterTheirClosures() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/plain.trace"
        let run = try runProgram(looptracePath, ["record", "-o", trace, "--", plainConcurrency])
        #expect(run.status == 0, "\(run.stderr)")
        // Each row starts with the task's name (later columns may name sites).
        let rows = try looptrace(["tasks", trace]).stdout.split(separator: "\n").map { $0.drop { $0 == " " } }
        // The `Task {}` of round(_:blockingMillis:), and the four group children's closure.
        #expect(rows.filter { $0.hasPrefix("closure #1 in round(_:blockingMillis:) #") }.count == 1, "\(rows)")
        #expect(rows.filter { $0.hasPrefix("closure #1 in closure #3 in round(_:blockingMillis:) #") }.count == 4, "\(rows)")
    }

    @Test("An unmodified task is linted as never awaited only when its handle was dropped")
    func neverAwaitedOnlyForDroppedHandles() throws {
        // Regression: every unmodified task was recorded as awaited, so the lint could never fire;
        // marked untracked instead, the detached task whose value is read after it finished was
        // flagged by the approximate rule.
        let scratch = TemporaryDirectory(prefix: "cli")
        let kept = scratch.path + "/kept.trace"
        #expect(try runProgram(looptracePath, ["record", "-o", kept, "--", plainConcurrency]).status == 0)
        let keptLints = try looptrace(["lints", kept]).stdout
        #expect(!keptLints.contains("neverAwaited"), "\(keptLints)")
        let dropped = scratch.path + "/dropped.trace"
        #expect(try runProgram(looptracePath, ["record", "-o", dropped, "--", plainConcurrency],
                               environment: ["PLAIN_CONCURRENCY_FIRE_AND_FORGET": "1"]).status == 0)
        let lints = try looptrace(["lints", dropped]).stdout.split(separator: "\n").filter { $0.contains("neverAwaited") }
        #expect(lints.count == 1, "\(lints)")
        #expect(lints.first?.contains("handle was dropped") == true, "\(lints)")
    }
}
