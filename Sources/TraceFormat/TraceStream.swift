import CLoopTraceShims

/// The recording handle of one emitting thread: one emit function per event kind.
///
/// A `TraceStream` is a pointer-sized value. Each emit reads the clock, checks that the buffer
/// has room and that its flush deadline has not passed (one predictable branch), and stores a raw
/// record: a head word and a word per argument (``RawRecords``; the writer thread encodes them).
/// It never allocates, locks, retains or checks exclusivity; a full
/// buffer goes to the writer thread on the slow path. At the memory cap events are dropped and
/// counted, and a `lostEvents` record follows once there is room again.
///
/// Only the thread that made the stream may use it.
public struct TraceStream: @unchecked Sendable {
    @usableFromInline let state: UnsafeMutablePointer<StreamState>

    init(state: UnsafeMutablePointer<StreamState>) { self.state = state }

    /// The stream id in the trace.
    public var id: UInt32 { state.pointee.streamID }

    /// Reads the clock. (The writer keeps each stream's timestamps in order as it transcodes, so
    /// a counter skewed between cores costs the emit nothing.)
    @inlinable @inline(__always)
    func now() -> UInt64 {
        let mode = state.pointee.clockMode
        return _fastPath(mode == 0) ? lt_ticks() : (mode == 1 ? lt_monotonic_ns() : state.pointee.syntheticTicks)
    }

    /// Sets the time of the next events, in ns, on a recorder made with
    /// ``TraceRecorder/Configuration/syntheticClock``: for trace generators and tests that need
    /// byte-for-byte reproducible timestamps. Ignored otherwise.
    public func setSyntheticTime(nanos: UInt64) {
        state.pointee.syntheticTicks = nanos
    }

    /// Makes room for a raw record of at most `StreamState.maxFixedEvent + extra` bytes.
    @inlinable @inline(__always)
    func begin(_ now: UInt64, extra: Int = 0) -> Bool {
        let s = state
        if _fastPath(now < s.pointee.deadline
                     && UnsafeMutableRawPointer(s.pointee.cursor) + extra <= UnsafeMutableRawPointer(s.pointee.limit)) {
            return true
        }
        return s.pointee.refill(now: now, need: extra)
    }

    /// Makes room for a raw record of at most `StreamState.maxFixedEvent` bytes, without looking
    /// at the flush deadline: for the events that only happen inside a step, a callback or a
    /// poll's aftermath (a wakeup, a step's end), whose opening event (``stepBegin(task:chainedTick:)``,
    /// ``callbackBegin(handle:chainedTick:)``, ``pollEnd(readyCount:)``) checked it. Two instructions fewer
    /// on the most frequent events; the hand-off then waits for the next opening event.
    @inlinable @inline(__always)
    func room(_ now: UInt64) -> Bool {
        let s = state
        if _fastPath(s.pointee.cursor <= s.pointee.limit) { return true }
        return s.pointee.refill(now: now, need: 0)
    }

    /// The interned id of `site` in the current chunk; nil when the event must be dropped.
    ///
    /// The last site used is compared first: a loop's steps mostly suspend where the previous one
    /// did (the same `await` in every player of a ping-pong, every task of a fan-out), and three
    /// compares cost a fifth of the table probe's hash (about 20 instructions).
    @inlinable @inline(__always)
    func site(_ site: SourceSite, _ now: UInt64, extra: Int = 0) -> UInt64? {
        let s = state
        let key = site.internKey
        if _fastPath(key.file == s.pointee.lastSiteFile && key.line == s.pointee.lastSiteLine
                     && key.function == s.pointee.lastSiteFunction) {
            return UInt64(s.pointee.lastSiteID)
        }
        return s.pointee.lookUpSite(site, now: now, need: extra)
    }

    @inlinable @inline(__always)
    func commit(_ p: UnsafeMutablePointer<UInt64>) {
        state.pointee.cursor = p
    }

    // MARK: - Loop

    /// An event loop starts running on this thread.
    @inlinable public func loopStart(loop: UInt64) {
        let t = now()
        guard begin(t) else { return }
        var p = state.pointee.cursor
        p.putHead(.loopStart, t)
        p.putWord(loop)
        commit(p)
    }

    /// The event loop stops.
    @inlinable public func loopStop(loop: UInt64) {
        let t = now()
        guard begin(t) else { return }
        var p = state.pointee.cursor
        p.putHead(.loopStop, t)
        p.putWord(loop)
        commit(p)
    }

