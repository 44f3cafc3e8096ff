import Atomics
import TraceFormat

/// One call of ``EventLoop/runInExecutor(_:file:line:_:)``: the work, its outcome, and the loop
/// task waiting for it.
///
/// `phase` decides, once and atomically, whether a worker runs the work or the waiting task's
/// cancellation withdraws it; everything else is touched by one side at a time: the loop thread
/// until the job is queued, the worker while it runs the work, the loop thread again once the
/// worker hands it back through the loop's inbox.
final class ThreadPoolJob: LoopWait, @unchecked Sendable {
    enum Phase: UInt8, AtomicValue {
        /// Queued, not started.
        case queued
        /// A worker runs it.
        case running
        /// Withdrawn before a worker took it: it never runs.
        case withdrawn
    }

    /// The job's id in traces (`executorSubmit`/`Begin`/`End`, and the waker of the task).
    let id: UInt64
    let loop: EventLoop
    let phase = ManagedAtomic(Phase.queued)
    /// The work, which stores its outcome; dropped as soon as it ran or was withdrawn, so that
    /// a withdrawn job holds nothing it captured. Loop thread until queued; then the side that
    /// wins `phase`.
    var work: (() -> Void)?
    // loop thread only
    var continuation: UnsafeContinuation<Void, Never>?
    /// Whether the waiting task stopped waiting (cancelled): the outcome is then dropped.
    var abandoned = false
    /// Whether the work ran (its outcome is stored) and the loop has it back.
    var completed = false

    init(id: UInt64, loop: EventLoop) {
        self.id = id
        self.loop = loop
    }

    /// Worker thread: claims the job unless it was withdrawn.
    /// - Returns: whether the caller now owns the work and must run it.
    func start() -> Bool {
        phase.compareExchange(expected: .queued, desired: .running, ordering: .acquiringAndReleasing).exchanged
    }

    /// Worker thread, after `start()` succeeded: runs the work and drops it.
    func runWork() {
        work?()
        work = nil
    }

    /// Loop thread: the worker is done; wake the waiting task with this job as its waker.
    func complete() {
        completed = true
        guard !abandoned, let continuation else { return }
        self.continuation = nil
        let st = loop.state
        let (kind, id) = (st.pointee.wakerKind, st.pointee.wakerID)
        st.pointee.wakerKind = .executor
        st.pointee.wakerID = self.id
        continuation.resume()
        st.pointee.wakerKind = kind
        st.pointee.wakerID = id
    }

    // MARK: LoopWait (loop thread)

    func cancelWait() -> Bool {
        guard !completed, !abandoned else { return false }
        abandoned = true
        // Not started: withdraw it, dropping what the work captured. Running: it finishes on its
        // worker and its outcome is dropped, as asyncio's run_in_executor future does.
        if phase.compareExchange(expected: .queued, desired: .withdrawn, ordering: .acquiringAndReleasing).exchanged {
            work = nil
        }
        if let continuation {
            self.continuation = nil
            continuation.resume()
        }
        return true
    }

    var waitIsOver: Bool { completed || abandoned }
}
