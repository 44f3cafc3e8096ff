import TraceFormat

/// What the export draws, built from ``TraceModel``'s semantic records: it is one more
/// ``TraceObserver`` on the model, as the reports are, so the export and `report` cannot
/// disagree on steps, callbacks, wakeups, task states or blocking.
///
/// It keeps only what drawing needs on top of the model: each task's lane and the wake flow
/// waiting for its next step, each stream's open step or callback (the wake flows that start in
/// it and the user spans nested in it until it closes), the ready-queue depth and each loop
/// iteration's lag. Every item goes to the sink as soon as it closes.
///
/// Memory follows the live population (tasks, distinct strings), never the trace's length.
struct ExportTimeline<Sink: ExportSink>: TraceObserver {
    var sink: Sink
    var strings = ExportStrings()
    let options: ExportOptions
    var summary = ExportSummary()

    struct TaskInfo {
        var name: Int32
        var lane: Int32 = -1
        var createdAt: Int64
        /// Its steps are shown (`--task`).
        var selected: Bool
        /// Its task track is shown.
        var tracked: Bool
        /// The wake flow waiting for its next step: id (0: none), source thread and time, and
        /// whether the source slice was written.
        var flow: UInt64 = 0
        var flowTid: Int64 = 0
        var flowTime: Int64 = 0
        var flowShown = false
        /// A state slice of it was written (the next is not its lane's first for it).
        var stateWritten = false
        /// Readiness interest it registered in its last step (fd −1: none).
        var ioFD: Int32 = -1
        var ioEvents: UInt32 = 0
    }

    /// The step or callback open on a stream.
    enum Open: Equatable {
        case none
        case step(task: UInt64, begin: Int64)
        case callback(handle: UInt64, begin: Int64)
    }

    struct StreamInfo {
        /// The stream id from the file.
        var id: UInt32
        var tid: Int64
        var announced = false
        var open = Open.none
        /// The open step's incoming wake flow (copied from its task when it began).
        var stepFlow: UInt64 = 0
        var stepFlowTid: Int64 = 0
        var stepFlowTime: Int64 = 0
        var stepFlowShown = false
        /// Effective wakeups made inside the open slice: (task, time).
        var sources: [(task: UInt64, time: Int64)] = []
        /// User spans closed inside the open slice.
        var nested: [ExportNested] = []
        /// The descriptor whose readiness the open callback handled (from its I/O wakeups).
        var callbackFD: Int32 = -1
        var callbackIO: UInt32 = 0
        var iterationStart: Int64 = -1
        var lag: Int64 = 0
        var lastLag: Int64 = -1
    }

    struct Lane {
        var firstTask: UInt64
        var firstName: Int32
        var tasks = 1
        var announced = false
    }

    /// Per-stream state in order of first appearance, indexed through `streamSlots`: stream ids
    /// come from the file and may be as large as 2^32 − 1, so they never size an array.
    var streams: [StreamInfo] = []
    var streamSlots: [UInt32: Int] = [:]
    var lastStream: (id: UInt32, slot: Int) = (0, -1)
    var tasks = IDMap<TaskInfo>()
    /// The task that just finished, for its final step's record.
    var finished: (id: UInt64, info: TaskInfo?) = (0, nil)
    /// ``SiteID`` → ``ExportStrings`` index (−1: not yet interned).
    var siteStrings: [Int32] = [0]
    var suspendedNames: [Int32: Int32] = [:]
    var callbackNames: [Int32: Int32] = [:]
    /// Readiness interest registered per (stream, fd), and the last readiness seen.
    var ioInterest: [UInt64: UInt32] = [:]
    var ioReady: [UInt64: UInt32] = [:]
    var lanes: [Lane] = []
    var freeLanes: [Int32] = []
    var readyDepth = 0
    var nextFlow: UInt64 = 1
    var flowScratch: [UInt64] = []
    /// Tasks that matched `--task` (for its "no such task" error).
    var tasksMatched = 0
    var stallSymbolizer = Symbolizer()
    let stateNames: [Int32]
    let callbackName: Int32
    let allTime: Bool

