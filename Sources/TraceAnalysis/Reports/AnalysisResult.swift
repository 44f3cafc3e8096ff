/// Everything one analysis pass found, in reporting terms. Encodes to the documented, stable
/// JSON schema `looptrace.analysis/1` (see the DocC article "JSONSchema"): all times are ns since
/// the trace start, all durations ns (`…Nanos`), and fields are only ever added.
public struct AnalysisResult: Sendable, Codable, Equatable {
    public static let schema = "looptrace.analysis/1"

    public var schema = AnalysisResult.schema
    public var trace: TraceInfo
    public var counts: Counts
    public var loop: LoopUtilization
    public var schedulingDelay: LatencySummary
    public var worstSchedulingDelay: StepRef?
    public var callbackQueueDelay: LatencySummary
    public var timerLateness: LatencySummary
    public var timerLatenessBySite: [SiteLatency]
    public var stepDuration: LatencySummary
    public var windows: WindowSeries
    public var blocking: BlockingReport
    public var longestSteps: [StepRef]
    public var longestCallbacks: [CallbackRef]
    public var tasks: TaskTable
    public var lints: LintReport
    /// The thread pools' jobs (`runInExecutor`): executor queue delay and pool utilization
    /// (nil when the trace has no job).
    public var executor: ExecutorReport? = nil
    /// What the loop watchdog sampled during long steps, with stacks (traces of format 1.2 with
    /// watchdog samples; nil otherwise).
    public var stalls: StallReport? = nil

    /// The trace and how much of it was read.
    public struct TraceInfo: Sendable, Codable, Equatable {
        public var path: String
        public var program: String
        public var events: UInt64
        public var chunks: Int
        /// First and last event times, ns since the trace start.
        public var firstNanos: Int64
        public var lastNanos: Int64
        /// The analysed window (`--since`/`--until`), clipped to the trace.
        public var sinceNanos: Int64
        public var untilNanos: Int64
        public var taskFilter: String?
        public var damage: Damage
        /// Set when a loop started and never stopped: the recording was cut off (a crash, a
        /// kill), and its last events may be missing. Absent from the JSON otherwise.
        public var abruptEnd: AbruptEnd?
        public var spanNanos: Int64 { untilNanos - sinceNanos }
    }

    /// How a recording that ended without a loop stop ended.
    public struct AbruptEnd: Sendable, Codable, Equatable {
        /// The last event of the trace, ns since the trace start.
        public var atNanos: Int64
        /// The streams whose loop started and never stopped.
        public var streams: [UInt32]
        /// How long before `atNanos` the quietest of those streams recorded its last event (0
        /// when it recorded the trace's last event): at least this much of it is missing.
        public var silentNanos: Int64
    }

    /// What was lost. Figures near a loss may be incomplete.
    public struct Damage: Sendable, Codable, Equatable {
        /// Chunks the reader could not use.
        public var damagedChunks: Int
        /// Events in those chunks, where their headers told.
        public var eventsLostInChunks: UInt64
        public var bytesSkipped: Int64
        /// Events the recorder dropped at its memory cap (`lostEvents` records).
        public var eventsDroppedByRecorder: UInt64
        /// Events that did not fit the state machine and were skipped.
        public var anomalies: UInt64
        /// The reader's messages, one per damaged chunk (at most 20).
        public var messages: [String]
        /// What did not fit the model's limits (``ModelLimits``), one sentence per limit reached;
        /// absent from the JSON when every limit held.
        public var limits: [String]? = nil
        public var isEmpty: Bool { damagedChunks == 0 && eventsDroppedByRecorder == 0 && anomalies == 0 && limits == nil }
    }

    public struct Counts: Sendable, Codable, Equatable {
        /// Tasks alive at any time in the window (selected ones, with `--task`).
        public var tasks: Int
        public var tasksFinished: Int
        public var steps: UInt64
        public var callbacks: UInt64
        public var timersFired: UInt64
        public var wakeups: UInt64
        public var polls: UInt64
        public var peakLiveTasks: Int
    }

