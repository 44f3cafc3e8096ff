// loop-bench: LoopRuntime against Python's asyncio and uvloop and Swift's default executor, on the
// peer workloads of shared/notes/baselines.md, all in one invocation.
//
//   swift run -c release --package-path tools/bench loop-bench [--quick] [--no-python] [--json]
//
// Each figure is the median of several separate runs (Python: separate processes), with min/max.
// The ratios compare figures measured in this invocation only.
import Foundation
import LoopRuntime
import TraceFormat
import TraceTestSupport
import BenchSupport
import PingPongFloor

// Every run in this process, traced or not, happens in a multi-threaded process: an idle thread
// is started before anything else. glibc skips the atomic instructions of its locks (and of
// `malloc`) while a process has a single thread, and the traced runs always have a second one
// (the recorder's writer): without this thread the untraced figures would be flattered (ping-pong
// by ~12 %: 3.2 M against 2.8 M steps/s, medians of 9 runs) and the traced ÷ untraced ratios
// would blame tracing for it. (LOOPBENCH_SINGLE_THREAD=1 leaves it out, to see the difference.)
let idleThreadStarted: Bool = {
    if ProcessInfo.processInfo.environment["LOOPBENCH_SINGLE_THREAD"] == "1" { return false }
    var thread = pthread_t()
    return pthread_create(&thread, nil, { _ in
        while true { pause() }
    }, nil) == 0
}()

let report = BenchReport(name: "loop-bench", usage: """
    usage: swift run -c release --package-path tools/bench loop-bench [--quick] [--no-python] [--json]
                                                                      [--keep-traces] [--floor-only]
           loop-bench --only WORKLOAD [--repeat N]

    LoopRuntime on the peer workloads of shared/notes/baselines.md (ping-pong, callSoon churn,
    sleep(0) fan-out, timers), untraced and traced, against Python's asyncio and uvloop and
    Swift's default executor, in one invocation; then the watchdog's cost, trace sizes and
    memory per idle task.
      --quick        a tenth of the sizes and 3 runs per figure instead of 5
      --no-python    skip the asyncio and uvloop peers
      --keep-traces  keep the traced runs' trace files (their paths are printed)
      --floor-only   only untraced ping-pong against the floor executor (time and instructions)
      --only W       run one workload alone and print its figure (for perf and callgrind):
                     pingpong, pingpong-traced, pingpong-traced-nowatchdog, floor-pingpong, callsoon, callsoon-traced, sleep0,
                     sleep0-traced, default-pingpong, timers, timers-traced, idle-memory-loop,
                     idle-memory-swift
      --repeat N     with --only: run it N times
    """)
let arguments = CommandLine.arguments
let quick = report.flag("--quick")
let withPython = !report.flag("--no-python") && !report.flag("--only")
let runs = quick ? 3 : 5
let scratch = NSTemporaryDirectory() + "looptrace-loop-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
let keepTraces = report.flag("--keep-traces")
defer { if !keepTraces { try? FileManager.default.removeItem(atPath: scratch) } }

// Sizes: baselines.md's, or a tenth with --quick.
let roundTrips = quick ? 20_000 : 200_000
let churnCallbacks = quick ? 100_000 : 1_000_000
let fanoutTasks = quick ? 1_000 : 10_000
let fanoutYields = 100
let timerCount = quick ? 10_000 : 100_000

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}

enum Tracing { case off, on }

/// The traces the traced runs wrote, for the size figures.
nonisolated(unsafe) var tracePaths: [String] = []
/// Events the recorder dropped in the traced runs since this was last reset (must stay 0).
nonisolated(unsafe) var droppedEvents: UInt64 = 0

/// Closes a workload's loop and counts the events its recorder dropped.
func finish(_ loop: EventLoop) {
    loop.close()
    droppedEvents += loop.traceStatistics?.droppedEvents ?? 0
}

func zip3<A, B, C>(_ a: [A], _ b: [B], _ c: [C]) -> [(A, B, C)] { zip(a, zip(b, c)).map { ($0, $1.0, $1.1) } }

