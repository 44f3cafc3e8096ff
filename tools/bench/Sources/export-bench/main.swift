// export-bench: `looptrace export` throughput, memory and size on a generated loop-shaped trace.
//
//   swift run -c release --package-path tools/bench export-bench [EVENTS] [--runs N] [--trace FILE]
//       [--no-callgrind] [--json] [--help]
//
// Generates EVENTS (default 10 M) loop-shaped events over 256 tasks on a synthetic clock (or
// reuses --trace FILE), then exports it to Chrome JSON and to Perfetto protobuf, each run in a
// child process so that its peak RSS is the export's alone. Reports MB/s of output (goal for
// JSON: ≥ 150 MB/s), M trace events/s, peak RSS and bytes per trace event (goal for the
// protobuf: ≤ 30, issue 13), as medians with min/max over the runs; and, when valgrind is
// installed, callgrind instructions per trace event for each format (the difference of two
// small exports, so start-up and fixed costs drop out), repeatable on a loaded machine.
import BenchSupport
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

let report = BenchReport(name: "export-bench", usage: """
    usage: swift run -c release --package-path tools/bench export-bench [EVENTS] [--runs N] [--trace FILE] [--no-callgrind]

    Exports a generated loop-shaped trace of EVENTS events (default 10000000; or --trace FILE) to
    Chrome JSON and to Perfetto protobuf, --runs times each (default 3), in child processes.
    Prints MB/s, M events/s, peak RSS and bytes per trace event for each format, and callgrind
    instructions per trace event when valgrind is installed (--no-callgrind skips them).
    """)
@MainActor func option(_ name: String) -> String? { report.value(name) }
let events = report.arguments.first { Int($0) != nil }.flatMap { Int($0) } ?? 10_000_000
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

report.printHeader()
print("trace: \(events) loop-shaped events, 256 tasks, \(traceBytes / 1_000_000) MB")

func line(_ s: Summary, _ format: String) -> String {
    String(format: format, s.median) + " (min " + String(format: format, s.min) + ", max " + String(format: format, s.max) + ")"
}

/// Runs one export in a child process (this benchmark's `--child` mode): (seconds, bytes, trace
/// events, peak RSS KiB).
func child(_ arguments: [String]) -> [Double] {
    let (status, out) = shell(([args[0]] + arguments).map { "'" + $0 + "'" }.joined(separator: " "))
    let f = out.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    guard f.count == 4, status == 0 else { fatalError("export failed (exit \(status)): \(out)") }
    return f
}

for format in ["chrome", "perfetto"] {
    let label = format == "chrome" ? "JSON" : "protobuf"
    var mbps: [Double] = [], meps: [Double] = [], rss: [Double] = [], sizes: [Double] = [], perEvent: [Double] = []
    for _ in 0..<runs {
        let out = scratch + "/out." + (format == "chrome" ? "json" : "pftrace")
        let f = child(["--child", trace, out, format])
        mbps.append(f[1] / f[0] / 1e6)
        meps.append(f[2] / f[0] / 1e6)
        rss.append(f[3] / 1024)
        sizes.append(f[1] / 1e6)
        perEvent.append(f[1] / f[2])
        try? FileManager.default.removeItem(atPath: out)
    }
    let (rate, events, memory, size, bytes) = (Summary(samples: mbps), Summary(samples: meps), Summary(samples: rss),
                                               Summary(samples: sizes), Summary(samples: perEvent))
    report.record("\(label) output rate", unit: "MB/s", rate, goal: format == "chrome" ? ">= 150" : nil)
    report.record("\(label) trace events per second", unit: "M events/s", events)
    report.record("\(label) peak RSS", unit: "MiB", memory)
    report.record("\(label) size", unit: "MB", size)
    report.record("\(label) bytes per trace event", unit: "B/event", bytes, goal: format == "chrome" ? nil : "<= 30")
    print("\(label.padding(toLength: 8, withPad: " ", startingAt: 0)): \(line(rate, "%.0f")) MB/s of output, \(line(events, "%.1f")) M events/s, "
          + "peak RSS \(line(memory, "%.0f")) MiB, \(line(size, "%.0f")) MB, \(line(bytes, "%.1f")) bytes per trace event")
}

// Instructions per trace event under callgrind: two small exports, their difference divided by
// the difference of their events. Valgrind cannot read the toolchain's DWARF 5, so it runs a
// copy of this benchmark without debug info (`llvm-objcopy --strip-debug`, found beside swift).
if report.flag("--no-callgrind") {
    print("callgrind: skipped (--no-callgrind)")
} else if !Callgrind.isInstalled {
    print(Callgrind.notInstalledNotice)
} else {
    let small = 20_000, large = 120_000
    for n in [small, large] {
        try LoopShapedWorkload.writeTrace(to: scratch + "/cg-\(n).trace", events: n, programName: "export-bench")
    }
    var executable = args[0]
    let stripped = scratch + "/export-bench-stripped"
    if shell("objcopy=$(dirname \"$(readlink -f \"$(command -v swift)\")\")/llvm-objcopy; "
             + "\"$objcopy\" --strip-debug '\(args[0])' '\(stripped)'").0 == 0 {
        executable = stripped
    }
    // The exact event counts of the two traces (the generator rounds to whole iterations).
    var traceEvents: [Int: Int] = [:]
    for n in [small, large] {
        traceEvents[n] = Int(child(["--child", scratch + "/cg-\(n).trace", "/dev/null", "chrome"])[2])
    }
    for format in ["chrome", "perfetto"] {
        let label = format == "chrome" ? "JSON" : "protobuf"
        let perEvent = Callgrind.instructionsPerUnit(executable: executable,
                                                     arguments: { ["--child", scratch + "/cg-\($0).trace", "/dev/null", format] },
                                                     units: { traceEvents[$0] ?? $0 }, sizes: (small, large))
        if let perEvent {
            report.record("\(label) export instructions per trace event (callgrind)", unit: "instructions/event",
                          Summary(samples: [perEvent]))
            print("\(label.padding(toLength: 8, withPad: " ", startingAt: 0)): \(String(format: "%.0f", perEvent)) instructions per trace event "
                  + "(callgrind, \(small) → \(large) events, decode and export)")
        } else {
            print("\(label): callgrind run failed; instruction counts skipped")
        }
    }
}
report.finish()