    /// The loop is about to wait for I/O or its next timer.
    /// - Parameter timeoutNanos: how long it may wait; -1 for no limit.
    @inlinable @inline(__always) public func pollBegin(timeoutNanos: Int64) {
        let t = now()
        guard begin(t) else { return }
        var p = state.pointee.cursor
        p.putHead(.pollBegin, t)
        p.putWord(timeoutNanos)
        commit(p)
    }

    /// The wait returned with `readyCount` ready descriptors.
    @inlinable @inline(__always) public func pollEnd(readyCount: Int) {
        let t = now()
        guard begin(t) else { return }
        var p = state.pointee.cursor
        p.putHead(.pollEnd, t)
        p.putWord(UInt64(truncatingIfNeeded: readyCount))
        commit(p)
    }

    // MARK: - Tasks

    /// A task is created.
    /// - Parameters:
    ///   - task: its id (non-zero).
    ///   - parent: the creating task's id, 0 for none.
    ///   - name: its name; the first 255 bytes are kept.
    ///   - site: where it was created, when known.
    @inlinable public func taskCreate(task: UInt64, parent: UInt64, name: String, site: SourceSite?) {
        var name = name
        name.withUTF8 { utf8 in
            let length = Swift.min(utf8.count, StreamState.maxNameText)
            let t = now()
            guard begin(t, extra: length + 8) else { return }
            var siteID: UInt64 = 0
            if let site {
                guard let id = self.site(site, t, extra: length + 8) else { return }
                siteID = id
            }
            var p = state.pointee.cursor
            p.putHead(.taskCreate, t)
            p.putWord(task)
            p.putWord(parent)
            p.putText(utf8.baseAddress, count: length)
            p.putWord(siteID)
            commit(p)
        }
    }

    /// A task step starts. The task is this stream's running task until ``stepEnd(_:site:)``.
    /// - Parameter chainedTick: the tick of the step or callback that ended just before, when
    ///   nothing but the loop's dispatch ran since (see ``callbackEnd(handle:)``); 0 reads the
    ///   clock.
    /// - Returns: the tick the step began at, also when the record was dropped (full buffers, a
    ///   failed recording): the loop's watchdog times the step from it.
    @inlinable @inline(__always) @discardableResult public func stepBegin(task: UInt64, chainedTick: UInt64 = 0) -> UInt64 {
        let t = chainedTick != 0 ? chainedTick : now()
        guard begin(t) else { return t }
        var p = state.pointee.cursor
        p.putHead(.stepBegin, t)
        p.putWord(task)
        commit(p)
        return t
    }

    /// The running task's step ends.
    /// - Parameters:
    ///   - outcome: how it ended.
    ///   - site: where it suspended, when known.
    /// - Returns: the tick it ended at (see ``callbackEnd(handle:)``).
    @inlinable @inline(__always) @discardableResult public func stepEnd(_ outcome: StepOutcome, site: SourceSite?) -> UInt64 {
        let t = now()
        guard room(t) else { return t }
        var siteID: UInt64 = 0
        if let site {
            guard let id = self.site(site, t) else { return t }
            siteID = id
        }
        var p = state.pointee.cursor
        p.putHead(.stepEnd, t)
        p.putWord(UInt64(outcome.rawValue))
        p.putWord(siteID)
        commit(p)
        return t
    }

    /// The running task's step ends with the task ready again, by itself (a `sleep(0)`): one
    /// record for `stepEnd(.yielded, site:)` followed by `wakeup(task:waker:wakerID:)` of the
    /// running task by itself, which readers deliver as those two events (format 1.3). Half the
    /// bytes of the pair, and its wakerID, the task id again, is left out.
    /// - Returns: the tick it ended at (see ``callbackEnd(handle:)``).
    @inlinable @inline(__always) @discardableResult public func stepYield(site: SourceSite?) -> UInt64 {
        let t = now()
        guard room(t) else { return t }
        var siteID: UInt64 = 0
        if let site {
            guard let id = self.site(site, t) else { return t }
            siteID = id
        }
        var p = state.pointee.cursor
        p.putHead(.stepYield, t)
        p.putWord(siteID)
        commit(p)
        return t
    }

