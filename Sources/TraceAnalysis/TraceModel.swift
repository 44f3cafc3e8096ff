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
        /// Images, stacks and watchdog samples (rare records, collected as they come).
        let stackTable = StackTable()
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
    var tasks: SlotPool<LiveTask> { st.pointee.tasks }
    var callbacks: SlotPool<PendingCallback> { st.pointee.callbacks }

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
        var sawIOWait = false
        /// The site of the `suspendStack` just read: the next `stepEnd`'s (0 when none).
        var pendingSuspendSite: SiteID = 0
    }

    /// Creates a model.
    /// - Parameters:
    ///   - blockingThreshold: steps and callbacks at least this long (ns) get an impact.
    ///   - window: the time window that per-task totals count.
    ///   - taskFilter: which tasks are selected.
    ///   - suspendSiteResolver: names unmodified code's suspend sites and tasks (nil: none).
    public init(blockingThreshold: Int64 = 100_000_000, window: Range<Int64> = Int64.min..<Int64.max,
                taskFilter: TaskFilter? = nil, suspendSiteResolver: SuspendSiteResolver? = nil) {
        self.blockingThreshold = blockingThreshold
        self.window = window
        self.taskFilter = taskFilter
        self.suspendSiteResolver = suspendSiteResolver
        st = .allocate(capacity: 1)
        st.initialize(to: State())
    }

    deinit {
        st.pointee.tasks.deallocate()
        st.pointee.callbacks.deallocate()
        st.pointee.taskIndex.deallocate()
        st.pointee.streams.deinitialize(count: st.pointee.streamCount)
        st.pointee.streams.deallocate()
        st.deinitialize(count: 1)
        st.deallocate()
    }

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

    /// The number of tasks alive now.
    public var liveTasks: Int { tasks.liveCount }

    @inline(__always)
    func overlap(_ a: Int64, _ b: Int64) -> Int64 {
        let lo = max(a, window.lowerBound), hi = min(b, window.upperBound)
        return hi > lo ? hi - lo : 0
    }

    /// The state of stream `id`, created on first use. Valid until the next call with a new id.
    func stream(_ id: UInt32) -> UnsafeMutablePointer<Stream> {
        if st.pointee.lastStreamSlot >= 0 && st.pointee.lastStreamID == id {
            return st.pointee.streams + st.pointee.lastStreamSlot
        }
        let i: Int
        if let slot = st.pointee.streamSlots[id] {
            i = slot
        } else {
            i = st.pointee.streamCount
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

    // MARK: - The pass

    /// Consumes one chunk's events.
    public func consume<O: TraceObserver>(_ chunk: DecodedChunk, into observer: inout O) {
        let events = chunk.events
        guard !events.isEmpty else { return }
        st.pointee.events += UInt64(events.count)
        if st.pointee.firstTimestamp == nil || events[0].timestamp < st.pointee.firstTimestamp! {
            st.pointee.firstTimestamp = events[0].timestamp
        }
        let s = stream(chunk.header.stream)
        // The wire ids, read once per chunk: `EventType`'s static members live in another module,
        // and matching against them costs a lazy-global access per case per event. Ordered by
        // frequency so the common events take one or two compares.
        let stepBegin = EventType.stepBegin.rawValue, stepEnd = EventType.stepEnd.rawValue
        let wakeup = EventType.wakeup.rawValue, pollBegin = EventType.pollBegin.rawValue
        let pollEnd = EventType.pollEnd.rawValue, taskCreate = EventType.taskCreate.rawValue
        let callbackScheduled = EventType.callbackScheduled.rawValue
        let callbackBegin = EventType.callbackBegin.rawValue, callbackEnd = EventType.callbackEnd.rawValue
        let timerFired = EventType.timerFired.rawValue, ioWait = EventType.ioWait.rawValue
        let userMark = EventType.userMark.rawValue, userSpanBegin = EventType.userSpanBegin.rawValue
        let userSpanEnd = EventType.userSpanEnd.rawValue
        let loopStart = EventType.loopStart.rawValue, loopStop = EventType.loopStop.rawValue
        let lostEvents = EventType.lostEvents.rawValue
        let taskObserved = EventType.taskObserved.rawValue
        let callbackCancelled = EventType.callbackCancelled.rawValue
        let wakeupSent = EventType.wakeupSent.rawValue
        let taskUntracked = EventType.taskUntracked.rawValue
        let firstStackType = EventType.imageDef.rawValue, lastStackType = EventType.watchdogStart.rawValue
        let stackDef = EventType.stackDef.rawValue
        let suspendStack = EventType.suspendStack.rawValue, taskEntry = EventType.taskEntry.rawValue
        let taskHandleDropped = EventType.taskHandleDropped.rawValue
        events.withUnsafeBufferPointer { buffer in
            // Definitions first, so that the chunk's new suspend chains are symbolized in one
            // batch before the records that use them.
            var newChains: [StackTable.StackKey] = []
            for e in buffer where e.type.rawValue >= firstStackType && e.type.rawValue <= stackDef {
                st.pointee.stackTable.add(e, chunk: chunk)
                if e.type.rawValue == stackDef && e.args[1] == UInt64(StackKind.suspendChain.rawValue) {
                    let key = StackTable.StackKey(stream: e.stream, id: e.args[0])
                    if st.pointee.suspendSiteIDs[key] == nil { newChains.append(key) }
                }
            }
            if !newChains.isEmpty { suspendSiteResolver?.resolve(newChains, table: st.pointee.stackTable) }
            for i in buffer.indices {
                let e = buffer[i]
                let type = e.type.rawValue
                if type == stepBegin { self.stepBegin(e, s, &observer) }
                else if type == stepEnd { self.stepEnd(e, s, chunk, &observer) }
                else if type == wakeup { self.wakeup(e, s, &observer) }
                else if type == pollBegin { self.pollBegin(e, s) }
                else if type == pollEnd { self.pollEnd(e, s, &observer) }
                else if type == timerFired { self.timerFired(e, s, &observer) }
                else if type == callbackBegin { self.callbackBegin(e, s) }
                else if type == callbackEnd { self.callbackEnd(e, s, &observer) }
                else if type == callbackScheduled { self.callbackScheduled(e, s, chunk) }
                else if type == taskCreate { self.taskCreate(e, s, chunk, &observer) }
                else if type == ioWait { s.pointee.sawIOWait = true }
                else if type == userMark || type == userSpanBegin || type == userSpanEnd { observer.user(e, chunk: chunk, model: self) }
                else if type == loopStart || type == loopStop {
                    observer.loop(started: type == loopStart, stream: e.stream, at: e.timestamp, model: self)
                } else if type == lostEvents {
                    st.pointee.lostEvents += e.args[0]
                    observer.lost(count: e.args[0], from: e.signed(1), to: e.signed(2), model: self)
                } else if type == taskObserved {
                    observer.taskObserved(e.args[0], at: e.timestamp, model: self)
                } else if type == callbackCancelled {
                    self.callbackCancelled(e)
                } else if type == taskUntracked {
                    if let slot = st.pointee.taskIndex.find(e.args[0]) { tasks.pointer(slot).pointee.tracked = false }
                } else if type == wakeupSent {
                    s.pointee.sentTask = e.args[0]
                    s.pointee.sentAt = e.signed(1)
                } else if type == suspendStack {
                    s.pointee.pendingSuspendSite = suspendSite(StackTable.StackKey(stream: e.stream, id: e.args[0]))
                } else if type == taskEntry {
                    self.taskEntry(e)
                } else if type == taskHandleDropped {
                    if let slot = st.pointee.taskIndex.find(e.args[0]) { tasks.pointer(slot).pointee.handleDropped = true }
                } else if type > stackDef && type <= lastStackType {
                    st.pointee.stackTable.add(e, chunk: chunk)
                }
            }
        }
        let last = events[events.count - 1].timestamp
        if last > st.pointee.lastTimestamp { st.pointee.lastTimestamp = last }
        if last > s.pointee.lastTimestamp { s.pointee.lastTimestamp = last }
    }

    /// Ends the pass: closes the open slices of every live task at the trace end and hands the
    /// unfinished tasks to the observer as summaries with no outcome.
    public func finish<O: TraceObserver>(into observer: inout O) {
        let end = lastTimestamp
        var live: [(UInt64, Int32)] = []
        forEachLiveTask { slot, t in live.append((t.pointee.id, slot)) }
        live.sort { $0.0 < $1.0 }
        for (_, slot) in live {
            var t = tasks[slot]
            observer.taskState(TaskStateSlice(task: t.id, state: t.state, begin: t.since, end: max(end, t.since), site: t.site), model: self)
            switch t.state {
            case .ready: t.readyWait += overlap(t.since, end)
            case .suspended: t.suspended += overlap(t.since, end)
            case .running: t.busy += overlap(t.since, end)
            default: break
            }
            observer.taskFinished(summary(t, outcome: nil, finishedAt: nil), model: self)
        }
    }

    /// The last event time of stream `id` (nil for a stream with no events).
    public func lastTimestamp(ofStream id: UInt32) -> Int64? {
        guard Int(id) < st.pointee.streamCount, st.pointee.streams[Int(id)].lastTimestamp != .min else { return nil }
        return st.pointee.streams[Int(id)].lastTimestamp
    }

    /// Whether a stream had nothing pending at the end that could wake a task: no timer armed
    /// and unfired, no I/O interest ever registered, nothing ready or queued.
    public func streamIsQuiescent(_ id: UInt32) -> Bool {
        guard let slot = st.pointee.streamSlots[id] else { return true }
        if st.pointee.streams[slot].sawIOWait { return false }
        var quiet = true
        st.pointee.callbackIndex.forEach { _, slot in if callbacks[slot].stream == id { quiet = false } }
        if !quiet { return false }
        forEachLiveTask { _, t in
            if t.pointee.stream == id && (t.pointee.state == .ready || t.pointee.state == .running || t.pointee.state == .created) { quiet = false }
        }
        return quiet
    }

    func summary(_ t: LiveTask, outcome: StepOutcome?, finishedAt: Int64?) -> TaskSummary {
        var s = TaskSummary(id: t.id, parent: t.parent, name: name(ofTask: t.id), createSite: t.createSite, createdAt: t.createdAt,
                            finishedAt: finishedAt, outcome: outcome, endState: outcome == nil ? t.state : .done)
        s.steps = t.stepsInWindow
        s.busyNanos = t.busy
        s.maxStepNanos = t.maxStep
        s.readyWaitNanos = t.readyWait
        s.suspendedNanos = t.suspended
        s.wakersByKind = [t.wakers.0, t.wakers.1, t.wakers.2, t.wakers.3, t.wakers.4, t.wakers.5]
        s.selfWakes = t.selfWakes
        s.lastWakerTask = t.lastWakerTask
        s.tasksWoken = t.tasksWoken
        s.waitersAtFinish = outcome == nil ? 0 : t.wokeInStep
        s.pendingTimer = t.pendingTimers > 0
        s.lastSuspendSite = t.site
        s.stream = t.stream
        s.selected = t.selected
        s.observationTracked = t.tracked
        s.handleDropped = t.handleDropped
        return s
    }

    // MARK: - Tasks

    func matches(_ id: UInt64, _ name: String) -> Bool {
        guard let f = taskFilter else { return true }
        return f.matches(id: id, name: name)
    }

    @discardableResult
    func newTask<O: TraceObserver>(_ id: UInt64, parent: UInt64, name: String, site: SiteID, createdAt: Int64?,
                                   stream: UInt32, at time: Int64, _ observer: inout O) -> Int32 {
        let selected = matches(id, name)
        if selected { st.pointee.selectedTasks += 1 }
        let slot = st.pointee.tasks.allocate(LiveTask(id: id, parent: parent, createSite: site, createdAt: createdAt,
                                                      stream: stream, state: .created, since: time, selected: selected))
        if Int(slot) >= st.pointee.names.count { st.pointee.names.append(contentsOf: repeatElement("", count: Int(slot) + 1 - st.pointee.names.count)) }
        st.pointee.names[Int(slot)] = name
        st.pointee.taskIndex.insert(id, slot)
        let live = st.pointee.tasks.liveCount
        if live > st.pointee.peakLiveTasks { st.pointee.peakLiveTasks = live }
        observer.taskCreated(id, at: time, model: self)
        return slot
    }

    /// The slot of task `id`, creating it (named `task<ID>`) when its `taskCreate` was lost.
    @inline(__always)
    func slot<O: TraceObserver>(_ id: UInt64, stream: UInt32, at time: Int64, _ observer: inout O) -> Int32 {
        if let slot = st.pointee.taskIndex.find(id) { return slot }
        return newTask(id, parent: 0, name: "task\(id)", site: 0, createdAt: nil, stream: stream, at: time, &observer)
    }

    func taskCreate<O: TraceObserver>(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ chunk: DecodedChunk, _ observer: inout O) {
        let id = e.args[0]
        let site = st.pointee.sites.intern(stream: e.stream, stringID: e.args[3], chunk: chunk)
        if let old = st.pointee.taskIndex.find(id) {
            // Seen before its creation record (reordered streams) or an id reused: refresh.
            st.pointee.names[Int(old)] = chunk.text(e.args[2])
            let t = tasks.pointer(old)
            t.pointee.parent = e.args[1]
            t.pointee.createSite = site
            t.pointee.createdAt = e.timestamp
            let sel = matches(id, st.pointee.names[Int(old)])
            if sel && !t.pointee.selected { st.pointee.selectedTasks += 1 }
            t.pointee.selected = sel
            return
        }
        newTask(id, parent: e.args[1], name: chunk.text(e.args[2]), site: site, createdAt: e.timestamp,
                stream: e.stream, at: e.timestamp, &observer)
    }

    /// The site of a `suspendStack` stack: its symbolized innermost frame of the program's own
    /// code, or its innermost frame as `image+0xOFFSET`.
    func suspendSite(_ key: StackTable.StackKey) -> SiteID {
        if let id = st.pointee.suspendSiteIDs[key] { return id }
        let text: String
        if let resolved = suspendSiteResolver?.site(key) {
            text = resolved
        } else if let stack = st.pointee.stackTable.stacks[key] {
            text = SuspendSiteResolver.fallback(stack, table: st.pointee.stackTable)
        } else {
            // Its definition was lost with a damaged chunk.
            return 0
        }
        let id = st.pointee.sites.intern(text: text)
        st.pointee.suspendSiteIDs[key] = id
        return id
    }

    /// `taskEntry`: names a task the recorder could not name after the function its body starts
    /// in, when the symbolizer can.
    func taskEntry(_ e: TraceEvent) {
        let key = StackTable.StackKey(stream: e.stream, id: e.args[1])
        guard let name = suspendSiteResolver?.entryName(key), let slot = st.pointee.taskIndex.find(e.args[0]) else { return }
        st.pointee.names[Int(slot)] = name
        let t = tasks.pointer(slot)
        let selected = matches(e.args[0], name)
        if selected != t.pointee.selected { st.pointee.selectedTasks += selected ? 1 : -1 }
        t.pointee.selected = selected
    }

    func wakeup<O: TraceObserver>(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ observer: inout O) {
        let id = e.args[0]
        var t = e.timestamp
        // Woken from another thread: ready since that thread sent the wakeup, not since the loop
        // took it from its inbox (`wakeupSent`, format 1.2).
        let sentAt: Int64? = s.pointee.sentTask == id && s.pointee.sentTask != 0 ? s.pointee.sentAt : nil
        s.pointee.sentTask = 0
        let kind = WakerKind(rawValue: UInt8(truncatingIfNeeded: e.args[1])) ?? .thread
        let wakerID = e.args[2]
        var edge = WakeEdge(time: e.timestamp, stream: e.stream, task: id, wakerKind: kind, wakerID: wakerID,
                            wakerTask: 0, wakerStep: 0, wakerCallback: 0)
        if kind == .task, wakerID != 0, s.pointee.runningTask == wakerID, s.pointee.runningSlot >= 0 {
            let waker = tasks.pointer(s.pointee.runningSlot)
            edge.wakerTask = wakerID
            edge.wakerStep = waker.pointee.steps
            if wakerID != id {
                waker.pointee.tasksWoken += 1
                waker.pointee.wokeInStep += 1
            }
        } else if kind == .callback || kind == .io, s.pointee.callbackBegin >= 0 {
            edge.wakerCallback = s.pointee.callbackKey & 0x0000_FFFF_FFFF_FFFF
        } else if kind == .timer {
            // A `Task.sleep` timer wakes its task directly: it leaves the callback queue here.
            let key = Self.callbackKey(e.stream, wakerID)
            if !(s.pointee.callbackBegin >= 0 && s.pointee.callbackKey == key), let slot = st.pointee.callbackIndex.find(key) {
                st.pointee.callbackIndex.remove(key)
                st.pointee.callbacks.release(slot)
            }
        }
        let task = tasks.pointer(slot(id, stream: e.stream, at: t, &observer))
        if let sentAt, task.pointee.state == .suspended || task.pointee.state == .created {
            // Never before the task's current state began: the slices stay in order.
            t = min(t, max(sentAt, task.pointee.since))
            edge.time = t
        }
        switch kind {
        case .task: task.pointee.wakers.0 += 1
        case .callback: task.pointee.wakers.1 += 1
        case .timer: task.pointee.wakers.2 += 1
        case .io: task.pointee.wakers.3 += 1
        case .thread: task.pointee.wakers.4 += 1
        case .executor: task.pointee.wakers.5 += 1
        }
        if edge.isSelfWake { task.pointee.selfWakes += 1 } else if kind == .task && wakerID != 0 { task.pointee.lastWakerTask = wakerID }
        switch task.pointee.state {
        case .created, .suspended:
            observer.taskState(TaskStateSlice(task: id, state: task.pointee.state, begin: task.pointee.since, end: t,
                                              site: task.pointee.site), model: self)
            if task.pointee.state == .suspended { task.pointee.suspended += overlap(task.pointee.since, t) }
            task.pointee.state = .ready
            task.pointee.since = t
            task.pointee.readyAt = t
            task.pointee.pendingWake = edge
        case .running:
            if !task.pointee.wokenWhileRunning {
                task.pointee.wokenWhileRunning = true
                task.pointee.readyAt = t
                task.pointee.pendingWake = edge
            }
        case .ready, .done:
            break
        }
        observer.wake(edge, model: self)
    }

    func stepBegin<O: TraceObserver>(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ observer: inout O) {
        let t = e.timestamp
        s.pointee.pendingSuspendSite = 0
        if s.pointee.runningSlot >= 0 {
            // The previous step's end was lost: drop that step.
            st.pointee.anomalies += 1
            let old = tasks.pointer(s.pointee.runningSlot)
            if old.pointee.state == .running {
                old.pointee.state = .suspended
                old.pointee.since = t
            }
        }
        let id = e.args[0]
        let slot = slot(id, stream: e.stream, at: t, &observer)
        let task = tasks.pointer(slot)
        let state = task.pointee.state
        if state == .done {
            st.pointee.anomalies += 1
            return
        }
        if state != .running {
            observer.taskState(TaskStateSlice(task: id, state: state, begin: task.pointee.since, end: t, site: task.pointee.site), model: self)
        }
        switch state {
        case .ready:
            task.pointee.readyWait += overlap(task.pointee.since, t)
            task.pointee.stepReadyAt = task.pointee.readyAt
            task.pointee.stepWake = task.pointee.pendingWake
        case .suspended:
            task.pointee.suspended += overlap(task.pointee.since, t)
            task.pointee.stepReadyAt = nil
            task.pointee.stepWake = nil
        default:
            task.pointee.stepReadyAt = nil
            task.pointee.stepWake = nil
        }
        task.pointee.state = .running
        task.pointee.since = t
        task.pointee.stream = e.stream
        task.pointee.steps += 1
        task.pointee.wokeInStep = 0
        task.pointee.wokenWhileRunning = false
        task.pointee.pendingWake = nil
        s.pointee.runningSlot = slot
        s.pointee.runningTask = id
        s.pointee.stepBegin = t
    }

    func stepEnd<O: TraceObserver>(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ chunk: DecodedChunk, _ observer: inout O) {
        let slot = s.pointee.runningSlot
        guard slot >= 0, s.pointee.runningTask == e.task || e.task == 0 else {
            st.pointee.anomalies += 1
            return
        }
        let t = e.timestamp
        let begin = s.pointee.stepBegin
        s.pointee.runningSlot = -1
        s.pointee.runningTask = 0
        let task = tasks.pointer(slot)
        let outcome = StepOutcome(rawValue: UInt8(truncatingIfNeeded: e.args[0])) ?? .suspended
        var suspendSite = st.pointee.sites.intern(stream: e.stream, stringID: e.args[1], chunk: chunk)
        // Unmodified code: the resume chain read before the step ended (`suspendStack`).
        if suspendSite == 0 { suspendSite = s.pointee.pendingSuspendSite }
        s.pointee.pendingSuspendSite = 0
        let duration = t - begin
        task.pointee.busy += overlap(begin, t)
        if begin >= window.lowerBound && begin < window.upperBound {
            task.pointee.stepsInWindow += 1
            if duration > task.pointee.maxStep { task.pointee.maxStep = duration }
        }
        let taskID = task.pointee.id
        let resumeSite = task.pointee.site
        var record = StepRecord(stream: e.stream, task: taskID, index: task.pointee.steps, begin: begin, end: t, outcome: outcome,
                                resumeSite: resumeSite, suspendSite: suspendSite,
                                readyAt: task.pointee.stepReadyAt, wake: task.pointee.stepWake, impact: nil)
        if duration >= blockingThreshold {
            record.impact = impact(stream: e.stream, begin: begin, end: t, excluding: taskID)
        }
        observer.taskState(TaskStateSlice(task: taskID, state: .running, begin: begin, end: t, site: resumeSite), model: self)
        switch outcome {
        case .suspended, .yielded:
            task.pointee.site = suspendSite
            if task.pointee.wokenWhileRunning {
                // Woken during its own step: it is in the ready queue from the step's end.
                task.pointee.state = .ready
                task.pointee.readyAt = t
            } else {
                task.pointee.state = .suspended
                task.pointee.pendingWake = nil
            }
            task.pointee.since = t
            task.pointee.wokenWhileRunning = false
            observer.step(record, model: self)
        case .completed, .failed, .cancelled:
            task.pointee.state = .done
            task.pointee.since = t
            observer.step(record, model: self)
            observer.taskFinished(summary(task.pointee, outcome: outcome, finishedAt: t), model: self)
            if task.pointee.tasksWoken > 0 { retireName(taskID, st.pointee.names[Int(slot)]) }
            st.pointee.taskIndex.remove(taskID)
            st.pointee.names[Int(slot)] = ""
            task.pointee.live = false
            st.pointee.tasks.release(slot)
        }
    }

    /// What was held up while [begin, end) ran on `stream`.
    func impact(stream: UInt32, begin: Int64, end: Int64, excluding: UInt64) -> BlockingImpact {
        var result = BlockingImpact(readyTasks: 0, timersDue: 0, callbacksQueued: 0, maxDelayCausedNanos: 0)
        func waited(_ since: Int64) { result.maxDelayCausedNanos = max(result.maxDelayCausedNanos, end - max(begin, since)) }
        forEachLiveTask { _, p in
            let t = p.pointee
            guard t.id != excluding, t.stream == stream, t.state == .ready, t.since <= end else { return }
            result.readyTasks += 1
            waited(t.readyAt)
        }
        st.pointee.callbackIndex.forEach { _, slot in
            let c = callbacks[slot]
            guard c.stream == stream else { return }
            if let ready = c.readyAt {
                if ready <= end {
                    result.callbacksQueued += 1
                    waited(ready)
                }
            } else if c.due <= end {
                result.timersDue += 1
                waited(c.due)
            }
        }
        return result
    }

    // MARK: - Callbacks and timers

    func callbackScheduled(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ chunk: DecodedChunk) {
        let handle = e.args[0]
        let kind = CallbackKind(rawValue: UInt8(truncatingIfNeeded: e.args[1]))
        let due = e.signed(2)
        let site = st.pointee.sites.intern(stream: e.stream, stringID: e.args[3], chunk: chunk)
        let key = Self.callbackKey(e.stream, handle)
        let isTimer = kind == .later || kind == .at
        // A threadsafe callback is due since the other thread sent it (format 1.2; before, `due`
        // equals the loop's pickup time): it waits in the queue from there.
        let queuedAt = kind == .threadsafe ? min(due, e.timestamp) : e.timestamp
        let armedBy = s.pointee.runningTask
        if let old = st.pointee.callbackIndex.find(key) {
            // A handle rescheduled before it ran: forget the earlier schedule.
            dropCallback(old, key: key)
        }
        let slot = st.pointee.callbacks.allocate(PendingCallback(stream: e.stream, handle: handle, kind: kind, site: site,
                                                                 scheduledAt: queuedAt, due: due,
                                                                 readyAt: isTimer ? nil : queuedAt, armedBy: armedBy))
        st.pointee.callbackIndex.insert(key, slot)
        if isTimer {
            if armedBy != 0, let t = st.pointee.taskIndex.find(armedBy) { tasks.pointer(t).pointee.pendingTimers += 1 }
        } else {
            s.pointee.queued.append((queuedAt, key))
            if armedBy != 0, s.pointee.runningSlot >= 0, kind == .soon { tasks.pointer(s.pointee.runningSlot).pointee.wokeInStep += 1 }
        }
    }

    /// A callback or timer cancelled before it ran: it no longer holds its stream busy (nor
    /// does a timer keep its arming task from being a lost wakeup). Format 1.1 records every
    /// cancellation; a 1.0 trace's cancelled timers stay pending to the end, which only ever
    /// hides a `lostWakeup`, never invents one.
    func callbackCancelled(_ e: TraceEvent) {
        let key = Self.callbackKey(e.stream, e.args[0])
        if let slot = st.pointee.callbackIndex.find(key) { dropCallback(slot, key: key) }
    }

    func dropCallback(_ slot: Int32, key: UInt64) {
        let c = callbacks[slot]
        if c.readyAt == nil, c.armedBy != 0, let t = st.pointee.taskIndex.find(c.armedBy), tasks[t].pendingTimers > 0 {
            tasks.pointer(t).pointee.pendingTimers -= 1
        }
        st.pointee.callbackIndex.remove(key)
        st.pointee.callbacks.release(slot)
    }

    func timerFired<O: TraceObserver>(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ observer: inout O) {
        let handle = e.args[0]
        var due = e.signed(1)
        let t = e.timestamp
        let key = Self.callbackKey(e.stream, handle)
        var site: SiteID = 0
        if let slot = st.pointee.callbackIndex.find(key) {
            let c = callbacks.pointer(slot)
            site = c.pointee.site
            if c.pointee.readyAt == nil {
                // The due time written when the timer was armed is exact; the one at firing is
                // relative to a clock read that, in runtimes before format 1.2, could lag a
                // burst of firings by milliseconds (it only ever drifts later). An armed due
                // after the firing cannot be this firing's deadline (a generator reusing a
                // handle): the firing's own then stands.
                due = min(due, c.pointee.due)
                let armedBy = c.pointee.armedBy
                if armedBy != 0, let ts = st.pointee.taskIndex.find(armedBy), tasks[ts].pendingTimers > 0 {
                    tasks.pointer(ts).pointee.pendingTimers -= 1
                }
            }
            c.pointee.readyAt = t
            s.pointee.queued.append((t, key))
        }
        observer.timer(TimerRecord(stream: e.stream, handle: handle, due: due, fired: t, site: site), model: self)
    }

    func callbackBegin(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>) {
        if s.pointee.callbackBegin >= 0 { st.pointee.anomalies += 1 }
        s.pointee.callbackKey = Self.callbackKey(e.stream, e.args[0])
        s.pointee.callbackBegin = e.timestamp
    }

    func callbackEnd<O: TraceObserver>(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ observer: inout O) {
        let key = Self.callbackKey(e.stream, e.args[0])
        guard s.pointee.callbackBegin >= 0, s.pointee.callbackKey == key else {
            st.pointee.anomalies += 1
            s.pointee.callbackBegin = -1
            return
        }
        let begin = s.pointee.callbackBegin
        s.pointee.callbackBegin = -1
        var record = CallbackRecord(stream: e.stream, handle: e.args[0], kind: nil, site: 0, scheduledAt: nil,
                                    readyAt: nil, begin: begin, end: e.timestamp, impact: nil)
        if let slot = st.pointee.callbackIndex.find(key) {
            let c = callbacks[slot]
            record.kind = c.kind
            record.site = c.site
            record.scheduledAt = c.scheduledAt
            record.readyAt = c.readyAt
            st.pointee.callbackIndex.remove(key)
            st.pointee.callbacks.release(slot)
        }
        if record.duration >= blockingThreshold {
            record.impact = impact(stream: e.stream, begin: begin, end: e.timestamp, excluding: 0)
        }
        observer.callback(record, model: self)
    }

    // MARK: - Polls

    func pollBegin(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>) {
        s.pointee.pollBegin = e.timestamp
        s.pointee.pollTimeout = e.signed(0)
        // Everything queued before the previous iteration began has run or was cancelled (the
        // loop runs, each iteration, what was ready when it began).
        let horizon = s.pointee.lastPollBegin
        s.pointee.lastPollBegin = e.timestamp
        var head = s.pointee.queuedHead
        while head < s.pointee.queued.count, s.pointee.queued[head].readyAt < horizon {
            let key = s.pointee.queued[head].key
            if let slot = st.pointee.callbackIndex.find(key), let ready = callbacks[slot].readyAt, ready < horizon {
                st.pointee.callbackIndex.remove(key)
                st.pointee.callbacks.release(slot)
            }
            head += 1
        }
        if head > 4096 && head * 2 > s.pointee.queued.count {
            s.pointee.queued.removeFirst(head)
            head = 0
        }
        s.pointee.queuedHead = head
    }

    func pollEnd<O: TraceObserver>(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ observer: inout O) {
        let begin = s.pointee.pollBegin
        guard begin >= 0 else {
            st.pointee.anomalies += 1
            return
        }
        s.pointee.pollBegin = -1
        observer.poll(PollRecord(stream: e.stream, begin: begin, end: e.timestamp, timeoutNanos: s.pointee.pollTimeout,
                                 readyCount: Int(e.args[0])), model: self)
    }
}

/// Which tasks a command looks at: `--task NAME|ID`.
public struct TaskFilter: Sendable, Equatable {
    /// The argument as given.
    public var text: String

    public init(_ text: String) { self.text = text }

    /// A task matches when its id equals the argument read as a number, or its name equals the
    /// argument.
    public func matches(id: UInt64, name: String) -> Bool {
        if let n = UInt64(text), n == id { return true }
        return name == text
    }
}
