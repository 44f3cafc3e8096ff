// export-bench: `looptrace export` throughput and memory on a generated loop-shaped trace.
//
//   swift run -c release --package-path tools/bench export-bench [EVENTS] [--runs N] [--trace FILE]
//
// Generates EVENTS (default 10 M) loop-shaped events over 256 tasks on a synthetic clock (or
// reuses --trace FILE), then exports it to Chrome JSON and to Perfetto protobuf, each run in a
// child process so that its peak RSS is the export's alone. Reports MB/s of output (goal for
// JSON: ≥ 150 MB/s), M trace events/s and peak RSS, as medians with min/max over the runs.
import Foundation
import TraceAnalysis
import TraceFormat
import TraceTestSupport

let args = CommandLine.arguments

if let i = args.firstIndex(of: "--child"), i + 3 < args.count {
    // Child mode: one export, then "seconds bytes events peakRSSKiB".
    var options = ExportOptions()
    options.format = args[i + 3] == "perfetto" ? .perfetto : .chrome
    let t0 = DispatchTime.now().uptimeNanoseconds
    let summary = try TraceExporter.export(reader: TraceReader(path: args[i + 1]), to: args[i + 2], options: options)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    print(seconds, summary.bytes, summary.eventsRead, usage.ru_maxrss)
    exit(0)
}

func option(_ name: String) -> String? {
    args.firstIndex(of: name).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil }
}
let events = args.dropFirst().first { Int($0) != nil }.flatMap { Int($0) } ?? 10_000_000
let runs = option("--runs").flatMap { Int($0) } ?? 3
let scratch = NSTemporaryDirectory() + "looptrace-export-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: scratch) }

var trace = option("--trace") ?? ""
if trace.isEmpty {
    trace = scratch + "/loop-shaped.trace"
    try LoopShapedWorkload.writeTrace(to: trace, events: events, programName: "export-bench")
}
let traceBytes = (try FileManager.default.attributesOfItem(atPath: trace)[.size] as? Int) ?? 0

var uts = utsname()
uname(&uts)
let machine = withUnsafeBytes(of: &uts.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
let release = withUnsafeBytes(of: &uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
print("command: swift run -c release --package-path tools/bench export-bench \(args.dropFirst().joined(separator: " "))")
print("machine: \(machine), Linux \(release), \(ProcessInfo.processInfo.activeProcessorCount) CPUs")
print("trace:   \(events) loop-shaped events, 256 tasks, \(traceBytes / 1_000_000) MB")

func stats(_ xs: [Double], _ format: String) -> String {
    let s = xs.sorted()
    return String(format: format, s[s.count / 2]) + " (min " + String(format: format, s.first!) + ", max " + String(format: format, s.last!) + ")"
}

for format in ["chrome", "perfetto"] {
    var mbps: [Double] = [], meps: [Double] = [], rss: [Double] = [], sizes: [Double] = []
    for _ in 0..<runs {
        let out = scratch + "/out." + (format == "chrome" ? "json" : "pftrace")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: args[0])
        p.arguments = ["--child", trace, out, format]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let f = String(decoding: data, as: UTF8.self).split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard f.count == 4, p.terminationStatus == 0 else { fatalError("export failed: \(String(decoding: data, as: UTF8.self))") }
        mbps.append(f[1] / f[0] / 1e6)
        meps.append(f[2] / f[0] / 1e6)
        rss.append(f[3] / 1024)
        sizes.append(f[1] / 1e6)
        try? FileManager.default.removeItem(atPath: out)
    }
    print("\(format == "chrome" ? "JSON    " : "protobuf"): \(stats(mbps, "%.0f")) MB/s of output, \(stats(meps, "%.1f")) M events/s, peak RSS \(stats(rss, "%.0f")) MiB, \(stats(sizes, "%.0f")) MB")
}
