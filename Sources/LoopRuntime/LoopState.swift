import CLoopTraceShims
import DequeModule
import Glibc
import HeapModule
import TraceFormat

/// How a job reached the loop, which decides how it must be run (see the DocC article).
///
/// Jobs are tagged by the face they came through because the runtime behaves differently
/// depending on the executor a job runs "on": running a task-preference job isolated to the loop
/// would make the task re-enqueue itself after almost every await.
enum JobRoute: UInt8, Sendable {
    /// Through the loop's task face: loop tasks and their children.
    case taskExecutor
    /// Through the loop object itself: hand-written `Task(executorPreference: loop)` tasks.
    case loopTaskExecutor
    /// Through the loop's `SerialExecutor` face: actors whose `unownedExecutor` is the loop.
    case serial
    /// Factory mode (``EventLoop/installAsProcessExecutors(trace:)``): `MainActor`'s executor,
    /// run isolated to the loop's main face.
    case main
    /// Factory mode: the default executor (`Task {}`, `Task.detached`, children, default
    /// actors), run on the generic executor as on Swift's global pool.
    case global
    /// Factory mode: a runtime job that is not a task (a default-actor drain), run on the
    /// generic executor and recorded for the task that scheduled it.
    case runtimeJob
    // (`Task.sleep` wake jobs do not go through the ready queue: they wait in the timer heap and
    // run on the generic executor, so that their sleeper hops back to its own preference.)
    //
    // Room for Swift 6.3's ExecutorFactory (a later issue): `.global` (the default-executor
    // facade, run on the generic executor) and `.main` (MainActor, run isolated to the loop's
    // main serial executor) slot in here, with one more facade object each.
}

/// One entry of the ready queue: a job to run or a callback to call, in FIFO order.
enum ReadyItem {
    /// `task` is the job's runtime task id when the loop needed it at enqueue time (tracing, or
    /// a task being created), else 0: reading it costs a runtime call per step.
    case job(UnownedJob, JobRoute, task: UInt64)
    case callback(CallbackHandle)
    /// A task that yielded with `sleep(.zero)`: resuming the continuation enqueues the task, and
    /// the loop runs that step at once, in this item's place. (`Task.yield` costs a job
    /// allocation, a lookup of the task's executor preference and a job run more per yield.)
    /// `task` as in `.job`.
    case yield(UnsafeContinuation<Void, Never>, task: UInt64)
}

/// A timer on the heap, ordered by deadline and then by insertion.
struct TimerEntry: Comparable {
    let deadline: Int64
    let sequence: UInt64
    let payload: Payload

    enum Payload {
        /// A `callLater`/`callAt` callback: moved to the ready queue when due.
        case callback(CallbackHandle)
        /// A `Task.sleep` wake job: run as soon as it is due (it only makes the sleeper ready).
        case job(UnownedJob, id: UInt64)
    }

    init(deadline: Int64, sequence: UInt64, payload: Payload) {
        self.deadline = deadline
        self.sequence = sequence
        self.payload = payload
    }

    static func < (a: TimerEntry, b: TimerEntry) -> Bool {
        a.deadline != b.deadline ? a.deadline < b.deadline : a.sequence < b.sequence
    }

    static func == (a: TimerEntry, b: TimerEntry) -> Bool {
        a.deadline == b.deadline && a.sequence == b.sequence
    }
}

/// The loop's lifecycle.
enum LoopLifecycle: UInt8 {
    case idle, running, closed
}

