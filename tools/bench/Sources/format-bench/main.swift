// format-bench: the trace format's costs, measured in one invocation on this machine.
//
//   swift run -c release --package-path tools/bench format-bench [--quick] [--handoff-only] [--json]
//
// Prints, for the recorder and reader: instructions per event of the emit path under callgrind
// (run by the bench itself when valgrind is installed; the clock read counted apart), ns added per
// event on the emitting thread (against a plain 16-byte store, the physical floor), writer-thread
// CPU per event, compressed bytes per event (loop-shaped and high-entropy streams), the p99 and
// max cost of the emit that hands a buffer over at the flush deadline (the first event after a
// long step), decode throughput on all cores, peak RSS while reading a ≥ 100 M-event trace, and
// zlib against libdeflate. Medians with min/max.
import BenchSupport
import Foundation
import TraceFormat
import TraceTestSupport

let usage = """
    usage: swift run -c release --package-path tools/bench format-bench [--quick] [--handoff-only] [--json]

    The trace format's costs in one invocation: recorder instructions per event under callgrind
    (when valgrind is installed), emit ns per event, writer CPU per event, the flush hand-off's p99,
    bytes per event, decode throughput and the reader's peak RSS.

      --quick         fewer runs and smaller sizes (a few minutes instead of ~10)
      --handoff-only  measure the callgrind counts and the hand-off only, then stop
    """

