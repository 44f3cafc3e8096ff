// analysis-bench: `looptrace report`'s one analysis pass over a generated ≥ 100 M-event trace.
//
// Generates a loop-shaped trace on a synthetic clock (LoopShapedWorkload), then runs the full
// analysis (decode on every core + model + every figure `report` prints) in a child process per
// run, so that each run's peak RSS is its own. Prints events/s including decode, and peak RSS,
// as medians with min/max, against the goals (≥ 60 M events/s on 2 cores, ≤ 256 MiB), and the
// decode-only rate of the same file in the same invocation (goal ≥ 80 M events/s). With valgrind
// installed it also prints instructions per event of decode (inflate included) and of the model
// (the analysis pass minus decode), counted by callgrind on two small traces: figures that do not
// move with the machine's load.
import BenchSupport
import Foundation
import TraceAnalysis
import TraceFormat
import TraceTestSupport

let usage = """
    analysis-bench: report's analysis pass and decode alone, events/s and peak RSS, plus callgrind
    instructions per event for decode and for the model.

      swift run -c release --package-path tools/bench analysis-bench [--events N] [--runs N] [--keep PATH]
        [--no-callgrind]

      --events N       events in the generated trace (default 100,000,000)
      --runs N         measured runs of each, each a separate process (default 5)
      --keep PATH      keep the trace at PATH, and reuse it when it exists
      --no-callgrind   skip the instruction counts
    """

func nowNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

let args = CommandLine.arguments
func value(_ flag: String) -> String? { args.firstIndex(of: flag).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil } }
/// `--threads N` of a child mode; the reader's default (every core) without it.
let childThreads = Int(value("--threads") ?? "") ?? TraceReader.defaultThreads

/// The analysis pass of `report` over `path`: its events. Never inlined, so that callgrind can
/// count the instructions of exactly this call (`--toggle-collect` on its mangled name).
@inline(never)
func analyzeOnce(_ path: String) -> UInt64 {
    var options = AnalysisOptions()
    options.threads = childThreads
    let result = try! TraceAnalysis.analyze(path: path, options: options)
    // Keep the result alive and checked: a pass that found nothing is a broken benchmark.
    precondition(result.counts.steps > 0)
    return result.trace.events
}

/// Decoding alone (inflate included) of every chunk of `path`: its events.
@inline(never)
func decodeOnce(_ path: String) -> UInt64 {
    let reader = try! TraceReader(path: path, options: .init(threads: childThreads))
    var events: UInt64 = 0
    var sink: UInt64 = 0
    try! reader.forEachChunk { c in
        events += UInt64(c.events.count)
        for e in c.events { sink &+= e.task }
    }
    // Used, so that the loop over the events is not optimised away.
    if sink == 1 { print("", terminator: "") }
    return events
}

// Child modes: one measured pass, printed as "events seconds rssMiB".
for (flag, body) in [("--child-analyze", analyzeOnce), ("--child-decode", decodeOnce)] {
    guard let path = value(flag) else { continue }
    let t0 = nowNanos()
    let events = body(path)
    let seconds = Double(nowNanos() - t0) / 1e9
    print("\(events) \(seconds) \(peakRSSMiB())")
    exit(0)
}

let report = BenchReport(name: "analysis-bench", usage: usage)
let target = Int(report.value("--events") ?? "") ?? 100_000_000
let runs = Int(report.value("--runs") ?? "") ?? 5
let path = report.value("--keep") ?? (NSTemporaryDirectory() + "looptrace-analysis-bench-\(getpid()).trace")
defer { if report.value("--keep") == nil { try? FileManager.default.removeItem(atPath: path) } }
report.printHeader()

func generate(_ path: String, events: Int) throws {
    let stats = try LoopShapedWorkload.writeTrace(to: path, events: events, seed: 7, programName: "analysis-bench")
    precondition(stats.droppedEvents == 0, "the generator dropped events")
}

if !FileManager.default.fileExists(atPath: path) || report.value("--keep") == nil {
    let t0 = nowNanos()
    try generate(path, events: target)
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    print(String(format: "generated %d events, %.1f MiB, in %.1f s", target, Double(size) / 1048576,
                 Double(nowNanos() - t0) / 1e9))
}

