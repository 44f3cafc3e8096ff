import Glibc
import TraceFormat

/// One connected, non-blocking socket shared by a ``LoopStreamReader`` and a
/// ``LoopStreamWriter``: it owns the descriptor and closes it once. Loop thread only.
final class StreamConnection: @unchecked Sendable {
    let loop: EventLoop
    /// The socket; -1 once closed.
    private(set) var fd: Int32
    /// Whether `fd` is a socket (`recv`/`send`); else a pipe (`read`/`write`), which has one
    /// direction only and closes at EOF or at `writeEOF`.
    let isSocket: Bool
    /// Waiters of `waitClosed`.
    private var closeWaiters: [LoopWaiter] = []

    init(loop: EventLoop, fd: Int32, isSocket: Bool = true) {
        self.loop = loop
        self.fd = fd
        self.isSocket = isSocket
    }

    var isClosed: Bool { fd < 0 }

    /// Stops watching the socket and closes it. Idempotent.
    func close() {
        guard fd >= 0 else { return }
        loop.removeReader(fd)
        loop.removeWriter(fd)
        _ = Glibc.close(fd)
        fd = -1
        for waiter in closeWaiters { waiter.wake() }
        closeWaiters.removeAll()
    }

    /// Waits until the socket is closed.
    nonisolated(nonsending) func waitClosed(site: SourceSite) async throws {
        guard fd >= 0 else { return }
        let waiter = LoopWaiter()
        closeWaiters.append(waiter)
        if await waiter.wait(on: loop, site: site) { throw CancellationError() }
    }

    /// Suspends until `fd` is readable (`forWriting` false) or writable, via a one-shot
    /// reader/writer callback that runs as the task's waker (the trace names the descriptor).
    /// - Returns: whether the wait ended in cancellation.
    nonisolated(nonsending) func waitReady(forWriting: Bool, site: SourceSite) async throws(LoopStreamError) -> Bool {
        guard fd >= 0 else { throw .closed }
        let waiter = LoopWaiter()
        let fd = self.fd
        do {
            if forWriting {
                try loop.addWriter(fd) { [loop] in loop.removeWriter(fd); waiter.wake() }
            } else {
                try loop.addReader(fd) { [loop] in loop.removeReader(fd); waiter.wake() }
            }
        } catch {
            throw .system(error as? SyscallError ?? SyscallError(errno: EBADF, call: "epoll_ctl"))
        }
        let cancelled = await waiter.wait(on: loop, site: site)
        if cancelled || waiter.state != .woken, self.fd == fd {
            if forWriting { loop.removeWriter(fd) } else { loop.removeReader(fd) }
        }
        return cancelled
    }
}

/// A new non-blocking, close-on-exec stream socket of `family`.
func makeStreamSocket(family: Int32) throws(LoopStreamError) -> Int32 {
    let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw .from(errno: errno, "socket") }
    if family == AF_INET || family == AF_INET6 {
        // Small writes go out at once: request/response traffic is what loops serve.
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }
    return fd
}
