import Glibc
import TraceFormat

extension EventLoop {
    /// Connects to `host:port` over TCP (IPv4 or IPv6, each resolved address in turn), as
    /// asyncio's `open_connection`.
    ///
    /// The task waits in epoll for the connection to complete (its step ends suspended at
    /// `File.swift:40:openConnection`, and its wakeup names the descriptor).
    /// - Parameters:
    ///   - limit: the reader's limit for `readLine`/`readUntil` (asyncio's 64 KiB by default).
    ///   - highWaterMark: the writer's; `lowWaterMark` is a quarter of it.
    /// - Returns: the connection's reader and writer.
    /// - Throws: ``LoopStreamError/connectionRefused(_:)``, ``LoopStreamError/addressResolution(_:)``,
    ///   ``LoopStreamError/system(_:)``, `CancellationError`.
    nonisolated(nonsending) public func openConnection(host: String, port: Int, limit: Int = 65_536,
                                                       highWaterMark: Int = 65_536, file: StaticString = #fileID,
                                                       line: UInt = #line) async throws -> (LoopStreamReader, LoopStreamWriter) {
        preconditionOnLoopThread("EventLoop.openConnection")
        let site = SourceSite(file: file, line: line, function: "openConnection")
        var lastError = LoopStreamError.addressResolution("\(host):\(port): no address")
        for address in try SocketAddress.resolve(host: host, port: port) {
            do {
                return try await connect(to: address, limit: limit, highWaterMark: highWaterMark, site: site)
            } catch let error as LoopStreamError {
                lastError = error
            }
        }
        throw lastError
    }

    /// Connects to the Unix-domain stream socket at `path` (asyncio's `open_unix_connection`).
    /// - Throws: as ``openConnection(host:port:limit:highWaterMark:file:line:)``.
    nonisolated(nonsending) public func openUnixConnection(path: String, limit: Int = 65_536, highWaterMark: Int = 65_536,
                                                           file: StaticString = #fileID,
                                                           line: UInt = #line) async throws -> (LoopStreamReader, LoopStreamWriter) {
        preconditionOnLoopThread("EventLoop.openUnixConnection")
        return try await connect(to: try SocketAddress.unix(path: path), limit: limit, highWaterMark: highWaterMark,
                                 site: SourceSite(file: file, line: line, function: "openConnection"))
    }

    nonisolated(nonsending) func connect(to address: SocketAddress, limit: Int, highWaterMark: Int,
                                         site: SourceSite) async throws -> (LoopStreamReader, LoopStreamWriter) {
        let fd = try makeStreamSocket(family: address.family)
        let connection = StreamConnection(loop: self, fd: fd)
        do {
            let rc = address.withSockaddr { Glibc.connect(fd, $0, $1) }
            if rc < 0 {
                let code = errno
                guard code == EINPROGRESS || code == EAGAIN else { throw LoopStreamError.from(errno: code, "\(address)") }
                if try await connection.waitReady(forWriting: true, site: site) { throw CancellationError() }
                var soError: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
                if soError != 0 { throw LoopStreamError.from(errno: soError, "\(address)") }
            }
        } catch {
            connection.close()
            throw error
        }
        return (LoopStreamReader(connection: connection, limit: limit),
                LoopStreamWriter(connection: connection, highWaterMark: highWaterMark, lowWaterMark: highWaterMark / 4))
    }

    /// Listens on `host:port` over TCP (every address `host` resolves to: `127.0.0.1`, `::1`,
    /// `localhost`), running `handler` as a loop task per connection, as asyncio's
    /// `start_server`. Port 0 picks a free port (``LoopStreamServer/port``).
    /// - Throws: ``LoopStreamError/addressResolution(_:)``, ``LoopStreamError/system(_:)``
    ///   (address in use, …).
    public func startServer(host: String, port: Int, backlog: Int32 = 128, limit: Int = 65_536,
                            handler: @escaping LoopStreamServer.Handler) throws -> LoopStreamServer {
        preconditionOnLoopThread("EventLoop.startServer")
        var listeners: [Int32] = []
        var boundPort = port
        do {
            for var address in try SocketAddress.resolve(host: host, port: port, passive: true) {
                if boundPort != 0 {
                    // Every address listens on the same port (the one picked for the first).
                    withUnsafeMutableBytes(of: &address.storage) { raw in
                        raw.storeBytes(of: UInt16(boundPort).bigEndian, toByteOffset: 2, as: UInt16.self)
                    }
                }
                let fd = try makeStreamSocket(family: address.family)
                listeners.append(fd)
                var one: Int32 = 1
                _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
                if address.family == AF_INET6 {
                    _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
                }
                try listen(fd, on: address, backlog: backlog)
                if boundPort == 0 { boundPort = SocketAddress.localPort(of: fd) }
            }
            return try LoopStreamServer(loop: self, listeners: listeners, port: boundPort, unixPath: nil, limit: limit, handler: handler)
        } catch {
            for fd in listeners { _ = Glibc.close(fd) }
            throw error
        }
    }

    /// Listens on a Unix-domain stream socket at `path` (asyncio's `start_unix_server`); the
    /// socket file is removed when the server closes.
    /// - Throws: as ``startServer(host:port:backlog:limit:handler:)``.
    public func startUnixServer(path: String, backlog: Int32 = 128, limit: Int = 65_536,
                                handler: @escaping LoopStreamServer.Handler) throws -> LoopStreamServer {
        preconditionOnLoopThread("EventLoop.startUnixServer")
        let address = try SocketAddress.unix(path: path)
        let fd = try makeStreamSocket(family: AF_UNIX)
        do {
            try listen(fd, on: address, backlog: backlog)
            return try LoopStreamServer(loop: self, listeners: [fd], port: 0, unixPath: path, limit: limit, handler: handler)
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    private func listen(_ fd: Int32, on address: SocketAddress, backlog: Int32) throws(LoopStreamError) {
        guard address.withSockaddr({ bind(fd, $0, $1) }) == 0 else { throw .from(errno: errno, "bind(\(address))") }
        guard Glibc.listen(fd, backlog) == 0 else { throw .from(errno: errno, "listen(\(address))") }
    }
}
