@_spi(ExperimentalScheduling) @_spi(ExperimentalCustomExecutors) import _Concurrency
import Glibc
import TraceFormat

/// The loop as an executor for Swift's concurrency runtime.
///
/// The loop works through facade objects, so that it can tell by the entry point how a job must
/// be run:
/// - the task face: loop tasks (``createTask(name:file:line:function:_:)``) and everything they
///   await, their `async let` and task-group children;
/// - the serial face (``asUnownedSerialExecutor()``): actors whose `unownedExecutor` is the loop.
/// Both also conform to `SchedulingExecutor` (an SPI protocol that a public type cannot conform
/// to publicly), so `Task.sleep` and `Clock.sleep` of those tasks land in the loop's timer heap.
///
/// The loop itself is a `TaskExecutor` too, for `Task(executorPreference: loop)` written by hand:
/// such tasks run on the loop, but their `Task.sleep` waits in the runtime's own timer rather
/// than in the loop's heap. (The runtime keeps a reference to the executor object it was handed,
/// so each face must be passed as itself: `Task(executorPreference:)` retains the object it gets
/// and releases the one its `asUnownedTaskExecutor()` names.)
///
/// Room for Swift 6.3's `ExecutorFactory` (moving unmodified `Task {}`, `Task.detached` and
/// MainActor code onto the loop): it would add two more facades, a default executor whose jobs
/// run on the generic executor and a main executor run isolated to the loop, each tagging its
/// jobs with its own ``JobRoute``; the ready queue, timers and tracing stay as they are.
extension EventLoop: TaskExecutor, SerialExecutor {
    /// Makes a job ready on the loop. Any thread.
    public func enqueue(_ job: consuming ExecutorJob) {
        let isTask = job.kind == .task
        enqueue(UnownedJob(job), route: .loopTaskExecutor, isTask: isTask)
    }

    /// The actor face: an actor returns this from its `unownedExecutor` to run on the loop.
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: serialFace)
    }

    /// The loop as a task executor, for `Task(executorPreference: loop)`.
    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    /// Succeeds on the loop's thread (lets `assumeIsolated` work in plain loop callbacks).
    public func checkIsolated() {
        preconditionOnLoopThread("checkIsolated()")
    }

    /// Whether the calling thread is the loop's thread.
    public func isIsolatingCurrentContext() -> Bool? { isOnLoopThread }

    /// A `Task.sleep` or `Clock.sleep` job due `delay` from now. Any thread.
    func enqueueTimer<C: Clock>(_ job: UnownedJob, after delay: C.Duration, clock: C) {
        let nanos: Int64
        if let d = delay as? Duration {
            nanos = d.nanoseconds
        } else if let d = clock.now.duration(to: clock.now.advanced(by: delay)) as? Duration {
            nanos = d.nanoseconds
        } else {
            nanos = 0
        }
        scheduleJob(job, deadline: time().addingClamped(max(0, nanos)), kind: .later)
    }

    /// A `Task.sleep(until:)` job. Any thread.
    func enqueueTimer<C: Clock>(_ job: UnownedJob, at instant: C.Instant, clock: C) {
        let nanos = (clock.now.duration(to: instant) as? Duration)?.nanoseconds ?? 0
        scheduleJob(job, deadline: time().addingClamped(max(0, nanos)), kind: .at)
    }

    /// Timer job from any thread.
    func scheduleJob(_ job: UnownedJob, deadline: Int64, kind: CallbackKind) {
        if isOnLoopThread {
            scheduleJobOnLoopThread(job, deadline: deadline, kind: kind)
        } else {
            inbox.append(.timer(job, deadline: deadline))
        }
    }
}

/// The loop's `TaskExecutor` face.
final class LoopTaskExecutor: TaskExecutor, SchedulingExecutor, @unchecked Sendable {
    /// Set once, right after the loop's init; the loop owns this object. Unmanaged and borrowed
    /// in `enqueue`: loading an `unowned(unsafe)` reference into a strong one costs a retain and
    /// a release per enqueue.
    @exclusivity(unchecked) var loopReference: Unmanaged<EventLoop>!
    var loop: EventLoop { loopReference.takeUnretainedValue() }

    func enqueue(_ job: consuming ExecutorJob) {
        let isTask = job.kind == .task
        let unowned = UnownedJob(job)
        loopReference._withUnsafeGuaranteedRef { $0.enqueue(unowned, route: .taskExecutor, isTask: isTask) }
    }

    func enqueue<C: Clock>(_ job: consuming ExecutorJob, after delay: C.Duration, tolerance: C.Duration?, clock: C) {
        loop.enqueueTimer(UnownedJob(job), after: delay, clock: clock)
    }

    func enqueue<C: Clock>(_ job: consuming ExecutorJob, at instant: C.Instant, tolerance: C.Duration?, clock: C) {
        loop.enqueueTimer(UnownedJob(job), at: instant, clock: clock)
    }
}

/// The loop's `SerialExecutor` face: jobs that arrive here run isolated to the loop.
final class LoopSerialExecutor: SerialExecutor, SchedulingExecutor, @unchecked Sendable {
    /// Set once, right after the loop's init; the loop owns this object.
    unowned(unsafe) var loop: EventLoop!

    func enqueue(_ job: consuming ExecutorJob) {
        let isTask = job.kind == .task
        loop.enqueue(UnownedJob(job), route: .serial, isTask: isTask)
    }

    func checkIsolated() {
        loop.preconditionOnLoopThread("checkIsolated()")
    }

    func isIsolatingCurrentContext() -> Bool? { loop.isOnLoopThread }

    func enqueue<C: Clock>(_ job: consuming ExecutorJob, after delay: C.Duration, tolerance: C.Duration?, clock: C) {
        loop.enqueueTimer(UnownedJob(job), after: delay, clock: clock)
    }

    func enqueue<C: Clock>(_ job: consuming ExecutorJob, at instant: C.Instant, tolerance: C.Duration?, clock: C) {
        loop.enqueueTimer(UnownedJob(job), at: instant, clock: clock)
    }
}