    /// Where the loop's time went in the window: steps + callbacks + loop overhead + poll add up
    /// to `spanNanos × loops`.
    public struct LoopUtilization: Sendable, Codable, Equatable {
        /// Time in steps and callbacks.
        public var busyNanos: Int64
        /// Time waiting in poll.
        public var pollNanos: Int64
        /// The window's length: the denominator.
        public var spanNanos: Int64
        /// busy ÷ span.
        public var utilization: Double
        /// poll ÷ span.
        public var idleFraction: Double
        /// Time in task steps.
        public var stepNanos: Int64
        /// Time in callbacks.
        public var callbackNanos: Int64
        /// The rest: the loop's own work between steps, callbacks and polls (collecting timers,
        /// draining its inbox, tracing), and any time before a loop's first event.
        public var overheadNanos: Int64
        /// The loops (streams with a `loopStart`; at least 1) whose time is broken down.
        public var loops: Int
    }

    /// A step, for lists.
    public struct StepRef: Sendable, Codable, Equatable {
        public var task: UInt64
        public var name: String
        public var step: Int
        public var beginNanos: Int64
        public var durationNanos: Int64
        public var outcome: String
        public var resumeSite: String
        public var suspendSite: String
        /// begin − ready time, when a wakeup was seen.
        public var schedulingDelayNanos: Int64?
        public var waker: String?
    }

    public struct CallbackRef: Sendable, Codable, Equatable {
        public var handle: UInt64
        public var kind: String
        public var site: String
        public var beginNanos: Int64
        public var durationNanos: Int64
        public var queueDelayNanos: Int64?
    }

    public struct SiteLatency: Sendable, Codable, Equatable {
        public var site: String
        public var latency: LatencySummary
    }

    public struct BlockingReport: Sendable, Codable, Equatable {
        public var thresholdNanos: Int64
        /// Every step or callback at or over the threshold.
        public var count: Int
        /// The longest of them (at most `--limit`), longest first.
        public var findings: [BlockingFinding]
        /// All of them grouped by site, most total time first.
        public var groups: [BlockingGroup]
    }

    public struct TaskTable: Sendable, Codable, Equatable {
        /// Tasks alive at any time in the window.
        public var count: Int
        /// Rows for the first tasks (at most `maxTaskRows`), by id.
        public var rows: [TaskRow]
        /// Tasks beyond the row limit, folded into counts only.
        public var omitted: Int
        /// The suspended time of every task alive in the window (rows and omitted ones), split
        /// by reason as `TaskRow.suspendedByReason`.
        public var suspendedByReason: [String: Int64]? = nil
    }

    public struct LintReport: Sendable, Codable, Equatable {
        public var count: Int
        public var byKind: [String: Int]
        /// The first lints (at most `maxLints`), by kind then task id.
        public var items: [Lint]
    }
}

/// Thread-pool jobs in the window (by their begin), from `executorSubmit` → `executorBegin` →
/// `executorEnd`.
public struct ExecutorReport: Sendable, Codable, Equatable {
    /// Jobs that ran and began in the window.
    public var jobs: UInt64
    /// Jobs submitted and never finished by the trace end: withdrawn by their task's
    /// cancellation, or still queued or running.
    public var unfinishedJobs: Int
    /// Worker threads that ran a job (each records on a stream of its own).
    public var workers: Int
    /// Executor queue delay: submit → a worker begins the job (the wait for a free worker).
    public var queueDelay: LatencySummary
    /// How long jobs ran on their workers.
    public var runTime: LatencySummary
    /// Time the workers spent running jobs, inside the window.
    public var busyNanos: Int64
    /// Pool utilization: busy ÷ (workers × span). Near 1 with a growing queue delay: the pool is
    /// saturated.
    public var utilization: Double
}