    /// Synthetic tids of task lanes start here, above any Linux tid (pid_max ≤ 2^22).
    static var laneTidBase: Int64 { 1_000_000_000 }

    init(sink: Sink, options: ExportOptions, pid: Int64, processName: String) {
        self.sink = sink
        self.options = options
        allTime = options.windows.isEmpty
        stateNames = [strings.intern("created"), strings.intern("ready"), strings.intern("running"),
                      strings.intern("suspended")]
        callbackName = strings.intern("callback")
        self.sink.process(pid: pid, name: processName, strings: &strings)
    }

    // MARK: - Filters and limits

    @inline(__always)
    func shown(_ begin: Int64, _ end: Int64) -> Bool {
        if allTime { return true }
        for w in options.windows where (end > w.lowerBound && begin < w.upperBound) || (begin == end && w.contains(begin)) {
            return true
        }
        return false
    }

    /// Takes `n` events from the `--max-events` budget; false (and the export cut) when spent.
    @inline(__always)
    mutating func admit(_ n: Int, at time: Int64) -> Bool {
        if summary.truncated { return false }
        if summary.events + n > options.maxEvents {
            summary.truncated = true
            summary.cutAt = time
            return false
        }
        summary.events += n
        return true
    }

    /// The export string of a model site (a site, a span or mark name).
    @inline(__always)
    mutating func string(_ site: SiteID, _ model: TraceModel) -> Int32 {
        let i = Int(site)
        if i < siteStrings.count, siteStrings[i] >= 0 { return siteStrings[i] }
        if i >= siteStrings.count { siteStrings.append(contentsOf: repeatElement(-1, count: i + 1 - siteStrings.count)) }
        siteStrings[i] = strings.intern(model.site(site))
        return siteStrings[i]
    }

    /// The slot of stream `id` (seen by ``streamSeen(_:threadID:model:)`` first).
    @inline(__always)
    mutating func slot(_ id: UInt32) -> Int {
        if lastStream.slot >= 0 && lastStream.id == id { return lastStream.slot }
        let s: Int
        if let known = streamSlots[id] {
            s = known
        } else {
            s = streams.count
            streamSlots[id] = s
            streams.append(StreamInfo(id: id, tid: Int64(id)))
        }
        lastStream = (id, s)
        return s
    }

    static func ioKey(_ stream: UInt32, _ fd: Int32) -> UInt64 { UInt64(stream) << 32 | UInt64(UInt32(bitPattern: fd)) }

    // MARK: - Streams and tasks

    mutating func streamSeen(_ stream: UInt32, threadID: UInt64, model: TraceModel) {
        let s = slot(stream)
        if threadID != 0 { streams[s].tid = Int64(threadID) }
    }

    mutating func newTask(_ id: UInt64, name: Int32, at time: Int64) -> TaskInfo {
        let text = strings[name]
        let selected = options.taskFilter?.matches(id: id, name: text) ?? true
        let tracked = options.trackedTasks.map { $0.contains(id) } ?? selected
        if selected && options.taskFilter != nil { tasksMatched += 1 }
        var task = TaskInfo(name: name, createdAt: time, selected: selected, tracked: tracked)
        if tracked { task.lane = takeLane(id, name) }
        return task
    }

    mutating func takeLane(_ id: UInt64, _ name: Int32) -> Int32 {
        if let i = freeLanes.indices.min(by: { freeLanes[$0] < freeLanes[$1] }) {
            let lane = freeLanes.remove(at: i)
            lanes[Int(lane)].tasks += 1
            return lane
        }
        lanes.append(Lane(firstTask: id, firstName: name))
        return Int32(lanes.count - 1)
    }

    mutating func taskCreated(_ id: UInt64, at time: Int64, model: TraceModel) {
        let name = strings.intern(model.name(ofTask: id))
        guard var t = tasks[id] else {
            tasks[id] = newTask(id, name: name, at: time)
            return
        }
        // Seen before its creation record (streams reordered, or the record lost): rename.
        t.name = name
        if !t.selected, options.taskFilter?.matches(id: id, name: strings[name]) == true {
            t.selected = true
            tasksMatched += 1
            if options.trackedTasks == nil, t.lane < 0 {
                t.tracked = true
                t.lane = takeLane(id, name)
            }
        }
        tasks[id] = t
    }

