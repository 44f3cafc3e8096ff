import Atomics
import DequeModule
import TraceFormat

/// A mutual-exclusion lock for loop tasks, as asyncio's `Lock`.
///
/// FIFO-fair: ``release()`` hands the lock to the longest-waiting task, and a task that calls
/// ``acquire(file:line:)`` while others wait queues behind them even if the lock is free at that
/// moment. Cancellation-safe: a waiter cancelled before or after it was woken never keeps the
/// lock from the next waiter.
///
/// Traced: a waiting task's step ends suspended at `File.swift:40:Lock.acquire` (the caller's
/// site, with the operation in the function part), and its wakeup names the task or callback
/// that released the lock.
///
/// Traced holding: `lockAcquired` (with the acquiring site) and `lockReleased` (with the number
/// of waiting tasks), so that `looptrace lints` finds a lock held across a long await.
///
/// Loop thread only; bound to the loop that first uses it.
public final class LoopLock: @unchecked Sendable {
    /// The lock's id in traces, unique in the process.
    let id = LoopLock.ids.loadThenWrappingIncrement(ordering: .relaxed) + 1
    static let ids = ManagedAtomic<UInt64>(0)
    // loop thread only
    @exclusivity(unchecked) private var binding = LoopBinding()
    @exclusivity(unchecked) private var locked = false
    @exclusivity(unchecked) private var waiters = Deque<LoopWaiter>()

    /// A lock, unlocked.
    public init() {}

    /// Whether some task holds the lock.
    public var isLocked: Bool { locked }

    /// Takes the lock, waiting behind every task already waiting for it.
    /// - Throws: `CancellationError` when the task is cancelled while it waits; it then does
    ///   not hold the lock.
    nonisolated(nonsending) public func acquire(file: StaticString = #fileID, line: UInt = #line) async throws {
        let loop = binding.get("LoopLock.acquire")
        let site = SourceSite(file: file, line: line, function: "Lock.acquire")
        if !locked, waiters.allSatisfy({ $0.state == .cancelled }) {
            locked = true
            loop.state.pointee.tracer?.lockAcquired(lock: id, site: site)
            return
        }
        let waiter = LoopWaiter()
        waiters.append(waiter)
        let cancelled = await waiter.wait(on: loop, site: site)
        waiters.remove(waiter)
        if cancelled {
            // Woken but cancelled before it could take the lock: the lock is free, so the next
            // waiter must run (asyncio's lock invariant).
            if !locked { wakeUpFirst() }
            throw CancellationError()
        }
        locked = true
        loop.state.pointee.tracer?.lockAcquired(lock: id, site: site)
    }

    /// Takes the lock whatever cancellation arrives meanwhile (a condition re-acquiring it
    /// before its `wait` returns or throws, as asyncio's `finally` does).
    /// - Returns: whether the task was cancelled meanwhile: the caller raises it.
    nonisolated(nonsending) func acquireShielded(site: SourceSite) async -> Bool {
        let loop = binding.get("LoopLock.acquire")
        if !locked, waiters.allSatisfy({ $0.state == .cancelled }) {
            locked = true
            loop.state.pointee.tracer?.lockAcquired(lock: id, site: site)
            return false
        }
        // A shielded waiter is never cancelled, so it is always the one `release` wakes: a task
        // whose cancellation is sticky (a structured child) cannot spin here.
        let waiter = LoopWaiter(shielded: true)
        waiters.append(waiter)
        let cancelled = await waiter.wait(on: loop, site: site)
        waiters.remove(waiter)
        locked = true
        loop.state.pointee.tracer?.lockAcquired(lock: id, site: site)
        return cancelled
    }

    /// Releases the lock and wakes the first waiting task.
    /// - Throws: ``LoopError/invalidState(_:)`` when the lock is not held.
    public func release() throws(LoopError) {
        binding.check("LoopLock.release")
        guard locked else { throw .invalidState("LoopLock.release() of a lock that is not acquired") }
        locked = false
        binding.tracer?.lockReleased(lock: id, waiters: waiters.count)
        wakeUpFirst()
    }

    /// Runs `body` holding the lock (asyncio's `async with lock`), releasing it however `body`
    /// ends.
    /// - Throws: `CancellationError` while waiting for the lock, or what `body` throws.
    nonisolated(nonsending) public func withLock<Result>(file: StaticString = #fileID, line: UInt = #line,
                                                         _ body: nonisolated(nonsending) () async throws -> Result) async throws -> Result {
        try await acquire(file: file, line: line)
        defer { try? release() }
        return try await body()
    }

    /// Makes sure the first waiter will run: if it was woken already, nothing to do.
    private func wakeUpFirst() {
        waiters.first?.wake()
    }

    /// How many tasks wait (including cancelled ones that have not run yet). For tests.
    var testsOnly_waiterCount: Int { waiters.count }
}