/// File bytes per event of each trace written since `mark`, and the events per trace.
func bytesPerEvent(since mark: Int) -> (perEvent: Summary, eventsPerTrace: Int)? {
    var perEvent: [Double] = []
    var total = 0
    for path in tracePaths[mark...] {
        guard let reader = try? TraceReader(path: path) else { continue }
        var events = 0
        try? reader.forEachChunk { events += $0.events.count }
        if events > 0 { perEvent.append(Double(reader.fileSize) / Double(events)) }
        total += events
    }
    return perEvent.isEmpty ? nil : (Summary(samples: perEvent), total / perEvent.count)
}

/// State shared by the tasks of one loop; they all run on the loop's thread.
final class Box<T>: @unchecked Sendable {
    // Loop thread only. Unchecked: a dynamic exclusivity check per access is the harness's cost,
    // not the runtime's (ping-pong: ~80 instructions per step).
    @exclusivity(unchecked) var value: T
    init(_ value: T) { self.value = value }
}

func makeLoop(_ tracing: Tracing) throws -> EventLoop {
    switch tracing {
    case .off: return try EventLoop(trace: .off)
    case .on:
        let path = scratch + "/bench-\(UUID().uuidString).trace"
        if keepTraces { print("  (trace: \(path))") }
        tracePaths.append(path)
        return try EventLoop(trace: .file(path))
    }
}

// MARK: - Workloads on LoopRuntime

/// Two tasks, each awaiting a future the other resolves; steps/s (2 steps per round trip).
func pingPong(_ tracing: Tracing, roundTrips n: Int = roundTrips) throws -> Double {
    let loop = try makeLoop(tracing)
    defer { finish(loop) }
    // Each player's inbox: a fresh future per round trip, as the asyncio peer's.
    let inboxes = [Box(loop.createFuture(of: Void.self)), Box(loop.createFuture(of: Void.self))]
    let start = Box<UInt64>(0)
    func player(_ me: Int) -> LoopTask<Void> {
        loop.createTask(name: me == 0 ? "ping" : "pong") {
            if me == 0 { start.value = DispatchTime.now().uptimeNanoseconds }
            let mine = inboxes[me], other = inboxes[1 - me]
            for _ in 0..<n {
                if me == 0 { try other.value.setResult(()) }
                try await mine.value.value
                mine.value = loop.createFuture(of: Void.self)
                if me == 1 { try other.value.setResult(()) }
            }
        }
    }
    let b = player(1)
    let a = player(0)
    try loop.runUntilComplete(a)
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start.value) / 1e9
    try loop.runUntilComplete(b)
    return Double(2 * n) / elapsed
}

/// One callback that reschedules itself with callSoon; callbacks/s.
func callSoonChurn(_ tracing: Tracing) throws -> Double {
    let loop = try makeLoop(tracing)
    defer { finish(loop) }
    let remaining = Box(churnCallbacks)
    @Sendable func again() {
        remaining.value -= 1
        if remaining.value > 0 { loop.callSoon(again) } else { loop.stop() }
    }
    loop.callSoon(again)
    let t = try seconds { try loop.runForever() }
    return Double(churnCallbacks) / t
}

/// T tasks × Y sleep(0); task steps/s (T×Y).
func sleepZeroFanOut(_ tracing: Tracing) throws -> Double {
    let loop = try makeLoop(tracing)
    defer { finish(loop) }
    let t = try seconds {
        let tasks = Box<[LoopTask<Void>]>([])
        for i in 0..<fanoutTasks {
            tasks.value.append(loop.createTask(name: "fan-\(i)") {
                for _ in 0..<fanoutYields { try await loop.sleep(for: .zero) }
            })
        }
        let all = loop.createTask(name: "join") { for task in tasks.value { try await task.value } }
        try loop.runUntilComplete(all)
    }
    return Double(fanoutTasks * fanoutYields) / t
}

