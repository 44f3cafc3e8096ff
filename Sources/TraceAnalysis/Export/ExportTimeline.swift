import TraceFormat

/// Rebuilds, from a trace's events in one streaming pass, what the export draws — steps and
/// callbacks on the loop thread with user spans inside, each task's contiguous state slices on a
/// lane, wake flows from the waker's slice to the woken step, blocking markers and the counters —
/// and hands every item to a sink as soon as it closes.
///
/// Why its own small state machine instead of ``TraceModel``'s observer: a flow's source must be
/// the slice *open* at the wakeup (the model reports slices when they close and does not say
/// which callback a timer's wakeup ran in), and the ready-queue counter needs the moment a task
/// enters the ready state, which the observer does not report. See the export notes in the
/// report on issue 5 for the hooks that would let this move onto the model.
///
/// Memory follows the live population (tasks, pending callbacks, distinct strings), never the
/// trace's length. Damage-tolerant: an event that does not fit (a `stepEnd` with no step open,
/// a second `stepBegin`) is counted in ``ExportSummary/anomalies`` and skipped.
struct ExportTimeline<Sink: ExportSink> {
    var sink: Sink
    var strings = ExportStrings()
    let options: ExportOptions
    var summary = ExportSummary()

    struct TaskInfo {
        var name: Int32
        var lane: Int32 = -1
        var state: ExportTaskState = .created
        var since: Int64
        var createdAt: Int64
        /// Where it last suspended: the suspended slice's site and the next step's resume site.
        var site: Int32 = 0
        var readyAt: Int64 = 0
        var steps = 0
        var wokenWhileRunning = false
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
    }

    struct StreamInfo {
        /// The stream id from the file.
        var id: UInt32 = 0
        var tid: Int64 = 0
        var announced = false
        var stepOpen = false
        /// The site of the `suspendStack` just read (a string index, 0 for none): the next
        /// `stepEnd`'s, for unmodified code.
        var pendingSuspendSite: Int32 = 0
        var stepTask: UInt64 = 0
        var stepBegin: Int64 = 0
        var stepIndex = 0
        var stepResume: Int32 = 0
        var stepFlow: UInt64 = 0
        var stepFlowTid: Int64 = 0
        var stepFlowTime: Int64 = 0
        var stepFlowShown = false
        var callbackOpen = false
        var callbackHandle: UInt64 = 0
        var callbackBegin: Int64 = 0
        /// Effective wakeups made inside the open slice: (task, time).
        var sources: [(task: UInt64, time: Int64)] = []
        /// Open user spans: name, begin, the slice serial at the begin, inside a slice.
        var spanStack: [(name: Int32, begin: Int64, serial: UInt64, inSlice: Bool)] = []
        /// User spans closed inside the open slice.
        var nested: [ExportNested] = []
        /// Bumped at every step or callback begin and end: a span whose serial changed crossed
        /// a slice boundary and cannot nest.
        var serial: UInt64 = 0
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
    var tasks: [UInt64: TaskInfo] = [:]
    /// Scheduled callbacks not yet run: key → (site, kind), in two generations: when the young
    /// one fills up it becomes the old one and the previous old one is dropped, so timers that
    /// never fire (cancelled, or pending at the end) cannot grow memory without bound; only the
    /// site names of callbacks scheduled very long before they run are lost.
    var callbacks: [UInt64: (site: Int32, kind: UInt8)] = [:]
    var oldCallbacks: [UInt64: (site: Int32, kind: UInt8)] = [:]
    /// `(stream, string id)` → string index.
    var stringIDs: [UInt64: Int32] = [:]
    var suspendedNames: [Int32: Int32] = [:]
    var callbackNames: [Int32: Int32] = [:]
    var lanes: [Lane] = []
    var freeLanes: [Int32] = []
    var readyDepth = 0
    var nextFlow: UInt64 = 1
    var traceEnd: Int64 = 0
    var flowScratch: [UInt64] = []
    /// Tasks that matched `--task` (for its "no such task" error).
    var tasksMatched = 0
    /// When set, the `collectBlocking` worst blocking steps with the tasks ready while they ran
    /// (the first pass of `--around-blocking`).
    var collectBlocking = 0
    var blockingFindings: [BlockingWindowFinding] = []
    /// The last timer fired (handle, due time): a wakeup by it right after belongs to it.
    var lastTimerFired: (handle: UInt64, due: Int64) = (0, .min)
    /// The watchdog's images, stacks and samples (see `ExportTimeline+Stalls`).
    var stallTable = StackTable()
    var stallSymbolizer = Symbolizer()
    /// Names unmodified code's suspend chains and task entries (`suspendStack`, `taskEntry`).
    let suspendSites = SuspendSiteResolver()
    let stateNames: [Int32]
    let callbackName: Int32
    let allTime: Bool

