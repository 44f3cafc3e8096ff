import TraceFormat

/// A callback scheduled on an ``EventLoop`` with `callSoon`, `callLater`, `callAt` or
/// `callSoonThreadsafe`; cancel it to keep it from running.
///
/// Like asyncio's `Handle` and `TimerHandle`. A handle is touched by the loop thread only, except
/// that `callSoonThreadsafe` creates one on the calling thread and hands it over through the
/// loop's inbox.
public final class CallbackHandle: @unchecked Sendable {
    /// The handle's id in traces; unique per loop.
    public let id: UInt64
    /// For `callLater`/`callAt`: the loop time (ns) at which the callback is due; 0 otherwise.
    public let deadline: Int64
    let kind: CallbackKind
    unowned(unsafe) let loop: EventLoop
    // loop thread only after creation
    let callback: () throws -> Void
    var site: SourceSite
    @exclusivity(unchecked) var cancelled = false
    /// The loop runs this callback with the I/O waker of `fd` (reader/writer callbacks).
    @exclusivity(unchecked) var ioDescriptor: Int32 = -1
    /// A timer that runs its callback as soon as it is due instead of queueing it: used by the
    /// loop's own sleeps, whose callback only makes the sleeper ready (one hop, as in asyncio).
    @exclusivity(unchecked) var runsWhenDue = false
    /// Whether the handle is on the timer heap (so a cancel leaves a dead entry there).
    @exclusivity(unchecked) var onHeap = false
    /// Whether a one-shot callback has run (cancelling it then does nothing).
    @exclusivity(unchecked) var ran = false

    init(id: UInt64, kind: CallbackKind, deadline: Int64, loop: EventLoop, site: SourceSite,
         callback: @escaping () throws -> Void) {
        self.id = id
        self.kind = kind
        self.deadline = deadline
        self.loop = loop
        self.site = site
        self.callback = callback
    }

    /// Whether ``cancel()`` was called.
    public var isCancelled: Bool { cancelled }

    /// Keeps the callback from running; does nothing if it already ran or was cancelled.
    ///
    /// Loop thread only. A cancelled timer stays on the heap until it is due or until cancelled
    /// timers make up more than half of the heap, as in asyncio.
    public func cancel() {
        loop.preconditionOnLoopThread("CallbackHandle.cancel()")
        guard !cancelled else { return }
        cancelled = true
        if ran { return }
        loop.state.pointee.tracer?.callbackCancelled(handle: id)
        if onHeap { loop.timerCancelled() }
    }
}