/// Timer lateness: N callLater with delays uniform in [0, 10] ms, paced 100 per ~1 ms.
func timerLateness(_ tracing: Tracing) throws -> (p50: Double, p99: Double, earliest: Double, max: Double) {
    let loop = try makeLoop(tracing)
    defer { finish(loop) }
    let lateness = Box<[Int64]>([])
    lateness.value.reserveCapacity(timerCount)
    let driver = loop.createTask(name: "timers") {
        var rng = SplitMix64(seed: 1)
        var scheduled = 0
        while scheduled < timerCount {
            for _ in 0..<min(100, timerCount - scheduled) {
                let delay = Int64(rng.next() % 10_000_001)
                let due = loop.time() + delay
                loop.callLater(.nanoseconds(delay)) { lateness.value.append(loop.time() - due) }
                scheduled += 1
            }
            try await loop.sleep(for: .milliseconds(1))
        }
        try await loop.sleep(for: .milliseconds(15))
    }
    try loop.runUntilComplete(driver)
    let sorted = lateness.value.sorted()
    func pick(_ q: Double) -> Double { Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]) / 1e3 }
    return (pick(0.5), pick(0.99), Double(sorted.first!) / 1e3, Double(sorted.last!) / 1e3)
}

// MARK: - Memory per idle task

/// Resident memory of this process, in bytes (`/proc/self/statm`).
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
}

let idleTasks = Int(ProcessInfo.processInfo.environment["LOOPBENCH_IDLE_TASKS"] ?? "") ?? 100_000

/// Bytes of resident memory per loop task suspended in `loop.sleep`: RSS after `idleTasks` tasks
/// have started and are asleep, minus RSS before they were created, ÷ `idleTasks`.
func idleLoopTaskBytes() throws -> Double {
    let loop = try makeLoop(.off)
    defer { loop.close() }
    // Warm up the loop's own structures (ready queue, heap) so they count once, not per task.
    try loop.runUntilComplete(loop.createTask { try await loop.sleep(for: .zero) })
    let before = residentBytes()
    var tasks: [LoopTask<Void>] = []
    tasks.reserveCapacity(idleTasks)
    for _ in 0..<idleTasks {
        tasks.append(loop.createTask { try await loop.sleep(for: .seconds(3600)) })
    }
    // One iteration starts them all: each runs to its sleep and suspends.
    let started = loop.createFuture(of: Void.self)
    loop.callSoon { loop.callSoon { try started.setResult(()) } }
    try loop.runUntilComplete(started)
    let after = residentBytes()
    for task in tasks { task.cancel() }
    let all = loop.createTask { for task in tasks { _ = try? await task.value } }
    try loop.runUntilComplete(all)
    return Double(after - before) / Double(idleTasks)
}

/// The same for plain Swift tasks on the default executor, each suspended on a continuation:
/// Swift's own cost of a suspended task.
func idleSwiftTaskBytes() -> Double {
    final class Parking: @unchecked Sendable {
        let lock = NSLock()
        var continuations: [UnsafeContinuation<Void, Never>] = []
        var parked = 0
    }
    let parking = Parking()
    parking.continuations.reserveCapacity(idleTasks)
    // Warm up the default executor's threads.
    let warm = DispatchSemaphore(value: 0)
    Task.detached { warm.signal() }
    warm.wait()
    let before = residentBytes()
    for _ in 0..<idleTasks {
        Task.detached {
            await withUnsafeContinuation { c in
                parking.lock.lock()
                parking.continuations.append(c)
                parking.parked += 1
                parking.lock.unlock()
            }
        }
    }
    while true {
        parking.lock.lock()
        let n = parking.parked
        parking.lock.unlock()
        if n == idleTasks { break }
        usleep(1000)
    }
    let after = residentBytes()
    for c in parking.continuations { c.resume() }
    return Double(after - before) / Double(idleTasks)
}

// MARK: - Swift's default executor

/// A one-slot signal for the default-executor ping-pong: resume the other side, then wait.
final class Signal: @unchecked Sendable {
    private let lock = NSLock()
    private var pending = 0
    private var waiter: CheckedContinuation<Void, Never>?

    func signal() {
        lock.lock()
        if let w = waiter {
            waiter = nil
            lock.unlock()
            w.resume()
        } else {
            pending += 1
            lock.unlock()
        }
    }

