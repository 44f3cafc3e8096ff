import DequeModule
import TraceFormat

/// A condition variable for loop tasks, as asyncio's `Condition`: a ``LoopLock`` plus a queue of
/// tasks waiting to be notified.
///
/// ``wait(file:line:)`` releases the lock, waits for ``notify(_:)`` or ``notifyAll()``, and
/// takes the lock again before it returns or throws, even when cancelled. A waiter that is
/// notified and then cancelled passes the notification on to the next waiter, so a cancellation
/// never swallows a wakeup (a spurious wakeup is possible instead, as the condition-variable
/// protocol allows). Loop thread only; bound to the loop that first uses it.
public final class LoopCondition: @unchecked Sendable {
    /// The lock the condition releases while waiting.
    public let lock: LoopLock
    // loop thread only
    @exclusivity(unchecked) private var binding = LoopBinding()
    @exclusivity(unchecked) private var waiters = Deque<LoopWaiter>()

    /// A condition on `lock` (a new lock by default).
    public init(lock: LoopLock = LoopLock()) {
        self.lock = lock
    }

    /// Whether the condition's lock is held.
    public var isLocked: Bool { lock.isLocked }

    /// Takes the condition's lock; see ``LoopLock/acquire(file:line:)``.
    nonisolated(nonsending) public func acquire(file: StaticString = #fileID, line: UInt = #line) async throws {
        try await lock.acquire(file: file, line: line)
    }

    /// Releases the condition's lock; see ``LoopLock/release()``.
    public func release() throws(LoopError) {
        try lock.release()
    }

    /// Runs `body` holding the condition's lock.
    nonisolated(nonsending) public func withLock<Result>(file: StaticString = #fileID, line: UInt = #line,
                                                         _ body: nonisolated(nonsending) () async throws -> Result) async throws -> Result {
        try await lock.withLock(file: file, line: line, body)
    }

    /// Releases the lock, waits to be notified, and takes the lock again.
    ///
    /// The caller must hold the lock, and holds it again when this returns or throws.
    /// - Throws: ``LoopError/invalidState(_:)`` when the lock is not held; `CancellationError`
    ///   when the task was cancelled while it waited (the lock is held again all the same).
    nonisolated(nonsending) public func wait(file: StaticString = #fileID, line: UInt = #line) async throws {
        let loop = binding.get("LoopCondition.wait")
        guard lock.isLocked else { throw LoopError.invalidState("LoopCondition.wait() on a lock that is not acquired") }
        try lock.release()
        let waiter = LoopWaiter()
        waiters.append(waiter)
        var cancelled = await waiter.wait(on: loop, site: SourceSite(file: file, line: line, function: "Condition.wait"))
        waiters.remove(waiter)
        // The lock must be held again whatever happened, as asyncio's `wait` re-acquires in a
        // `finally`, holding back cancellations until it has the lock.
        if await lock.acquireShielded(site: SourceSite(file: file, line: line, function: "Lock.acquire")) {
            cancelled = true
        }
        if cancelled {
            // This task may have been notified before its cancellation: notify another in its
            // place (asyncio 3.13's fix for lost notifications).
            wake(1)
            throw CancellationError()
        }
    }

    /// Waits until `predicate` is true, as asyncio's `wait_for`: checks it first, then after
    /// every wakeup, with the lock held.
    /// - Returns: the predicate's last (true) value.
    /// - Throws: as ``wait(file:line:)``, or what `predicate` throws.
    @discardableResult
    nonisolated(nonsending) public func wait(file: StaticString = #fileID, line: UInt = #line,
                                             for predicate: () throws -> Bool) async throws -> Bool {
        var result = try predicate()
        while !result {
            try await wait(file: file, line: line)
            result = try predicate()
        }
        return result
    }

    /// Wakes up to `count` waiting tasks, in the order they started waiting.
    /// - Throws: ``LoopError/invalidState(_:)`` when the lock is not held.
    public func notify(_ count: Int = 1) throws(LoopError) {
        binding.check("LoopCondition.notify")
        guard lock.isLocked else { throw .invalidState("LoopCondition.notify() on a lock that is not acquired") }
        wake(count)
    }

    /// Wakes every waiting task.
    /// - Throws: ``LoopError/invalidState(_:)`` when the lock is not held.
    public func notifyAll() throws(LoopError) {
        try notify(waiters.count)
    }

    private func wake(_ count: Int) {
        var woken = 0
        for waiter in waiters where woken < count {
            if waiter.wake() { woken += 1 }
        }
    }
}