/// Everything the loop thread mutates per step, kept in one struct behind an
/// `UnsafeMutablePointer` so that no access pays for a dynamic exclusivity check (~40 ns per
/// step with class stored properties).
///
/// Loop thread only, except `ownerThread`, which other threads read to decide whether they must
/// go through the inbox (it changes only while the loop is not running).
@usableFromInline
struct LoopState {
    var ready = Deque<ReadyItem>(minimumCapacity: 1024)
    var timers = Heap<TimerEntry>()
    var timerSequence: UInt64 = 0
    /// Cancelled `callLater` handles still on the heap (removed lazily, or in bulk when they
    /// make up more than half of it).
    var cancelledTimers = 0
    var lifecycle = LoopLifecycle.idle
    /// `stop()` was called: the current (or, when idle, the next) iteration is the last.
    var stopRequested = false
    @usableFromInline var ownerThread: pthread_t
    var nextHandleID: UInt64 = 1
    /// Polls so far: a readiness callback runs in the iteration of the poll that reported it, so
    /// a descriptor drained since then (same count) was drained after the report (see
    /// `StreamConnection.readable`).
    var polls: UInt64 = 0
    /// Whether the previous iteration polled: a busy loop polls every other iteration.
    var polledLastIteration = false

    // MARK: The step in progress

    /// The job whose step is running (for a task job, the task itself), nil between steps.
    var runningJob: UnsafeMutableRawPointer? = nil
    /// The runtime id of the task whose step is running when tracing, else 0.
    var runningTask: UInt64 = 0
    /// Set when the running task made itself ready again during its step (a hop or a yield).
    var runningTaskRequeued = false
    /// How the running step ended, when the task body knows (loop-created tasks mark their last
    /// step); nil means "suspended or yielded".
    var runningStepOutcome: StepOutcome? = nil
    /// The loop API the running task is about to suspend in (`#fileID`/`#line` of the caller).
    var suspendSite: SourceSite? = nil
    /// Non-task jobs enqueued by the running step (the continuation job of a `Task.yield`). They
    /// run right after the step so the yielding task goes to the back of the ready queue exactly
    /// once, as `asyncio.sleep(0)` does.
    var deferredJobs: [(UnownedJob, JobRoute)] = []
    /// The running task yielded with `sleep(.zero)`: its wakeup (by itself) is recorded right
    /// after its step ends, where a `Task.yield`'s would be.
    var runningTaskYielded = false
    /// The tick at which the last step or callback ended, while the loop has done nothing since
    /// but pick the next ready item (0 otherwise: a poll, the inbox, due timers, a `sleep(0)`
    /// resume or a non-task job clear it). That item's begin record reuses it instead of reading
    /// the clock again (see `TraceStream.callbackEnd(handle:)`).
    var chainedTick: UInt64 = 0
    /// Set while the loop resumes a `.yield` item: the task job the resume enqueues goes to
    /// `yieldedJob` and runs at once.
    var resumingYield = false
    var yieldedJob: (UnownedJob, JobRoute)? = nil
    /// What makes a task ready if it is enqueued right now: the running task or callback, a
    /// timer or descriptor; `(.callback, 0)` outside all of them (the program before the loop
    /// runs, or the loop's own bookkeeping).
    var wakerKind = WakerKind.callback
    var wakerID: UInt64 = 0

    // MARK: Tasks

    /// The loop task being created: its first enqueue tells its runtime id.
    var creating: LoopTaskContext? = nil
    var unnamedTasks = 0
    /// Highest task id seen on this loop: a higher one is a task new to the loop (a child).
    var highestTaskID: UInt64 = 0
    /// Live loop-created tasks by runtime id.
    var tasks: [UInt64: any AnyLoopTask] = [:]
    /// The keys of `tasks`, for the per-step "is this a loop task?" test.
    var loopTaskIDs = TaskIDSet()
    /// Names of tasks seen while tracing, for naming their unnamed children.
    var taskNames: [UInt64: String] = [:]
    var childCounts: [UInt64: Int] = [:]

    // MARK: Tracing

    /// The loop thread's trace stream; nil when tracing is off (one predictable branch per
    /// event site).
    var tracer: TraceStream? = nil
    /// Where the loop publishes each step's start to its watchdog; nil when there is none.
    var beacon: StepBeacon? = nil

    /// `currentLoopTaskContext`'s key, copied here: reading the global costs a `swift_once`
    /// check per await.
    let taskContextKey = LoopRuntime.taskContextKey

    init(ownerThread: pthread_t) {
        self.ownerThread = ownerThread
    }

    mutating func makeHandleID() -> UInt64 {
        defer { nextHandleID &+= 1 }
        return nextHandleID
    }
}
