@_spi(ExperimentalScheduling) @_spi(ExperimentalCustomExecutors) import _Concurrency
import Glibc

/// The executor factory of factory mode: both executors of the program are faces of the one
/// process loop (``EventLoop/installAsProcessExecutors(trace:)``).
///
/// Internal because its protocol is an SPI (a public type cannot conform to it publicly).
struct LoopExecutorFactory: ExecutorFactory {
    static var mainExecutor: any MainExecutor { ProcessLoop.shared!.mainFace }
    static var defaultExecutor: any TaskExecutor { ProcessLoop.shared!.defaultFace }
}

/// The state of factory mode: the loop and its two extra faces. Set once, before `main`, on the
/// main thread; read-only afterwards, except the runtime-job table (loop thread only).
final class ProcessLoop: @unchecked Sendable {
    nonisolated(unsafe) static var shared: ProcessLoop?

    let loop: EventLoop
    let mainFace: LoopMainExecutor
    let defaultFace: LoopDefaultExecutor
    /// What happened to `swift_task_enqueueGlobal_hook`.
    let globalHook: RuntimeInternals.GlobalHookState
    /// Runtime jobs (actor drains) waiting in the ready queue, by job pointer: the task they were
    /// scheduled for (0 when none was running) and that task, kept alive until the job has run,
    /// or the callback handle id they are recorded under. Loop thread only.
    var runtimeJobs: [UnsafeMutableRawPointer: RuntimeJobRecord] = [:]
    /// The task the running runtime job serves, while one runs. Loop thread only.
    var runningRuntimeJobTask: Unmanaged<AnyObject>?
    /// The async main task has been recorded.
    var mainTaskRecorded = false
    /// Names of unmodified tasks by entry point: symbol lookups cost microseconds.
    /// nil inside: no exact dynamic symbol (looked up once).
    var entryNames: [UInt: String?] = [:]

    init(loop: EventLoop, globalHook: RuntimeInternals.GlobalHookState) {
        self.loop = loop
        self.globalHook = globalHook
        mainFace = LoopMainExecutor(loop: loop)
        defaultFace = LoopDefaultExecutor(loop: loop)
    }
}

/// A runtime job's bookkeeping between its enqueue and its run.
struct RuntimeJobRecord {
    let kind: UInt8
    /// The task that scheduled it, 0 for none.
    let task: UInt64
    let taskObject: Unmanaged<AnyObject>?
    /// The callback handle it is recorded as when no task scheduled it.
    let handle: UInt64
}

/// `MainActor`'s executor in factory mode: jobs run isolated to this face, on the loop.
final class LoopMainExecutor: MainExecutor, SchedulingExecutor, @unchecked Sendable {
    unowned(unsafe) let loop: EventLoop

    init(loop: EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let kind = job.kind.rawValue
        loop.enqueueFactoryJob(UnownedJob(job), kind: kind, route: .main)
    }

    func enqueue<C: Clock>(_ job: consuming ExecutorJob, after delay: C.Duration, tolerance: C.Duration?, clock: C) {
        loop.enqueueTimer(UnownedJob(job), after: delay, clock: clock)
    }

    func enqueue<C: Clock>(_ job: consuming ExecutorJob, at instant: C.Instant, tolerance: C.Duration?, clock: C) {
        loop.enqueueTimer(UnownedJob(job), at: instant, clock: clock)
    }

    /// The async main's drain: runs the loop on the main thread until `stop()`.
    func run() throws {
        loop.recordMainTask()
        try loop.runForever()
    }

    func runUntil(_ condition: () -> Bool) throws {
        while !condition() {
            loop.recordMainTask()
            try loop.runOnceAsProcessLoop()
        }
    }

    /// Stops the loop; any thread.
    func stop() {
        loop.stopFromAnyThread()
    }

    var isMainExecutor: Bool { true }

    func checkIsolated() {
        loop.preconditionOnLoopThread("checkIsolated()")
    }

    func isIsolatingCurrentContext() -> Bool? { loop.isOnLoopThread }
}

/// The default executor in factory mode: `Task {}`, `Task.detached`, `async let`, group children
/// and default actors; their jobs run on the generic executor, as on Swift's global pool.
final class LoopDefaultExecutor: TaskExecutor, SchedulingExecutor, @unchecked Sendable {
    unowned(unsafe) let loop: EventLoop

    init(loop: EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let kind = job.kind.rawValue
        loop.enqueueFactoryJob(UnownedJob(job), kind: kind, route: .global)
    }

    func enqueue<C: Clock>(_ job: consuming ExecutorJob, after delay: C.Duration, tolerance: C.Duration?, clock: C) {
        loop.enqueueTimer(UnownedJob(job), after: delay, clock: clock)
    }

    func enqueue<C: Clock>(_ job: consuming ExecutorJob, at instant: C.Instant, tolerance: C.Duration?, clock: C) {
        loop.enqueueTimer(UnownedJob(job), at: instant, clock: clock)
    }
}
