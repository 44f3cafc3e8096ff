import Foundation
import Testing
import TraceTestSupport

/// Runs a built example with `LOOPTRACE` set and kills it with SIGKILL partway: once its trace
/// holds more than `events` events (a chunk or more of the loop's stream flushed), or after 10 s.
///
/// A fixed delay (0.3 s) was flaky on a loaded machine: the program had not written its first
/// chunk yet, or any trace at all, when it was killed. A file size alone is no sign either: the
/// watchdog's stream writes its image table at once, before the loop's first chunk.
func recordAndKill(_ example: String, trace: String, afterEvents events: Int) throws -> Int32 {
    let process = Process()
    process.executableURL = builtProduct(example)
    process.environment = ProcessInfo.processInfo.environment.merging(["LOOPTRACE": trace]) { $1 }
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    for _ in 0..<2_000 {
        if !process.isRunning || eventCount(trace) > events { break }
        Thread.sleep(forTimeInterval: 0.005)
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    return process.terminationStatus
}

/// The events `looptrace info` counts in a trace being written, 0 while it has none to read.
private func eventCount(_ trace: String) -> Int {
    guard FileManager.default.fileExists(atPath: trace), let info = try? looptrace(["info", "--json", trace]),
          let object = try? JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any]
    else { return 0 }
    return object["events"] as? Int ?? 0
}

@Suite("Crash durability")
struct CrashDurabilityTests {
    /// A program killed with SIGKILL loses at most the events of the last flush interval: the
    /// chunks written before the kill are intact, and at most the last one is cut short.
    @Test("A traced program killed with SIGKILL leaves a readable trace")
    func sigkillLosesAtMostTheLastInterval() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/killed.trace"
        // slow-service runs for about 0.3 s and flushes every 100 ms: its first chunk of the
        // loop's stream holds over 1,000 events.
        _ = try recordAndKill("slow-service", trace: trace, afterEvents: 100)
        let validate = try looptrace(["validate", trace])
        #expect(validate.status == 0 || validate.status == 65, "\(validate.stderr)")
        if validate.status == 65 {
            // Only a cut at the end: the last chunk, nothing before it.
            #expect(validate.stderr.contains("the file ends inside"), "\(validate.stderr)")
            #expect(!validate.stderr.contains("more damaged regions"), "\(validate.stderr)")
        }
        let info = try looptrace(["info", "--json", trace])
        let object = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any]
        let events = object?["events"] as? Int ?? 0
        #expect(events > 100, "only \(events) events survived the kill")
        let dump = try looptrace(["dump", trace])
        #expect(dump.stdout.contains("taskCreate"))
        #expect(dump.stdout.contains("stepEnd"))
    }
}
