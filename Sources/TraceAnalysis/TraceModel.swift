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

    /// The model's mutable state, behind a pointer: mutating a class's stored properties costs
    /// a dynamic exclusivity check per access (~25 % of the pass when they were stored here),
    /// a pointer's pointee costs none. Touched only by the thread running the pass.
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
        var taskIndex = IDTable(capacity: 1024)
        var callbacks = SlotPool<PendingCallback>()
        var callbackIndex = IDTable(capacity: 1024)
        var streams: [Stream] = []
    }
    let st: UnsafeMutablePointer<State>

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
    var tasks: SlotPool<LiveTask> {
        get { st.pointee.tasks }
        _modify { yield &st.pointee.tasks }
    }
    var taskIndex: IDTable {
        get { st.pointee.taskIndex }
        _modify { yield &st.pointee.taskIndex }
    }
    var callbacks: SlotPool<PendingCallback> {
        get { st.pointee.callbacks }
        _modify { yield &st.pointee.callbacks }
    }
    var callbackIndex: IDTable {
        get { st.pointee.callbackIndex }
        _modify { yield &st.pointee.callbackIndex }
    }
    var streams: [Stream] {
        get { st.pointee.streams }
        _modify { yield &st.pointee.streams }
    }

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
        var wakers: (Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0)
        var selfWakes = 0
        var lastWakerTask: UInt64 = 0
        var tasksWoken = 0
        var wokeInStep = 0
        var pendingTimers = 0
        var selected: Bool
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
        var timers = MinHeap()
        var queued: [(readyAt: Int64, key: UInt64)] = []
        var queuedHead = 0
        var sawIOWait = false
    }

    /// Creates a model.
    /// - Parameters:
    ///   - blockingThreshold: steps and callbacks at least this long (ns) get an impact.
    ///   - window: the time window that per-task totals count.
    ///   - taskFilter: which tasks are selected.
    public init(blockingThreshold: Int64 = 100_000_000, window: Range<Int64> = Int64.min..<Int64.max,
                taskFilter: TaskFilter? = nil) {
        self.blockingThreshold = blockingThreshold
        self.window = window
        self.taskFilter = taskFilter
        st = .allocate(capacity: 1)
        st.initialize(to: State())
    }

    deinit {
        st.deinitialize(count: 1)
        st.deallocate()
    }

    /// The name of a live or recently seen task ("" when unknown).
    public func name(ofTask id: UInt64) -> String {
        taskIndex.find(id).map { st.pointee.names[Int($0)] } ?? ""
    }

    /// Whether a live task matches ``taskFilter`` (true without a filter).
    public func isSelected(_ id: UInt64) -> Bool {
        guard taskFilter != nil else { return true }
        return taskIndex.find(id).map { tasks[$0].selected } ?? false
    }

    /// The number of tasks alive now.
    public var liveTasks: Int { tasks.liveCount }

    @inline(__always)
    func overlap(_ a: Int64, _ b: Int64) -> Int64 {
        let lo = max(a, window.lowerBound), hi = min(b, window.upperBound)
        return hi > lo ? hi - lo : 0
    }

    @inline(__always)
    func stream(_ id: UInt32) -> Int {
        let i = Int(id)
        if i >= streams.count { streams.append(contentsOf: repeatElement(Stream(), count: i - streams.count + 1)) }
        return i
    }

    @inline(__always)
    static func callbackKey(_ stream: UInt32, _ handle: UInt64) -> UInt64 { handle ^ (UInt64(stream) << 48) }

    // MARK: - The pass

    /// Consumes one chunk's events.
    public func consume<O: TraceObserver>(_ chunk: DecodedChunk, into observer: inout O) {
        let events = chunk.events
        guard !events.isEmpty else { return }
        self.events += UInt64(events.count)
        if firstTimestamp == nil || events[0].timestamp < firstTimestamp! { firstTimestamp = events[0].timestamp }
        let s = stream(chunk.header.stream)
        for e in events {
            switch e.type {
            case .stepBegin: stepBegin(e, s, &observer)
            case .stepEnd: stepEnd(e, s, chunk, &observer)
            case .wakeup: wakeup(e, s, &observer)
            case .taskCreate: taskCreate(e, s, chunk, &observer)
            case .callbackScheduled: callbackScheduled(e, s, chunk)
            case .callbackBegin: callbackBegin(e, s)
            case .callbackEnd: callbackEnd(e, s, &observer)
            case .timerFired: timerFired(e, s, &observer)
            case .pollBegin: pollBegin(e, s)
            case .pollEnd: pollEnd(e, s, &observer)
            case .ioWait: streams[s].sawIOWait = true
            case .userMark, .userSpanBegin, .userSpanEnd: observer.user(e, chunk: chunk, model: self)
            case .loopStart, .loopStop: observer.loop(started: e.type == .loopStart, stream: e.stream, at: e.timestamp, model: self)
            case .lostEvents:
                lostEvents += e.args[0]
                observer.lost(count: e.args[0], from: e.signed(1), to: e.signed(2), model: self)
            default: break
            }
        }
        let last = events[events.count - 1].timestamp
        if last > lastTimestamp { lastTimestamp = last }
    }

    /// Ends the pass: closes the open slices of every live task at the trace end and hands the
    /// unfinished tasks to the observer as summaries with no outcome.
    public func finish<O: TraceObserver>(into observer: inout O) {
        let end = lastTimestamp
        var live: [(UInt64, Int32)] = []
        taskIndex.forEach { live.append(($0, $1)) }
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

    /// Whether a stream had nothing pending at the end that could wake a task: no timer armed
    /// and unfired, no I/O interest ever registered, nothing ready or queued.
    public func streamIsQuiescent(_ id: UInt32) -> Bool {
        guard Int(id) < streams.count else { return true }
        let st = streams[Int(id)]
        if st.sawIOWait { return false }
        var quiet = true
        callbackIndex.forEach { _, slot in if callbacks[slot].stream == id { quiet = false } }
        if !quiet { return false }
        taskIndex.forEach { _, slot in
            let t = tasks[slot]
            if t.stream == id && (t.state == .ready || t.state == .running || t.state == .created) { quiet = false }
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
        s.wakersByKind = [t.wakers.0, t.wakers.1, t.wakers.2, t.wakers.3, t.wakers.4]
        s.selfWakes = t.selfWakes
        s.lastWakerTask = t.lastWakerTask
        s.tasksWoken = t.tasksWoken
        s.waitersAtFinish = outcome == nil ? 0 : t.wokeInStep
        s.pendingTimer = t.pendingTimers > 0
        s.lastSuspendSite = t.site
        s.stream = t.stream
        s.selected = t.selected
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
        if selected { selectedTasks += 1 }
        let slot = tasks.allocate(LiveTask(id: id, parent: parent, createSite: site, createdAt: createdAt,
                                           stream: stream, state: .created, since: time, selected: selected))
        if Int(slot) >= st.pointee.names.count { st.pointee.names.append(contentsOf: repeatElement("", count: Int(slot) + 1 - st.pointee.names.count)) }
        st.pointee.names[Int(slot)] = name
        taskIndex.insert(id, slot)
        if tasks.liveCount > peakLiveTasks { peakLiveTasks = tasks.liveCount }
        observer.taskCreated(id, at: time, model: self)
        return slot
    }

    @inline(__always)
    func slot<O: TraceObserver>(_ id: UInt64, stream: UInt32, at time: Int64, _ observer: inout O) -> Int32 {
        if let slot = taskIndex.find(id) { return slot }
        return newTask(id, parent: 0, name: "task\(id)", site: 0, createdAt: nil, stream: stream, at: time, &observer)
    }

    func taskCreate<O: TraceObserver>(_ e: TraceEvent, _ s: Int, _ chunk: DecodedChunk, _ observer: inout O) {
        let id = e.args[0]
        let site = st.pointee.sites.intern(stream: e.stream, stringID: e.args[3], chunk: chunk)
        if let old = taskIndex.find(id) {
            // Seen before its creation record (reordered streams) or an id reused: refresh.
            st.pointee.names[Int(old)] = chunk.text(e.args[2])
            tasks[old].parent = e.args[1]
            tasks[old].createSite = site
            tasks[old].createdAt = e.timestamp
            let sel = matches(id, st.pointee.names[Int(old)])
            if sel && !tasks[old].selected { selectedTasks += 1 }
            tasks[old].selected = sel
            return
        }
        newTask(id, parent: e.args[1], name: chunk.text(e.args[2]), site: site, createdAt: e.timestamp,
                stream: e.stream, at: e.timestamp, &observer)
    }

    func wakeup<O: TraceObserver>(_ e: TraceEvent, _ s: Int, _ observer: inout O) {
        let id = e.args[0]
        let t = e.timestamp
        let kind = WakerKind(rawValue: UInt8(truncatingIfNeeded: e.args[1])) ?? .thread
        let wakerID = e.args[2]
        var edge = WakeEdge(time: t, stream: e.stream, task: id, wakerKind: kind, wakerID: wakerID,
                            wakerTask: 0, wakerStep: 0, wakerCallback: 0)
        let st = streams[s]
        if kind == .task, wakerID != 0, st.runningTask == wakerID, st.runningSlot >= 0 {
            edge.wakerTask = wakerID
            edge.wakerStep = tasks[st.runningSlot].steps
            if wakerID != id {
                tasks[st.runningSlot].tasksWoken += 1
                tasks[st.runningSlot].wokeInStep += 1
            }
        } else if kind == .callback || kind == .io, st.callbackBegin >= 0 {
            edge.wakerCallback = st.callbackKey & 0x0000_FFFF_FFFF_FFFF
        } else if kind == .timer {
            // A `Task.sleep` timer wakes its task directly: it leaves the callback queue here.
            let key = Self.callbackKey(e.stream, wakerID)
            if !(st.callbackBegin >= 0 && st.callbackKey == key), let slot = callbackIndex.find(key) {
                callbackIndex.remove(key)
                callbacks.release(slot)
            }
        }
        let slot = slot(id, stream: e.stream, at: t, &observer)
        var task = tasks[slot]
        switch kind {
        case .task: task.wakers.0 += 1
        case .callback: task.wakers.1 += 1
        case .timer: task.wakers.2 += 1
        case .io: task.wakers.3 += 1
        case .thread: task.wakers.4 += 1
        }
        if edge.isSelfWake { task.selfWakes += 1 } else if kind == .task && wakerID != 0 { task.lastWakerTask = wakerID }
        switch task.state {
        case .created, .suspended:
            observer.taskState(TaskStateSlice(task: id, state: task.state, begin: task.since, end: t, site: task.site), model: self)
            if task.state == .suspended { task.suspended += overlap(task.since, t) }
            task.state = .ready
            task.since = t
            task.readyAt = t
            task.pendingWake = edge
        case .running:
            if !task.wokenWhileRunning {
                task.wokenWhileRunning = true
                task.readyAt = t
                task.pendingWake = edge
            }
        case .ready, .done:
            break
        }
        tasks[slot] = task
        observer.wake(edge, model: self)
    }

    func stepBegin<O: TraceObserver>(_ e: TraceEvent, _ s: Int, _ observer: inout O) {
        let t = e.timestamp
        if streams[s].runningSlot >= 0 {
            // The previous step's end was lost: drop that step.
            anomalies += 1
            let old = streams[s].runningSlot
            if tasks[old].state == .running {
                tasks[old].state = .suspended
                tasks[old].since = t
            }
        }
        let id = e.args[0]
        let slot = slot(id, stream: e.stream, at: t, &observer)
        var task = tasks[slot]
        if task.state == .done {
            anomalies += 1
            return
        }
        if task.state != .running {
            observer.taskState(TaskStateSlice(task: id, state: task.state, begin: task.since, end: t, site: task.site), model: self)
        }
        task.stepReadyAt = nil
        task.stepWake = nil
        switch task.state {
        case .ready:
            task.readyWait += overlap(task.since, t)
            task.stepReadyAt = task.readyAt
            task.stepWake = task.pendingWake
        case .suspended:
            task.suspended += overlap(task.since, t)
            task.pendingWake = nil
        case .created: task.pendingWake = nil
        default: break
        }
        task.state = .running
        task.since = t
        task.stream = e.stream
        task.steps += 1
        task.wokeInStep = 0
        task.wokenWhileRunning = false
        task.pendingWake = nil
        tasks[slot] = task
        streams[s].runningSlot = slot
        streams[s].runningTask = id
        streams[s].stepBegin = t
    }

    func stepEnd<O: TraceObserver>(_ e: TraceEvent, _ s: Int, _ chunk: DecodedChunk, _ observer: inout O) {
        let slot = streams[s].runningSlot
        guard slot >= 0, streams[s].runningTask == e.task || e.task == 0 else {
            anomalies += 1
            return
        }
        let t = e.timestamp
        let begin = streams[s].stepBegin
        streams[s].runningSlot = -1
        streams[s].runningTask = 0
        var task = tasks[slot]
        let outcome = StepOutcome(rawValue: UInt8(truncatingIfNeeded: e.args[0])) ?? .suspended
        let suspendSite = st.pointee.sites.intern(stream: e.stream, stringID: e.args[1], chunk: chunk)
        let duration = t - begin
        task.busy += overlap(begin, t)
        if begin >= window.lowerBound && begin < window.upperBound {
            task.stepsInWindow += 1
            if duration > task.maxStep { task.maxStep = duration }
        }
        var record = StepRecord(stream: e.stream, task: task.id, index: task.steps, begin: begin, end: t, outcome: outcome,
                                resumeSite: task.site, suspendSite: suspendSite,
                                readyAt: task.stepReadyAt, wake: task.stepWake, impact: nil)
        if duration >= blockingThreshold {
            record.impact = impact(stream: e.stream, begin: begin, end: t, excluding: task.id)
        }
        observer.taskState(TaskStateSlice(task: task.id, state: .running, begin: begin, end: t, site: task.site), model: self)
        switch outcome {
        case .suspended, .yielded:
            task.site = suspendSite
            if task.wokenWhileRunning {
                // Woken during its own step: it is in the ready queue from the step's end.
                task.state = .ready
                task.readyAt = t
            } else {
                task.state = .suspended
                task.pendingWake = nil
            }
            task.since = t
            task.wokenWhileRunning = false
            tasks[slot] = task
            observer.step(record, model: self)
        case .completed, .failed, .cancelled:
            task.state = .done
            task.since = t
            tasks[slot] = task
            observer.step(record, model: self)
            observer.taskFinished(summary(task, outcome: outcome, finishedAt: t), model: self)
            taskIndex.remove(task.id)
            st.pointee.names[Int(slot)] = ""
            tasks.release(slot)
        }
    }

    /// What was held up while [begin, end) ran on `stream`.
    func impact(stream: UInt32, begin: Int64, end: Int64, excluding: UInt64) -> BlockingImpact {
        var result = BlockingImpact(readyTasks: 0, timersDue: 0, callbacksQueued: 0, maxDelayCausedNanos: 0)
        func waited(_ since: Int64) { result.maxDelayCausedNanos = max(result.maxDelayCausedNanos, end - max(begin, since)) }
        taskIndex.forEach { id, slot in
            let t = tasks[slot]
            guard id != excluding, t.stream == stream, t.state == .ready, t.since <= end else { return }
            result.readyTasks += 1
            waited(t.readyAt)
        }
        callbackIndex.forEach { _, slot in
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

    func callbackScheduled(_ e: TraceEvent, _ s: Int, _ chunk: DecodedChunk) {
        let handle = e.args[0]
        let kind = CallbackKind(rawValue: UInt8(truncatingIfNeeded: e.args[1]))
        let due = e.signed(2)
        let site = st.pointee.sites.intern(stream: e.stream, stringID: e.args[3], chunk: chunk)
        let key = Self.callbackKey(e.stream, handle)
        let isTimer = kind == .later || kind == .at
        let armedBy = streams[s].runningTask
        if let old = callbackIndex.find(key) {
            // A handle rescheduled before it ran: forget the earlier schedule.
            dropCallback(old, key: key)
        }
        let slot = callbacks.allocate(PendingCallback(stream: e.stream, handle: handle, kind: kind, site: site,
                                                      scheduledAt: e.timestamp, due: due,
                                                      readyAt: isTimer ? nil : e.timestamp, armedBy: armedBy))
        callbackIndex.insert(key, slot)
        if isTimer {
            streams[s].timers.push(due, key)
            if armedBy != 0, let t = taskIndex.find(armedBy) { tasks[t].pendingTimers += 1 }
        } else {
            streams[s].queued.append((e.timestamp, key))
            if armedBy != 0, streams[s].runningSlot >= 0, kind == .soon { tasks[streams[s].runningSlot].wokeInStep += 1 }
        }
    }

    func dropCallback(_ slot: Int32, key: UInt64) {
        let c = callbacks[slot]
        if c.readyAt == nil, c.armedBy != 0, let t = taskIndex.find(c.armedBy), tasks[t].pendingTimers > 0 {
            tasks[t].pendingTimers -= 1
        }
        callbackIndex.remove(key)
        callbacks.release(slot)
    }

    func timerFired<O: TraceObserver>(_ e: TraceEvent, _ s: Int, _ observer: inout O) {
        let handle = e.args[0]
        let due = e.signed(1)
        let t = e.timestamp
        let key = Self.callbackKey(e.stream, handle)
        // The loop's heap pops in deadline order: a timer due well before this one that has not
        // fired was cancelled. (The margin absorbs the ns between the loop's clock read and the
        // trace's.)
        while let head = streams[s].timers.min, head.key < due - 1_000_000 {
            streams[s].timers.pop()
            if let slot = callbackIndex.find(head.value), callbacks[slot].readyAt == nil, callbacks[slot].due == head.key {
                dropCallback(slot, key: head.value)
            }
        }
        var site: SiteID = 0
        if let slot = callbackIndex.find(key) {
            site = callbacks[slot].site
            if callbacks[slot].readyAt == nil {
                let armedBy = callbacks[slot].armedBy
                if armedBy != 0, let ts = taskIndex.find(armedBy), tasks[ts].pendingTimers > 0 { tasks[ts].pendingTimers -= 1 }
            }
            callbacks[slot].readyAt = t
            streams[s].queued.append((t, key))
        }
        observer.timer(TimerRecord(stream: e.stream, handle: handle, due: due, fired: t, site: site), model: self)
    }

    func callbackBegin(_ e: TraceEvent, _ s: Int) {
        if streams[s].callbackBegin >= 0 { anomalies += 1 }
        streams[s].callbackKey = Self.callbackKey(e.stream, e.args[0])
        streams[s].callbackBegin = e.timestamp
    }

    func callbackEnd<O: TraceObserver>(_ e: TraceEvent, _ s: Int, _ observer: inout O) {
        let key = Self.callbackKey(e.stream, e.args[0])
        guard streams[s].callbackBegin >= 0, streams[s].callbackKey == key else {
            anomalies += 1
            streams[s].callbackBegin = -1
            return
        }
        let begin = streams[s].callbackBegin
        streams[s].callbackBegin = -1
        var record = CallbackRecord(stream: e.stream, handle: e.args[0], kind: nil, site: 0, scheduledAt: nil,
                                    readyAt: nil, begin: begin, end: e.timestamp, impact: nil)
        if let slot = callbackIndex.find(key) {
            let c = callbacks[slot]
            record.kind = c.kind
            record.site = c.site
            record.scheduledAt = c.scheduledAt
            record.readyAt = c.readyAt
            callbackIndex.remove(key)
            callbacks.release(slot)
        }
        if record.duration >= blockingThreshold {
            record.impact = impact(stream: e.stream, begin: begin, end: e.timestamp, excluding: 0)
        }
        observer.callback(record, model: self)
    }

    // MARK: - Polls

    func pollBegin(_ e: TraceEvent, _ s: Int) {
        streams[s].pollBegin = e.timestamp
        streams[s].pollTimeout = e.signed(0)
        // Everything queued before the previous iteration began has run or was cancelled (the
        // loop runs, each iteration, what was ready when it began).
        let horizon = streams[s].lastPollBegin
        streams[s].lastPollBegin = e.timestamp
        var head = streams[s].queuedHead
        while head < streams[s].queued.count, streams[s].queued[head].readyAt < horizon {
            let key = streams[s].queued[head].key
            if let slot = callbackIndex.find(key), let ready = callbacks[slot].readyAt, ready < horizon {
                callbackIndex.remove(key)
                callbacks.release(slot)
            }
            head += 1
        }
        if head > 4096 && head * 2 > streams[s].queued.count {
            streams[s].queued.removeFirst(head)
            head = 0
        }
        streams[s].queuedHead = head
    }

    func pollEnd<O: TraceObserver>(_ e: TraceEvent, _ s: Int, _ observer: inout O) {
        let begin = streams[s].pollBegin
        guard begin >= 0 else {
            anomalies += 1
            return
        }
        streams[s].pollBegin = -1
        observer.poll(PollRecord(stream: e.stream, begin: begin, end: e.timestamp, timeoutNanos: streams[s].pollTimeout,
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