if let i = CommandLine.arguments.firstIndex(of: "--read-rss"), i + 1 < CommandLine.arguments.count {
    // Child mode: read the trace and report this process's peak RSS.
    let reader = try TraceReader(path: CommandLine.arguments[i + 1])
    var events = 0
    var tasks: UInt64 = 0
    let t0 = DispatchTime.now().uptimeNanoseconds
    try reader.forEachChunk { c in
        events += c.events.count
        for e in c.events { tasks &+= e.task }
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    print(String(format: "%.1f MiB (%d events in %.2f s, %.1f M events/s)", Double(usage.ru_maxrss) / 1024, events, seconds,
                 Double(events) / seconds / 1e6))
    exit(0)
}

// MARK: - Emit instructions (child mode, run under callgrind)

/// The stream the callgrind child emits into.
nonisolated(unsafe) var childStream: TraceStream?
/// The callgrind child's loop: 0 = the loop alone, 1 = emits with the synthetic clock (no clock
/// read), 2 = emits with the real clock, 3 = the loop with mode 1's synthetic time stores alone,
/// 4 = one clock read per event alone (the stream's, as an emit makes it).
nonisolated(unsafe) var childMode = 0

/// The loop-thread shape of one task step (stepBegin, wakeup, stepEnd with a suspend site), `n`
/// times, in the shape `childMode` selects. Callgrind counts only while this runs
/// (`--toggle-collect`), so start-up and set-up are left out. The synthetic clock advances 1000
/// ticks per event, so that the timestamp deltas take two varint bytes as the TSC's do.
@inline(never) @_silgen_name("formatbench_emit_loop")
func emitLoop(_ n: Int) -> UInt64 {
    let site = SourceSite(file: "App/Handler.swift", line: 10, function: "handle()")
    var acc: UInt64 = 0
    var time: UInt64 = 1 << 20
    switch childMode {
    case 0:
        for i in 0..<n { acc &+= UInt64(i & 255) &+ 1 }
    case 1:
        let stream = childStream!
        for i in 0..<n {
            let task = UInt64(i & 255) &+ 1
            time &+= 1000
            stream.setSyntheticTime(nanos: time)
            stream.stepBegin(task: task)
            time &+= 1000
            stream.setSyntheticTime(nanos: time)
            stream.wakeup(task: task &+ 1, waker: .task, wakerID: task)
            time &+= 1000
            stream.setSyntheticTime(nanos: time)
            stream.stepEnd(.suspended, site: site)
        }
    case 2:
        let stream = childStream!
        for i in 0..<n {
            let task = UInt64(i & 255) &+ 1
            stream.stepBegin(task: task)
            stream.wakeup(task: task &+ 1, waker: .task, wakerID: task)
            stream.stepEnd(.suspended, site: site)
        }
    case 4:
        // The stream's own clock read, inlined as in every emit: its clock-mode branch and rdtsc.
        let stream = childStream!
        for _ in 0..<(3 * n) { acc &+= stream.ticksNow() }
    default:
        let stream = childStream!
        for i in 0..<n {
            acc &+= UInt64(i & 255) &+ 1
            time &+= 1000
            stream.setSyntheticTime(nanos: time)
            time &+= 1000
            stream.setSyntheticTime(nanos: time)
            time &+= 1000
            stream.setSyntheticTime(nanos: time)
        }
    }
    return acc
}

if let i = CommandLine.arguments.firstIndex(of: "--emit-child"), i + 2 < CommandLine.arguments.count,
   let mode = Int(CommandLine.arguments[i + 1]), let steps = Int(CommandLine.arguments[i + 2]) {
    // Child mode for callgrind: `mode` as in `childMode`.
    let path = NSTemporaryDirectory() + "looptrace-emit-child-\(getpid()).trace"
    let recorder = try TraceRecorder(.init(path: path, memoryCapBytes: 256 << 20, syntheticClock: mode == 1 || mode == 3))
    childStream = mode == 0 ? nil : recorder.makeStream()
    childMode = mode
    _ = emitLoop(1_000)  // warm up: the site's definition, the first buffer
    print(emitLoop(steps))
    recorder.close()
    try? FileManager.default.removeItem(atPath: path)
    exit(0)
}

let report = BenchReport(name: "format-bench", usage: usage)
let quick = CommandLine.arguments.contains("--quick")
let runs = quick ? 3 : 7
let scratch = NSTemporaryDirectory() + "looptrace-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: scratch) }

// MARK: - Helpers

/// A figure as this bench prints it: two decimals below 100, none above.
func fmt(_ v: Double) -> String { v >= 100 ? String(format: "%.0f", v) : String(format: "%.2f", v) }

/// "median  [min – max]".
func show(_ s: Summary) -> String { "\(fmt(s.median))  [\(fmt(s.min)) – \(fmt(s.max))]" }

@MainActor func measure(_ n: Int = runs, _ body: () throws -> Double) rethrows -> Summary {
    try BenchSupport.measure(runs: n, body)
}

func nowNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

func row(_ name: String, _ value: String, _ goal: String = "") {
    print(name.padding(toLength: 52, withPad: " ", startingAt: 0) + value.padding(toLength: 34, withPad: " ", startingAt: 0) + goal)
}

@inline(never) func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }

let sites: [SourceSite] = [
    SourceSite(file: "App/Handler.swift", line: 10, function: "handle()"),
    SourceSite(file: "App/Db.swift", line: 20, function: "query()"),
]

/// Stand-in for the program's own work between events: a dependent xorshift chain of `rounds`
/// steps (about 1 ns each).
@inline(__always)
func work(_ x: inout UInt64, _ rounds: Int) {
    for _ in 0..<rounds {
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
    }
}

/// The loop-thread shape of one task step: begin, wake another task, end with a suspend site,
/// with `rounds` of work before each event.
@inline(never)
func tracedSteps(_ stream: TraceStream, _ n: Int, work rounds: Int = 0, synthetic: Bool = false) -> UInt64 {
    var acc: UInt64 = 0x9E37_79B9
    for i in 0..<n {
        let task = UInt64(i & 255) + 1
        if synthetic { stream.setSyntheticTime(nanos: UInt64(i) &* 300) }
        work(&acc, rounds)
        stream.stepBegin(task: task)
        work(&acc, rounds)
        stream.wakeup(task: (task & 255) + 1, waker: .task, wakerID: task)
        work(&acc, rounds)
        stream.stepEnd(.suspended, site: sites[i & 1])
    }
    return acc
}

