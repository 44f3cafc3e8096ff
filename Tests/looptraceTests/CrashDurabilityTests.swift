import Foundation
import Testing

/// Runs a built example with `LOOPTRACE` set and kills it with SIGKILL partway: once its trace
/// has grown past `bytes` (a chunk or more flushed), or after 10 s.
///
/// A fixed delay (0.3 s) was flaky on a loaded machine: the program had not written its first
/// chunk yet, or any trace at all, when it was killed.
func recordAndKill(_ example: String, trace: String, afterBytes bytes: Int) throws -> Int32 {
    let process = Process()
    process.executableURL = builtProduct(example)
    process.environment = ProcessInfo.processInfo.environment.merging(["LOOPTRACE": trace]) { $1 }
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    for _ in 0..<2_000 {
        let size = (try? FileManager.default.attributesOfItem(atPath: trace)[.size] as? NSNumber)?.intValue ?? 0
        if size > bytes || !process.isRunning { break }
        Thread.sleep(forTimeInterval: 0.005)
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    return process.terminationStatus
}

@Suite("Crash durability")
struct CrashDurabilityTests {
    /// A program killed with SIGKILL loses at most the events of the last flush interval: the
    /// chunks written before the kill are intact, and at most the last one is cut short.
    @Test("A traced program killed with SIGKILL leaves a readable trace")
    func sigkillLosesAtMostTheLastInterval() throws {
        let scratch = Scratch()
        let trace = scratch.path + "/killed.trace"
        // slow-service runs for about 0.3 s and flushes every 100 ms: its header is ~800 bytes,
        // its first chunk several KiB (over 1,000 events).
        _ = try recordAndKill("slow-service", trace: trace, afterBytes: 2_048)
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
