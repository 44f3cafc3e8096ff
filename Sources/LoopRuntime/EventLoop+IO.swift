import CLoopTraceShims
import Glibc
import TraceFormat

/// The callbacks watching one descriptor.
struct IORegistration {
    var reader: CallbackHandle?
    var writer: CallbackHandle?

    var events: UInt32 {
        (reader != nil ? UInt32(LT_EPOLLIN) : 0) | (writer != nil ? UInt32(LT_EPOLLOUT) : 0)
    }
}

extension EventLoop {
    /// Calls `callback` on every iteration in which `fd` is readable (level-triggered), until
    /// ``removeReader(_:)``. Replaces an earlier reader of `fd`. Owner thread only.
    /// - Throws: ``SyscallError`` when epoll refuses the descriptor.
    @discardableResult
    public func addReader(_ fd: Int32, file: StaticString = #fileID, line: UInt = #line,
                          function: StaticString = #function, _ callback: @escaping () throws -> Void) throws -> CallbackHandle {
        preconditionOnLoopThread("EventLoop.addReader")
        let handle = makeIOHandle(fd, SourceSite(file: file, line: line, function: function), callback)
        let previous = ioRegistrations[fd]?.reader
        try updateRegistration(fd) { $0.reader = handle }
        previous?.cancelled = true  // it may be queued already: it must not run any more
        return handle
    }

    /// Calls `callback` on every iteration in which `fd` is writable, until
    /// ``removeWriter(_:)``. Replaces an earlier writer of `fd`. Owner thread only.
    /// - Throws: ``SyscallError`` when epoll refuses the descriptor.
    @discardableResult
    public func addWriter(_ fd: Int32, file: StaticString = #fileID, line: UInt = #line,
                          function: StaticString = #function, _ callback: @escaping () throws -> Void) throws -> CallbackHandle {
        preconditionOnLoopThread("EventLoop.addWriter")
        let handle = makeIOHandle(fd, SourceSite(file: file, line: line, function: function), callback)
        let previous = ioRegistrations[fd]?.writer
        try updateRegistration(fd) { $0.writer = handle }
        previous?.cancelled = true
        return handle
    }

    /// Stops watching `fd` for reading. Returns whether a reader was registered.
    @discardableResult
    public func removeReader(_ fd: Int32) -> Bool {
        preconditionOnLoopThread("EventLoop.removeReader")
        guard let handle = ioRegistrations[fd]?.reader else { return false }
        handle.cancelled = true  // it may be queued already: it must not run any more
        try? updateRegistration(fd) { $0.reader = nil }
        return true
    }

    /// Stops watching `fd` for writing. Returns whether a writer was registered.
    @discardableResult
    public func removeWriter(_ fd: Int32) -> Bool {
        preconditionOnLoopThread("EventLoop.removeWriter")
        guard let handle = ioRegistrations[fd]?.writer else { return false }
        handle.cancelled = true
        try? updateRegistration(fd) { $0.writer = nil }
        return true
    }

    private func makeIOHandle(_ fd: Int32, _ site: SourceSite, _ callback: @escaping () throws -> Void) -> CallbackHandle {
        let handle = CallbackHandle(id: state.pointee.makeHandleID(), kind: .soon, deadline: 0, loop: self,
                                    site: site, callback: callback)
        handle.ioDescriptor = fd
        return handle
    }

    private func updateRegistration(_ fd: Int32, _ change: (inout IORegistration) -> Void) throws(SyscallError) {
        guard !isClosed else { throw SyscallError(errno: EBADF, call: "epoll_ctl on a closed loop") }
        let old = ioRegistrations[fd] ?? IORegistration()
        var new = old
        change(&new)
        let op: Int32
        switch (old.events, new.events) {
        case (0, 0): return
        case (0, _): op = Int32(LT_EPOLL_CTL_ADD)
        case (_, 0): op = Int32(LT_EPOLL_CTL_DEL)
        default: op = Int32(LT_EPOLL_CTL_MOD)
        }
        try SyscallError.check(lt_epoll_ctl(epollFD, op, fd, new.events, UInt64(UInt32(bitPattern: fd))),
                               "epoll_ctl(\(op == Int32(LT_EPOLL_CTL_ADD) ? "ADD" : op == Int32(LT_EPOLL_CTL_DEL) ? "DEL" : "MOD"), \(fd))")
        ioRegistrations[fd] = new.events == 0 ? nil : new
        if let tracer = state.pointee.tracer {
            let added = new.events & ~old.events, removed = old.events & ~new.events
            if added != 0 { tracer.ioWait(fd: fd, events: added) }
            if removed != 0 { tracer.ioWaitRemoved(fd: fd, events: removed) }
        }
    }

    /// A descriptor is ready: queue its reader and/or writer.
    func ioReady(fd: Int32, events: UInt32) {
        state.pointee.tracer?.ioReady(fd: fd, events: events)
        guard let registration = ioRegistrations[fd] else { return }
        let failure = UInt32(LT_EPOLLERR) | UInt32(LT_EPOLLHUP)
        if let reader = registration.reader, events & (UInt32(LT_EPOLLIN) | failure) != 0 {
            state.pointee.ready.append(.callback(reader))
        }
        if let writer = registration.writer, events & (UInt32(LT_EPOLLOUT) | failure) != 0 {
            state.pointee.ready.append(.callback(writer))
        }
    }
}
