import Glibc
import TraceFormat

/// The writing half of a stream connection, as asyncio's `StreamWriter`.
///
/// ``write(_:)`` sends at once what the socket takes and buffers the rest, which the loop sends
/// as the socket becomes writable. ``drain(file:line:)`` is the backpressure point: it waits
/// while more than ``highWaterMark`` bytes are buffered, until at most ``lowWaterMark`` are
/// (asyncio's defaults: 64 KiB and a quarter of it). ``writeEOF()`` half-closes after the
/// buffered bytes; ``close()`` closes the connection once they are sent. Loop thread only.
public final class LoopStreamWriter: @unchecked Sendable {
    let connection: StreamConnection
    /// Above this many buffered bytes, ``drain(file:line:)`` waits.
    public let highWaterMark: Int
    /// ``drain(file:line:)`` waits until no more than this many bytes are buffered.
    public let lowWaterMark: Int
    // loop thread only
    private let buffer = StreamBuffer()
    private var eofRequested = false
    private var closeRequested = false
    private var watching = false
    private var failure: LoopStreamError?
    private var drainWaiters: [LoopWaiter] = []

    init(connection: StreamConnection, highWaterMark: Int, lowWaterMark: Int) {
        self.connection = connection
        self.highWaterMark = highWaterMark
        self.lowWaterMark = lowWaterMark
    }

    /// Bytes written but not yet taken by the socket.
    public var bufferedByteCount: Int { buffer.count }

    /// Whether ``close()`` was called.
    public var isClosing: Bool { closeRequested }

    /// Sends `bytes`, buffering what the socket does not take now. Never waits: call
    /// ``drain(file:line:)`` to respect the high-water mark.
    /// - Throws: ``LoopStreamError/closed`` after `close` or `writeEOF`;
    ///   ``LoopStreamError/connectionReset`` once the peer reset the connection.
    public func write(_ bytes: some Collection<UInt8>) throws(LoopStreamError) {
        connection.loop.preconditionOnLoopThread("LoopStreamWriter.write")
        if let failure { throw failure }
        guard !closeRequested, !eofRequested, !connection.isClosed else { throw .closed }
        if bytes.isEmpty { return }
        if bytes.withContiguousStorageIfAvailable({ buffer.append(UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { buffer.append($0) }
        }
        if !watching { try flush() }
    }

    /// Sends a string's UTF-8 bytes; see ``write(_:)``.
    public func write(_ string: String) throws(LoopStreamError) {
        try write(Array(string.utf8))
    }

    /// Waits while more than ``highWaterMark`` bytes are buffered, until at most
    /// ``lowWaterMark`` are.
    /// - Throws: ``LoopStreamError/connectionReset`` when the peer reset the connection,
    ///   `CancellationError`.
    nonisolated(nonsending) public func drain(file: StaticString = #fileID, line: UInt = #line) async throws {
        if let failure { throw failure }
        guard bufferedByteCount > highWaterMark else { return }
        let waiter = LoopWaiter()
        drainWaiters.append(waiter)
        let cancelled = await waiter.wait(on: connection.loop, site: SourceSite(file: file, line: line, function: "StreamWriter.drain"))
        if let index = drainWaiters.firstIndex(where: { $0 === waiter }) { drainWaiters.remove(at: index) }
        if cancelled { throw CancellationError() }
        if let failure { throw failure }
    }

    /// Half-closes the connection (`shutdown(SHUT_WR)`) once the buffered bytes are sent: the
    /// peer reads EOF, and this side can still read.
    public func writeEOF() {
        connection.loop.preconditionOnLoopThread("LoopStreamWriter.writeEOF")
        eofRequested = true
        if bufferedByteCount == 0, !connection.isClosed { halfClose() }
    }

    /// Closes the connection once the buffered bytes are sent (at once if there are none or
    /// the connection failed). Idempotent.
    public func close() {
        connection.loop.preconditionOnLoopThread("LoopStreamWriter.close")
        closeRequested = true
        if bufferedByteCount == 0 || failure != nil { finishClose() }
    }

    /// Waits until the connection is closed.
    nonisolated(nonsending) public func waitClosed(file: StaticString = #fileID, line: UInt = #line) async throws {
        try await connection.waitClosed(site: SourceSite(file: file, line: line, function: "StreamWriter.waitClosed"))
    }

    /// The peer reads EOF: a socket shuts down its sending side, a pipe closes.
    private func halfClose() {
        if connection.isSocket { _ = shutdown(connection.fd, Int32(SHUT_WR)) } else { connection.close() }
    }

    private func finishClose() {
        connection.close()
        wakeDrainers()
    }

    /// Sends as much as the socket takes; watches for writability while bytes remain.
    private func flush() throws(LoopStreamError) {
        let fd = connection.fd
        guard fd >= 0 else { throw .closed }
        while buffer.count > 0 {
            let pending = buffer.readable
            let sent = connection.isSocket ? send(fd, pending.baseAddress!, pending.count, Int32(MSG_NOSIGNAL))
                : Glibc.write(fd, pending.baseAddress!, pending.count)
            if sent > 0 {
                buffer.skip(sent)
                continue
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { break }
            let error = LoopStreamError.from(errno: code, "send(\(fd))")
            failure = error
            buffer.skip(buffer.count)
            if watching {
                watching = false
                connection.loop.removeWriter(fd)
            }
            wakeDrainers()
            if closeRequested { finishClose() }
            throw error
        }
        if bufferedByteCount <= lowWaterMark { wakeDrainers() }
        if bufferedByteCount > 0 {
            if !watching {
                watching = true
                do {
                    // Held strongly while bytes wait: a writer dropped after `close()` still sends
                    // them (a weak reference left a level-triggered writer spinning on nothing).
                    try connection.loop.addWriter(fd) { try? self.writable() }
                } catch {
                    watching = false
                    throw .system(error as? SyscallError ?? SyscallError(errno: EBADF, call: "epoll_ctl"))
                }
            }
        } else {
            if watching {
                watching = false
                connection.loop.removeWriter(fd)
            }
            if closeRequested {
                finishClose()
            } else if eofRequested {
                halfClose()
            }
        }
    }

    /// The socket became writable (the loop's writer callback).
    private func writable() throws {
        guard !connection.isClosed else { return }
        try flush()
    }

    private func wakeDrainers() {
        for waiter in drainWaiters { waiter.wake() }
    }
}