    /// A task becomes ready.
    /// - Parameters:
    ///   - task: the task made ready.
    ///   - waker: what made it ready.
    ///   - wakerID: the waking task's id, the callback or timer handle, the descriptor, or the
    ///     kernel thread id.
    @inlinable @inline(__always) public func wakeup(task: UInt64, waker: WakerKind, wakerID: UInt64) {
        let t = now()
        guard room(t) else { return }
        var p = state.pointee.cursor
        p.putHead(.wakeup, t)
        p.putWord(task)
        p.putWord(UInt64(waker.rawValue))
        p.putWord(wakerID)
        commit(p)
    }

    /// Something first takes an interest in a task's outcome. Emit it once per task: the
    /// analysis reports tasks that never get one as never awaited.
    @inlinable @inline(__always) public func taskObserved(task: UInt64, how: TaskObservation) {
        let t = now()
        guard room(t) else { return }
        var p = state.pointee.cursor
        p.putHead(.taskObserved, t)
        p.putWord(task)
        p.putWord(UInt64(how.rawValue))
        commit(p)
    }

    /// Another thread made `task` ready `sentInNanos` ago (≤ 0); the loop takes the wakeup from
    /// its inbox now. Emit it just before that task's ``wakeup(task:waker:wakerID:)``, so that
    /// the analysis times the task's ready wait from the send, not from the loop's pickup.
    @inlinable @inline(__always) public func wakeupSent(task: UInt64, sentInNanos: Int64) {
        let t = now()
        guard room(t) else { return }
        var p = state.pointee.cursor
        p.putHead(.wakeupSent, t)
        p.putWord(task)
        p.putWord(sentInNanos)
        commit(p)
    }

    /// The loop cannot see interest in `task`'s outcome: a Swift task it did not create that is
    /// no structured child. Emit it right after the task's ``taskCreate(task:parent:name:site:)``,
    /// so that the analysis does not read a missing ``taskObserved(task:how:)`` as "never awaited".
    @inlinable public func taskUntracked(task: UInt64) {
        let t = now()
        guard begin(t) else { return }
        var p = state.pointee.cursor
        p.putHead(.taskUntracked, t)
        p.putWord(task)
        commit(p)
    }

    // MARK: - Callbacks and timers

    /// A callback is scheduled.
    /// - Parameters:
    ///   - handle: its handle id.
    ///   - kind: soon, later, at or threadsafe.
    ///   - dueInNanos: when it is due, relative to now (0 for soon).
    ///   - site: where it was scheduled.
    @inlinable @inline(__always) public func callbackScheduled(handle: UInt64, kind: CallbackKind, dueInNanos: Int64, site: SourceSite) {
        let t = now()
        guard room(t), let siteID = self.site(site, t) else { return }
        var p = state.pointee.cursor
        p.putHead(.callbackScheduled, t)
        p.putWord(handle)
        p.putWord(UInt64(kind.rawValue))
        p.putWord(dueInNanos)
        p.putWord(siteID)
        commit(p)
    }

    /// A callback starts.
    /// - Parameter chainedTick: as for ``stepBegin(task:chainedTick:)``.
    /// - Returns: the tick it began at, also when the record was dropped (see
    ///   ``stepBegin(task:chainedTick:)``).
    @inlinable @inline(__always) @discardableResult public func callbackBegin(handle: UInt64, chainedTick: UInt64 = 0) -> UInt64 {
        let t = chainedTick != 0 ? chainedTick : now()
        guard begin(t) else { return t }
        var p = state.pointee.cursor
        p.putHead(.callbackBegin, t)
        p.putWord(handle)
        commit(p)
        return t
    }

    /// A callback returns.
    ///
    /// - Returns: the tick it ended at. A loop that starts the next step or callback of its
    ///   ready queue straight away passes it as that one's `chainedTick`: the clock read is the
    ///   largest part of an emit's cost (`rdtsc` takes about 10 ns on this project's machine, as
    ///   much as a hundred stores), and the only work between the two is the loop's dispatch of
    ///   the next item, tens of nanoseconds, which the trace then counts in the next item.
    @inlinable @inline(__always) @discardableResult public func callbackEnd(handle: UInt64) -> UInt64 {
        let t = now()
        guard room(t) else { return t }
        var p = state.pointee.cursor
        p.putHead(.callbackEnd, t)
        p.putWord(handle)
        commit(p)
        return t
    }

