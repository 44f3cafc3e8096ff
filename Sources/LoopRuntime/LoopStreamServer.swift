import Glibc
import TraceFormat

/// A listening server started by ``EventLoop/startServer(host:port:backlog:limit:handler:)`` or
/// ``EventLoop/startUnixServer(path:backlog:limit:handler:)``, as asyncio's `Server`.
///
/// Each accepted connection runs the handler as a loop task of its own (named
/// `connection fd N`); the connection is closed when the handler returns or throws. Loop
/// thread only.
public final class LoopStreamServer: @unchecked Sendable {
    /// The handler's signature: the connection's reader and writer.
    public typealias Handler = (LoopStreamReader, LoopStreamWriter) async throws -> Void

    let loop: EventLoop
    /// The listening sockets (one per resolved address); empty once closed.
    private var listeners: [Int32]
    /// The port bound (useful with port 0); 0 for a Unix-domain server.
    public let port: Int
    private let handler: Handler
    private let limit: Int
    private var connections: [ObjectIdentifier: (StreamConnection, AnyLoopFuture)] = [:]
    private var closeWaiters: [LoopWaiter] = []
    private let unixPath: String?

    init(loop: EventLoop, listeners: [Int32], port: Int, unixPath: String?, limit: Int, handler: @escaping Handler) throws(LoopStreamError) {
        self.loop = loop
        self.listeners = listeners
        self.port = port
        self.unixPath = unixPath
        self.limit = limit
        self.handler = handler
        for fd in listeners {
            do {
                // The registration keeps the server alive until `close()`, as asyncio's loop does.
                try loop.addReader(fd) { self.acceptAll(fd) }
            } catch {
                throw .system(error as? SyscallError ?? SyscallError(errno: EBADF, call: "epoll_ctl"))
            }
        }
    }

    /// Whether the server still accepts connections.
    public var isServing: Bool { !listeners.isEmpty }

    /// The connections whose handler is running.
    public var activeConnectionCount: Int { connections.count }

    /// Stops listening (the listening sockets close; connections in progress go on).
    public func close() {
        loop.preconditionOnLoopThread("LoopStreamServer.close")
        for fd in listeners {
            loop.removeReader(fd)
            _ = Glibc.close(fd)
        }
        listeners.removeAll()
        if let unixPath { unlink(unixPath) }
        wakeIfClosed()
    }

    /// Waits until the server is closed and every connection's handler has finished.
    nonisolated(nonsending) public func waitClosed(file: StaticString = #fileID, line: UInt = #line) async throws {
        guard isServing || !connections.isEmpty else { return }
        let waiter = LoopWaiter()
        closeWaiters.append(waiter)
        if await waiter.wait(on: loop, site: SourceSite(file: file, line: line, function: "StreamServer.waitClosed")) {
            throw CancellationError()
        }
    }

    private func wakeIfClosed() {
        guard listeners.isEmpty, connections.isEmpty else { return }
        for waiter in closeWaiters { waiter.wake() }
        closeWaiters.removeAll()
    }

    /// The listening socket is readable: accept every pending connection.
    private func acceptAll(_ listener: Int32) {
        while listeners.contains(listener) {
            // (Glibc's module does not export accept4: two fcntl calls instead.)
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                let code = errno
                if code == EINTR || code == ECONNABORTED { continue }
                if code != EAGAIN, code != EWOULDBLOCK {
                    loop.reportError("LoopStreamServer: accept failed", SyscallError(errno: code, call: "accept4(\(listener))"))
                }
                return
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let connection = StreamConnection(loop: loop, fd: fd)
            let reader = LoopStreamReader(connection: connection, limit: limit)
            let writer = LoopStreamWriter(connection: connection, highWaterMark: 65_536, lowWaterMark: 16_384)
            let handler = self.handler
            let task = loop.createTask(name: "connection fd \(fd)") {
                defer { writer.close() }
                try await handler(reader, writer)
            }
            let key = ObjectIdentifier(connection)
            connections[key] = (connection, task)
            // The server observes each handler's outcome (it reports the error), so the task is
            // not one that nobody awaited.
            _ = task.addDoneCallbackToken(observes: true) { [weak self] in
                if task.state == AnyLoopFuture.State.failed, let error = try? task.error() {
                    self?.loop.reportError("connection handler on fd \(fd) threw", error)
                }
                self?.connections[key] = nil
                self?.wakeIfClosed()
            }
        }
    }
}