    func wait() async {
        await withCheckedContinuation { c in
            lock.lock()
            if pending > 0 {
                pending -= 1
                lock.unlock()
                c.resume()
            } else {
                waiter = c
                lock.unlock()
            }
        }
    }
}

func defaultExecutorPingPong() -> Double {
    let a = Signal(), b = Signal()
    let n = roundTrips
    let done = DispatchSemaphore(value: 0)
    let t0 = DispatchTime.now().uptimeNanoseconds
    Task.detached {
        for _ in 0..<n { await b.wait(); a.signal() }
    }
    Task.detached {
        for _ in 0..<n { b.signal(); await a.wait() }
        done.signal()
    }
    done.wait()
    return Double(2 * n) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
}

// MARK: - Python peers

let python = withPython ? PeerPython.find() : nil

func peer(_ loop: String, _ workload: String, _ sizes: String) -> [String: Any]? {
    guard loop != "uvloop" || python?.hasUvloop == true else { return nil }
    return python?.run("asyncio_workloads.py", "--loop \(loop) --workload \(workload) \(sizes)")
}

func peerRate(_ loop: String, _ workload: String, _ sizes: String) -> Summary? {
    python?.measure("asyncio_workloads.py", loop: loop, "--workload \(workload) \(sizes)", runs: runs)
}

/// Runs `body` with the loop watchdog on (the default, 50 ms) or off (`LOOPTRACE_WATCHDOG=off`,
/// which the loop reads when it is made).
func watchdog<T>(_ on: Bool, _ body: () throws -> T) rethrows -> T {
    setenv("LOOPTRACE_WATCHDOG", on ? "50ms" : "off", 1)
    defer { unsetenv("LOOPTRACE_WATCHDOG") }
    return try body()
}

// MARK: - Instructions per step (callgrind)

// The functions callgrind counts in (`--toggle-collect`): plain symbol names, so that the pattern does not
// depend on Swift's mangling. Each runs the untraced ping-pong of `roundTrips` round trips.
@inline(never) @_silgen_name("loopbench_measured_pingpong")
func measuredPingPong(_ roundTrips: Int) { _ = try! pingPong(.off, roundTrips: roundTrips) }

@inline(never) @_silgen_name("loopbench_measured_floor_pingpong")
func measuredFloorPingPong(_ roundTrips: Int) { _ = FloorExecutor().pingPong(roundTrips: roundTrips) }

// `--callgrind-child WORKLOAD ROUND-TRIPS`: what the bench runs under valgrind.
if let i = arguments.firstIndex(of: "--callgrind-child"), i + 2 < arguments.count, let n = Int(arguments[i + 2]) {
    switch arguments[i + 1] {
    case "pingpong": measuredPingPong(n)
    case "floor-pingpong": measuredFloorPingPong(n)
    default: fatalError("unknown callgrind workload \(arguments[i + 1])")
    }
    exit(0)
}

/// Instructions per ping-pong step of `workload` under callgrind, start-up and set-up excluded:
/// the counts inside the measured function for 1,000 and 5,000 round trips, their difference ÷
/// the 8,000 steps between them.
func instructionsPerStep(_ workload: String) -> Double? {
    Callgrind.instructionsPerUnit(arguments: { ["--callgrind-child", workload, "\($0)"] }, units: { 2 * $0 },
                                  sizes: (1_000, 5_000), toggle: "loopbench_measured_" + workload.replacingOccurrences(of: "-", with: "_"))
}

// MARK: - One workload alone (for profilers)