    mutating func taskTransition(_ change: TaskTransition, model: TraceModel) {
        let id = change.task
        guard var t = tasks[id] else { return }
        closeState(id, &t, change, model)
        if change.from == .ready, change.to != nil { readyChanged(-1, at: change.at) }
        switch change.to {
        case .ready?:
            readyChanged(1, at: change.at)
            tasks[id] = t
        case .running?:
            let s = slot(change.stream)
            if streams[s].open != .none {
                // The model dropped the open step or callback (its end was lost).
                abandon(s)
            }
            if change.from == .ready { streams[s].lag = max(streams[s].lag, change.at - change.since) }
            streams[s].open = .step(task: id, begin: change.at)
            streams[s].stepFlow = t.flow
            streams[s].stepFlowTid = t.flowTid
            streams[s].stepFlowTime = t.flowTime
            streams[s].stepFlowShown = t.flowShown
            t.flow = 0
            t.ioFD = -1
            tasks[id] = t
        case .done?:
            if t.lane >= 0, change.at - t.createdAt < options.laneReuseBelowNanos { freeLanes.append(t.lane) }
            // Its final step is reported right after this transition.
            finished = (id, t)
            tasks[id] = nil
        case .suspended?, .created?, nil:
            tasks[id] = t
        }
    }

    /// Writes the slice of the state `change` leaves.
    mutating func closeState(_ id: UInt64, _ t: inout TaskInfo, _ change: TaskTransition, _ model: TraceModel) {
        guard t.tracked, t.lane >= 0, change.at > change.since, shown(change.since, change.at) else { return }
        guard admit(1, at: change.since) else { return }
        let lane = Int(t.lane)
        let tid = Self.laneTidBase + Int64(lane)
        if !lanes[lane].announced {
            lanes[lane].announced = true
            sink.thread(tid: tid, name: "Task-\(id) \(strings[t.name])", sortIndex: 1000 + lane, strings: &strings)
        }
        var slice = ExportSlice(kind: .state, tid: tid, begin: change.since, end: change.at)
        slice.task = id
        slice.taskName = t.name
        slice.firstOfTask = !t.stateWritten
        t.stateWritten = true
        slice.state = ExportTaskState(rawValue: change.from.rawValue) ?? .suspended
        if change.from == .suspended {
            let site = change.site == 0 ? 0 : string(change.site, model)
            slice.site = site
            slice.name = site != 0 ? suspendedName(site) : stateNames[Int(ExportTaskState.suspended.rawValue)]
            if let wake = change.wake, wake.wakerKind == .io {
                // Woken by I/O readiness: what it waited for, from the interest it registered
                // (or, when it registered none this time, from what the descriptor was ready for).
                let fd = Int32(truncatingIfNeeded: wake.wakerID)
                slice.fd = fd
                slice.ioEvents = t.ioFD == fd ? t.ioEvents : (ioReady[Self.ioKey(wake.stream, fd)] ?? 0) & 5
            }
        } else {
            slice.name = stateNames[Int(slice.state.rawValue)]
        }
        sink.slice(slice, nested: [], flowsOut: [], delayed: [], strings: &strings)
        summary.states += 1
    }

    mutating func suspendedName(_ site: Int32) -> Int32 {
        if let n = suspendedNames[site] { return n }
        let n = strings.intern("suspended: " + strings[site])
        suspendedNames[site] = n
        return n
    }

    mutating func readyChanged(_ delta: Int, at time: Int64) {
        readyDepth += delta
        if shown(time, time), admit(1, at: time) {
            sink.readyQueue(depth: readyDepth, at: time)
            summary.counters += 1
        }
    }

    /// An effective wakeup of `task`: the start of a flow if a step or callback is open on the
    /// waker's stream.
    mutating func addSource(_ task: UInt64, stream: UInt32, at time: Int64) {
        let s = slot(stream)
        if streams[s].open != .none { streams[s].sources.append((task, time)) }
    }

