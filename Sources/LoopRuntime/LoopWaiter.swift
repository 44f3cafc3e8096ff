import DequeModule
import TraceFormat

/// One task waiting in a synchronization primitive (``LoopLock``, ``LoopEvent``,
/// ``LoopCondition``, ``LoopSemaphore``, ``LoopQueue``): the future of asyncio's waiter lists,
/// without a future's done-callback machinery. Loop thread only.
///
/// A waiter is `waiting`, then either `woken` by the primitive or `cancelled` by the waiting
/// task's cancellation, once. The primitive wakes it by resuming its continuation from inside
/// the step or callback that released, set, notified or put, so the loop records that step or
/// callback as the task's waker.
final class LoopWaiter: LoopWait, @unchecked Sendable {
    enum State: UInt8 {
        case waiting, woken, cancelled
    }

    // loop thread only
    @exclusivity(unchecked) var state = State.waiting
    @exclusivity(unchecked) var continuation: UnsafeContinuation<Void, Never>?
    /// A waiter that cancellation must not end (a condition re-acquiring its lock): the task's
    /// cancellation then stays pending and is delivered at its next await.
    let shielded: Bool

    init(shielded: Bool = false) { self.shielded = shielded }

    /// Wakes a waiting task.
    /// - Returns: false when the waiter was already woken or cancelled (asyncio's `fut.done()`).
    @discardableResult
    func wake() -> Bool {
        guard state == .waiting else { return false }
        state = .woken
        resume()
        return true
    }

    func cancelWait() -> Bool {
        guard state == .waiting, !shielded else { return false }
        state = .cancelled
        resume()
        return true
    }

    var waitIsOver: Bool { state != .waiting }

    private func resume() {
        guard let continuation else { return }
        self.continuation = nil
        continuation.resume()
    }

    /// Suspends the running task until the waiter is woken or cancelled.
    ///
    /// - Parameter site: the suspend site recorded in the trace: the caller's file and line, and
    ///   the primitive's operation as the function (`Lock.acquire`).
    /// - Returns: whether the wait ended in cancellation: the waiter was cancelled, or the task
    ///   was cancelled after it was woken but before it ran (asyncio delivers that cancellation
    ///   at the same await, and so does this; the caller then passes its wakeup on).
    nonisolated(nonsending) func wait(on loop: EventLoop, site: SourceSite) async -> Bool {
        await loop.suspend(cancelling: self, site: site) { continuation in
            if self.state == .waiting { self.continuation = continuation } else { continuation.resume() }
        }
        if state == .cancelled { return true }
        return loop.takeCancellation()
    }
}

extension Deque where Element == LoopWaiter {
    /// Removes `waiter` if it is still listed (asyncio's `waiters.remove(fut)`).
    mutating func remove(_ waiter: LoopWaiter) {
        // The waiter that leaves is nearly always the first.
        if let index = firstIndex(where: { $0 === waiter }) { remove(at: index) }
    }
}

/// The loop a primitive belongs to: bound on first use to the loop running on the calling
/// thread, as asyncio's primitives bind to the running loop. Loop thread only.
struct LoopBinding {
    private var loop: EventLoop?

    /// The primitive's loop; fails a precondition naming `api` when called off its thread.
    mutating func get(_ api: @autoclosure () -> String) -> EventLoop {
        if let loop {
            loop.preconditionOnLoopThread(api())
            return loop
        }
        guard let current = EventLoop.current else {
            preconditionFailure("\(api()) must be called on a running event loop's thread")
        }
        loop = current
        return current
    }

    /// The trace stream of the bound loop, or before any wait of the loop running on this thread
    /// (nil when not tracing): for the primitives' own events (`lockAcquired`, `queueDepth`).
    @inline(__always)
    var tracer: TraceStream? {
        if let loop { return loop.state.pointee.tracer }
        return EventLoop.current?.state.pointee.tracer
    }

    /// For operations that never wait (`set`, `release`, `putNowait`, …): on the bound loop's
    /// thread once bound; before any wait, from anywhere single-threaded use allows (asyncio's
    /// primitives too can be set up before the loop runs).
    func check(_ api: @autoclosure () -> String) {
        loop?.preconditionOnLoopThread(api())
    }
}
