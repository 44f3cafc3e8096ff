import Foundation
import Testing
import TraceTestSupport

/// Runs `watchdog-fixture MODE` with `LOOPTRACE=trace` (and `extra` variables); returns its
/// output and exit status.
func recordFixture(_ mode: String, trace: String, executable: URL = builtProduct("watchdog-fixture"),
                   environment extra: [String: String] = [:],
                   timeoutSeconds: Int? = nil) throws -> (status: Int32, stdout: String) {
    let process = Process()
    if let timeoutSeconds {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        // SIGKILL: a child of the test runner inherits its blocked signals, SIGTERM among them.
        process.arguments = ["--signal=KILL", String(timeoutSeconds), executable.path, mode]
    } else {
        process.executableURL = executable
        process.arguments = [mode]
    }
    process.environment = ProcessInfo.processInfo.environment.merging(["LOOPTRACE": trace].merging(extra) { $1 }) { $1 }
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// The line of `Blockers.swift` (the fixture's blocking calls) that contains `text`.
func blockerLine(_ text: String) throws -> Int {
    let source = try String(contentsOfFile: root + "/Sources/Examples/WatchdogFixture/Blockers.swift", encoding: .utf8)
    let lines = source.components(separatedBy: "\n")
    return try #require(lines.firstIndex { $0.contains(text) }) + 1
}

/// The `blocking --json` findings of a trace.
func blockingFindings(_ trace: String, threshold: String = "50ms") throws -> [[String: Any]] {
    let run = try looptrace(["blocking", "--json", "--threshold", threshold, trace])
    #expect(run.status == 0, "\(run.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    let blocking = object?["blocking"] as? [String: Any]
    return blocking?["findings"] as? [[String: Any]] ?? []
}

@Suite("Loop watchdog", .serialized)
struct WatchdogTests {
    /// (fixture mode, the innermost user function, the text of its blocking call's line or nil
    /// when the line may vary: a CPU loop is sampled wherever it is).
    static let cases: [(String, String, String?)] = [
        ("usleep", "sleepInUsleep(_:)", "usleep(micros)"),
        ("cpu", "spinOnCPU(_:)", nil),
        ("mutex", "waitForMutex(_:)", "pthread_mutex_lock(mutex)"),
        ("pipe", "readEmptyPipe(_:)", "read(fd, &byte, 1)"),
    ]

    @Test("A step that blocks is reported in its innermost user function, at the blocking call's line",
          arguments: cases.indices)
    func blockingStepNamesTheInnermostUserFunction(index: Int) throws {
        let (mode, function, callText) = Self.cases[index]
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/\(mode).trace"
        let run = try recordFixture(mode, trace: trace)
        #expect(run.status == 0)
        let findings = try blockingFindings(trace)
        let finding = try #require(findings.first, "no blocking step in \(trace)")
        let blockedIn = try #require(finding["blockedIn"] as? String, "no watchdog sample for \(mode)")
        #expect(blockedIn.hasPrefix("in \(function)"), "\(mode): \(blockedIn)")
        if let callText {
            #expect(blockedIn.contains("Blockers.swift:\(try blockerLine(callText))"), "\(mode): \(blockedIn)")
        }
        let stack = try #require(finding["stack"] as? [[String: Any]])
        #expect(stack.contains { $0["function"] as? String == function && $0["user"] as? Bool == true })
        // The report names it under the blocking step.
        let report = try looptrace(["report", "--threshold", "50ms", trace])
        #expect(report.stdout.contains("in \(function)"), "\(report.stdout)")
    }

    @Test("A step blocked in usleep(300 ms) still takes 300 ms with the watchdog sampling it")
    func samplingDoesNotShortenASleep() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/usleep.trace"
        let run = try recordFixture("usleep", trace: trace, environment: ["LOOPTRACE_WATCHDOG": "20ms"])
        let millis = try #require(Int(run.stdout.split(separator: " ").dropFirst().first ?? ""), "\(run.stdout)")
        #expect(millis >= 300, "usleep(300 ms) returned after \(millis) ms")
        let dump = try looptrace(["dump", trace])
        #expect(dump.stdout.components(separatedBy: "stallSample").count - 1 >= 3, "expected samples at 20, 40, 80 ms…")
    }

    @Test("A step shorter than the threshold gets no sample")
    func shortStepIsNotSampled() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/short.trace"
        _ = try recordFixture("short", trace: trace)
        let dump = try looptrace(["dump", trace])
        #expect(dump.stdout.contains("watchdogStart"))
        #expect(!dump.stdout.contains("stallSample"))
    }

    @Test("LOOPTRACE_WATCHDOG=off records no watchdog")
    func watchdogCanBeTurnedOff() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/off.trace"
        _ = try recordFixture("usleep", trace: trace, environment: ["LOOPTRACE_WATCHDOG": "off"])
        let dump = try looptrace(["dump", trace])
        #expect(dump.stdout.contains("stepBegin"))
        #expect(!dump.stdout.contains("watchdogStart"))
        #expect(!dump.stdout.contains("stallSample"))
    }

    @Test("A program that deadlocks and is killed by timeout leaves a trace whose report names the blocked call")
    func deadlockedProgramLeavesItsStall() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/deadlock.trace"
        let run = try recordFixture("deadlock", trace: trace, timeoutSeconds: 2)
        // 124 or 137 from timeout, or SIGKILL's 9 when timeout kills itself the same way.
        #expect([124, 137, 9].contains(run.status), "timeout did not have to kill it (status \(run.status))")
        let report = try looptrace(["report", trace])
        #expect(report.stdout.contains("the loop was still blocked in futex after"), "\(report.stdout)")
        #expect(report.stdout.contains("in waitForMutex(_:) Blockers.swift:\(try blockerLine("pthread_mutex_lock(mutex)"))"),
                "\(report.stdout)")
        // The hung step is a blocking finding too, so a CI gate catches the hang.
        let gate = try looptrace(["blocking", "--fail-on", "blocking", trace])
        #expect(gate.status == 1, "\(gate.stdout)")
    }

    @Test("Stacks of a rebuilt binary say 'stale image', of a deleted one 'image missing', never wrong names")
    func symbolizationChecksBuildIDs() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let binary = scratch.path + "/fixture"
        try FileManager.default.copyItem(at: builtProduct("watchdog-fixture"), to: URL(fileURLWithPath: binary))
        let trace = scratch.path + "/usleep.trace"
        _ = try recordFixture("usleep", trace: trace, executable: URL(fileURLWithPath: binary))
        let fresh = try looptrace(["blocking", "--stacks", "--threshold", "50ms", trace])
        #expect(fresh.stdout.contains("sleepInUsleep(_:)"))
        // Another binary at the same path: a different build-id.
        try FileManager.default.removeItem(atPath: binary)
        try FileManager.default.copyItem(at: builtProduct("looptrace"), to: URL(fileURLWithPath: binary))
        let stale = try looptrace(["blocking", "--stacks", "--threshold", "50ms", trace])
        #expect(stale.stdout.contains("(stale image)"), "\(stale.stdout)")
        #expect(!stale.stdout.contains("sleepInUsleep"))
        try FileManager.default.removeItem(atPath: binary)
        let missing = try looptrace(["blocking", "--stacks", "--threshold", "50ms", trace])
        #expect(missing.stdout.contains("(image missing)"), "\(missing.stdout)")
    }

    @Test("The export puts the stack in the blocking slice's args and an instant per sample")
    func exportCarriesStacks() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/usleep.trace"
        _ = try recordFixture("usleep", trace: trace)
        let json = scratch.path + "/usleep.json"
        let run = try looptrace(["export", "--threshold", "50ms", trace, "-o", json])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
        let events = object?["traceEvents"] as? [[String: Any]] ?? []
        let blocking = events.filter { ($0["cat"] as? String)?.contains("blocking") == true }
        let stack = try #require((blocking.first?["args"] as? [String: Any])?["stack"] as? String)
        #expect(stack.hasPrefix("in sleepInUsleep(_:)"))
        let instants = events.filter { ($0["name"] as? String)?.hasPrefix("watchdog: in sleepInUsleep") == true }
        #expect(instants.count >= 2)
    }
}