// `--only W [--repeat N]`, W one of pingpong, pingpong-traced, pingpong-traced-nowatchdog, callsoon, callsoon-traced, sleep0, sleep0-traced,
// default-pingpong, timers, timers-traced, idle-memory-loop, idle-memory-swift: runs one workload
// N times and prints each figure, with nothing else in the process (for `perf record`,
// `valgrind --tool=callgrind`; the memory figures are measured this way, in fresh processes).
if let i = arguments.firstIndex(of: "--only"), i + 1 < arguments.count {
    let repeats = arguments.firstIndex(of: "--repeat").flatMap { Int(arguments[$0 + 1]) } ?? 1
    for _ in 0..<repeats {
        let value: Double
        switch arguments[i + 1] {
        case "pingpong": value = try pingPong(.off)
        case "pingpong-traced": value = try pingPong(.on)
        case "pingpong-traced-nowatchdog": value = try watchdog(false) { try pingPong(.on) }
        case "floor-pingpong": value = FloorExecutor().pingPong(roundTrips: roundTrips)
        case "callsoon": value = try callSoonChurn(.off)
        case "callsoon-traced": value = try callSoonChurn(.on)
        case "sleep0": value = try sleepZeroFanOut(.off)
        case "sleep0-traced": value = try sleepZeroFanOut(.on)
        case "default-pingpong": value = defaultExecutorPingPong()
        case "timers", "timers-traced":
            let l = try timerLateness(arguments[i + 1] == "timers" ? .off : .on)
            print(String(format: "%@ p50 %.1f µs, p99 %.1f µs, earliest %+.1f µs, max %.1f µs", arguments[i + 1], l.p50, l.p99, l.earliest, l.max))
            continue
        case "idle-memory-loop": value = try idleLoopTaskBytes()
        case "idle-memory-swift": value = idleSwiftTaskBytes()
        default: fatalError("unknown workload \(arguments[i + 1])")
        }
        print("\(arguments[i + 1]) \(arguments[i + 1].hasPrefix("idle-memory") ? String(format: "%.0f", value) : rate(value))")
    }
    exit(0)
}

// MARK: - Report

func measure(_ body: () throws -> Double) rethrows -> Summary { try BenchSupport.measure(runs: runs, body) }

func row(_ cells: [String]) { print(tableRow(cells, widths: [34, 26, 26, 26])) }

report.printHeader()
print("\(runs) runs per figure; median [min – max]; rates per second")
print(idleThreadStarted
      ? "process: multi-threaded for every run (an idle thread is started first: glibc's single-thread lock fast paths would flatter untraced runs)\n"
      : "process: NO idle thread (LOOPBENCH_SINGLE_THREAD=1 or pthread_create failed): untraced runs use glibc's single-thread fast paths\n")

let sizes = (pingpong: "--round-trips \(roundTrips)", callsoon: "--callbacks \(churnCallbacks)",
             sleep0: "--tasks \(fanoutTasks) --yields \(fanoutYields)", timers: "--timers \(timerCount)")

let floorOnly = report.flag("--floor-only")

// Ping-pong untraced, on the floor executor and traced, runs interleaved so that drift hits all
// alike (the ratios below pair the runs).
var mark = tracePaths.count
let pingPongRuns = try measureInterleaved(runs: runs, [
    { try pingPong(.off) }, { FloorExecutor().pingPong(roundTrips: roundTrips) },
] + (floorOnly ? [] : [{ try pingPong(.on) }]))
let ppOff = pingPongRuns[0], ppFloor = pingPongRuns[1]
let ppSize = bytesPerEvent(since: mark)

// MARK: Floor

print("floor: the leanest executor on the same runtime (PingPongFloor: two tasks, UnsafeContinuation, hot state behind a pointer)")
print("  floor ping-pong steps/s                    \(ppFloor)")
report.record("ping-pong, floor executor", unit: "steps/s", ppFloor)
// Time per step ÷ the floor's = the floor's rate ÷ LoopRuntime's, run by run.
let floorRatio = Summary.pairedRatio(ppFloor, ppOff)
print("  LoopRuntime time per step ÷ floor's        \(floorRatio.formatted(times))   goal ≤ 1.5 (runs paired)")
report.record("ping-pong, LoopRuntime time per step ÷ floor's", unit: "ratio", floorRatio, goal: "<= 1.5")
if Callgrind.isInstalled {
    let lr = instructionsPerStep("pingpong"), floor = instructionsPerStep("floor-pingpong")
    func count(_ v: Double?) -> String { v.map { String(format: "%.0f", $0) } ?? "failed" }
    print("  instructions per step (callgrind; untraced; (I(5 k rt) − I(1 k rt)) ÷ 8 k steps)")
    print("    LoopRuntime \(count(lr)), floor \(count(floor))" + (lr != nil && floor != nil ? ", ratio \(times(lr! / floor!))" : ""))
    if let lr { report.record("ping-pong, LoopRuntime instructions per step", unit: "instructions/step", Summary(samples: [lr])) }
    if let floor { report.record("ping-pong, floor instructions per step", unit: "instructions/step", Summary(samples: [floor])) }
} else {
    print("  " + Callgrind.notInstalledNotice)
}