/// A step or callback that ran at least the blocking threshold.
public struct BlockingFinding: Sendable, Codable, Equatable {
    /// "step" or "callback".
    public var kind: String
    /// The task (0 for a callback).
    public var task: UInt64
    public var name: String
    /// The step's index within its task (0 for a callback).
    public var step: Int
    /// Where the task resumed (a callback: where it was scheduled).
    public var resumeSite: String
    /// Where it suspended ("" when it finished; a callback: "").
    public var suspendSite: String
    public var beginNanos: Int64
    /// The whole duration, also when the step or callback began or ended outside the window.
    public var durationNanos: Int64
    /// The part inside `--since`/`--until`, when it overlaps an edge of the window (absent
    /// otherwise).
    public var windowDurationNanos: Int64?
    public var impact: BlockingImpact
    /// The tasks it held up, in id order (``TraceModel/delayedTasks``); the export lists the
    /// same ones in its blocking slice's `delayed` arg.
    public var delayedTasks: [UInt64] = []
    /// Where it blocked, from the watchdog's samples: the innermost user frame and the call it
    /// made, e.g. `in slowLookup() Lookup.swift:8 (usleep)`.
    public var blockedIn: String? = nil
    /// The stack of its most telling sample, innermost first.
    public var stack: [StackFrameInfo]? = nil
}

/// Blocking findings with the same sites.
public struct BlockingGroup: Sendable, Codable, Equatable {
    public var kind: String
    public var resumeSite: String
    public var suspendSite: String
    public var count: Int
    public var totalNanos: Int64
    public var maxNanos: Int64
}

/// One task's row in `looptrace tasks`.
public struct TaskRow: Sendable, Codable, Equatable {
    public var id: UInt64
    public var parent: UInt64
    public var name: String
    public var createSite: String
    public var createdNanos: Int64?
    public var finishedNanos: Int64?
    /// completed, failed, cancelled; or the state at the trace end (ready, running, suspended).
    public var outcome: String
    public var steps: Int
    public var busyNanos: Int64
    public var maxStepNanos: Int64
    public var readyWaitNanos: Int64
    public var suspendedNanos: Int64
    /// Wakeups received by waker kind (task, callback, timer, io, thread), self-wakes included.
    public var wakers: [String: Int]
    public var selfWakes: Int
    /// `suspendedNanos` split by what the task waited for (``SuspendReason`` keys: `io`,
    /// `lockOrQueue`, `sleep`, `executor`, `otherTask`, `other`); reasons with no time are left
    /// out.
    public var suspendedByReason: [String: Int64]? = nil
    /// Its longest single wait (absent when it never waited).
    public var longestWait: WaitRef? = nil
}

/// One wait of a task: what it waited on, for how long, and what woke it.
public struct WaitRef: Sendable, Codable, Equatable {
    /// A ``SuspendReason`` key.
    public var reason: String
    /// What it waited on, for people: `Lock.acquire at Cache.swift:40`.
    public var on: String
    /// The suspend site's full text ("" when unknown).
    public var site: String
    public var beginNanos: Int64
    public var durationNanos: Int64
    /// What ended the wait, as the step lists name wakers (`task holder #3 step 2`, `io fd 7`);
    /// absent when it was still waiting at the trace end.
    public var waker: String?
}

/// A problem found in a task's timeline.
public struct Lint: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Not finished at the trace end.
        case unfinished
        /// Suspended at the trace end with nothing pending on its loop that could wake it.
        case lostWakeup
        /// At least `spinMinWakeups` wakeups, at least 90 % of them self-wakes.
        case spin
        /// Finished while no task waited for it and no done callback was registered.
        case neverAwaited
        /// Failed while no task waited for it and no done callback was registered: its error
        /// was not retrieved when it was raised.
        case failedUnobserved
        /// A lock held across at least one await for at least the blocking threshold: every task
        /// that wants it waits behind an unrelated wait (format 1.3). One per acquiring site; the
        /// task is the holder of the longest such hold.
        case lockHeldAcrossAwait
        /// A queue whose depth only grew: puts outpace gets and it never drained (format 1.3).
        /// One per queue; the task is the one whose put last raised it.
        case growingQueue
    }
    public var kind: Kind
    public var task: UInt64
    public var name: String
    public var detail: String
    public var site: String
}