    mutating func wake(_ edge: WakeEdge, model: TraceModel) {
        summary.wakeups += 1
        if edge.wakerKind == .io {
            let s = slot(edge.stream)
            if case .callback = streams[s].open {
                // Read now: the callback may withdraw its interest (and so its readiness) later.
                let fd = Int32(truncatingIfNeeded: edge.wakerID)
                streams[s].callbackFD = fd
                streams[s].callbackIO = (ioReady[Self.ioKey(edge.stream, fd)] ?? 0) & 5
            }
        }
        // A wakeup that made a difference (the model's `effective`) starts a flow in the slice
        // open on the waker's stream; it replaces any flow the task still waited with.
        guard edge.effective, var t = tasks[edge.task] else { return }
        t.flow = 0
        tasks[edge.task] = t
        addSource(edge.task, stream: edge.stream, at: edge.time)
    }

    mutating func io(_ io: IORecord, model: TraceModel) {
        let key = Self.ioKey(io.stream, io.fd)
        switch io.kind {
        case .wait:
            ioInterest[key, default: 0] |= io.events
            if io.task != 0, var t = tasks[io.task] {
                t.ioFD = io.fd
                t.ioEvents = io.events
                tasks[io.task] = t
            }
        case .removed:
            let left = (ioInterest[key] ?? 0) & ~io.events
            ioInterest[key] = left == 0 ? nil : left
            if left == 0 { ioReady[key] = nil }
        case .ready:
            ioReady[key] = io.events
        }
    }

    // MARK: - Steps and callbacks

    mutating func abandon(_ s: Int) {
        streams[s].open = .none
        streams[s].sources.removeAll(keepingCapacity: true)
        streams[s].nested.removeAll(keepingCapacity: true)
    }

    /// Gives an id to each wake flow that starts inside the slice `[begin, end)` closing on `s`;
    /// a flow needs a source strictly inside its slice, so a zero-length slice starts none.
    mutating func startFlows(_ s: Int, begin: Int64, end: Int64, shown sourceShown: Bool) {
        flowScratch.removeAll(keepingCapacity: true)
        let tid = streams[s].tid
        for src in streams[s].sources {
            guard end > begin, var t = tasks[src.task] else { continue }
            let id = nextFlow
            nextFlow += 1
            t.flow = id
            t.flowTid = tid
            // Inside the slice: the legacy viewer fails an endpoint exactly at a slice's end,
            // and a wakeup sent from another thread is timed before the loop took it.
            t.flowTime = min(max(src.time, begin), end - 1)
            t.flowShown = sourceShown
            tasks[src.task] = t
            if sourceShown { flowScratch.append(id) }
        }
        streams[s].sources.removeAll(keepingCapacity: true)
    }

    mutating func announce(_ s: Int) {
        guard !streams[s].announced else { return }
        streams[s].announced = true
        sink.thread(tid: streams[s].tid, name: "event loop (stream \(streams[s].id), tid \(streams[s].tid))", sortIndex: Int(streams[s].id),
                    strings: &strings)
    }

    /// The nested spans of the closing slice, sorted for nesting (begin, then longest first).
    mutating func takeNested(_ s: Int) -> [ExportNested] {
        var nested = streams[s].nested
        streams[s].nested.removeAll(keepingCapacity: true)
        if nested.count > 1 {
            nested.sort { $0.begin != $1.begin ? $0.begin < $1.begin : $0.end > $1.end }
        }
        return nested
    }

