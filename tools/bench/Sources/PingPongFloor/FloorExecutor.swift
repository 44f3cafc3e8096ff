import Glibc

/// The floor for LoopRuntime's ping-pong: the leanest single-threaded executor that runs Swift
/// tasks on the runtime LoopRuntime runs on, with nothing a loop needs beyond that.
///
/// It is what issue 13 describes (measured at 135 ns per step on this kind of machine): two
/// tasks handing a turn back and forth through `UnsafeContinuation`s, hot state in a struct
/// behind an `UnsafeMutablePointer` (no class-property exclusivity checks), and jobs run with the
/// `runSynchronously` call chosen by the facade they came through (task-executor face:
/// `runSynchronously(on:)`; serial face: `runSynchronously(isolatedTo:taskExecutor:)`), as
/// shared/notes/swift-executors.md found necessary. No tracing, no timers, no I/O, no futures, no
/// task-local context, no thread checks: every instruction LoopRuntime spends per step beyond
/// this executor's is LoopRuntime's own, which loop-bench prints as a ratio (goal ≤ 1.5).
///
/// One thread only: the thread that calls ``pingPong(roundTrips:)`` creates the tasks, and every
/// job is enqueued and run on it.
public final class FloorExecutor: @unchecked Sendable {
    /// How a job arrived, which decides how it runs.
    enum Route: UInt8 { case taskExecutor, serial }

    /// A ready job and its route.
    struct ReadyJob {
        var job: UnownedJob
        var route: Route
    }

    /// Everything the executor touches per step.
    struct HotState {
        /// The ready queue: a ring of `capacity` jobs.
        var ring: UnsafeMutablePointer<ReadyJob>
        var head = 0
        var count = 0
        /// Each player's continuation while it waits for its turn.
        var waiting: (UnsafeContinuation<Void, Never>?, UnsafeContinuation<Void, Never>?) = (nil, nil)
        /// When player 0's first step began (ns, CLOCK_MONOTONIC).
        var startNanos: UInt64 = 0
    }

    static let capacity = 64  // ping-pong never has more than two jobs ready
    let state: UnsafeMutablePointer<HotState>
    private let taskFace: FloorTaskFace
    private let serialFace: FloorSerialFace

    /// An executor with an empty ready queue.
    public init() {
        let ring = UnsafeMutablePointer<ReadyJob>.allocate(capacity: Self.capacity)
        state = .allocate(capacity: 1)
        state.initialize(to: HotState(ring: ring))
        taskFace = FloorTaskFace()
        serialFace = FloorSerialFace()
        taskFace.executor = self
        serialFace.executor = self
    }

    deinit {
        state.pointee.ring.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    @inline(__always)
    func push(_ job: UnownedJob, _ route: Route) {
        let st = state
        precondition(st.pointee.count < Self.capacity, "floor executor: ready queue full")
        st.pointee.ring[(st.pointee.head &+ st.pointee.count) & (Self.capacity - 1)] = ReadyJob(job: job, route: route)
        st.pointee.count &+= 1
    }

    /// Runs jobs until none is ready.
    func run() {
        let st = state
        let taskExecutor = UnownedTaskExecutor(ordinary: taskFace)
        let serialExecutor = UnownedSerialExecutor(ordinary: serialFace)
        while st.pointee.count > 0 {
            let ready = st.pointee.ring[st.pointee.head]
            st.pointee.head = (st.pointee.head &+ 1) & (Self.capacity - 1)
            st.pointee.count &-= 1
            switch ready.route {
            case .taskExecutor: ready.job.runSynchronously(on: taskExecutor)
            case .serial: ready.job.runSynchronously(isolatedTo: serialExecutor, taskExecutor: taskExecutor)
            }
        }
    }

    /// Player `me` waits for its turn.
    @inline(__always)
    func waitTurn(_ me: Int) async {
        let st = state
        // The executor-inheriting form, as LoopRuntime's awaits use: no hop to the caller's
        // isolation before suspending.
        await _unsafeInheritExecutor_withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
            if me == 0 { st.pointee.waiting.0 = c } else { st.pointee.waiting.1 = c }
        }
    }

    /// Gives player `other` its turn: it must be waiting (the ping-pong's order guarantees it).
    @inline(__always)
    func giveTurn(_ other: Int) {
        let st = state
        let c: UnsafeContinuation<Void, Never>?
        if other == 0 {
            c = st.pointee.waiting.0
            st.pointee.waiting.0 = nil
        } else {
            c = st.pointee.waiting.1
            st.pointee.waiting.1 = nil
        }
        guard let c else { preconditionFailure("floor ping-pong: player \(other) is not waiting") }
        c.resume()  // enqueues the player on this executor, synchronously
    }

    /// Two tasks, each waiting for a turn the other gives, `roundTrips` times (2 steps per round
    /// trip, as LoopRuntime's ping-pong): resume the other side, then wait.
    /// - Returns: task steps per second, timed from player 0's first step to the end.
    public func pingPong(roundTrips: Int) -> Double {
        let n = roundTrips
        // Player 1 starts first and waits, so that every turn finds its receiver waiting.
        Task(executorPreference: taskFace) { [self] in
            for _ in 0..<n {
                await waitTurn(1)
                giveTurn(0)
            }
        }
        Task(executorPreference: taskFace) { [self] in
            state.pointee.startNanos = monotonicNanos()
            for _ in 0..<n {
                giveTurn(1)
                await waitTurn(0)
            }
        }
        run()
        return Double(2 * n) / (Double(monotonicNanos() - state.pointee.startNanos) / 1e9)
    }
}

/// The task-executor face: tasks created with `executorPreference:` this, and what they await.
final class FloorTaskFace: TaskExecutor, @unchecked Sendable {
    unowned(unsafe) var executor: FloorExecutor!

    func enqueue(_ job: consuming ExecutorJob) {
        executor.push(UnownedJob(job), .taskExecutor)
    }
}

/// The serial face, for actors whose executor this is (unused by ping-pong; here so that the
/// floor routes jobs by facade as a real loop must, at the same cost).
final class FloorSerialFace: SerialExecutor, @unchecked Sendable {
    unowned(unsafe) var executor: FloorExecutor!

    func enqueue(_ job: consuming ExecutorJob) {
        executor.push(UnownedJob(job), .serial)
    }
}

/// CLOCK_MONOTONIC in ns.
func monotonicNanos() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}