func child(_ mode: String, _ trace: String = path, extra: [String] = []) throws -> (events: Double, seconds: Double, rss: Double) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    p.arguments = [mode, trace] + extra
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    let f = out.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    precondition(p.terminationStatus == 0 && f.count >= 3, "child \(mode) failed: \(out)")
    return (f[0], f[1], f[2])
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
let figures: [(String, String, Summary, String?)] = [
    ("report analysis incl. decode", "M events/s", Summary(samples: analyzeRate), ">= 60"),
    ("report analysis peak RSS", "MiB", Summary(samples: analyzeRSS), "<= 256"),
    ("decode only (same file)", "M events/s", Summary(samples: decodeRate), ">= 80"),
    ("decode only peak RSS", "MiB", Summary(samples: decodeRSS), nil),
]
print("median [min – max] of \(runs) runs, each a separate process")
for (name, unit, value, goal) in figures {
    report.record(name, unit: unit, value, goal: goal)
    print("  " + tableRow([name, unit, value.formatted { String(format: "%.1f", $0) }, goal.map { "goal \($0)" } ?? ""],
                          widths: [32, 12, 26, 12]))
}
let ratio = Summary.pairedRatio(Summary(samples: analyzeRate), Summary(samples: decodeRate))
report.record("analysis ÷ decode-only rate", unit: "ratio", ratio)
print("  " + tableRow(["analysis ÷ decode-only rate", "ratio", ratio.formatted { String(format: "%.2f", $0) }], widths: [32, 12, 26]))

/// This benchmark without its debug info: valgrind 3.19 gives up on the DWARF 5 that Swift 6.3
/// and clang emit ("unhandled dwarf2 abbrev form code 0x25"). The code, and so the counts, are
/// the same; nil when `strip` is missing.
func strippedCopy() -> String? {
    let copy = NSTemporaryDirectory() + "looptrace-analysis-bench-valgrind-\(getpid())"
    try? FileManager.default.removeItem(atPath: copy)
    guard (try? FileManager.default.copyItem(atPath: CommandLine.arguments[0], toPath: copy)) != nil else { return nil }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["strip", "-g", copy]
    guard (try? p.run()) != nil else { return nil }
    p.waitUntilExit()
    return p.terminationStatus == 0 ? copy : nil
}

if report.flag("--no-callgrind") {
    print("callgrind: skipped (--no-callgrind)")
} else if !Callgrind.isInstalled {
    print(Callgrind.notInstalledNotice)
} else if let executable = strippedCopy() {
    defer { try? FileManager.default.removeItem(atPath: executable) }
    // Two small traces of the same workload: the difference of their counts over the difference
    // of their events leaves out every fixed cost (start-up, the first chunk's allocations).
    let sizes = (small: 100_000, large: 400_000)
    var traces: [Int: (path: String, events: Int)] = [:]
    for size in [sizes.small, sizes.large] {
        let p = NSTemporaryDirectory() + "looptrace-analysis-bench-cg-\(getpid())-\(size).trace"
        try generate(p, events: size)
        traces[size] = (p, Int(try child("--child-decode", p, extra: ["--threads", "1"]).events))
    }
    defer { for (_, t) in traces { try? FileManager.default.removeItem(atPath: t.path) } }
    func perEvent(_ mode: String, _ symbol: String) -> Double? {
        Callgrind.instructionsPerUnit(executable: executable, arguments: { [mode, traces[$0]!.path, "--threads", "1"] },
                                      units: { traces[$0]!.events }, sizes: sizes, toggle: symbol)
    }
    // The functions' own mangled names, anchored at the end: `*decodeOnce*` would also match
    // the closure and the thunk around it, and each match toggles collection off again.
    if let decode = perEvent("--child-decode", "*10decodeOnceys6UInt64VSSF"),
       let analyze = perEvent("--child-analyze", "*11analyzeOnceys6UInt64VSSF") {
        let model = analyze - decode
        print(String(format: "callgrind, one thread: decode (inflate included) %.1f instructions/event, model and figures %.1f, the whole pass %.1f",
                     decode, model, analyze))
        report.record("decode instructions per event (callgrind)", unit: "instructions/event", Summary(median: decode, min: decode, max: decode))
        report.record("model instructions per event (callgrind)", unit: "instructions/event", Summary(median: model, min: model, max: model))
    } else {
        print("callgrind: a run failed; instruction counts skipped")
    }
} else {
    print("callgrind: cannot make a copy without debug info for valgrind (strip missing); instruction counts skipped")
}
report.finish()
