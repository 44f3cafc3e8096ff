import TraceFormat

extension TraceModel {
    // MARK: - The pass

    /// Consumes one chunk's events.
    public func consume<O: TraceObserver>(_ chunk: DecodedChunk, into observer: inout O) {
        let events = chunk.events
        guard !events.isEmpty else { return }
        st.pointee.events += UInt64(events.count)
        // Times beyond ±2^61 ns (73 years) come only from a hostile header or chunk: their
        // differences and sums would not fit an Int64 (the fuzzer found traps in the figures and
        // the export). Events of a stream are in time order, so the ends of the chunk decide.
        if events[0].timestamp < -Self.timeLimit || events[events.count - 1].timestamp > Self.timeLimit {
            st.pointee.anomalies += UInt64(events.count)
            return
        }
        let knownStreams = st.pointee.streamCount
        guard let s = stream(chunk.header.stream) else {
            st.pointee.overflow.streamEvents += UInt64(events.count)
            return
        }
        if st.pointee.streamCount != knownStreams {
            observer.streamSeen(chunk.header.stream, threadID: UInt64(chunk.header.threadID), model: self)
        }
        if st.pointee.firstTimestamp == nil || events[0].timestamp < st.pointee.firstTimestamp! {
            st.pointee.firstTimestamp = events[0].timestamp
        }
        // The wire ids, read once per chunk: `EventType`'s static members live in another module,
        // and matching against them costs a lazy-global access per case per event. Ordered by
        // frequency so the common events take one or two compares.
        let stepBegin = EventType.stepBegin.rawValue, stepEnd = EventType.stepEnd.rawValue
        let wakeup = EventType.wakeup.rawValue, pollBegin = EventType.pollBegin.rawValue
        let pollEnd = EventType.pollEnd.rawValue, taskCreate = EventType.taskCreate.rawValue
        let callbackScheduled = EventType.callbackScheduled.rawValue
        let callbackBegin = EventType.callbackBegin.rawValue, callbackEnd = EventType.callbackEnd.rawValue
        let timerFired = EventType.timerFired.rawValue, ioWait = EventType.ioWait.rawValue
        let ioReady = EventType.ioReady.rawValue, ioWaitRemoved = EventType.ioWaitRemoved.rawValue
        let userMark = EventType.userMark.rawValue, userSpanBegin = EventType.userSpanBegin.rawValue
        let userSpanEnd = EventType.userSpanEnd.rawValue
        let loopStart = EventType.loopStart.rawValue, loopStop = EventType.loopStop.rawValue
        let lostEvents = EventType.lostEvents.rawValue
        let taskObserved = EventType.taskObserved.rawValue
        let callbackCancelled = EventType.callbackCancelled.rawValue
        let wakeupSent = EventType.wakeupSent.rawValue
        let taskUntracked = EventType.taskUntracked.rawValue
        let executorSubmit = EventType.executorSubmit.rawValue, executorBegin = EventType.executorBegin.rawValue
        let executorEnd = EventType.executorEnd.rawValue
        let lockAcquired = EventType.lockAcquired.rawValue, lockReleased = EventType.lockReleased.rawValue
        let queueDepth = EventType.queueDepth.rawValue
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
                if e.type.rawValue == stackDef && e.stackDef.kind == .suspendChain {
                    let key = StackTable.StackKey(stream: e.stream, id: e.stackDef.stack)
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
                else if type == callbackBegin { self.callbackBegin(e, s, &observer) }
                else if type == callbackEnd { self.callbackEnd(e, s, &observer) }
                else if type == callbackScheduled { self.callbackScheduled(e, s, chunk) }
                else if type == taskCreate { self.taskCreate(e, s, chunk, &observer) }
                else if type == ioWait || type == ioReady || type == ioWaitRemoved { self.io(e, s, &observer) }
                else if type == userMark || type == userSpanBegin || type == userSpanEnd { self.user(e, s, chunk, &observer) }
                else if type == loopStart || type == loopStop {
                    observer.loop(started: type == loopStart, stream: e.stream, at: e.timestamp, model: self)
                } else if type == lostEvents {
                    let v = e.lostEvents
                    st.pointee.lostEvents += v.count
                    observer.lost(count: v.count, from: v.from, to: v.to, model: self)
                } else if type == taskObserved {
                    observer.taskObserved(e.taskObserved.task, at: e.timestamp, model: self)
                } else if type == callbackCancelled {
                    self.callbackCancelled(e)
                } else if type == taskUntracked {
                    if let slot = st.pointee.taskIndex.find(e.taskUntracked.task) { tasks.pointer(slot).pointee.tracked = false }
                } else if type == wakeupSent {
                    s.pointee.sentTask = e.wakeupSent.task
                    s.pointee.sentAt = e.wakeupSent.sent
                } else if type == suspendStack {
                    s.pointee.pendingSuspendSite = suspendSite(StackTable.StackKey(stream: e.stream, id: e.suspendStack.stack))
                } else if type == taskEntry {
                    self.taskEntry(e, &observer)
                } else if type == taskHandleDropped {
                    if let slot = st.pointee.taskIndex.find(e.taskHandleDropped.task) { tasks.pointer(slot).pointee.handleDropped = true }
                } else if type == executorSubmit {
                    self.executorSubmit(e, chunk, &observer)
                } else if type == executorBegin {
                    self.executorBegin(e)
                } else if type == executorEnd {
                    self.executorEnd(e, &observer)
                } else if type == queueDepth {
                    self.queueDepth(e, s, chunk, &observer)
                } else if type == lockAcquired {
                    self.lockAcquired(e, s, chunk)
                } else if type == lockReleased {
                    self.lockReleased(e, &observer)
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
        st.pointee.unfinishedJobs = finishJobs(&observer)
        finishLocks(&observer)
        var live: [(UInt64, Int32)] = []
        forEachLiveTask { slot, t in live.append((t.pointee.id, slot)) }
        live.sort { $0.0 < $1.0 }
        for (_, slot) in live {
            var t = tasks[slot]
            observer.taskState(TaskStateSlice(task: t.id, state: t.state, begin: t.since, end: max(end, t.since), site: t.site), model: self)
            observer.taskTransition(TaskTransition(task: t.id, stream: t.stream, at: max(end, t.since), from: t.state, to: nil,
                                                   since: t.since, site: t.site, wake: nil), model: self)
            switch t.state {
            case .ready: t.readyWait &+= overlap(t.since, end)
            case .suspended: withUnsafeMutablePointer(to: &t) { endWait($0, at: end, waker: nil, wakerID: 0) }
            case .running: t.busy &+= overlap(t.since, end)
            default: break
            }
            observer.taskFinished(summary(t, outcome: nil, finishedAt: nil), model: self)
        }
    }

    /// The last event time of stream `id` (nil for a stream with no events).
    public func lastTimestamp(ofStream id: UInt32) -> Int64? {
        // By the stream's slot: `streams` is in order of first appearance, not indexed by id.
        guard let slot = st.pointee.streamSlots[id], st.pointee.streams[slot].lastTimestamp != .min else { return nil }
        return st.pointee.streams[slot].lastTimestamp
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
        s.suspendedByReason = [t.suspendedBy.0, t.suspendedBy.1, t.suspendedBy.2, t.suspendedBy.3, t.suspendedBy.4, t.suspendedBy.5]
        s.longestWait = t.longestWait.nanos > 0 ? t.longestWait : nil
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
}