    mutating func step(_ record: StepRecord, model: TraceModel) {
        let s = slot(record.stream)
        guard streams[s].open == .step(task: record.task, begin: record.begin) else { return }
        let st = streams[s]
        streams[s].open = .none
        let info = tasks[record.task] ?? (finished.id == record.task ? finished.info : nil)
        let name = info?.name ?? strings.intern(model.name(ofTask: record.task))
        let show = (info?.selected ?? true) && shown(record.begin, record.end)
        let nested = takeNested(s)
        startFlows(s, begin: record.begin, end: record.end, shown: show)
        guard show else { return }
        let flowIn = st.stepFlow != 0 && st.stepFlowShown && record.end > record.begin
        let events = 1 + nested.count + (flowIn ? 2 : 0)
        guard admit(events, at: record.begin) else { return }
        announce(s)
        var slice = ExportSlice(kind: .step, tid: st.tid, begin: record.begin, end: record.end)
        slice.blocking = record.impact != nil && record.duration >= options.blockingThreshold
        if slice.blocking { slice.stack = stallStack(task: record.task, begin: record.begin, model: model) }
        slice.task = record.task
        slice.taskName = name
        slice.stepIndex = record.index
        // The resume site is the previous step's suspend site and names the task's suspended
        // slice before it: only a blocking step carries it, where it locates the slow code.
        slice.resumeSite = !slice.blocking || record.resumeSite == 0 ? 0 : string(record.resumeSite, model)
        slice.site = record.suspendSite == 0 ? 0 : string(record.suspendSite, model)
        slice.outcome = record.outcome
        if flowIn {
            slice.flowIn = st.stepFlow
            slice.flowInTid = st.stepFlowTid
            slice.flowInTime = st.stepFlowTime
            summary.flows += 1
        }
        summary.steps += 1
        write(slice, nested: nested, model: model) {
            "blocking step: \($0.strings[name]) step #\(record.index) (\(Durations.format(record.duration)))"
        }
    }

    /// Writes a step or callback slice with its nested spans and the flows that start in it;
    /// a blocking one also gets a marker across the process, named by `marker`, and the tasks
    /// it delayed.
    mutating func write(_ slice: ExportSlice, nested: [ExportNested], model: TraceModel, marker: (Self) -> String) {
        sink.slice(slice, nested: nested[...], flowsOut: flowScratch[...], delayed: slice.blocking ? model.delayedTasks[...] : [],
                   strings: &strings)
        summary.spans += nested.count
        guard slice.blocking else { return }
        summary.blocking += 1
        if admit(1, at: slice.begin) {
            sink.marker(name: marker(self) + Self.delayedText(model.delayedTasks), at: slice.begin, strings: &strings)
        }
    }

    /// ", delayed 3 tasks" for a blocking marker ("" when it delayed none).
    static func delayedText(_ tasks: [UInt64]) -> String {
        tasks.isEmpty ? "" : ", delayed \(tasks.count) task\(tasks.count == 1 ? "" : "s")"
    }

    mutating func callbackBegan(handle: UInt64, stream: UInt32, at time: Int64, model: TraceModel) {
        let s = slot(stream)
        if streams[s].open != .none { abandon(s) }
        streams[s].open = .callback(handle: handle, begin: time)
        streams[s].callbackFD = -1
    }

    mutating func callback(_ record: CallbackRecord, model: TraceModel) {
        let s = slot(record.stream)
        guard streams[s].open == .callback(handle: record.handle, begin: record.begin) else { return }
        streams[s].open = .none
        let show = options.taskFilter == nil && shown(record.begin, record.end)
        let nested = takeNested(s)
        startFlows(s, begin: record.begin, end: record.end, shown: show)
        guard show, admit(1 + nested.count, at: record.begin) else { return }
        announce(s)
        var slice = ExportSlice(kind: .callback, tid: streams[s].tid, begin: record.begin, end: record.end)
        slice.handle = record.handle
        slice.site = record.site == 0 ? 0 : string(record.site, model)
        slice.callbackKind = record.kind
        slice.name = slice.site == 0 ? callbackName : callbackName(slice.site)
        slice.fd = streams[s].callbackFD
        slice.ioEvents = streams[s].callbackIO
        slice.blocking = record.impact != nil && record.duration >= options.blockingThreshold
        if slice.blocking { slice.stack = stallStack(task: 0, begin: record.begin, model: model) }
        summary.callbacks += 1
        write(slice, nested: nested, model: model) {
            "blocking callback: \($0.strings[slice.name]) (\(Durations.format(record.duration)))"
        }
    }

    mutating func callbackName(_ site: Int32) -> Int32 {
        if let n = callbackNames[site] { return n }
        let n = strings.intern("callback " + strings[site])
        callbackNames[site] = n
        return n
    }

