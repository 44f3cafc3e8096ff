import Glibc
import TraceFormat

/// The reading half of a stream connection, as asyncio's `StreamReader`.
///
/// Data is read from the socket into the reader's buffer when a read needs more (the task then
/// waits in epoll for the socket to become readable: its wakeup in the trace names the
/// descriptor), and taken out of the buffer only when the read completes. So a read cancelled
/// while it waits loses no byte: what arrived stays buffered for the next read.
/// Loop thread only.
public final class LoopStreamReader: @unchecked Sendable {
    let connection: StreamConnection
    /// The most bytes `readLine`/`readUntil` look through for their separator (asyncio's
    /// `limit`, 64 KiB by default).
    public let limit: Int
    // loop thread only
    private let buffer = StreamBuffer(capacity: 65_536)
    private var eof = false
    private var failure: LoopStreamError?

    init(connection: StreamConnection, limit: Int) {
        self.connection = connection
        self.limit = limit
    }

    /// Whether the peer closed its side and every byte has been read.
    public var atEOF: Bool { eof && buffer.count == 0 }

    /// Bytes received but not read yet.
    public var bufferedByteCount: Int { buffer.count }

    /// Up to `max` bytes: what is buffered, or else what the next arrival brings. Empty at EOF.
    /// - Throws: ``LoopStreamError/connectionReset``, `CancellationError`.
    nonisolated(nonsending) public func read(max: Int = 65_536, file: StaticString = #fileID, line: UInt = #line) async throws -> [UInt8] {
        precondition(max > 0, "LoopStreamReader.read(max:) needs max > 0")
        if bufferedByteCount == 0, !eof {
            try await fill(site: SourceSite(file: file, line: line, function: "StreamReader.read"))
        }
        return take(min(max, bufferedByteCount))
    }

    /// Exactly `count` bytes.
    /// - Throws: ``LoopStreamError/incompleteRead(partial:expected:)`` at EOF before `count`
    ///   bytes (the partial bytes are consumed), ``LoopStreamError/connectionReset``,
    ///   `CancellationError` (nothing consumed).
    nonisolated(nonsending) public func readExactly(_ count: Int, file: StaticString = #fileID, line: UInt = #line) async throws -> [UInt8] {
        let site = SourceSite(file: file, line: line, function: "StreamReader.readExactly")
        while bufferedByteCount < count {
            if eof { throw LoopStreamError.incompleteRead(partial: take(bufferedByteCount), expected: count) }
            try await fill(site: site)
        }
        return take(count)
    }

    /// The bytes up to and including the next `separator`.
    /// - Throws: ``LoopStreamError/incompleteRead(partial:expected:)`` at EOF without the
    ///   separator (the partial bytes are consumed); ``LoopStreamError/limitOverrun(limit:)``
    ///   when `limit` bytes hold no separator (the bytes stay buffered).
    nonisolated(nonsending) public func readUntil(_ separator: [UInt8] = [0x0A], file: StaticString = #fileID,
                                                  line: UInt = #line) async throws -> [UInt8] {
        precondition(!separator.isEmpty, "LoopStreamReader.readUntil needs a non-empty separator")
        let site = SourceSite(file: file, line: line, function: "StreamReader.readUntil")
        var searched = 0
        while true {
            if let end = buffer.find(separator, from: searched) {
                if end > limit { throw LoopStreamError.limitOverrun(limit: limit) }
                return take(end)
            }
            if bufferedByteCount > limit { throw LoopStreamError.limitOverrun(limit: limit) }
            if eof { throw LoopStreamError.incompleteRead(partial: take(bufferedByteCount), expected: nil) }
            searched = max(0, buffer.count - separator.count + 1)
            try await fill(site: site)
        }
    }

    /// The next line including its `\n`; at EOF, the rest without one, or empty (asyncio's
    /// `readline`).
    /// - Throws: ``LoopStreamError/limitOverrun(limit:)``, ``LoopStreamError/connectionReset``,
    ///   `CancellationError`.
    nonisolated(nonsending) public func readLine(file: StaticString = #fileID, line: UInt = #line) async throws -> [UInt8] {
        do {
            return try await readUntil([0x0A], file: file, line: line)
        } catch LoopStreamError.incompleteRead(let partial, _) {
            return partial
        }
    }

    /// Everything until EOF.
    nonisolated(nonsending) public func readToEOF(file: StaticString = #fileID, line: UInt = #line) async throws -> [UInt8] {
        let site = SourceSite(file: file, line: line, function: "StreamReader.read")
        while !eof { try await fill(site: site) }
        return take(bufferedByteCount)
    }

    /// The lines until EOF, as strings without their line terminator (`\n` or `\r\n`).
    public var lines: Lines { Lines(reader: self) }

    /// The lines of a ``LoopStreamReader``, until EOF.
    public struct Lines: AsyncSequence {
        /// A line without its terminator (invalid UTF-8 repaired).
        public typealias Element = String
        let reader: LoopStreamReader

        /// Starts reading lines.
        public func makeAsyncIterator() -> Iterator { Iterator(reader: reader) }

        /// Reads one line per `next()`.
        public struct Iterator: AsyncIteratorProtocol {
            let reader: LoopStreamReader

            /// The next line, nil at EOF.
            public mutating func next() async throws -> String? {
                var bytes = try await reader.readLine()
                if bytes.isEmpty { return nil }
                if bytes.last == 0x0A { bytes.removeLast() }
                if bytes.last == 0x0D { bytes.removeLast() }
                return String(decoding: bytes, as: UTF8.self)
            }
        }
    }

    // MARK: Buffer

    private func take(_ count: Int) -> [UInt8] { buffer.take(count) }

    /// Reads what the socket has into the buffer, waiting for readability first if it has
    /// nothing. Sets `eof` on the peer's FIN.
    nonisolated(nonsending) private func fill(site: SourceSite) async throws {
        if let failure { throw failure }
        while !eof {
            let fd = connection.fd
            guard fd >= 0 else { throw LoopStreamError.closed }
            if connection.drained {
                if try await connection.waitReady(forWriting: false, site: site) { throw CancellationError() }
                continue
            }
            let chunk = 65_536
            let received = connection.isSocket ? recv(fd, buffer.reserve(chunk), chunk, 0) : Glibc.read(fd, buffer.reserve(chunk), chunk)
            let code = errno
            if received > 0 {
                buffer.commit(received)
                if received < chunk { connection.noteDrained() }
                return
            }
            if received == 0 {
                eof = true
                // A pipe has nothing more to give: release its descriptor now.
                if !connection.isSocket { connection.close() }
                return
            }
            switch code {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                if try await connection.waitReady(forWriting: false, site: site) { throw CancellationError() }
            default:
                let error = LoopStreamError.from(errno: code, "recv(\(fd))")
                failure = error
                throw error
            }
        }
    }
}
