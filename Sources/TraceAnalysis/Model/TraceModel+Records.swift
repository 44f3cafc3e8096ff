import TraceFormat

// The model's per-task, per-callback and per-stream records: updated in place through pointers
// into their pools (see `TraceModel.State`).
extension TraceModel {
    struct LiveTask {
        var id: UInt64
        var parent: UInt64
        var createSite: SiteID
        var createdAt: Int64?
        var stream: UInt32
        var state: TaskState
        var since: Int64
        /// A wakeup arrived while it ran (a self-wake or a wake from inside its own step).
        var wokenWhileRunning = false
        var pendingWake: WakeEdge?
        var readyAt: Int64 = 0
        /// The running step's ready time and wake edge (taken at its begin).
        var stepReadyAt: Int64?
        var stepWake: WakeEdge?
        var site: SiteID = 0
        var steps = 0
        var stepsInWindow = 0
        var busy: Int64 = 0
        var maxStep: Int64 = 0
        var readyWait: Int64 = 0
        var suspended: Int64 = 0
        /// Suspended time by ``SuspendReason`` raw value, and the longest single wait (see
        /// `TraceModel+Waits`).
        var suspendedBy: (Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0)
        var longestWait = LongestWait()
        var wakers: (Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0)
        var selfWakes = 0
        var lastWakerTask: UInt64 = 0
        var tasksWoken = 0
        var wokeInStep = 0
        var pendingTimers = 0
        var selected: Bool
        /// Cleared by `taskUntracked`: nobody can see who awaits it.
        var tracked = true
        /// Set by `taskHandleDropped`.
        var handleDropped = false
        /// False once the slot is released (finished task).
        var live = true
    }

    struct PendingCallback {
        var stream: UInt32
        var handle: UInt64
        var kind: CallbackKind?
        var site: SiteID
        var scheduledAt: Int64
        var due: Int64
        /// When it entered the ready queue; nil while its timer is pending.
        var readyAt: Int64?
        var armedBy: UInt64
    }

    struct Stream {
        var runningSlot: Int32 = -1
        var runningTask: UInt64 = 0
        var stepBegin: Int64 = 0
        var callbackKey: UInt64 = 0
        var callbackBegin: Int64 = -1
        var pollBegin: Int64 = -1
        var pollTimeout: Int64 = 0
        var lastPollBegin: Int64 = Int64.min
        /// The task and send time of the last `wakeupSent`: the `wakeup` that follows it is timed
        /// from the send (0 when none is pending).
        var sentTask: UInt64 = 0
        var sentAt: Int64 = 0
        /// The stream's last event time so far.
        var lastTimestamp: Int64 = .min
        var queued: [(readyAt: Int64, key: UInt64)] = []
        var queuedHead = 0
        /// The queue length past which it is compacted (see `TraceModel.enqueue`). Small, so
        /// that stale entries of every stream together stay within a few tens of MiB: 1024
        /// streams × twice this × 16 bytes.
        var queueCompactAt = Stream.queueCompactMinimum
        static let queueCompactMinimum = 1024
        var sawIOWait = false
        /// The site of the `suspendStack` just read: the next `stepEnd`'s (0 when none).
        var pendingSuspendSite: SiteID = 0
        /// Open user spans, innermost last (see `TraceModel+User`).
        var spans: [OpenSpan] = []
    }

    /// A user span begun and not yet ended, with the step or callback it began in.
    struct OpenSpan {
        var name: SiteID
        var begin: Int64
        var slice: SliceIdentity
    }

    /// Which step or callback was open on a stream: its begin and its task (a step) or its
    /// callback key with the top bit set; `begin == .min` when none was.
    struct SliceIdentity: Equatable {
        var begin: Int64
        var owner: UInt64
        static let none = SliceIdentity(begin: .min, owner: 0)
    }
}