    /// Synthetic tids of task lanes start here, above any Linux tid (pid_max ≤ 2^22).
    static var laneTidBase: Int64 { 1_000_000_000 }
    /// Pending callbacks per generation.
    static var maxPendingCallbacks: Int { 1 << 16 }

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

    @inline(__always)
    mutating func string(stream: UInt32, id: UInt64, chunk: DecodedChunk) -> Int32 {
        if id == 0 { return 0 }
        let key = (UInt64(stream) << 40) ^ id
        if let i = stringIDs[key] { return i }
        let i = strings.intern(chunk.string(id))
        stringIDs[key] = i
        return i
    }

    // MARK: - The pass

    mutating func consume(_ chunk: DecodedChunk) {
        let events = chunk.events
        guard !events.isEmpty, !summary.truncated else { return }
        summary.eventsRead += UInt64(events.count)
        let id = chunk.header.stream
        let s: Int
        if let slot = streamSlots[id] {
            s = slot
        } else {
            s = streams.count
            streamSlots[id] = s
            streams.append(StreamInfo(id: id))
        }
        if streams[s].tid == 0 {
            streams[s].tid = chunk.header.threadID != 0 ? Int64(chunk.header.threadID) : Int64(id)
        }
        suspendChainDefinitions(events, chunk)
        for e in events {
            switch e.type {
            case .stepBegin: stepBegin(e, s)
            case .stepEnd: stepEnd(e, s, chunk)
            case .wakeup: wakeup(e, s)
            case .taskCreate: taskCreate(e, chunk)
            case .callbackScheduled:
                if callbacks.count >= Self.maxPendingCallbacks {
                    oldCallbacks = callbacks
                    callbacks = [:]
                }
                callbacks[Self.callbackKey(e.stream, e.args[0])] =
                    (string(stream: e.stream, id: e.args[3], chunk: chunk), UInt8(truncatingIfNeeded: e.args[1]))
            case .callbackBegin: callbackBegin(e, s)
            case .callbackEnd: callbackEnd(e, s)
            case .timerFired:
                streams[s].lag = max(streams[s].lag, e.timestamp - e.signed(1))
                lastTimerFired = (e.args[0], e.signed(1))
            case .pollBegin: iterationEnds(s, at: e.timestamp)
            case .pollEnd: streams[s].iterationStart = e.timestamp
            case .userSpanBegin:
                let st = streams[s]
                streams[s].spanStack.append((string(stream: e.stream, id: e.args[0], chunk: chunk), e.timestamp, st.serial,
                                             st.stepOpen || st.callbackOpen))
            case .userSpanEnd: userSpanEnd(e, s, chunk)
            case .userMark:
                if shown(e.timestamp, e.timestamp), options.taskFilter == nil, admit(1, at: e.timestamp) {
                    announce(s)
                    sink.mark(tid: streams[s].tid, name: string(stream: e.stream, id: e.args[0], chunk: chunk),
                              at: e.timestamp, value: e.signed(1), strings: &strings)
                }
            case .lostEvents:
                if shown(e.timestamp, e.timestamp), admit(1, at: e.timestamp) {
                    sink.marker(name: "recorder lost \(e.args[0]) events", at: e.timestamp, strings: &strings)
                }
            case .imageDef, .imageText, .stackDef, .stallSample, .stallEnd, .watchdogStart: stallRecord(e, chunk)
            case .suspendStack: streams[s].pendingSuspendSite = suspendSite(StackTable.StackKey(stream: e.stream, id: e.args[0]))
            case .taskEntry: taskEntry(e)
            default: break
            }
            if summary.truncated { break }
        }
        let last = events[events.count - 1].timestamp
        if last > traceEnd { traceEnd = last }
    }

    static func callbackKey(_ stream: UInt32, _ handle: UInt64) -> UInt64 { handle ^ (UInt64(stream) << 48) }

    // MARK: - Tasks

