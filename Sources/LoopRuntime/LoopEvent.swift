import DequeModule
import TraceFormat

/// A flag that tasks can wait for, as asyncio's `Event`.
///
/// ``set()`` wakes every waiting task (their wakeups name the task or callback that set it);
/// while set, ``wait(file:line:)`` returns at once. ``clear()`` resets it. Loop thread only;
/// bound to the loop that first uses it.
public final class LoopEvent: @unchecked Sendable {
    // loop thread only
    @exclusivity(unchecked) private var binding = LoopBinding()
    @exclusivity(unchecked) private var value = false
    @exclusivity(unchecked) private var waiters = Deque<LoopWaiter>()

    /// An event, not set.
    public init() {}

    /// An event set or not from the start (a queue's "nothing unfinished" event).
    init(isSet: Bool) { value = isSet }

    /// Whether the event is set.
    public var isSet: Bool { value }

    /// Sets the event and wakes every waiting task.
    public func set() {
        binding.check("LoopEvent.set")
        guard !value else { return }
        value = true
        for waiter in waiters { waiter.wake() }
    }

    /// Resets the event: later waits wait again.
    public func clear() {
        binding.check("LoopEvent.clear")
        value = false
    }

    /// Waits until the event is set; returns at once if it is.
    /// - Throws: `CancellationError` when the task is cancelled while it waits.
    nonisolated(nonsending) public func wait(file: StaticString = #fileID, line: UInt = #line) async throws {
        let loop = binding.get("LoopEvent.wait")
        if value { return }
        try await waitUnset(loop, site: SourceSite(file: file, line: line, function: "Event.wait"))
    }

    /// Waits for the next `set()`; `site` names what the task waits on (a queue's join).
    nonisolated(nonsending) func waitUnset(_ loop: EventLoop, site: SourceSite) async throws {
        let waiter = LoopWaiter()
        waiters.append(waiter)
        let cancelled = await waiter.wait(on: loop, site: site)
        waiters.remove(waiter)
        if cancelled { throw CancellationError() }
    }
}