/// The same loop with the emits removed.
@inline(never)
func untracedSteps(_ n: Int, work rounds: Int = 0) -> UInt64 {
    var acc: UInt64 = 0x9E37_79B9
    for i in 0..<n {
        let task = UInt64(i & 255) + 1
        work(&acc, rounds)
        blackHole(task)
        work(&acc, rounds)
        blackHole(task)
        work(&acc, rounds)
        blackHole(task)
    }
    return acc
}

/// `n` clock reads back to back, through the stream's own read (the TSC where it is invariant).
@inline(never)
func clockReads(_ stream: TraceStream, _ n: Int) -> UInt64 {
    var sum: UInt64 = 0
    for _ in 0..<n { sum &+= stream.ticksNow() }
    return sum
}

/// The physical floor: append 16-byte records to a preallocated buffer.
@inline(never)
func plainStores(_ buffer: UnsafeMutablePointer<UInt64>, _ n: Int) {
    var p = buffer
    for i in 0..<n {
        p[0] = UInt64(i)
        p[1] = UInt64(i) &* 3
        p += 2
    }
}

func fileSize(_ path: String) -> Int64 {
    (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0
}

report.printHeader()
print("clock \(TraceClock.kind), \(runs) runs per figure; median [min – max]\n")

// MARK: - Instructions per event (callgrind)

// Deterministic whatever the machine's load: the emit path's instructions, counted by callgrind
// in a child process running `emitLoop` at two sizes (the difference divided by the difference
// of the event counts, so fixed costs drop out; buffer refills and hand-offs stay in, amortized).
print("Recorder instructions per event (callgrind; stepBegin, wakeup, stepEnd+site per step)")
if Callgrind.isInstalled {
    func perEvent(_ mode: Int) -> Double? {
        Callgrind.instructionsPerUnit(arguments: { ["--emit-child", "\(mode)", "\($0)"] }, units: { 3 * $0 },
                                      sizes: (small: 20_000, large: 120_000), toggle: "formatbench_emit_loop")
    }
    // The clock read is counted alone (mode 4, less the bare loop) and taken off the real emit
    // (mode 2): with raw fixed-width records the emit does the same work whatever the timestamps
    // are. The synthetic clock (mode 1, less its time stores, mode 3) takes a branch the real
    // clock does not, so it is printed for comparison only.
    if let bare = perEvent(0), let timeStores = perEvent(3), let synthetic = perEvent(1), let real = perEvent(2),
       let clockLoop = perEvent(4) {
        let clock = clockLoop - bare
        let all = real - bare
        let encode = all - clock
        row("  emit, excluding the clock read", String(format: "%.1f instructions", encode), "goal ≤ 15")
        row("  clock read (\(TraceClock.kind))", String(format: "%.1f instructions", clock))
        row("  emit with the real clock, all included", String(format: "%.1f instructions", all))
        row("  emit with the synthetic clock (tests, generators)", String(format: "%.1f instructions", synthetic - timeStores))
        report.record("emit instructions per event, excluding the clock read", unit: "instructions/event",
                      Summary(samples: [encode]), goal: "<= 15")
        report.record("clock read instructions per event", unit: "instructions/event", Summary(samples: [clock]))
    } else {
        print("  callgrind run failed: instruction counts skipped")
    }
} else {
    print("  \(Callgrind.notInstalledNotice)")
}
print("")

// MARK: - Hand-off

// The emit that hands a buffer over at the flush deadline: the first opening event after a long
// step (the next step's begin). Each round is a 5 ms step (a spin that holds the thread), its end,
// and then one timed stepBegin. With a 20 ms
// flush interval every fourth or so of those emits hands the buffer over; the others are the
// reference: the same emit after the same long step, without a hand-off. (After a step of a few
// ms, on a shared machine, the caches and TLB are cold whatever the emit does: that is the cost
// an untraced program pays too, and the difference of the two is the hand-off's own.) A round in
// which the thread was switched out (involuntary context switches, read with getrusage outside
// the timed window) or took a page fault is counted.
@inline(never) func spin(nanos: UInt64) {
    let end = nowNanos() + nanos
    while nowNanos() < end {}
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

/// This thread's involuntary context switches and minor page faults so far.
func threadCounters() -> (switches: Int, faults: Int) {
    var usage = rusage()
    getrusage(__rusage_who_t(1) /* RUSAGE_THREAD */, &usage)
    return (usage.ru_nivcsw, usage.ru_minflt)
}

struct HandOffCosts {
    var handOff: [Double] = []
    var reference: [Double] = []
    var switchedOut = 0
    /// Hand-offs that faulted pages in: the writer had not restocked the stream's spare
    /// buffers, so the stream mapped one itself.
    var faulted = 0
}

@MainActor func handOffCosts(handOffs: Int) throws -> HandOffCosts {
    let path = scratch + "/handoff.trace"
    let interval: Int64 = 20_000_000
    let recorder = try TraceRecorder(.init(path: path, flushIntervalNanos: interval))
    defer {
        recorder.close()
        try? FileManager.default.removeItem(atPath: path)
    }
    let stream = recorder.makeStream()
    _ = tracedSteps(stream, 1_000)  // warm up: sites, code paths
    // Right after a hand-off the stream's next deadline is one interval less one writer tick
    // (a tenth) away; a step later, without a hand-off, it is at least 5 ms nearer.
    let freshDeadline = Int64(Double(interval) * 0.9) - 2_000_000
    var costs = HandOffCosts()
    var round = 0
    // The events inside a step (its wakeups, its end) only check for room; the next opening
    // event (a step's or a callback's begin, a poll's end) checks the deadline and hands over.
    stream.stepBegin(task: 1)
    while costs.handOff.count < handOffs {
        spin(nanos: 5_000_000)
        stream.stepEnd(.suspended, site: sites[0])
        let before = threadCounters()
        let t0 = nowNanos()
        stream.stepBegin(task: UInt64(round & 255) + 1)
        let cost = Double(nowNanos() - t0)
        let after = threadCounters()
        let handedOver = stream.nanosUntilFlush > freshDeadline
        if after.switches != before.switches { costs.switchedOut += 1 }
        if handedOver {
            costs.handOff.append(cost)
            if after.faults != before.faults { costs.faulted += 1 }
        } else {
            costs.reference.append(cost)
        }
        round += 1
    }
    stream.stepEnd(.completed, site: nil)
    costs.handOff.sort()
    costs.reference.sort()
    return costs
}
let handOff = try handOffCosts(handOffs: quick ? 150 : 500)
func spread(_ sorted: [Double]) -> String {
    String(format: "%.2f µs (p50 %.2f, max %.1f)", percentile(sorted, 0.99) / 1000, percentile(sorted, 0.5) / 1000,
           (sorted.last ?? 0) / 1000)
}
print("Hand-off (the first stepBegin after a 5 ms step, flush interval 20 ms; \(handOff.handOff.count + handOff.reference.count) rounds)")
row("  emit that hands a buffer over, p99", spread(handOff.handOff), "goal ≤ 2 µs")
row("  the same emit without a hand-off, p99", spread(handOff.reference))
row("  hand-off's own cost (difference of the p50s)",
    String(format: "%.2f µs", (percentile(handOff.handOff, 0.5) - percentile(handOff.reference, 0.5)) / 1000),
    "\(handOff.switchedOut) rounds switched out, \(handOff.faulted) hand-offs faulted")
print("")
report.record("emit that hands a buffer over, p99", unit: "µs", Summary(samples: [percentile(handOff.handOff, 0.99) / 1000]),
              goal: "<= 2")
report.record("the same emit without a hand-off, p99", unit: "µs", Summary(samples: [percentile(handOff.reference, 0.99) / 1000]))
if CommandLine.arguments.contains("--handoff-only") {
    report.finish()
    exit(0)
}

// MARK: - Emit cost

let steps = quick ? 1_000_000 : 2_000_000
let eventsPerRun = Double(steps * 3)
var writerCPU: [Double] = []
var libdeflateWriterCPU: [Double] = []

/// ns added per event: the traced loop minus the same loop without emits, per event.
@MainActor func emitCost(work rounds: Int, synthetic: Bool = false, collectWriterCPU: Bool = false) throws -> Summary {
    try measure {
        let path = scratch + "/emit.trace"
        let recorder = try TraceRecorder(.init(path: path, memoryCapBytes: 128 << 20, syntheticClock: synthetic))
        let stream = recorder.makeStream()
        _ = tracedSteps(stream, 10_000, synthetic: synthetic)  // warm up: buffers, sites
        let t0 = nowNanos()
        blackHole(untracedSteps(steps, work: rounds))
        let t1 = nowNanos()
        blackHole(tracedSteps(stream, steps, work: rounds, synthetic: synthetic))
        let t2 = nowNanos()
        stream.flush()
        let stats = recorder.close()
        precondition(stats.droppedEvents == 0, "raise the memory cap: the emit benchmark dropped events")
        if collectWriterCPU { writerCPU.append(Double(stats.writerCPUNanos) / Double(stats.events)) }
        try? FileManager.default.removeItem(atPath: path)
        return (Double(t2 - t1) - Double(t1 - t0)) / eventsPerRun
    }
}
let backToBack = try emitCost(work: 0, collectWriterCPU: true)
let inFlow = try emitCost(work: 60)
let encodeOnly = try emitCost(work: 0, synthetic: true)
let floor = measure {
    let buffer = UnsafeMutablePointer<UInt64>.allocate(capacity: 2 * steps * 3)
    buffer.initialize(repeating: 0, count: 2 * steps * 3)
    defer { buffer.deallocate() }
    let t0 = nowNanos()
    plainStores(buffer, steps * 3)
    return Double(nowNanos() - t0) / eventsPerRun
}
// The clock read alone: what the emit cannot avoid (callgrind counts `rdtsc` as one instruction;
// it takes tens of cycles, more in a virtual machine).
let clockRead = try measure {
    let recorder = try TraceRecorder(.init(path: scratch + "/clock.trace"))
    defer { recorder.close(); try? FileManager.default.removeItem(atPath: scratch + "/clock.trace") }
    let stream = recorder.makeStream()
    let t0 = nowNanos()
    blackHole(clockReads(stream, steps * 3))
    return Double(nowNanos() - t0) / eventsPerRun
}
print("Recorder (emitting thread: stepBegin, wakeup, stepEnd+site per step, \(steps) steps per run)")
row("  ns added per event, ~60 ns of work between events", show(inFlow), "goal ≤ 5 ns")
report.record("emit ns added per event, ~60 ns of work between events", unit: "ns/event", inFlow, goal: "<= 5")
row("  ns added per event, back to back (clock-bound)", show(backToBack))
report.record("emit ns added per event, back to back", unit: "ns/event", backToBack)
row("  ns added per event, encoding only (no clock read)", show(encodeOnly))
report.record("emit ns added per event, encoding only", unit: "ns/event", encodeOnly)
row("  the clock read alone, back to back, ns per read", show(clockRead))
report.record("clock read alone, back to back", unit: "ns/read", clockRead)
row("  peer floor: plain 16-byte store, ns per record", show(floor))
report.record("peer floor: plain 16-byte store", unit: "ns/record", floor)
let compressorName = try TraceRecorder(.init(path: scratch + "/probe.trace")).close().compressor
row("  writer-thread CPU per event (\(compressorName))", "\(show(Summary(samples: writerCPU))) ns", "goal ≤ 30 ns")
report.record("writer-thread CPU per event (\(compressorName))", unit: "ns/event", Summary(samples: writerCPU), goal: "<= 30")

// zlib for the writer thread, same stream.
for run in 0..<runs {
    let path = scratch + "/zlib-\(run).trace"
    let recorder = try TraceRecorder(.init(path: path, memoryCapBytes: 128 << 20, preferLibdeflate: false))
    let stream = recorder.makeStream()
    blackHole(tracedSteps(stream, steps))
    stream.flush()
    let stats = recorder.close()
    libdeflateWriterCPU.append(Double(stats.writerCPUNanos) / Double(stats.events))
    try? FileManager.default.removeItem(atPath: path)
}
row("  writer-thread CPU per event (zlib level 1)", "\(show(Summary(samples: libdeflateWriterCPU))) ns")
report.record("writer-thread CPU per event (zlib level 1)", unit: "ns/event", Summary(samples: libdeflateWriterCPU))

// MARK: - Size

/// Bytes per event of a loop-shaped stream with timestamps at `ticksPerNano`.
func loopShapedBytes(events: Int, ticksPerNano: Double, libdeflate: Bool) throws -> (perEvent: Double, raw: Double) {
    let path = scratch + "/size.trace"
    var configuration = TraceRecorder.Configuration(path: path, preferLibdeflate: libdeflate, syntheticClock: true)
    configuration.waitWhenFull = true
    let recorder = try TraceRecorder(configuration)
    var workload = LoopShapedWorkload(tasks: 64, seed: 9)
    workload.ticksPerNano = ticksPerNano
    workload.emit(into: recorder.makeStream(), events: events)
    let stats = recorder.close()
    defer { try? FileManager.default.removeItem(atPath: path) }
    return (Double(fileSize(path)) / Double(stats.events), Double(stats.rawBytes) / Double(stats.events))
}

let tscPerNano: Double = try {
    let recorder = try TraceRecorder(.init(path: scratch + "/rate.trace"))
    defer { recorder.close() }
    return recorder.calibration.kind == .tsc ? 1 / recorder.calibration.nanosPerTick : 1
}()
let sizeEvents = quick ? 2_000_000 : 5_000_000
let nsSize = try loopShapedBytes(events: sizeEvents, ticksPerNano: 1, libdeflate: true)
let tscSize = try loopShapedBytes(events: sizeEvents, ticksPerNano: tscPerNano, libdeflate: true)
let zlibSize = try loopShapedBytes(events: sizeEvents, ticksPerNano: tscPerNano, libdeflate: false)
print("\nSize (loop-shaped stream: 64 tasks waking each other, callbacks, timers; \(sizeEvents) events)")
row("  file bytes per event, TSC-rate timestamps", String(format: "%.2f  (raw %.2f)", tscSize.perEvent, tscSize.raw), "goal ≤ 2.0")
report.record("file bytes per event, loop-shaped, TSC-rate timestamps", unit: "B/event", Summary(samples: [tscSize.perEvent]), goal: "<= 2.0")
row("  file bytes per event, ns timestamps", String(format: "%.2f  (raw %.2f)", nsSize.perEvent, nsSize.raw))
report.record("file bytes per event, loop-shaped, ns timestamps", unit: "B/event", Summary(samples: [nsSize.perEvent]))
row("  file bytes per event, TSC-rate, zlib level 1", String(format: "%.2f", zlibSize.perEvent))
report.record("file bytes per event, loop-shaped, zlib level 1", unit: "B/event", Summary(samples: [zlibSize.perEvent]))

// High-entropy stream: random event types, ids and gaps.
do {
    let path = scratch + "/random.trace"
    var configuration = TraceRecorder.Configuration(path: path, syntheticClock: true)
    configuration.waitWhenFull = true
    let recorder = try TraceRecorder(configuration)
    let stream = recorder.makeStream()
    var rng = SplitMix64(seed: 4)
    var t: UInt64 = 0
    let n = sizeEvents
    for _ in 0..<n {
        t += rng.next() % 100_000
        stream.setSyntheticTime(nanos: t)
        let task = rng.next() % 100_000 + 1
        switch rng.next() % 4 {
        case 0: stream.stepBegin(task: task)
        case 1: stream.stepEnd(.suspended, site: sites[Int(rng.next() % 2)])
        case 2: stream.wakeup(task: task, waker: .task, wakerID: rng.next() % 100_000)
        default: stream.callbackBegin(handle: rng.next() % 1_000_000)
        }
    }
    let stats = recorder.close()
    let perEvent = Double(fileSize(path)) / Double(stats.events)
    row("  file bytes per event, high-entropy random stream", String(format: "%.2f  (raw %.2f)", perEvent, Double(stats.rawBytes) / Double(stats.events)))
    report.record("file bytes per event, high-entropy random stream", unit: "B/event", Summary(samples: [perEvent]))
    try? FileManager.default.removeItem(atPath: path)
}

// MARK: - Decode

let decodeEvents = quick ? 10_000_000 : 30_000_000
let decodePath = scratch + "/decode.trace"
try LoopShapedWorkload.writeTrace(to: decodePath, events: decodeEvents, seed: 1, ticksPerNano: tscPerNano)
@MainActor func decodeRate(threads: Int, libdeflate: Bool) throws -> Summary {
    try measure(max(3, runs / 2)) {
        let reader = try TraceReader(path: decodePath, options: .init(threads: threads, preferLibdeflate: libdeflate))
        var events = 0
        var tasks: UInt64 = 0
        let t0 = nowNanos()
        try reader.forEachChunk { c in
            events += c.events.count
            for e in c.events { tasks &+= e.task }  // touch every event
        }
        blackHole(tasks)
        return Double(events) / (Double(nowNanos() - t0) / 1e9) / 1e6
    }
}
let cores = ProcessInfo.processInfo.activeProcessorCount
print("\nDecode (inflate + decode + deliver in order; \(decodeEvents / 1_000_000) M events, \(formatMiB(fileSize(decodePath))))")
let decodeAll = try decodeRate(threads: cores, libdeflate: true)
row("  M events/s, \(cores) threads, libdeflate", show(decodeAll), "goal ≥ 80")
report.record("decode, \(cores) threads, libdeflate", unit: "M events/s", decodeAll, goal: ">= 80")
let decodeOne = try decodeRate(threads: 1, libdeflate: true)
row("  M events/s, 1 thread, libdeflate", show(decodeOne))
report.record("decode, 1 thread, libdeflate", unit: "M events/s", decodeOne)
let decodeZlib = try decodeRate(threads: cores, libdeflate: false)
row("  M events/s, \(cores) threads, zlib", show(decodeZlib))
report.record("decode, \(cores) threads, zlib", unit: "M events/s", decodeZlib)
try? FileManager.default.removeItem(atPath: decodePath)

func formatMiB(_ bytes: Int64) -> String { String(format: "%.1f MiB", Double(bytes) / 1048576) }

// MARK: - Peak RSS on a ≥ 100 M-event trace (read in a child process, so generation does not count)

let rssEvents = quick ? 20_000_000 : 100_000_000
let rssPath = scratch + "/rss.trace"
try LoopShapedWorkload.writeTrace(to: rssPath, events: rssEvents, seed: 2, ticksPerNano: tscPerNano)
let child = Process()
child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
child.arguments = ["--read-rss", rssPath]
let pipe = Pipe()
child.standardOutput = pipe
try child.run()
let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
child.waitUntilExit()
print("\nPeak RSS reading a \(rssEvents / 1_000_000) M-event trace (\(formatMiB(fileSize(rssPath))), \(cores) threads, every event touched)")
let reading = output.trimmingCharacters(in: .whitespacesAndNewlines)
let rss = reading.split(separator: "(").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? reading
row("  peak RSS of the reading process", rss, "goal ≤ 256 MiB")
if let mib = Double(rss.split(separator: " ").first ?? "") {
    report.record("peak RSS reading a \(rssEvents / 1_000_000) M-event trace", unit: "MiB", Summary(samples: [mib]), goal: "<= 256")
}
print("    (" + (reading.split(separator: "(", maxSplits: 1).dropFirst().first.map(String.init) ?? ""))
try? FileManager.default.removeItem(atPath: rssPath)
report.finish()
