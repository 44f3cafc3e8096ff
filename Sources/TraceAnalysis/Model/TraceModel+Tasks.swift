import TraceFormat

extension TraceModel {
    // MARK: - Tasks

    func matches(_ id: UInt64, _ name: String) -> Bool {
        guard let f = taskFilter else { return true }
        return f.matches(id: id, name: name)
    }

    /// A new live task's slot, or -1 when it does not fit `limits.liveStateBytes` (counted; the
    /// events about it are skipped).
    @discardableResult
    func newTask<O: TraceObserver>(_ id: UInt64, parent: UInt64, name: String, site: SiteID, createdAt: Int64?,
                                   stream: UInt32, at time: Int64, _ observer: inout O) -> Int32 {
        let cost = Self.liveCost(taskName: name)
        guard st.pointee.liveBytes + cost <= limits.liveStateBytes else {
            st.pointee.overflow.taskEvents += 1
            return -1
        }
        st.pointee.liveBytes += cost
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

    /// The slot of task `id`, creating it (named `task<ID>`) when its `taskCreate` was lost; -1
    /// when it does not fit the limits.
    @inline(__always)
    func slot<O: TraceObserver>(_ id: UInt64, stream: UInt32, at time: Int64, _ observer: inout O) -> Int32 {
        if let slot = st.pointee.taskIndex.find(id) { return slot }
        return newTask(id, parent: 0, name: "task\(id)", site: 0, createdAt: nil, stream: stream, at: time, &observer)
    }

    func taskCreate<O: TraceObserver>(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ chunk: DecodedChunk, _ observer: inout O) {
        let v = e.taskCreate
        let id = v.task
        let site = st.pointee.sites.intern(stream: e.stream, stringID: v.site, chunk: chunk)
        if let old = st.pointee.taskIndex.find(id) {
            // Seen before its creation record (reordered streams) or an id reused: refresh.
            let name = chunk.text(v.name)
            st.pointee.liveBytes += Self.liveCost(taskName: name) - Self.liveCost(taskName: st.pointee.names[Int(old)])
            st.pointee.names[Int(old)] = name
            let t = tasks.pointer(old)
            t.pointee.parent = v.parent
            t.pointee.createSite = site
            t.pointee.createdAt = e.timestamp
            let sel = matches(id, st.pointee.names[Int(old)])
            if sel && !t.pointee.selected { st.pointee.selectedTasks += 1 }
            t.pointee.selected = sel
            observer.taskCreated(id, at: e.timestamp, model: self)
            return
        }
        newTask(id, parent: v.parent, name: chunk.text(v.name), site: site, createdAt: e.timestamp,
                stream: e.stream, at: e.timestamp, &observer)
    }

    /// Reports `task`'s change from its current state to `to` at `time` (before the record
    /// changes: its state, `since` and site still describe the slice that ends).
    @inline(__always)
    func transition<O: TraceObserver>(_ task: UnsafeMutablePointer<LiveTask>, to: TaskState?, at time: Int64, stream: UInt32,
                                      wake: WakeEdge?, _ observer: inout O) {
        observer.taskTransition(TaskTransition(task: task.pointee.id, stream: stream, at: time, from: task.pointee.state, to: to,
                                               since: task.pointee.since, site: task.pointee.site, wake: wake), model: self)
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
    func taskEntry<O: TraceObserver>(_ e: TraceEvent, _ observer: inout O) {
        let entry = e.taskEntry
        let key = StackTable.StackKey(stream: e.stream, id: entry.stack)
        guard let name = suspendSiteResolver?.entryName(key), let slot = st.pointee.taskIndex.find(entry.task) else { return }
        st.pointee.names[Int(slot)] = name
        let t = tasks.pointer(slot)
        let selected = matches(entry.task, name)
        if selected != t.pointee.selected { st.pointee.selectedTasks += selected ? 1 : -1 }
        t.pointee.selected = selected
        observer.taskCreated(entry.task, at: e.timestamp, model: self)
    }

    func wakeup<O: TraceObserver>(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ observer: inout O) {
        let v = e.wakeup
        let id = v.task
        var t = e.timestamp
        // Woken from another thread: ready since that thread sent the wakeup, not since the loop
        // took it from its inbox (`wakeupSent`, format 1.2).
        let sentAt: Int64? = s.pointee.sentTask == id && s.pointee.sentTask != 0 ? s.pointee.sentAt : nil
        s.pointee.sentTask = 0
        let kind = v.waker ?? .thread
        let wakerID = v.wakerID
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
                releaseCallback(slot, key: key)
            }
        }
        let taskSlot = slot(id, stream: e.stream, at: t, &observer)
        guard taskSlot >= 0 else { return }  // past the limits (counted)
        let task = tasks.pointer(taskSlot)
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
            edge.effective = true
            observer.taskState(TaskStateSlice(task: id, state: task.pointee.state, begin: task.pointee.since, end: t,
                                              site: task.pointee.site), model: self)
            if task.pointee.state == .suspended { endWait(task, at: t, waker: kind, wakerID: wakerID) }
            transition(task, to: .ready, at: t, stream: e.stream, wake: edge, &observer)
            task.pointee.state = .ready
            task.pointee.since = t
            task.pointee.readyAt = t
            task.pointee.pendingWake = edge
        case .running:
            if !task.pointee.wokenWhileRunning {
                edge.effective = true
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
                transition(old, to: .suspended, at: t, stream: e.stream, wake: nil, &observer)
                old.pointee.state = .suspended
                old.pointee.since = t
            }
        }
        let id = e.stepBegin.task
        let slot = slot(id, stream: e.stream, at: t, &observer)
        guard slot >= 0 else {
            // Past the limits: its step is skipped, and so is the `stepEnd` that closes it.
            s.pointee.runningSlot = Self.overLimitSlot
            s.pointee.runningTask = id
            return
        }
        let task = tasks.pointer(slot)
        let state = task.pointee.state
        if state == .done {
            st.pointee.anomalies += 1
            return
        }
        if state != .running {
            observer.taskState(TaskStateSlice(task: id, state: state, begin: task.pointee.since, end: t, site: task.pointee.site), model: self)
            transition(task, to: .running, at: t, stream: e.stream, wake: nil, &observer)
        }
        switch state {
        case .ready:
            task.pointee.readyWait &+= overlap(task.pointee.since, t)
            task.pointee.stepReadyAt = task.pointee.readyAt
            task.pointee.stepWake = task.pointee.pendingWake
        case .suspended:
            endWait(task, at: t, waker: nil, wakerID: 0)
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
            if slot == Self.overLimitSlot {
                st.pointee.overflow.taskEvents += 1
                s.pointee.runningSlot = -1
                s.pointee.runningTask = 0
            } else {
                st.pointee.anomalies += 1
            }
            return
        }
        let t = e.timestamp
        let begin = s.pointee.stepBegin
        s.pointee.runningSlot = -1
        s.pointee.runningTask = 0
        let task = tasks.pointer(slot)
        let outcome = e.stepEnd.outcome ?? .suspended
        var suspendSite = st.pointee.sites.intern(stream: e.stream, stringID: e.stepEnd.site, chunk: chunk)
        // Unmodified code: the resume chain read before the step ended (`suspendStack`).
        if suspendSite == 0 { suspendSite = s.pointee.pendingSuspendSite }
        s.pointee.pendingSuspendSite = 0
        let duration = t - begin
        task.pointee.busy &+= overlap(begin, t)
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
        let next: TaskState
        switch outcome {
        case .suspended, .yielded: next = task.pointee.wokenWhileRunning ? .ready : .suspended
        case .completed, .failed, .cancelled: next = .done
        }
        observer.taskTransition(TaskTransition(task: taskID, stream: e.stream, at: t, from: .running, to: next, since: begin,
                                               site: resumeSite, wake: next == .ready ? task.pointee.pendingWake : nil), model: self)
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
            st.pointee.liveBytes -= Self.liveCost(taskName: st.pointee.names[Int(slot)])
            st.pointee.names[Int(slot)] = ""
            task.pointee.live = false
            st.pointee.tasks.release(slot)
        }
    }

    /// What was held up while [begin, end) ran on `stream`.
    func impact(stream: UInt32, begin: Int64, end: Int64, excluding: UInt64) -> BlockingImpact {
        var result = BlockingImpact(readyTasks: 0, timersDue: 0, callbacksQueued: 0, maxDelayCausedNanos: 0)
        func waited(_ since: Int64) { result.maxDelayCausedNanos = max(result.maxDelayCausedNanos, end - max(begin, since)) }
        st.pointee.delayedTasks.removeAll(keepingCapacity: true)
        forEachLiveTask { _, p in
            let t = p.pointee
            guard t.id != excluding, t.stream == stream, t.state == .ready, t.since <= end else { return }
            result.readyTasks += 1
            st.pointee.delayedTasks.append(t.id)
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
                if c.armedBy != 0 && c.armedBy != excluding && st.pointee.taskIndex.find(c.armedBy) != nil { st.pointee.delayedTasks.append(c.armedBy) }
                waited(c.due)
            }
        }
        if st.pointee.delayedTasks.count > 1 {
            st.pointee.delayedTasks.sort()
            var unique = 0
            for i in st.pointee.delayedTasks.indices where i == 0 || st.pointee.delayedTasks[i] != st.pointee.delayedTasks[i - 1] {
                st.pointee.delayedTasks[unique] = st.pointee.delayedTasks[i]
                unique += 1
            }
            st.pointee.delayedTasks.removeLast(st.pointee.delayedTasks.count - unique)
        }
        return result
    }
}