// `--floor-only`: this section alone (quick to repeat while working on the step path).
if floorOnly {
    report.finish()
    exit(0)
}
print("")
let ppOn = pingPongRuns[2]
let ppDefault = measure { defaultExecutorPingPong() }
mark = tracePaths.count
let callSoonRuns = try measureInterleaved(runs: runs, [{ try callSoonChurn(.off) }, { try callSoonChurn(.on) }])
let (csOff, csOn) = (callSoonRuns[0], callSoonRuns[1])
let csSize = bytesPerEvent(since: mark)
mark = tracePaths.count
let sleepZeroRuns = try measureInterleaved(runs: runs, [{ try sleepZeroFanOut(.off) }, { try sleepZeroFanOut(.on) }])
let (s0Off, s0On) = (sleepZeroRuns[0], sleepZeroRuns[1])
let s0Size = bytesPerEvent(since: mark)
let droppedQuiet = droppedEvents

// The loaded column: the same workloads while a process this bench starts spins on one core, as
// another tenant of these 2-vCPU machines does. The recorder's writer thread then competes with
// the loop thread for the one core left.
droppedEvents = 0
let busy = try BusyProcess()
let loaded = try [
    measureInterleaved(runs: runs, [{ try pingPong(.off) }, { try pingPong(.on) }]),
    measureInterleaved(runs: runs, [{ try callSoonChurn(.off) }, { try callSoonChurn(.on) }]),
    measureInterleaved(runs: runs, [{ try sleepZeroFanOut(.off) }, { try sleepZeroFanOut(.on) }]),
]
busy.stop()
let droppedLoaded = droppedEvents
let pyPP = peerRate("asyncio", "pingpong", sizes.pingpong), uvPP = peerRate("uvloop", "pingpong", sizes.pingpong)
let pyCS = peerRate("asyncio", "callsoon", sizes.callsoon), uvCS = peerRate("uvloop", "callsoon", sizes.callsoon)
let pyS0 = peerRate("asyncio", "sleep0", sizes.sleep0), uvS0 = peerRate("uvloop", "sleep0", sizes.sleep0)

for (name, unit, off, on) in [("ping-pong", "steps/s", ppOff, ppOn), ("callSoon churn", "callbacks/s", csOff, csOn),
                               ("sleep(0) fan-out", "steps/s", s0Off, s0On)] {
    report.record("\(name), tracing off", unit: unit, off)
    report.record("\(name), traced", unit: unit, on)
}
report.record("ping-pong, Swift default executor", unit: "steps/s", ppDefault)
for (name, unit, asyncio, uvloop) in [("ping-pong", "steps/s", pyPP, uvPP), ("callSoon churn", "callbacks/s", pyCS, uvCS),
                                      ("sleep(0) fan-out", "steps/s", pyS0, uvS0)] {
    if let asyncio { report.record("\(name), asyncio", unit: unit, asyncio) }
    if let uvloop { report.record("\(name), uvloop", unit: unit, uvloop) }
}

row(["workload", "LoopRuntime, tracing off", "LoopRuntime, tracing on", "Swift default executor"])
row(["ping-pong steps/s", "\(ppOff)", "\(ppOn)", "\(ppDefault)"])
row(["callSoon churn callbacks/s", "\(csOff)", "\(csOn)", "—"])
row(["sleep(0) fan-out steps/s", "\(s0Off)", "\(s0On)", "—"])
print("")
row(["workload", "asyncio", "uvloop", ""])
row(["ping-pong steps/s", pyPP.map { "\($0)" } ?? "n/a", uvPP.map { "\($0)" } ?? "n/a", ""])
row(["callSoon churn callbacks/s", pyCS.map { "\($0)" } ?? "n/a", uvCS.map { "\($0)" } ?? "n/a", ""])
row(["sleep(0) fan-out steps/s", pyS0.map { "\($0)" } ?? "n/a", uvS0.map { "\($0)" } ?? "n/a", ""])

