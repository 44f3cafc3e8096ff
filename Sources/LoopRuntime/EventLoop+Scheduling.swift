import TraceFormat

extension EventLoop {
    /// Schedules `callback` to run on a later iteration, after every callback and task step
    /// already ready (FIFO).
    ///
    /// Owner thread only; other threads use ``callSoonThreadsafe(file:line:function:_:)``. An error
    /// thrown by the callback goes to ``exceptionHandler`` and the loop carries on.
    /// - Returns: a handle that cancels the call.
    @discardableResult
    public func callSoon(file: StaticString = #fileID, line: UInt = #line, function: StaticString = #function,
                         _ callback: @escaping () throws -> Void) -> CallbackHandle {
        preconditionOnLoopThread("EventLoop.callSoon")
        return scheduleSoon(site: SourceSite(file: file, line: line, function: function), callback)
    }

    /// callSoon with a site already made (done callbacks carry the site they were added at).
    @discardableResult
    func scheduleSoon(site: SourceSite, _ callback: @escaping () throws -> Void) -> CallbackHandle {
        let st = state
        let handle = CallbackHandle(id: st.pointee.makeHandleID(), kind: .soon, deadline: 0, loop: self,
                                    site: site, callback: callback)
        st.pointee.tracer?.callbackScheduled(handle: handle.id, kind: .soon, dueInNanos: 0, site: site)
        st.pointee.ready.append(.callback(handle))
        return handle
    }

    /// Schedules `callback` to run `delay` from now (never earlier).
    ///
    /// Timers run in deadline order, and in scheduling order for equal deadlines. A zero or
    /// negative delay still waits for a later iteration. Owner thread only.
    /// - Returns: a handle that cancels the timer.
    @discardableResult
    public func callLater(_ delay: Duration, file: StaticString = #fileID, line: UInt = #line,
                          function: StaticString = #function, _ callback: @escaping () throws -> Void) -> CallbackHandle {
        preconditionOnLoopThread("EventLoop.callLater")
        return addTimer(deadline: time().addingClamped(delay.nanoseconds), kind: .later,
                        site: SourceSite(file: file, line: line, function: function), callback)
    }

    /// Schedules `callback` to run at `deadline`, a ``time()`` value in nanoseconds.
    /// Owner thread only.
    /// - Returns: a handle that cancels the timer.
    @discardableResult
    public func callAt(_ deadline: Int64, file: StaticString = #fileID, line: UInt = #line,
                       function: StaticString = #function, _ callback: @escaping () throws -> Void) -> CallbackHandle {
        preconditionOnLoopThread("EventLoop.callAt")
        return addTimer(deadline: deadline, kind: .at, site: SourceSite(file: file, line: line, function: function), callback)
    }

    func addTimer(deadline: Int64, kind: CallbackKind, site: SourceSite,
                  _ callback: @escaping () throws -> Void) -> CallbackHandle {
        let st = state
        let handle = CallbackHandle(id: st.pointee.makeHandleID(), kind: kind, deadline: deadline, loop: self,
                                    site: site, callback: callback)
        handle.onHeap = true
        st.pointee.timerSequence &+= 1
        st.pointee.timers.insert(TimerEntry(deadline: deadline, sequence: st.pointee.timerSequence,
                                            payload: .callback(handle)))
        st.pointee.tracer?.callbackScheduled(handle: handle.id, kind: kind, dueInNanos: deadline &- time(), site: site)
        return handle
    }

    /// Schedules `callback` from any thread, waking the loop if it sleeps in its poll.
    ///
    /// Calls from one thread run in the order they were made.
    /// - Returns: a handle; cancel it on the loop thread only.
    @discardableResult
    public func callSoonThreadsafe(file: StaticString = #fileID, line: UInt = #line, function: StaticString = #function,
                                   _ callback: @escaping @Sendable () throws -> Void) -> CallbackHandle {
        let id = EventLoop.threadsafeHandleIDs.loadThenWrappingIncrement(ordering: .relaxed)
        let handle = CallbackHandle(id: id, kind: .threadsafe, deadline: 0, loop: self,
                                    site: SourceSite(file: file, line: line, function: function), callback: callback)
        inbox.append(.callback(handle, sentNanos: tracesForeignThreads ? time() : 0))
        return handle
    }
}

extension Duration {
    /// The duration in whole nanoseconds, clamped to `Int64`.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (ns, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return ns.addingClamped(attoseconds / 1_000_000_000)
    }
}

extension Int64 {
    func addingClamped(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other < 0 ? .min : .max) : sum
    }
}
