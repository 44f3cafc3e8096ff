import TraceFormat

/// Rebuilds the semantic picture of a trace — task timelines, steps, callbacks, timers, polls,
/// wake edges — from its events in one streaming pass, and hands each interval to a
/// ``TraceObserver`` as soon as it closes.
///
/// Feed it every chunk in file order with ``consume(_:into:)`` (events within a stream arrive in
/// time order), then call ``finish(into:)``. Memory follows the live population: live tasks,
/// pending timers and queued callbacks, and the interned sites. A finished task is folded into a
/// ``TaskSummary``, handed to the observer, and its slot reused.
///
/// The model is robust to damage: events around a lost chunk or a `lostEvents` record that do not
/// fit the state machine (a `stepEnd` with no step running, a step that never ended) are counted
/// in ``anomalies`` and skipped, never trapped on.
///
/// Not thread-safe: one pass, one thread.
public final class TraceModel {
    /// Steps and callbacks at least this long get a ``BlockingImpact`` (ns). Default 100 ms.
    public let blockingThreshold: Int64
    /// Only time inside this window counts toward per-task totals (steps are counted by their
    /// begin). Default: everything.
    public let window: Range<Int64>
    /// Which tasks ``StepRecord`` consumers should count; see ``isSelected(_:)``.
    public let taskFilter: TaskFilter?
    /// The most state the model keeps (see ``ModelLimits``).
    public let limits: ModelLimits
    /// Names the suspend chains and task entry points of unmodified code (factory mode); nil:
    /// they read `image+0xOFFSET`.
    public let suspendSiteResolver: SuspendSiteResolver?

    /// The model's mutable state, behind a pointer: mutating a class's stored properties costs
    /// a dynamic exclusivity check per access (~25 % of the pass when they were stored here),
    /// a pointer's pointee costs none. Task records, callbacks and streams sit in manually
    /// managed storage (``SlotPool``, `streams`) so each event updates them in place through a
    /// pointer instead of copying a record out of an array and back. Touched only by the thread
    /// running the pass.
    struct State {
        var sites = SiteTable()
        var firstTimestamp: Int64?
        var lastTimestamp: Int64 = 0
        var events: UInt64 = 0
        var lostEvents: UInt64 = 0
        var anomalies: UInt64 = 0
        var selectedTasks = 0
        var peakLiveTasks = 0
        var tasks = SlotPool<LiveTask>()
        /// Task names by slot, apart from `LiveTask` so that the record stays trivially copyable.
        var names: [String] = []
        /// Names of finished tasks that had woken others: a wake edge names its waker when the
        /// woken task's step is reported, often after the waker finished. The most recent
        /// `retiredNameCapacity`, oldest evicted first, so memory stays bounded.
        var retiredNames: [UInt64: String] = [:]
        var retiredOrder: [UInt64] = []
        var retiredNext = 0
        var taskIndex = TaskIndex()
        var callbacks = SlotPool<PendingCallback>()
        var callbackIndex = IDTable(capacity: 1024)
        /// Per-stream state in order of first appearance; `streamCount` initialized of
        /// `streamCapacity`. Indexed through `streamSlots`, never by the stream id itself: ids come
        /// from the file and may be as large as 2^32 − 1.
        var streams: UnsafeMutablePointer<Stream> = .allocate(capacity: 4)
        var streamCount = 0
        var streamCapacity = 4
        /// Stream id → index into `streams`.
        var streamSlots: [UInt32: Int] = [:]
        /// The stream seen last, and its index: consecutive chunks are mostly of one stream.
        var lastStreamID: UInt32 = 0
        var lastStreamSlot = -1
        /// ``SuspendReason`` named by each site's operation, by ``SiteID``: `noOperation` when it
        /// names none, `unclassified` until first needed (see `TraceModel+Waits`).
        var siteReasons: [UInt8] = []
        /// Thread-pool jobs seen in part, by job id (see `TraceModel+Executor`).
        var jobs: [UInt64: PendingJob] = [:]
        /// Jobs submitted and never finished, counted at the trace end.
        var unfinishedJobs = 0
        /// Locks held now, by lock id (see `TraceModel+Sync`).
        var heldLocks: [UInt64: HeldLock] = [:]
        /// Images, stacks and watchdog samples (rare records, collected as they come).
        let stackTable = StackTable()
        /// The tasks the blocking step or callback being reported held up (see `delayedTasks`).
        var delayedTasks: [UInt64] = []
        /// Bytes of live task records, their names and pending callbacks, held under
        /// `limits.liveStateBytes`.
        var liveBytes = 0
        /// What did not fit the limits.
        var overflow = ModelLimits.Overflow()
        /// The site of each `suspendStack` stack met so far.
        var suspendSiteIDs: [StackTable.StackKey: SiteID] = [:]
    }
    let st: UnsafeMutablePointer<State>