    /// A timer fires.
    /// - Parameters:
    ///   - handle: its handle id.
    ///   - dueInNanos: its deadline relative to now: negative by the lateness.
    @inlinable @inline(__always) public func timerFired(handle: UInt64, dueInNanos: Int64) {
        let t = now()
        guard room(t) else { return }
        var p = state.pointee.cursor
        p.putHead(.timerFired, t)
        p.putWord(handle)
        p.putWord(dueInNanos)
        commit(p)
    }

    /// A scheduled callback or timer is cancelled before it runs.
    @inlinable @inline(__always) public func callbackCancelled(handle: UInt64) {
        let t = now()
        guard room(t) else { return }
        var p = state.pointee.cursor
        p.putHead(.callbackCancelled, t)
        p.putWord(handle)
        commit(p)
    }

    // MARK: - I/O and executor

    /// Readiness interest is registered for a descriptor (events: 1 read, 4 write, as epoll).
    @inlinable public func ioWait(fd: Int32, events: UInt32) { fdEvent(.ioWait, fd, events) }

    /// A descriptor is ready.
    @inlinable public func ioReady(fd: Int32, events: UInt32) { fdEvent(.ioReady, fd, events) }

    /// Readiness interest in a descriptor is removed.
    @inlinable public func ioWaitRemoved(fd: Int32, events: UInt32) { fdEvent(.ioWaitRemoved, fd, events) }

    @inlinable func fdEvent(_ type: EventType, _ fd: Int32, _ events: UInt32) {
        let t = now()
        guard begin(t) else { return }
        var p = state.pointee.cursor
        p.putHead(type, t)
        p.putWord(UInt64(UInt32(bitPattern: fd)))
        p.putWord(UInt64(events))
        commit(p)
    }

    /// Work is handed to a thread pool.
    @inlinable public func executorSubmit(job: UInt64, site: SourceSite) {
        let t = now()
        guard begin(t), let siteID = self.site(site, t) else { return }
        var p = state.pointee.cursor
        p.putHead(.executorSubmit, t)
        p.putWord(job)
        p.putWord(siteID)
        commit(p)
    }

    /// A pool thread starts a job (emit it from that thread's own stream).
    @inlinable public func executorBegin(job: UInt64) { jobEvent(.executorBegin, job) }

    /// A pool thread finishes a job.
    @inlinable public func executorEnd(job: UInt64) { jobEvent(.executorEnd, job) }

    @inlinable func jobEvent(_ type: EventType, _ job: UInt64) {
        let t = now()
        guard begin(t) else { return }
        var p = state.pointee.cursor
        p.putHead(type, t)
        p.putWord(job)
        commit(p)
    }

    // MARK: - User marks and spans

    /// Marks a point in time.
    @inlinable public func mark(_ name: StaticString, value: Int64 = 0) {
        let t = now()
        guard begin(t), let nameID = site(SourceSite(name: name), t) else { return }
        var p = state.pointee.cursor
        p.putHead(.userMark, t)
        p.putWord(nameID)
        p.putWord(value)
        commit(p)
    }

    /// Opens a span; close it with ``spanEnd(_:)`` on the same thread.
    @inlinable public func spanBegin(_ name: StaticString) { span(.userSpanBegin, name) }

    /// Closes the innermost span of that name.
    @inlinable public func spanEnd(_ name: StaticString) { span(.userSpanEnd, name) }

    @inlinable func span(_ type: EventType, _ name: StaticString) {
        let t = now()
        guard begin(t), let nameID = site(SourceSite(name: name), t) else { return }
        var p = state.pointee.cursor
        p.putHead(type, t)
        p.putWord(nameID)
        commit(p)
    }

    // MARK: - Flushing

    /// Nanoseconds until this stream's buffer is due for hand-over; `Int64.max` when it holds
    /// nothing. An event loop caps its poll timeout to this, so that an idle loop still gets its
    /// events to disk within the flush interval.
    public var nanosUntilFlush: Int64 {
        let s = state.pointee
        guard s.buffer != nil else { return .max }
        let now = self.now()
        guard now < s.deadline else { return 0 }
        return Int64(Double(s.deadline - now) * s.nanosPerTick) + 1
    }

    /// Hands the partial buffer to the writer thread now.
    public func flush() {
        state.pointee.handOver()
    }

    /// Events this stream dropped at the memory cap so far.
    public var droppedEvents: UInt64 { state.pointee.droppedTotal }
}
