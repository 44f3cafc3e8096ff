import DequeModule
import TraceFormat

/// A counting semaphore for loop tasks, as asyncio's `Semaphore`.
///
/// ``acquire(file:line:)`` takes a unit or waits for one; ``release()`` returns one and wakes
/// the first waiter. FIFO: a task that arrives while others wait queues behind them even if a
/// unit is free. A waiter cancelled after it was given a unit gives it back and wakes the next.
/// Loop thread only; bound to the loop that first uses it. ``LoopBoundedSemaphore`` refuses to
/// be released above its initial value.
public final class LoopSemaphore: @unchecked Sendable {
    // loop thread only
    @exclusivity(unchecked) private var binding = LoopBinding()
    @exclusivity(unchecked) private var units: Int
    @exclusivity(unchecked) private var waiters = Deque<LoopWaiter>()

    /// A semaphore with `value` units.
    public init(value: Int = 1) {
        precondition(value >= 0, "LoopSemaphore(value:) needs a value >= 0, not \(value)")
        units = value
    }

    /// The units free now.
    public var value: Int { units }

    /// Whether ``acquire(file:line:)`` would wait: no unit is free, or tasks wait already.
    public var isLocked: Bool {
        units == 0 || waiters.contains { $0.state != .cancelled }
    }

    /// Takes a unit, waiting for one behind the tasks already waiting.
    /// - Throws: `CancellationError` when the task is cancelled while it waits; it then holds
    ///   no unit.
    nonisolated(nonsending) public func acquire(file: StaticString = #fileID, line: UInt = #line) async throws {
        let loop = binding.get("LoopSemaphore.acquire")
        if !isLocked {
            units -= 1
            return
        }
        let waiter = LoopWaiter()
        waiters.append(waiter)
        let cancelled = await waiter.wait(on: loop, site: SourceSite(file: file, line: line, function: "Semaphore.acquire"))
        waiters.remove(waiter)
        if cancelled, waiter.state == .woken {
            // Given a unit, but leaving by cancellation: give it back.
            units += 1
        }
        // Tasks may have queued behind this one while units were free: wake as many as allowed.
        while units > 0, wakeUpNext() {}
        if cancelled { throw CancellationError() }
    }

    /// Returns a unit and wakes the first waiting task.
    public func release() {
        binding.check("LoopSemaphore.release")
        units += 1
        wakeUpNext()
    }

    /// Runs `body` holding a unit, releasing it however `body` ends.
    nonisolated(nonsending) public func withUnit<Result>(file: StaticString = #fileID, line: UInt = #line,
                                                         _ body: nonisolated(nonsending) () async throws -> Result) async throws -> Result {
        try await acquire(file: file, line: line)
        defer { release() }
        return try await body()
    }

    /// Gives a unit to the first waiter not woken or cancelled yet.
    /// - Returns: whether there was one.
    @discardableResult
    private func wakeUpNext() -> Bool {
        for waiter in waiters where waiter.state == .waiting {
            units -= 1
            waiter.wake()
            return true
        }
        return false
    }
}