print("\nloaded: the same workloads while a busy process spins on one core")
row(["workload", "LoopRuntime, tracing off", "LoopRuntime, tracing on", ""])
for (name, runs) in zip(["ping-pong steps/s", "callSoon churn callbacks/s", "sleep(0) fan-out steps/s"], loaded) {
    row([name, "\(runs[0])", "\(runs[1])", ""])
}
for (name, unit, runs) in zip3(["ping-pong", "callSoon churn", "sleep(0) fan-out"], ["steps/s", "callbacks/s", "steps/s"], loaded) {
    report.record("\(name), tracing off, loaded", unit: unit, runs[0])
    report.record("\(name), traced, loaded", unit: unit, runs[1])
}

print("\ntraced ÷ untraced (runs paired; quiet, and loaded with one core taken)")
row(["workload", "quiet", "loaded", "goal"])
let quietPairs = [(ppOn, ppOff), (csOn, csOff), (s0On, s0Off)]
for (name, (quiet, loadedRuns)) in zip(["ping-pong", "callSoon churn", "sleep(0) fan-out"], zip(quietPairs, loaded)) {
    let q = Summary.pairedRatio(quiet.0, quiet.1), l = Summary.pairedRatio(loadedRuns[1], loadedRuns[0])
    row([name, q.formatted(times), l.formatted(times), "≥ 0.90"])
    report.record("\(name), traced ÷ untraced, quiet", unit: "ratio", q, goal: ">= 0.90")
    report.record("\(name), traced ÷ untraced, loaded", unit: "ratio", l, goal: ">= 0.90")
}
row(["events dropped by the recorder", "\(droppedQuiet)", "\(droppedLoaded)", "0"])
report.record("events dropped, quiet", unit: "events", Summary(samples: [Double(droppedQuiet)]), goal: "<= 0")
report.record("events dropped, loaded", unit: "events", Summary(samples: [Double(droppedLoaded)]), goal: "<= 0")

print("\nratios (medians of this invocation)")
/// Prints `a ÷ b` and records it.
@MainActor func ratio(_ name: String, _ a: Summary, _ b: Summary?, goal: String? = nil) {
    let goalText = goal.map { "   goal \($0.replacingOccurrences(of: ">=", with: "≥").replacingOccurrences(of: "<=", with: "≤"))" } ?? ""
    print("  " + name.padding(toLength: 43, withPad: " ", startingAt: 0) + (b.map { times(a.median / $0.median) } ?? "n/a") + goalText)
    if let b { report.record(name, unit: "ratio", .ratio(a, b), goal: goal) }
}
ratio("ping-pong, tracing off ÷ uvloop", ppOff, uvPP, goal: ">= 8")
ratio("ping-pong, tracing off ÷ default executor", ppOff, ppDefault, goal: ">= 2")
ratio("callSoon, tracing off ÷ uvloop", csOff, uvCS)
ratio("sleep(0), tracing off ÷ uvloop", s0Off, uvS0)

// The watchdog's cost: what the loop thread pays per step to publish each step's start (the
// watchdog thread itself sleeps between checks). Traced ping-pong with the watchdog on and off,
// runs interleaved so that drift hits both alike; the per-pair differences of ns per step.
var watchdogOn: [Double] = [], watchdogOff: [Double] = []
for _ in 0..<runs {
    watchdogOff.append(try watchdog(false) { try pingPong(.on) })
    watchdogOn.append(try watchdog(true) { try pingPong(.on) })
}
let perStep = Summary(samples: zip(watchdogOn, watchdogOff).map { 1e9 / $0 - 1e9 / $1 })
print("\nloop watchdog (traced ping-pong, runs interleaved)")
print("  watchdog off                               \(Summary(samples: watchdogOff))")
print("  watchdog on (50 ms)                        \(Summary(samples: watchdogOn))")
print("  cost per step, on − off                    \(perStep.formatted { String(format: "%+.2f ns", $0) })   goal ≤ 1 ns (timing noise is larger: see --only pingpong-traced-nowatchdog under callgrind)")
report.record("watchdog cost per traced ping-pong step, on − off", unit: "ns/step", perStep, goal: "<= 1")

