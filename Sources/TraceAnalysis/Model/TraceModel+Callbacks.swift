import TraceFormat

extension TraceModel {
    // MARK: - Callbacks and timers

    func callbackScheduled(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ chunk: DecodedChunk) {
        let v = e.callbackScheduled
        let handle = v.handle
        let kind = v.kind
        let due = v.due
        let site = st.pointee.sites.intern(stream: e.stream, stringID: v.site, chunk: chunk)
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
        guard st.pointee.liveBytes + Self.callbackCost <= limits.liveStateBytes else {
            st.pointee.overflow.callbacks += 1
            return
        }
        st.pointee.liveBytes += Self.callbackCost
        let slot = st.pointee.callbacks.allocate(PendingCallback(stream: e.stream, handle: handle, kind: kind, site: site,
                                                                 scheduledAt: queuedAt, due: due,
                                                                 readyAt: isTimer ? nil : queuedAt, armedBy: armedBy))
        st.pointee.callbackIndex.insert(key, slot)
        if isTimer {
            if armedBy != 0, let t = st.pointee.taskIndex.find(armedBy) { tasks.pointer(t).pointee.pendingTimers += 1 }
        } else {
            enqueue(s, queuedAt, key)
            if armedBy != 0, s.pointee.runningSlot >= 0, kind == .soon { tasks.pointer(s.pointee.runningSlot).pointee.wokeInStep += 1 }
        }
    }

    /// A callback or timer cancelled before it ran: it no longer holds its stream busy (nor
    /// does a timer keep its arming task from being a lost wakeup). Format 1.1 records every
    /// cancellation; a 1.0 trace's cancelled timers stay pending to the end, which only ever
    /// hides a `lostWakeup`, never invents one.
    func callbackCancelled(_ e: TraceEvent) {
        let key = Self.callbackKey(e.stream, e.callbackCancelled.handle)
        if let slot = st.pointee.callbackIndex.find(key) { dropCallback(slot, key: key) }
    }

    /// Forgets a pending callback: out of the index, its slot free, its cost returned.
    @inline(__always)
    func releaseCallback(_ slot: Int32, key: UInt64) {
        st.pointee.callbackIndex.remove(key)
        st.pointee.callbacks.release(slot)
        st.pointee.liveBytes -= Self.callbackCost
    }

    /// Puts a callback in its stream's ready queue. Entries leave at the next poll; a stream
    /// that never polls (a crafted file) would grow its queue with every callback ever run, so
    /// past a threshold the queue keeps only entries whose callback is still pending there,
    /// which the live-state limit bounds.
    @inline(__always)
    func enqueue(_ s: UnsafeMutablePointer<Stream>, _ readyAt: Int64, _ key: UInt64) {
        s.pointee.queued.append((readyAt, key))
        if s.pointee.queued.count - s.pointee.queuedHead > s.pointee.queueCompactAt { compactQueue(s) }
    }

    func compactQueue(_ s: UnsafeMutablePointer<Stream>) {
        let index = st.pointee.callbackIndex
        let callbacks = self.callbacks
        let kept = s.pointee.queued[s.pointee.queuedHead...].filter { entry in
            guard let slot = index.find(entry.key) else { return false }
            return callbacks[slot].readyAt == entry.readyAt
        }
        s.pointee.queued = kept
        s.pointee.queuedHead = 0
        s.pointee.queueCompactAt = max(Stream.queueCompactMinimum, kept.count * 2)
    }

    func dropCallback(_ slot: Int32, key: UInt64) {
        let c = callbacks[slot]
        if c.readyAt == nil, c.armedBy != 0, let t = st.pointee.taskIndex.find(c.armedBy), tasks[t].pendingTimers > 0 {
            tasks.pointer(t).pointee.pendingTimers -= 1
        }
        releaseCallback(slot, key: key)
    }

    func timerFired<O: TraceObserver>(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ observer: inout O) {
        let handle = e.timerFired.handle
        var due = e.timerFired.due
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
            enqueue(s, t, key)
        }
        observer.timer(TimerRecord(stream: e.stream, handle: handle, due: due, fired: t, site: site), model: self)
    }

    func callbackBegin<O: TraceObserver>(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ observer: inout O) {
        if s.pointee.callbackBegin >= 0 { st.pointee.anomalies += 1 }
        s.pointee.callbackKey = Self.callbackKey(e.stream, e.callbackBegin.handle)
        s.pointee.callbackBegin = e.timestamp
        observer.callbackBegan(handle: e.callbackBegin.handle, stream: e.stream, at: e.timestamp, model: self)
    }

    func callbackEnd<O: TraceObserver>(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>, _ observer: inout O) {
        let handle = e.callbackEnd.handle
        let key = Self.callbackKey(e.stream, handle)
        guard s.pointee.callbackBegin >= 0, s.pointee.callbackKey == key else {
            st.pointee.anomalies += 1
            s.pointee.callbackBegin = -1
            return
        }
        let begin = s.pointee.callbackBegin
        s.pointee.callbackBegin = -1
        var record = CallbackRecord(stream: e.stream, handle: handle, kind: nil, site: 0, scheduledAt: nil,
                                    readyAt: nil, begin: begin, end: e.timestamp, impact: nil)
        if let slot = st.pointee.callbackIndex.find(key) {
            let c = callbacks[slot]
            record.kind = c.kind
            record.site = c.site
            record.scheduledAt = c.scheduledAt
            record.readyAt = c.readyAt
            releaseCallback(slot, key: key)
        }
        if record.duration >= blockingThreshold {
            record.impact = impact(stream: e.stream, begin: begin, end: e.timestamp, excluding: 0)
        }
        observer.callback(record, model: self)
    }

    // MARK: - Polls

    func pollBegin(_ e: TraceEvent, _ s: UnsafeMutablePointer<Stream>) {
        s.pointee.pollBegin = e.timestamp
        s.pointee.pollTimeout = e.pollBegin.timeoutNanos
        // Everything queued before the previous iteration began has run or was cancelled (the
        // loop runs, each iteration, what was ready when it began).
        let horizon = s.pointee.lastPollBegin
        s.pointee.lastPollBegin = e.timestamp
        var head = s.pointee.queuedHead
        while head < s.pointee.queued.count, s.pointee.queued[head].readyAt < horizon {
            let key = s.pointee.queued[head].key
            if let slot = st.pointee.callbackIndex.find(key), let ready = callbacks[slot].readyAt, ready < horizon {
                releaseCallback(slot, key: key)
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
                                 readyCount: Int(e.pollEnd.readyCount)), model: self)
    }
}
