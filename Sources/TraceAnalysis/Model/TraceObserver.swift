import TraceFormat

/// An index into ``SiteTable``: a source site interned across streams and chunks. 0 is "none".
public typealias SiteID = Int32

/// A task's state in its timeline. See the DocC article for the transitions.
public enum TaskState: UInt8, Sendable, Codable, CustomStringConvertible {
    /// Created, not yet made ready (normally lasts no time: the loop wakes a new task at once).
    case created
    /// In the ready queue: woken, waiting for its next step.
    case ready
    /// Running a step on the loop.
    case running
    /// Waiting for something (a future, a timer, I/O, another task).
    case suspended
    /// Finished: completed, failed or cancelled.
    case done

    public var description: String {
        switch self {
        case .created: "created"
        case .ready: "ready"
        case .running: "running"
        case .suspended: "suspended"
        case .done: "done"
        }
    }
}

/// A wake edge: something made `task` ready at `time`.
public struct WakeEdge: Sendable, Equatable {
    /// When the wakeup was recorded.
    public var time: Int64
    /// The stream that recorded it.
    public var stream: UInt32
    /// The task made ready.
    public var task: UInt64
    /// What woke it.
    public var wakerKind: WakerKind
    /// The waker's id: a task id, callback or timer handle, descriptor or thread id.
    public var wakerID: UInt64
    /// When the waker is the step running on the same stream: that step's task (else 0).
    public var wakerTask: UInt64
    /// The 1-based index of that step within its task (0 when `wakerTask` is 0).
    public var wakerStep: Int
    /// When the waker is the callback running on the same stream: its handle (else 0).
    public var wakerCallback: UInt64
    /// Whether the task woke itself (a yield or `sleep(0)`).
    public var isSelfWake: Bool { wakerKind == .task && wakerID == task }
}

/// Whether a loop was busy when a slow step or callback ran: what it held up.
public struct BlockingImpact: Sendable, Equatable, Codable {
    /// Tasks other than the running one that were ready when it ended (all of them waited),
    /// including those another thread made ready while it ran, which the loop took from its
    /// inbox only after it.
    public var readyTasks: Int
    /// Timers that were due (armed, not fired, deadline before it ended).
    public var timersDue: Int
    /// Callbacks queued (ready to run, not begun) when it ended.
    public var callbacksQueued: Int
    /// The largest part of any one wait that fell inside it, in ns: for each item above,
    /// `end − max(begin, readyTime or deadline)`.
    public var maxDelayCausedNanos: Int64

    public init(readyTasks: Int, timersDue: Int, callbacksQueued: Int, maxDelayCausedNanos: Int64) {
        self.readyTasks = readyTasks
        self.timersDue = timersDue
        self.callbacksQueued = callbacksQueued
        self.maxDelayCausedNanos = maxDelayCausedNanos
    }
}

/// One task step, from `stepBegin` to `stepEnd`.
public struct StepRecord: Sendable, Equatable {
    public var stream: UInt32
    public var task: UInt64
    /// The 1-based index of the step within its task.
    public var index: Int
    public var begin: Int64
    public var end: Int64
    public var outcome: StepOutcome
    /// Where the task resumed: the suspend site of its previous step (0 for the first step).
    public var resumeSite: SiteID
    /// Where it suspended or yielded (0 when it finished or the site is unknown).
    public var suspendSite: SiteID
    /// When it became ready for this step (nil when no wakeup was seen).
    public var readyAt: Int64?
    /// What made it ready for this step.
    public var wake: WakeEdge?
    /// Set when the step lasted at least the model's blocking threshold.
    public var impact: BlockingImpact?
    public var duration: Int64 { end - begin }
    /// Scheduling delay of this step: `begin − readyAt`.
    public var schedulingDelay: Int64? { readyAt.map { begin - $0 } }
}

/// One callback run, from `callbackBegin` to `callbackEnd`.
public struct CallbackRecord: Sendable, Equatable {
    public var stream: UInt32
    public var handle: UInt64
    public var kind: CallbackKind?
    /// Where it was scheduled (0 when its `callbackScheduled` was not seen).
    public var site: SiteID
    public var scheduledAt: Int64?
    /// When it entered the ready queue: its schedule time (soon, threadsafe) or its timer's fire
    /// time (later, at).
    public var readyAt: Int64?
    public var begin: Int64
    public var end: Int64
    public var impact: BlockingImpact?
    public var duration: Int64 { end - begin }
    /// Callback queue delay: `begin − readyAt`.
    public var queueDelay: Int64? { readyAt.map { begin - $0 } }
}

/// A contiguous piece of one task's timeline in one state. Consecutive slices of a task tile its
/// life from creation to its end (or the trace's end) without gaps or overlaps.
public struct TaskStateSlice: Sendable, Equatable {
    public var task: UInt64
    public var state: TaskState
    public var begin: Int64
    public var end: Int64
    /// For `suspended`: where it suspended. For `running`: the resume site.
    public var site: SiteID
}