    /// The trace's images, stacks and watchdog stall samples.
    public var stacks: StackTable { st.pointee.stackTable }
    /// The interned source sites.
    public var sites: SiteTable { st.pointee.sites }
    /// The text of a site.
    public func site(_ id: SiteID) -> String { st.pointee.sites[id] }
    /// The tasks held up by the step or callback being reported, in id order: valid while
    /// ``TraceObserver/step(_:model:)`` or ``TraceObserver/callback(_:model:)`` runs for a
    /// record with a ``BlockingImpact``. They are the tasks ready on its
    /// stream when it ended, and the tasks whose own timers came due while it ran (a `sleep`
    /// wakes the task that armed it; a `callLater` armed in a task's step counts that task too).
    public var delayedTasks: [UInt64] { st.pointee.delayedTasks }
    /// The earliest and latest event timestamps seen (nil before any event).
    public var firstTimestamp: Int64? {
        get { st.pointee.firstTimestamp }
        set { st.pointee.firstTimestamp = newValue }
    }
    public internal(set) var lastTimestamp: Int64 {
        get { st.pointee.lastTimestamp }
        set { st.pointee.lastTimestamp = newValue }
    }
    /// Events consumed.
    public internal(set) var events: UInt64 {
        get { st.pointee.events }
        set { st.pointee.events = newValue }
    }
    /// Events the recorder reported lost (`lostEvents` records).
    public internal(set) var lostEvents: UInt64 {
        get { st.pointee.lostEvents }
        set { st.pointee.lostEvents = newValue }
    }
    /// Events that did not fit the state machine (after damage or loss), skipped.
    public internal(set) var anomalies: UInt64 {
        get { st.pointee.anomalies }
        set { st.pointee.anomalies = newValue }
    }
    /// Tasks that matched ``taskFilter`` (all tasks without a filter).
    public internal(set) var selectedTasks: Int {
        get { st.pointee.selectedTasks }
        set { st.pointee.selectedTasks = newValue }
    }
    /// The most tasks alive at once.
    public internal(set) var peakLiveTasks: Int {
        get { st.pointee.peakLiveTasks }
        set { st.pointee.peakLiveTasks = newValue }
    }
    /// What did not fit ``limits``, per kind (observers add theirs: lint candidates, groups).
    public internal(set) var overflow: ModelLimits.Overflow {
        get {
            var o = st.pointee.overflow
            o.sites = st.pointee.sites.overflowed
            o.stackRecords = st.pointee.stackTable.overflowed
            return o
        }
        set { st.pointee.overflow = newValue }
    }
    var tasks: SlotPool<LiveTask> { st.pointee.tasks }
    var callbacks: SlotPool<PendingCallback> { st.pointee.callbacks }


    /// Creates a model.
    /// - Parameters:
    ///   - blockingThreshold: steps and callbacks at least this long (ns) get an impact.
    ///   - window: the time window that per-task totals count.
    ///   - taskFilter: which tasks are selected.
    ///   - suspendSiteResolver: names unmodified code's suspend sites and tasks (nil: none).
    ///   - limits: the most state to keep.
    public init(blockingThreshold: Int64 = 100_000_000, window: Range<Int64> = Int64.min..<Int64.max,
                taskFilter: TaskFilter? = nil, suspendSiteResolver: SuspendSiteResolver? = nil,
                limits: ModelLimits = ModelLimits()) {
        self.blockingThreshold = blockingThreshold
        self.window = window
        self.taskFilter = taskFilter
        self.suspendSiteResolver = suspendSiteResolver
        self.limits = limits
        st = .allocate(capacity: 1)
        st.initialize(to: State())
        st.pointee.sites.maxSites = limits.sites
        st.pointee.sites.maxTextBytes = limits.siteTextBytes
        st.pointee.stackTable.maxRecords = limits.stackRecords
        st.pointee.stackTable.maxFrames = limits.stackRecords * 16
        st.pointee.stackTable.maxImageTextBytes = limits.siteTextBytes
    }

    /// What a live task costs against `limits.liveStateBytes`: its record, its index entry and
    /// its name's heap storage (names of up to 15 bytes are stored inline).
    @inline(__always)
    static func liveCost(taskName name: String) -> Int {
        let n = name.utf8.count
        return MemoryLayout<LiveTask>.stride + 24 + (n > 15 ? n + 32 : 0)
    }

    /// What a pending callback costs against `limits.liveStateBytes`: its record, its index
    /// entry and its place in the stream's queue.
    static let callbackCost = MemoryLayout<PendingCallback>.stride + 48

    /// What a pending thread-pool job or a held lock costs against `limits.liveStateBytes`: a
    /// dictionary entry.
    static let recordCost = 128

    /// Takes a job's or a held lock's cost from the live-state budget; false (counted) when it
    /// does not fit.
    func admitRecord() -> Bool {
        guard st.pointee.liveBytes + Self.recordCost <= limits.liveStateBytes else {
            st.pointee.overflow.jobsAndLocks += 1
            return false
        }
        st.pointee.liveBytes += Self.recordCost
        return true
    }

