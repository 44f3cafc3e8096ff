import Atomics
import TraceFormat

extension EventLoop {
    /// Runs blocking `body` on a thread of `pool` (the loop's default pool if nil) and waits
    /// for its result, as asyncio's `loop.run_in_executor`.
    ///
    /// The loop goes on running other tasks meanwhile. Traced: `executorSubmit` with the
    /// caller's site on the loop, `executorBegin`/`executorEnd` on the worker's own stream, and
    /// the task's wakeup names the job (waker `executor`, wakerID the job id). The waiting
    /// step ends suspended at `File.swift:40:runInExecutor`.
    ///
    /// Cancelling the waiting task withdraws a job that has not started (it never runs, and what
    /// `body` captured is released at once); a job already running finishes on its thread and
    /// its result is dropped, as in asyncio.
    /// - Throws: what `body` throws, or `CancellationError`.
    nonisolated(nonsending) public func runInExecutor<Value: Sendable>(
        _ pool: LoopThreadPool? = nil, file: StaticString = #fileID, line: UInt = #line,
        _ body: @escaping @Sendable () throws -> Value
    ) async throws -> Value {
        preconditionOnLoopThread("EventLoop.runInExecutor")
        if takeCancellation() { throw CancellationError() }
        let pool = pool ?? defaultExecutor
        let job = ThreadPoolJob(id: EventLoop.executorJobIDs.loadThenWrappingIncrement(ordering: .relaxed) + 1, loop: self)
        let outcome = ExecutorOutcome<Value>()
        job.work = { outcome.result = Result { try body() } }
        let site = SourceSite(file: file, line: line, function: "runInExecutor")
        state.pointee.tracer?.executorSubmit(job: job.id, site: site)
        pool.submit(job, recorder: state.pointee.tracer == nil ? nil : recorder)
        await suspend(cancelling: job, site: site) { continuation in
            if job.waitIsOver { continuation.resume() } else { job.continuation = continuation }
        }
        if job.abandoned { throw CancellationError() }
        return try outcome.result!.get()
    }

    /// Runs blocking `body` on the loop's default pool, as `asyncio.to_thread`; see
    /// ``runInExecutor(_:file:line:_:)``.
    nonisolated(nonsending) public func toThread<Value: Sendable>(file: StaticString = #fileID, line: UInt = #line,
                                                                  _ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await runInExecutor(nil, file: file, line: line, body)
    }

    /// The pool ``runInExecutor(_:file:line:_:)`` uses by default: asyncio's default size
    /// (`min(32, CPUs + 4)`) unless ``setDefaultExecutor(_:)`` set another. Started on first
    /// use, shut down when the loop closes (closing waits for the jobs running then). Owner
    /// thread only.
    public var defaultExecutor: LoopThreadPool {
        preconditionOnLoopThread("EventLoop.defaultExecutor")
        if let pool = defaultThreadPool { return pool }
        let pool = LoopThreadPool()
        defaultThreadPool = pool
        return pool
    }

    /// Replaces the default pool (asyncio's `set_default_executor`); the loop shuts it down
    /// when it closes. The previous default pool, if any, is shut down now.
    public func setDefaultExecutor(_ pool: LoopThreadPool) {
        preconditionOnLoopThread("EventLoop.setDefaultExecutor")
        let previous = defaultThreadPool
        defaultThreadPool = pool
        if let previous, previous !== pool { previous.shutdown() }
    }

    /// Ids of executor jobs: unique in the process, so in every trace.
    static let executorJobIDs = ManagedAtomic<UInt64>(0)
}

/// Where a worker leaves the outcome of a job's work for the loop thread: written by the worker
/// before it hands the job back through the loop's inbox (whose lock orders the two).
final class ExecutorOutcome<Value>: @unchecked Sendable {
    var result: Result<Value, any Error>?
}
