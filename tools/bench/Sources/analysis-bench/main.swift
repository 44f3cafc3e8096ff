// analysis-bench: `looptrace report`'s one analysis pass over a generated ≥ 100 M-event trace.
//
//   swift run -c release --package-path tools/bench analysis-bench [--events N] [--runs N] [--keep PATH]
//
// Generates a loop-shaped trace on a synthetic clock (LoopShapedWorkload), then runs the full
// analysis (decode on every core + model + every figure `report` prints) in a child process per
// run, so that each run's peak RSS is its own. Prints events/s including decode, and peak RSS,
// as medians with min/max, against the goals (≥ 60 M events/s on 2 cores, ≤ 256 MiB), and the
// decode-only rate of the same file in the same invocation for the ratio.
import Foundation
import TraceAnalysis
import TraceFormat
import TraceTestSupport

func nowNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

let args = CommandLine.arguments
func value(_ flag: String) -> String? { args.firstIndex(of: flag).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil } }

// Child modes: one measured pass, printed as "events seconds rssMiB".
if let path = value("--child-analyze") {
    let t0 = nowNanos()
    let result = try TraceAnalysis.analyze(path: path)
    let seconds = Double(nowNanos() - t0) / 1e9
    // Keep the result alive and checked: a pass that found nothing is a broken benchmark.
    precondition(result.counts.steps > 0)
    print("\(result.trace.events) \(seconds) \(peakRSSMiB())")
    exit(0)
}
if let path = value("--child-decode") {
    let t0 = nowNanos()
    let reader = try TraceReader(path: path)
    var events = 0
    var sink: UInt64 = 0
    try reader.forEachChunk { c in
        events += c.events.count
        for e in c.events { sink &+= e.task }
    }
    let seconds = Double(nowNanos() - t0) / 1e9
    print("\(events) \(seconds) \(peakRSSMiB()) \(sink & 1)")
    exit(0)
}

let target = Int(value("--events") ?? "") ?? 100_000_000
let runs = Int(value("--runs") ?? "") ?? 5
let path = value("--keep") ?? (NSTemporaryDirectory() + "looptrace-analysis-bench-\(getpid()).trace")
defer { if value("--keep") == nil { try? FileManager.default.removeItem(atPath: path) } }

print("analysis-bench: \(args.joined(separator: " "))")
print("machine: \(ProcessInfo.processInfo.activeProcessorCount) CPUs, \(ProcessInfo.processInfo.physicalMemory >> 20) MiB")

if !FileManager.default.fileExists(atPath: path) || value("--keep") == nil {
    let t0 = nowNanos()
    let stats = try LoopShapedWorkload.writeTrace(to: path, events: target, seed: 7, programName: "analysis-bench")
    precondition(stats.droppedEvents == 0, "the generator dropped events")
    print(String(format: "generated %d events, %.1f MiB, in %.1f s", stats.events, Double(stats.fileBytes) / 1048576,
                 Double(nowNanos() - t0) / 1e9))
}

func child(_ mode: String) throws -> (events: Double, seconds: Double, rss: Double) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    p.arguments = [mode, path]
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    let f = out.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    precondition(p.terminationStatus == 0 && f.count >= 3, "child \(mode) failed: \(out)")
    return (f[0], f[1], f[2])
}

func summary(_ xs: [Double]) -> String {
    let s = xs.sorted()
    return String(format: "%.1f  [%.1f – %.1f]", s[s.count / 2], s.first!, s.last!)
}

var analyzeRate: [Double] = [], analyzeRSS: [Double] = [], decodeRate: [Double] = [], decodeRSS: [Double] = []
for _ in 0..<runs {
    let d = try child("--child-decode")
    decodeRate.append(d.events / d.seconds / 1e6)
    decodeRSS.append(d.rss)
    let a = try child("--child-analyze")
    analyzeRate.append(a.events / a.seconds / 1e6)
    analyzeRSS.append(a.rss)
}
print("median [min – max] of \(runs) runs, each a separate process")
print("  report analysis incl. decode   M events/s \(summary(analyzeRate))   goal ≥ 60")
print("  report analysis peak RSS       MiB        \(summary(analyzeRSS))   goal ≤ 256")
print("  decode only (same file)        M events/s \(summary(decodeRate))")
print("  decode only peak RSS           MiB        \(summary(decodeRSS))")
let ratio = analyzeRate.sorted()[runs / 2] / decodeRate.sorted()[runs / 2]
print(String(format: "  analysis ÷ decode-only rate    %.2f", ratio))