    /// Whether the task with this id is alive in the model now.
    public func isLive(_ id: UInt64) -> Bool { st.pointee.taskIndex.find(id) != nil }

    deinit {
        st.pointee.tasks.deallocate()
        st.pointee.callbacks.deallocate()
        st.pointee.taskIndex.deallocate()
        st.pointee.streams.deinitialize(count: st.pointee.streamCount)
        st.pointee.streams.deallocate()
        st.deinitialize(count: 1)
        st.deallocate()
    }

    /// `Stream.runningSlot` while a task past the limits runs: its events are skipped.
    static let overLimitSlot: Int32 = -2

    /// How many finished wakers' names the model keeps.
    static let retiredNameCapacity = 16_384

    /// The name of a live task, or of a recently finished one that had woken others ("" when
    /// unknown).
    public func name(ofTask id: UInt64) -> String {
        if let slot = st.pointee.taskIndex.find(id) { return st.pointee.names[Int(slot)] }
        return st.pointee.retiredNames[id] ?? ""
    }

    /// Keeps the name of a finishing task that woke others, for the wake edges that name it.
    func retireName(_ id: UInt64, _ name: String) {
        guard !name.isEmpty else { return }
        if st.pointee.retiredOrder.count < Self.retiredNameCapacity {
            st.pointee.retiredOrder.append(id)
        } else {
            let old = st.pointee.retiredOrder[st.pointee.retiredNext]
            st.pointee.retiredNames[old] = nil
            st.pointee.retiredOrder[st.pointee.retiredNext] = id
            st.pointee.retiredNext = (st.pointee.retiredNext + 1) % Self.retiredNameCapacity
        }
        st.pointee.retiredNames[id] = name
    }

    /// Whether a live task matches ``taskFilter`` (true without a filter).
    @inline(__always)
    public func isSelected(_ id: UInt64) -> Bool {
        guard taskFilter != nil else { return true }
        return st.pointee.taskIndex.find(id).map { tasks[$0].selected } ?? false
    }

    /// Thread-pool jobs submitted and never finished by the trace end (withdrawn by their task's
    /// cancellation, or still queued or running); set by ``finish(into:)``.
    public var unfinishedJobs: Int { st.pointee.unfinishedJobs }

    /// The number of tasks alive now.
    public var liveTasks: Int { tasks.liveCount }

    @inline(__always)
    /// The largest event time the model takes, either side of zero (see `consume`).
    static let timeLimit: Int64 = 1 << 61

    func overlap(_ a: Int64, _ b: Int64) -> Int64 {
        let lo = max(a, window.lowerBound), hi = min(b, window.upperBound)
        guard hi > lo else { return 0 }
        // A hostile trace's times may span more than Int64 holds (the fuzzer found a trap here):
        // the difference saturates, and the totals it feeds add with wrapping (`&+=`), so such a
        // trace gets absurd figures, never a crash.
        let (d, overflow) = hi.subtractingReportingOverflow(lo)
        return overflow ? .max : d
    }

    /// The state of stream `id`, created on first use; nil past `limits.streams` streams. Valid
    /// until the next call with a new id.
    func stream(_ id: UInt32) -> UnsafeMutablePointer<Stream>? {
        if st.pointee.lastStreamSlot >= 0 && st.pointee.lastStreamID == id {
            return st.pointee.streams + st.pointee.lastStreamSlot
        }
        let i: Int
        if let slot = st.pointee.streamSlots[id] {
            i = slot
        } else {
            i = st.pointee.streamCount
            guard i < limits.streams else { return nil }
            if i >= st.pointee.streamCapacity {
                let capacity = st.pointee.streamCapacity * 2
                let grown = UnsafeMutablePointer<Stream>.allocate(capacity: capacity)
                grown.moveInitialize(from: st.pointee.streams, count: st.pointee.streamCount)
                st.pointee.streams.deallocate()
                st.pointee.streams = grown
                st.pointee.streamCapacity = capacity
            }
            (st.pointee.streams + i).initialize(to: Stream())
            st.pointee.streamCount = i + 1
            st.pointee.streamSlots[id] = i
        }
        st.pointee.lastStreamID = id
        st.pointee.lastStreamSlot = i
        return st.pointee.streams + i
    }

    /// Every live task's slot, in slot order.
    @inline(__always)
    func forEachLiveTask(_ body: (Int32, UnsafeMutablePointer<LiveTask>) -> Void) {
        let pool = st.pointee.tasks
        for slot in 0..<Int32(pool.count) {
            let t = pool.pointer(slot)
            if t.pointee.live { body(slot, t) }
        }
    }

    @inline(__always)
    static func callbackKey(_ stream: UInt32, _ handle: UInt64) -> UInt64 { handle ^ (UInt64(stream) << 48) }
}