    mutating func newTask(_ id: UInt64, name: Int32, at time: Int64) -> TaskInfo {
        let text = strings[name]
        let selected = options.taskFilter?.matches(id: id, name: text) ?? true
        let tracked = options.trackedTasks.map { $0.contains(id) } ?? selected
        if selected && options.taskFilter != nil { tasksMatched += 1 }
        var task = TaskInfo(name: name, since: time, createdAt: time, selected: selected, tracked: tracked)
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

    @inline(__always)
    mutating func task(_ id: UInt64, at time: Int64) -> TaskInfo {
        if let t = tasks[id] { return t }
        return newTask(id, name: strings.intern("task\(id)"), at: time)
    }

    mutating func taskCreate(_ e: TraceEvent, _ chunk: DecodedChunk) {
        let id = e.args[0]
        let name = strings.intern(chunk.text(e.args[2]))
        if var t = tasks[id] {
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
            return
        }
        tasks[id] = newTask(id, name: name, at: e.timestamp)
    }

    /// Writes the task's current state slice, ending at `time`.
    mutating func closeState(_ id: UInt64, _ t: inout TaskInfo, at time: Int64) {
        guard t.tracked, t.lane >= 0, time > t.since, shown(t.since, time) else { return }
        guard admit(1, at: t.since) else { return }
        let lane = Int(t.lane)
        let tid = Self.laneTidBase + Int64(lane)
        if !lanes[lane].announced {
            lanes[lane].announced = true
            sink.thread(tid: tid, name: "Task-\(id) \(strings[t.name])", sortIndex: 1000 + lane, strings: &strings)
        }
        var slice = ExportSlice(kind: .state, tid: tid, begin: t.since, end: time)
        slice.task = id
        slice.taskName = t.name
        slice.state = t.state
        slice.site = t.state == .suspended ? t.site : 0
        slice.name = t.state == .suspended && t.site != 0 ? suspendedName(t.site) : stateNames[Int(t.state.rawValue)]
        sink.slice(slice, nested: [], flowsOut: [], strings: &strings)
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

    mutating func wakeup(_ e: TraceEvent, _ s: Int) {
        let id = e.args[0]
        let time = e.timestamp
        if collectBlocking > 0 && e.wakerKind == .timer && e.args[2] == lastTimerFired.handle {
            noteTimerDelayed(id, due: lastTimerFired.due)
        }
        var t = task(id, at: time)
        var effective = false
        switch t.state {
        case .created, .suspended:
            closeState(id, &t, at: time)
            t.state = .ready
            t.since = time
            t.readyAt = time
            effective = true
            readyChanged(1, at: time)
        case .running:
            if !t.wokenWhileRunning {
                t.wokenWhileRunning = true
                effective = true
            }
        case .ready:
            break
        }
        if effective {
            t.flow = 0
            if streams[s].stepOpen || streams[s].callbackOpen { streams[s].sources.append((id, time)) }
        }
        tasks[id] = t
    }

    // MARK: - Steps

    mutating func stepBegin(_ e: TraceEvent, _ s: Int) {
        let time = e.timestamp
        streams[s].pendingSuspendSite = 0
        if streams[s].stepOpen || streams[s].callbackOpen {
            // The previous step's or callback's end was lost: drop it.
            summary.anomalies += 1
            abandonSlice(s)
        }
        let id = e.args[0]
        var t = task(id, at: time)
        if t.state != .running {
            closeState(id, &t, at: time)
            if t.state == .ready {
                readyChanged(-1, at: time)
                streams[s].lag = max(streams[s].lag, time - t.readyAt)
            }
        }
        t.state = .running
        t.since = time
        t.steps += 1
        t.wokenWhileRunning = false
        streams[s].stepOpen = true
        streams[s].stepTask = id
        streams[s].stepBegin = time
        streams[s].stepIndex = t.steps
        streams[s].stepResume = t.site
        streams[s].stepFlow = t.flow
        streams[s].stepFlowTid = t.flowTid
        streams[s].stepFlowTime = t.flowTime
        streams[s].stepFlowShown = t.flowShown
        streams[s].serial &+= 1
        t.flow = 0
        tasks[id] = t
    }

    mutating func abandonSlice(_ s: Int) {
        if streams[s].stepOpen, var t = tasks[streams[s].stepTask], t.state == .running {
            t.state = .suspended
            t.since = streams[s].stepBegin
            tasks[streams[s].stepTask] = t
        }
        streams[s].stepOpen = false
        streams[s].callbackOpen = false
        streams[s].sources.removeAll(keepingCapacity: true)
        streams[s].nested.removeAll(keepingCapacity: true)
        streams[s].serial &+= 1
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
            // The legacy viewer fails an endpoint exactly at a slice's end.
            t.flowTime = min(src.time, end - 1)
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

    mutating func stepEnd(_ e: TraceEvent, _ s: Int, _ chunk: DecodedChunk) {
        guard streams[s].stepOpen, e.task == 0 || e.task == streams[s].stepTask else {
            summary.anomalies += 1
            return
        }
        let time = e.timestamp
        let st = streams[s]
        let id = st.stepTask
        let begin = st.stepBegin
        streams[s].stepOpen = false
        streams[s].serial &+= 1
        var t = task(id, at: begin)
        let outcome = StepOutcome(rawValue: UInt8(truncatingIfNeeded: e.args[0])) ?? .suspended
        var site = string(stream: e.stream, id: e.args[1], chunk: chunk)
        if site == 0 { site = streams[s].pendingSuspendSite }
        streams[s].pendingSuspendSite = 0
        let show = t.selected && shown(begin, time)
        let nested = takeNested(s)
        // The task's own slices first: a self-wake inside this step sets its next flow below.
        closeState(id, &t, at: time)
        switch outcome {
        case .suspended, .yielded:
            t.site = site
            if t.wokenWhileRunning || outcome == .yielded {
                t.state = .ready
                t.readyAt = time
                readyChanged(1, at: time)
            } else {
                t.state = .suspended
            }
            t.since = time
            t.wokenWhileRunning = false
            tasks[id] = t
        case .completed, .failed, .cancelled:
            if t.lane >= 0, time - t.createdAt < options.laneReuseBelowNanos { freeLanes.append(t.lane) }
            tasks[id] = nil
        }
        startFlows(s, begin: begin, end: time, shown: show)
        if collectBlocking > 0, time - begin >= options.blockingThreshold { recordBlocking(id, t.name, begin, time) }
        guard show else { return }
        let flowIn = st.stepFlow != 0 && st.stepFlowShown && time > begin
        let events = 1 + nested.count + (flowIn ? 2 : 0)
        guard admit(events, at: begin) else { return }
        announce(s)
        var slice = ExportSlice(kind: .step, tid: st.tid, begin: begin, end: time)
        slice.blocking = time - begin >= options.blockingThreshold
        if slice.blocking { slice.stack = stallStack(task: id, begin: begin) }
        slice.task = id
        slice.taskName = t.name
        slice.stepIndex = st.stepIndex
        slice.resumeSite = st.stepResume
        slice.site = site
        slice.outcome = outcome
        if flowIn {
            slice.flowIn = st.stepFlow
            slice.flowInTid = st.stepFlowTid
            slice.flowInTime = st.stepFlowTime
            summary.flows += 1
        }
        sink.slice(slice, nested: nested[...], flowsOut: flowScratch[...], strings: &strings)
        summary.steps += 1
        summary.spans += nested.count
        if slice.blocking {
            summary.blocking += 1
            if admit(1, at: begin) {
                sink.marker(name: "blocking step: \(strings[t.name]) step #\(st.stepIndex) (\(Durations.format(time - begin)))",
                            at: begin, strings: &strings)
            }
        }
    }

    mutating func recordBlocking(_ id: UInt64, _ name: Int32, _ begin: Int64, _ end: Int64) {
        let duration = end - begin
        if blockingFindings.count >= collectBlocking, let least = blockingFindings.last, least.duration >= duration { return }
        var finding = BlockingWindowFinding(task: id, taskName: strings[name], begin: begin, end: end, delayed: [], earliestReady: begin)
        // Every task ready when it ended waited for it (the loop runs one thing at a time).
        for (other, t) in tasks where other != id && t.state == .ready {
            finding.delayed.append(other)
            finding.earliestReady = min(finding.earliestReady, t.readyAt)
        }
        finding.delayed.sort()
        let at = blockingFindings.firstIndex { $0.duration < duration } ?? blockingFindings.count
        blockingFindings.insert(finding, at: at)
        if blockingFindings.count > collectBlocking { blockingFindings.removeLast() }
    }

    /// A task woken by a timer that came due while a blocking step ran was delayed by it too,
    /// though it was not yet ready when the step ended.
    mutating func noteTimerDelayed(_ task: UInt64, due: Int64) {
        for i in blockingFindings.indices {
            let f = blockingFindings[i]
            guard task != f.task, due >= f.begin, due < f.end, !f.delayed.contains(task) else { continue }
            blockingFindings[i].delayed.append(task)
            blockingFindings[i].delayed.sort()
        }
    }

    // MARK: - Callbacks and spans

    mutating func callbackBegin(_ e: TraceEvent, _ s: Int) {
        if streams[s].stepOpen || streams[s].callbackOpen {
            summary.anomalies += 1
            abandonSlice(s)
        }
        streams[s].callbackOpen = true
        streams[s].callbackHandle = e.args[0]
        streams[s].callbackBegin = e.timestamp
        streams[s].serial &+= 1
    }

    mutating func callbackEnd(_ e: TraceEvent, _ s: Int) {
        guard streams[s].callbackOpen, streams[s].callbackHandle == e.args[0] else {
            summary.anomalies += 1
            return
        }
        let time = e.timestamp
        let begin = streams[s].callbackBegin
        streams[s].callbackOpen = false
        streams[s].serial &+= 1
        let key = Self.callbackKey(e.stream, e.args[0])
        let info = callbacks.removeValue(forKey: key) ?? oldCallbacks.removeValue(forKey: key)
        let show = options.taskFilter == nil && shown(begin, time)
        let nested = takeNested(s)
        startFlows(s, begin: begin, end: time, shown: show)
        guard show, admit(1 + nested.count, at: begin) else { return }
        announce(s)
        var slice = ExportSlice(kind: .callback, tid: streams[s].tid, begin: begin, end: time)
        slice.handle = e.args[0]
        slice.site = info?.site ?? 0
        slice.callbackKind = info.flatMap { CallbackKind(rawValue: $0.kind) }
        slice.name = slice.site == 0 ? callbackName : callbackName(slice.site)
        slice.blocking = time - begin >= options.blockingThreshold
        if slice.blocking { slice.stack = stallStack(task: 0, begin: begin) }
        sink.slice(slice, nested: nested[...], flowsOut: flowScratch[...], strings: &strings)
        summary.callbacks += 1
        summary.spans += nested.count
        if slice.blocking {
            summary.blocking += 1
            if admit(1, at: begin) {
                sink.marker(name: "blocking callback: \(strings[slice.name]) (\(Durations.format(time - begin)))",
                            at: begin, strings: &strings)
            }
        }
    }

    mutating func callbackName(_ site: Int32) -> Int32 {
        if let n = callbackNames[site] { return n }
        let n = strings.intern("callback " + strings[site])
        callbackNames[site] = n
        return n
    }

    mutating func userSpanEnd(_ e: TraceEvent, _ s: Int, _ chunk: DecodedChunk) {
        let name = string(stream: e.stream, id: e.args[0], chunk: chunk)
        guard let i = streams[s].spanStack.lastIndex(where: { $0.name == name }) else {
            summary.anomalies += 1
            return
        }
        let open = streams[s].spanStack[i]
        let unclosed = streams[s].spanStack.count - 1 - i
        streams[s].spanStack.removeSubrange(i...)
        summary.spansDropped += unclosed
        guard open.serial == streams[s].serial else {
            // Opened in one step and closed in another (or across a step): cannot nest.
            summary.spansDropped += 1
            return
        }
        let span = ExportNested(name: name, begin: open.begin, end: e.timestamp)
        if open.inSlice {
            streams[s].nested.append(span)
        } else if options.taskFilter == nil, shown(span.begin, span.end), admit(1, at: span.begin) {
            announce(s)
            var slice = ExportSlice(kind: .span, tid: streams[s].tid, begin: span.begin, end: span.end)
            slice.name = name
            sink.slice(slice, nested: [], flowsOut: [], strings: &strings)
            summary.spans += 1
        }
    }

    // MARK: - Counters and the end

    mutating func iterationEnds(_ s: Int, at time: Int64) {
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

    /// Closes every live task's last slice at the trace end and names reused lanes.
    mutating func finish() {
        writeStallSamples()
        if !summary.truncated {
            for s in streams.indices { iterationEnds(s, at: traceEnd) }
            for id in tasks.keys.sorted() {
                var t = tasks[id]!
                closeState(id, &t, at: traceEnd)
            }
        }
        for (i, lane) in lanes.enumerated() where lane.tasks > 1 && lane.announced {
            sink.thread(tid: Self.laneTidBase + Int64(i),
                        name: "Tasks lane \(i): Task-\(lane.firstTask) \(strings[lane.firstName]) and \(lane.tasks - 1) more",
                        sortIndex: 1000 + i, strings: &strings)
        }
    }
}