/// A timer taken off the heap.
public struct TimerRecord: Sendable, Equatable {
    public var stream: UInt32
    public var handle: UInt64
    public var due: Int64
    public var fired: Int64
    /// The site that armed it (0 when its `callbackScheduled` was not seen).
    public var site: SiteID
    /// Timer lateness: `fired − due`.
    public var lateness: Int64 { fired - due }
}

/// One wait of the loop in `pollBegin` … `pollEnd`.
public struct PollRecord: Sendable, Equatable {
    public var stream: UInt32
    public var begin: Int64
    public var end: Int64
    public var timeoutNanos: Int64
    public var readyCount: Int
}

/// A task's whole timeline, folded: delivered once when the task finishes (or at the trace end
/// for unfinished tasks).
public struct TaskSummary: Sendable, Equatable {
    public var id: UInt64
    public var parent: UInt64
    public var name: String
    public var createSite: SiteID
    /// Creation time; nil when the `taskCreate` event was not seen (the task appeared first in
    /// a wakeup or step).
    public var createdAt: Int64?
    /// The time of its final `stepEnd` (nil when unfinished).
    public var finishedAt: Int64?
    /// Its final outcome: completed, failed or cancelled (nil when unfinished).
    public var outcome: StepOutcome?
    /// Its state at the trace end (``TaskState/done`` when finished).
    public var endState: TaskState
    public var steps: Int = 0
    /// Sum of step durations.
    public var busyNanos: Int64 = 0
    public var maxStepNanos: Int64 = 0
    /// Sum of ready → stepBegin waits.
    public var readyWaitNanos: Int64 = 0
    /// Sum of suspended time (stepEnd → the next wakeup, or the trace end).
    public var suspendedNanos: Int64 = 0
    /// Suspended time by ``SuspendReason`` raw value: the parts of `suspendedNanos`.
    public var suspendedByReason: [Int64] = [0, 0, 0, 0, 0, 0]
    /// Its longest single wait inside the window (nil when it never waited).
    public var longestWait: TaskWait?
    /// Wakeups received, by ``WakerKind`` raw value.
    public var wakersByKind: [Int] = [0, 0, 0, 0, 0, 0]
    /// Wakeups received from itself.
    public var selfWakes: Int = 0
    /// The task (other than itself) that woke it most recently, 0 if none.
    public var lastWakerTask: UInt64 = 0
    /// Tasks it woke (other than itself) over its life.
    public var tasksWoken: Int = 0
    /// Tasks it woke or callbacks it scheduled during its final step: its waiters and done
    /// callbacks. 0 with a finished task means nobody was waiting for it.
    public var waitersAtFinish: Int = 0
    /// At the trace end: a timer it armed is still pending.
    public var pendingTimer: Bool = false
    /// Where it last suspended (its state's site at the trace end).
    public var lastSuspendSite: SiteID = 0
    /// The stream (loop thread) it last ran on.
    public var stream: UInt32 = 0
    /// Whether it matches the model's task filter.
    public var selected: Bool = true
    /// False for a task whose outcome's observers the recorder could not see (`taskUntracked`):
    /// whether it was awaited can only be guessed from what its last step woke.
    public var observationTracked: Bool = true
    /// For an untracked task: when it completed nothing but the loop referenced it
    /// (`taskHandleDropped`, format 1.3), so nothing could read its outcome.
    public var handleDropped: Bool = false
    public var wakeups: Int { wakersByKind.reduce(0, +) }
}

/// Receives the semantic intervals the model rebuilds, in stream order, during the one pass.
///
/// Every method has an empty default, so an observer implements only what it needs. The model
/// calls it generically (`TraceModel.consume(_:into:)`), so a concrete observer costs no dynamic
/// dispatch. Names and sites resolve through the model passed to each call.
public protocol TraceObserver {
    /// A task appeared (its `taskCreate`, or its first event when that was lost).
    mutating func taskCreated(_ task: UInt64, at time: Int64, model: TraceModel)
    /// A step ended.
    mutating func step(_ step: StepRecord, model: TraceModel)
    /// A callback ended.
    mutating func callback(_ callback: CallbackRecord, model: TraceModel)
    /// A slice of a task's timeline closed.
    mutating func taskState(_ slice: TaskStateSlice, model: TraceModel)
    /// A task was made ready.
    mutating func wake(_ edge: WakeEdge, model: TraceModel)
    /// A timer fired.
    mutating func timer(_ timer: TimerRecord, model: TraceModel)
    /// A poll returned.
    mutating func poll(_ poll: PollRecord, model: TraceModel)
    /// A task finished, or the trace ended with it unfinished.
    mutating func taskFinished(_ summary: TaskSummary, model: TraceModel)
    /// A user mark, span begin or span end (the raw event; resolve its name with `chunk`).
    mutating func user(_ event: TraceEvent, chunk: DecodedChunk, model: TraceModel)
    /// The recorder reported `count` events dropped between `from` and `to`.
    mutating func lost(count: UInt64, from: Int64, to: Int64, model: TraceModel)
    /// A loop started or stopped on a stream.
    mutating func loop(started: Bool, stream: UInt32, at time: Int64, model: TraceModel)
    /// Something first took an interest in a task's outcome (awaited it, read its result or
    /// added a done callback); before or after the task finished.
    mutating func taskObserved(_ task: UInt64, at time: Int64, model: TraceModel)
    /// A thread-pool job finished (reported once its submit, begin and end are all seen; at the
    /// trace end, jobs whose submit was never seen).
    mutating func executorJob(_ job: ExecutorJobRecord, model: TraceModel)
    /// A lock was released, or the trace ended with it held (format 1.3).
    mutating func lockHeld(_ hold: LockHoldRecord, model: TraceModel)
    /// A put or get left a queue at a new depth (format 1.3).
    mutating func queueDepth(_ sample: QueueDepthRecord, model: TraceModel)
}