    // MARK: - User spans and marks

    mutating func span(_ span: SpanRecord, model: TraceModel) {
        switch span.placement {
        case .crossed, .unclosed:
            summary.spansDropped += 1
        case .nested:
            streams[slot(span.stream)].nested.append(ExportNested(name: string(span.name, model), begin: span.begin, end: span.end))
        case .loose:
            guard options.taskFilter == nil, shown(span.begin, span.end), admit(1, at: span.begin) else { return }
            let s = slot(span.stream)
            announce(s)
            var slice = ExportSlice(kind: .span, tid: streams[s].tid, begin: span.begin, end: span.end)
            slice.name = string(span.name, model)
            sink.slice(slice, nested: [], flowsOut: [], delayed: [], strings: &strings)
            summary.spans += 1
        }
    }

    mutating func mark(_ mark: MarkRecord, model: TraceModel) {
        guard shown(mark.at, mark.at), options.taskFilter == nil, admit(1, at: mark.at) else { return }
        let s = slot(mark.stream)
        announce(s)
        sink.mark(tid: streams[s].tid, name: string(mark.name, model), at: mark.at, value: mark.value, strings: &strings)
    }

    mutating func lost(count: UInt64, from: Int64, to: Int64, model: TraceModel) {
        if shown(to, to), admit(1, at: to) {
            sink.marker(name: "recorder lost \(count) events", at: to, strings: &strings)
        }
    }

    // MARK: - Counters and the end

    mutating func timer(_ timer: TimerRecord, model: TraceModel) {
        let s = slot(timer.stream)
        streams[s].lag = max(streams[s].lag, timer.lateness)
    }

    mutating func poll(_ poll: PollRecord, model: TraceModel) {
        let s = slot(poll.stream)
        iterationEnds(s)
        streams[s].iterationStart = poll.end
    }

    /// Writes the loop lag of the iteration that began at the stream's `iterationStart`.
    mutating func iterationEnds(_ s: Int) {
        let start = streams[s].iterationStart
        guard start >= 0 else { return }
        let lag = streams[s].lag
        streams[s].lag = 0
        streams[s].iterationStart = -1
        if lag != streams[s].lastLag, shown(start, start), admit(1, at: start) {
            streams[s].lastLag = lag
            sink.loopLag(nanos: lag, at: start)
            summary.counters += 1
        }
    }

    /// After the model's `finish` (which closed every live task's last slice): the last
    /// iterations, the watchdog's samples, and the names of reused lanes.
    mutating func finish(model: TraceModel) {
        summary.anomalies = Int(model.anomalies)
        summary.eventsRead = model.events
        writeStallSamples(model: model)
        if !summary.truncated {
            for s in streams.indices { iterationEnds(s) }
        }
        for (i, lane) in lanes.enumerated() where lane.tasks > 1 && lane.announced {
            sink.thread(tid: Self.laneTidBase + Int64(i),
                        name: "Tasks lane \(i): Task-\(lane.firstTask) \(strings[lane.firstName]) and \(lane.tasks - 1) more",
                        sortIndex: 1000 + i, strings: &strings)
        }
    }
}

/// Values by 64-bit id: an ``IDTable`` of slots into an array, with freed slots reused. The
/// export looks a task up several times per event, and a `Dictionary` costs a SipHash each time
/// (a fifth of the export's instructions when it was one).
struct IDMap<Value> {
    private var slots = IDTable(capacity: 1024)
    private var values: [Value?] = []
    private var free: [Int32] = []

    subscript(id: UInt64) -> Value? {
        @inline(__always) get { slots.find(id).flatMap { values[Int($0)] } }
        set {
            if let slot = slots.find(id) {
                values[Int(slot)] = newValue
                if newValue == nil {
                    slots.remove(id)
                    free.append(slot)
                }
            } else if let newValue {
                let slot = free.popLast() ?? Int32(values.count)
                if Int(slot) == values.count { values.append(newValue) } else { values[Int(slot)] = newValue }
                slots.insert(id, slot)
            }
        }
    }
}