print("\ntrace size of the traced runs (file bytes per event, all overhead included)")
for (name, size) in [("ping-pong", ppSize), ("callSoon churn", csSize), ("sleep(0) fan-out (\(fanoutTasks) tasks)", s0Size)] {
    let text = size.map { "\($0.perEvent.formatted { String(format: "%.2f", $0) }) B/event (\($0.eventsPerTrace) events)" } ?? "n/a"
    print("  " + name.padding(toLength: 43, withPad: " ", startingAt: 0) + text + "   goal ≤ 2.0")
    if let size { report.record("\(name), traced, file bytes per event", unit: "B/event", size.perEvent, goal: "<= 2.0") }
}

// Each in a fresh process (a heap that earlier runs grew would hide part of the growth).
func idleMemory(_ which: String) -> Summary? {
    var samples: [Double] = []
    for _ in 0..<runs {
        let (status, out) = shell("'\(CommandLine.arguments[0])' --only idle-memory-\(which)")
        guard status == 0, let v = out.split(separator: "\n").last?.split(separator: " ").last.flatMap({ Double($0) }) else { return nil }
        samples.append(v)
    }
    return Summary(samples: samples)
}
print("\nmemory per idle task (RSS growth ÷ \(idleTasks) suspended tasks, bytes; fresh process per run)")
let memLoop = idleMemory("loop"), memSwift = idleMemory("swift")
func bytes(_ s: Summary?) -> String { s?.formatted { String(format: "%.0f", $0) } ?? "n/a" }
print("  LoopRuntime task asleep in loop.sleep      \(bytes(memLoop))")
print("  plain Swift Task on a continuation         \(bytes(memSwift))")
if let memLoop { report.record("memory per idle LoopRuntime task", unit: "bytes", memLoop) }
if let memSwift { report.record("memory per idle Swift task", unit: "bytes", memSwift) }
if let l = memLoop, let w = memSwift {
    print(String(format: "  LoopRuntime beyond Swift's own             %.0f   goal ≤ 1024", l.median - w.median))
    report.record("memory per idle LoopRuntime task beyond Swift's own", unit: "bytes",
                  Summary(median: l.median - w.median, min: l.min - w.max, max: l.max - w.min), goal: "<= 1024")
}

print("\ntimer lateness (fire − due, µs; \(timerCount) timers, delays uniform in [0, 10] ms, 100 per ms)")
row(["loop", "p50", "p99", "earliest / max"])
for (name, tracing) in [("LoopRuntime, tracing off", Tracing.off), ("LoopRuntime, tracing on", .on)] {
    let l = try timerLateness(tracing)
    row([name, String(format: "%.1f", l.p50), String(format: "%.1f", l.p99), String(format: "%+.1f / %.1f", l.earliest, l.max)])
    // One run each: a figure of its own, not a median.
    report.record("timer lateness p99, \(name)", unit: "µs", Summary(samples: [l.p99]), goal: "<= 100")
    report.record("timer lateness earliest, \(name)", unit: "µs", Summary(samples: [l.earliest]), goal: ">= 0")
}
for loop in ["asyncio", "uvloop"] {
    if let r = peer(loop, "timers", sizes.timers), let p50 = r["p50_us"] as? Double, let p99 = r["p99_us"] as? Double,
       let earliest = r["earliest_us"] as? Double, let mx = r["max_us"] as? Double {
        row([loop, String(format: "%.1f", p50), String(format: "%.1f", p99), String(format: "%+.1f / %.1f", earliest, mx)])
    }
}
print("  goal: p99 ≤ 100 µs and never early")
report.finish()