extension TraceObserver {
    public mutating func taskCreated(_ task: UInt64, at time: Int64, model: TraceModel) {}
    public mutating func step(_ step: StepRecord, model: TraceModel) {}
    public mutating func callback(_ callback: CallbackRecord, model: TraceModel) {}
    public mutating func taskState(_ slice: TaskStateSlice, model: TraceModel) {}
    public mutating func wake(_ edge: WakeEdge, model: TraceModel) {}
    public mutating func timer(_ timer: TimerRecord, model: TraceModel) {}
    public mutating func poll(_ poll: PollRecord, model: TraceModel) {}
    public mutating func taskFinished(_ summary: TaskSummary, model: TraceModel) {}
    public mutating func user(_ event: TraceEvent, chunk: DecodedChunk, model: TraceModel) {}
    public mutating func lost(count: UInt64, from: Int64, to: Int64, model: TraceModel) {}
    public mutating func loop(started: Bool, stream: UInt32, at time: Int64, model: TraceModel) {}
    public mutating func taskObserved(_ task: UInt64, at time: Int64, model: TraceModel) {}
    public mutating func executorJob(_ job: ExecutorJobRecord, model: TraceModel) {}
    public mutating func lockHeld(_ hold: LockHoldRecord, model: TraceModel) {}
    public mutating func queueDepth(_ sample: QueueDepthRecord, model: TraceModel) {}
}

/// Feeds two observers from the same pass (analysis and export together).
public struct ObserverPair<A: TraceObserver, B: TraceObserver>: TraceObserver {
    public var first: A
    public var second: B
    public init(_ first: A, _ second: B) {
        self.first = first
        self.second = second
    }
    public mutating func taskCreated(_ task: UInt64, at time: Int64, model: TraceModel) {
        first.taskCreated(task, at: time, model: model); second.taskCreated(task, at: time, model: model)
    }
    public mutating func step(_ step: StepRecord, model: TraceModel) {
        first.step(step, model: model); second.step(step, model: model)
    }
    public mutating func callback(_ callback: CallbackRecord, model: TraceModel) {
        first.callback(callback, model: model); second.callback(callback, model: model)
    }
    public mutating func taskState(_ slice: TaskStateSlice, model: TraceModel) {
        first.taskState(slice, model: model); second.taskState(slice, model: model)
    }
    public mutating func wake(_ edge: WakeEdge, model: TraceModel) {
        first.wake(edge, model: model); second.wake(edge, model: model)
    }
    public mutating func timer(_ timer: TimerRecord, model: TraceModel) {
        first.timer(timer, model: model); second.timer(timer, model: model)
    }
    public mutating func poll(_ poll: PollRecord, model: TraceModel) {
        first.poll(poll, model: model); second.poll(poll, model: model)
    }
    public mutating func taskFinished(_ summary: TaskSummary, model: TraceModel) {
        first.taskFinished(summary, model: model); second.taskFinished(summary, model: model)
    }
    public mutating func user(_ event: TraceEvent, chunk: DecodedChunk, model: TraceModel) {
        first.user(event, chunk: chunk, model: model); second.user(event, chunk: chunk, model: model)
    }
    public mutating func lost(count: UInt64, from: Int64, to: Int64, model: TraceModel) {
        first.lost(count: count, from: from, to: to, model: model); second.lost(count: count, from: from, to: to, model: model)
    }
    public mutating func loop(started: Bool, stream: UInt32, at time: Int64, model: TraceModel) {
        first.loop(started: started, stream: stream, at: time, model: model)
        second.loop(started: started, stream: stream, at: time, model: model)
    }
    public mutating func taskObserved(_ task: UInt64, at time: Int64, model: TraceModel) {
        first.taskObserved(task, at: time, model: model); second.taskObserved(task, at: time, model: model)
    }
    public mutating func executorJob(_ job: ExecutorJobRecord, model: TraceModel) {
        first.executorJob(job, model: model); second.executorJob(job, model: model)
    }
    public mutating func lockHeld(_ hold: LockHoldRecord, model: TraceModel) {
        first.lockHeld(hold, model: model); second.lockHeld(hold, model: model)
    }
    public mutating func queueDepth(_ sample: QueueDepthRecord, model: TraceModel) {
        first.queueDepth(sample, model: model); second.queueDepth(sample, model: model)
    }
}
