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

    deinit {
        // Dropped without `close()`: no registration holds it any more, so only the descriptor
        // is left to release.
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    /// Stops watching the socket and closes it. Idempotent.
    func close() {
        guard fd >= 0 else { return }
        loop.removeReader(fd)
        loop.removeWriter(fd)
        readerRegistered = false
        drained = false
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

    /// Suspends until `fd` is readable (`forWriting` false) or writable, via a reader/writer
    /// callback that runs as the task's waker (the trace names the descriptor).
    ///
    /// The reader registration stays in place after it fires while reads keep waiting (a
    /// request/response connection then costs no `epoll_ctl` per read); readiness that finds no
    /// waiting read removes it, so a level-triggered descriptor nobody reads does not spin.
    /// - Returns: whether the wait ended in cancellation.
    nonisolated(nonsending) func waitReady(forWriting: Bool, site: SourceSite) async throws(LoopStreamError) -> Bool {
        guard fd >= 0 else { throw .closed }
        let waiter = LoopWaiter()
        let fd = self.fd
        do {
            if forWriting {
                try loop.addWriter(fd) { [loop] in loop.removeWriter(fd); waiter.wake() }
            } else {
                readWaiter = waiter
                if !readerRegistered {
                    // Held strongly while registered (until readiness finds no read waiting).
                    try loop.addReader(fd) { self.readable() }
                    readerRegistered = true
                }
            }
        } catch {
            readWaiter = nil
            throw .system(error as? SyscallError ?? SyscallError(errno: EBADF, call: "epoll_ctl"))
        }
        let cancelled = await waiter.wait(on: loop, site: site)
        if forWriting {
            if waiter.state != .woken, self.fd == fd { loop.removeWriter(fd) }
        } else if readWaiter === waiter {
            readWaiter = nil
        }
        return cancelled
    }

    /// The reader of a waiting read (at most one read waits at a time).
    private var readWaiter: LoopWaiter?
    private var readerRegistered = false
    /// Set when a read emptied the socket while the reader stays registered: the next read
    /// waits for readiness instead of trying `recv` first (one `EAGAIN` syscall less per
    /// request/response; level-triggered epoll reports data that arrived in between).
    var drained = false

    /// The poll count when a read last found the socket empty (see `noteDrained`).
    private var drainedAtPoll: UInt64 = 0

    /// The socket is readable: wake the waiting read, or stop watching if none waits.
    private func readable() {
        // Stale: the task woken by the previous report read the socket empty after this poll
        // reported it (level-triggered epoll repeats a readiness until the data is read, and the
        // task reads one iteration after its wakeup). Waking the read again would cost a step and
        // a recv that finds nothing (an echo round trip paid two of each); data that arrives
        // later is reported by the next poll.
        if drained, drainedAtPoll == loop.state.pointee.polls { return }
        drained = false
        if let waiter = readWaiter {
            readWaiter = nil
            waiter.wake()
        } else if readerRegistered, fd >= 0 {
            readerRegistered = false
            loop.removeReader(fd)
        }
    }

    /// Notes that a read took fewer bytes than it asked for: the socket is empty now.
    func noteDrained() {
        drained = readerRegistered
        drainedAtPoll = loop.state.pointee.polls
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
