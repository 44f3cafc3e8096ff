import TraceFormat
#if canImport(Glibc)
import Glibc
#endif

/// A small, fast, seedable random generator (SplitMix64), so that generated traces and tests are
/// reproducible from their seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Emits a loop-shaped event stream: the pattern an event loop running many tasks produces
/// (poll, then steps of ready tasks that wake each other, callbacks and timers), with realistic
/// gaps between events. Used for the sample traces, the size and decode benchmarks and the
/// reader's tests. Deterministic for a seed when the stream uses a synthetic clock.
public struct LoopShapedWorkload {
    /// How many tasks take turns.
    public var tasks: Int
    /// Synthetic ticks per nanosecond: 1 records ns; a TSC's rate (about 2.6 here) records what
    /// a cycle counter would, which costs about 1.4 more bits per timestamp.
    public var ticksPerNano: Double = 1
    private var rng: SplitMix64
    private var clock: UInt64 = 1_000
    private var nextHandle: UInt64 = 1
    private var created = 0

    private static let sites: [SourceSite] = [
        SourceSite(file: "Service/Handler.swift", line: 42, function: "handle(_:)"),
        SourceSite(file: "Service/Handler.swift", line: 57, function: "handle(_:)"),
        SourceSite(file: "Service/Database.swift", line: 118, function: "query(_:)"),
        SourceSite(file: "Service/Cache.swift", line: 23, function: "lookup(_:)"),
        SourceSite(file: "LoopRuntime/Sleep.swift", line: 12, function: "sleep(for:)"),
    ]

    /// Creates a workload over `tasks` tasks.
    public init(tasks: Int = 64, seed: UInt64 = 1) {
        self.tasks = max(2, tasks)
        rng = SplitMix64(seed: seed)
    }

    private mutating func gap(_ meanNanos: UInt64) -> UInt64 {
        // Roughly exponential: short gaps are common, long ones rare.
        let u = Double(rng.next() >> 11) / Double(1 << 53)
        return UInt64(-Double(meanNanos) * log1p(-u)) + 1
    }

    /// Emits about `events` events into `stream`, advancing its synthetic clock when
    /// `synthetic` is set. Returns the number of events emitted.
    @discardableResult
    public mutating func emit(into stream: TraceStream, events: Int, synthetic: Bool = true) -> Int {
        var emitted = 0
        func tick(_ mean: UInt64) {
            clock &+= gap(mean)
            if synthetic { stream.setSyntheticTime(nanos: ticksPerNano == 1 ? clock : UInt64(Double(clock) * ticksPerNano)) }
        }
        if created == 0 {
            tick(100)
            stream.loopStart(loop: 1)
            emitted += 1
            for t in 1...tasks {
                tick(150)
                stream.taskCreate(task: UInt64(t), parent: 0, name: "worker-\(t)", site: Self.sites[0])
                emitted += 1
            }
            created = tasks
        }
        while emitted < events {
            tick(2_000)
            stream.pollBegin(timeoutNanos: Int64(rng.next() % 1_000_000))
            tick(20_000)
            let ready = Int(rng.next() % 8) + 1
            stream.pollEnd(readyCount: ready)
            emitted += 2
            for _ in 0..<ready {
                let task = UInt64(rng.next() % UInt64(tasks)) + 1
                tick(120)
                stream.stepBegin(task: task)
                let roll = rng.next() % 16
                if roll < 9 {
                    tick(400)
                    let other = task % UInt64(tasks) + 1
                    stream.wakeup(task: other, waker: .task, wakerID: task)
                    emitted += 1
                } else if roll < 11 {
                    tick(300)
                    let h = nextHandle
                    nextHandle += 1
                    stream.callbackScheduled(handle: h, kind: .later, dueInNanos: Int64(rng.next() % 5_000_000),
                                             site: Self.sites[4])
                    emitted += 1
                }
                tick(600)
                let site = Self.sites[Int(rng.next() % 4)]
                stream.stepEnd(roll == 15 ? .yielded : .suspended, site: site)
                emitted += 2
            }
            if rng.next() % 4 == 0 {
                tick(200)
                let h = nextHandle &- 1
                stream.timerFired(handle: h, dueInNanos: -Int64(rng.next() % 50_000))
                tick(80)
                stream.callbackBegin(handle: h)
                tick(300)
                stream.wakeup(task: UInt64(rng.next() % UInt64(tasks)) + 1, waker: .timer, wakerID: h)
                tick(100)
                stream.callbackEnd(handle: h)
                emitted += 4
            }
        }
        return emitted
    }
}

extension LoopShapedWorkload {
    /// The recipe of `traces/loop-shaped.trace`, the golden sample: 3,000 loop-shaped events
    /// over 8 tasks, seed 2026, on a synthetic clock, flushed every millisecond so that it has
    /// several chunks. `tools/bench`'s `trace-gen samples` writes it; the tests regenerate it and
    /// compare dumps.
    public static func writeGoldenSample(to path: String) throws {
        let recorder = try TraceRecorder(.init(path: path, bufferBytes: 16 << 10, flushIntervalNanos: 1_000_000,
                                               programName: "trace-gen", arguments: ["samples"], syntheticClock: true))
        var workload = LoopShapedWorkload(tasks: 8, seed: 2026)
        workload.emit(into: recorder.makeStream(), events: 3_000)
        recorder.close()
    }
}

extension LoopShapedWorkload {
    /// Writes a trace of `events` loop-shaped events on a synthetic clock, waiting for the
    /// writer rather than dropping (for generators and benchmarks, never for live programs).
    /// - Parameters:
    ///   - path: the trace file to create.
    ///   - events: how many events, at least.
    ///   - tasks: how many tasks take turns.
    ///   - seed: the random seed; the same seed gives the same events.
    ///   - ticksPerNano: the synthetic tick rate (1: ns; a TSC's rate records what a cycle counter would).
    ///   - programName: the program stored in the header.
    /// - Returns: the recorder's statistics.
    @discardableResult
    public static func writeTrace(to path: String, events: Int, tasks: Int = 256, seed: UInt64 = 1,
                                  ticksPerNano: Double = 1, programName: String = "trace-gen") throws -> TraceRecorder.Statistics {
        var configuration = TraceRecorder.Configuration(path: path, programName: programName, arguments: [],
                                                        syntheticClock: true)
        configuration.waitWhenFull = true
        let recorder = try TraceRecorder(configuration)
        var workload = LoopShapedWorkload(tasks: tasks, seed: seed)
        workload.ticksPerNano = ticksPerNano
        let stream = recorder.makeStream()
        var done = 0
        while done < events { done += workload.emit(into: stream, events: min(1_000_000, events - done)) }
        return recorder.close()
    }
}
