import Foundation
import Testing
import TraceFormat
@testable import LoopRuntime
import TraceTestSupport

/// A seeded generator (SplitMix64): the same stream for a seed, printed on failure.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func crc(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { CRC32.checksum($0) } }

/// An echo handler: sends back everything it reads, respecting backpressure, until EOF.
func echoHandler(_ reader: LoopStreamReader, _ writer: LoopStreamWriter) async throws {
    while true {
        let chunk = try await reader.read(max: 65_536)
        if chunk.isEmpty { break }
        try writer.write(chunk)
        try await writer.drain()
    }
}

@Suite("Streams (open_connection, start_server)")
struct StreamTests {
    @Test func aHundredConnectionsEachEchoAMebibyteWithoutLosingAByte() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        let highWater = 16_384
        let maxWrite = 65_536
        let connections = 100
        let size = 1 << 20
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let server = try loop.startServer(host: "127.0.0.1", port: 0, handler: echoHandler)
            let clients = (0..<connections).map { c in
                loop.createTask(name: "client\(c)") { () async throws -> (sent: UInt32, received: UInt32, count: Int, peak: Int, drained: Int) in
                    var random = SeededGenerator(state: seed &+ UInt64(c))
                    var bytes = [UInt8](repeating: 0, count: size)
                    bytes.withUnsafeMutableBytes { raw in
                        for i in 0..<(size / 8) { raw.storeBytes(of: random.next(), toByteOffset: i * 8, as: UInt64.self) }
                    }
                    let payload = bytes
                    let sentCRC = crc(payload)
                    let (reader, writer) = try await loop.openConnection(host: "127.0.0.1", port: server.port, highWaterMark: highWater)
                    let sender = loop.createTask { () async throws -> (Int, Int) in
                        var offset = 0, peak = 0, drained = 0
                        var random = SeededGenerator(state: seed ^ UInt64(c))
                        while offset < size {
                            let n = min(size - offset, Int.random(in: 1...maxWrite, using: &random))
                            try writer.write(payload[offset..<offset + n])
                            offset += n
                            peak = max(peak, writer.bufferedByteCount)
                            try await writer.drain()
                            drained = max(drained, writer.bufferedByteCount)
                        }
                        writer.writeEOF()
                        return (peak, drained)
                    }
                    var received: [UInt8] = []
                    received.reserveCapacity(size)
                    while true {
                        let chunk = try await reader.read()
                        if chunk.isEmpty { break }
                        received += chunk
                    }
                    let (peak, drained) = try await sender.value
                    writer.close()
                    return (sentCRC, crc(received), received.count, peak, drained)
                }
            }
            let results = try await loop.waitFor(timeout: .seconds(120)) { try await loop.gather(clients) }
            for (c, r) in results.enumerated() {
                #expect(r.count == size, "client \(c), seed \(seed)")
                #expect(r.sent == r.received, "client \(c), seed \(seed)")
                // The buffer only exceeds the mark by what one write added above it.
                #expect(r.peak <= highWater + maxWrite, "client \(c)")
                #expect(r.drained <= highWater, "client \(c)")
            }
            server.close()
            try await loop.waitFor(timeout: .seconds(10)) { try await server.waitClosed() }
            #expect(server.activeConnectionCount == 0)
        }
    }

    @Test func linesAndExactReadsWorkOverIPv6() throws {
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let server = try loop.startServer(host: "::1", port: 0) { reader, writer in
                let header = try await reader.readExactly(4)
                try writer.write(header.reversed())
                for try await line in reader.lines { try writer.write("<\(line)>\n") }
            }
            let (reader, writer) = try await loop.openConnection(host: "::1", port: server.port)
            try writer.write("abcdone\r\ntwo\nthree")
            writer.writeEOF()
            #expect(try await reader.readExactly(4) == Array("dcba".utf8))
            #expect(try await reader.readLine() == Array("<one>\n".utf8))
            #expect(try await reader.readUntil(Array(">\n".utf8)) == Array("<two>\n".utf8))
            #expect(try await reader.readLine() == Array("<three>\n".utf8))
            #expect(try await reader.readLine() == [])
            #expect(reader.atEOF)
            writer.close()
            server.close()
            try await server.waitClosed()
        }
    }

    @Test func aServerOnLocalhostListensOnEveryAddressWithOnePort() throws {
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let server = try loop.startServer(host: "localhost", port: 0, handler: echoHandler)
            let addresses = try SocketAddress.resolve(host: "localhost", port: server.port)
            for address in addresses {
                let host = address.family == AF_INET6 ? "::1" : "127.0.0.1"
                let (reader, writer) = try await loop.openConnection(host: host, port: server.port)
                try writer.write("hi \(host)")
                writer.writeEOF()
                #expect(try await reader.readToEOF() == Array("hi \(host)".utf8))
                writer.close()
            }
            server.close()
            try await server.waitClosed()
        }
    }

    @Test func bytesBufferedWhenAHandlerReturnsStillReachThePeer() throws {
        // The handler's writer went away with bytes still buffered: a weakly held writer
        // callback then spun on a writable socket and the bytes never left.
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let size = 8 << 20
            let server = try loop.startServer(host: "127.0.0.1", port: 0) { _, writer in
                try writer.write([UInt8](repeating: 0x5A, count: size))  // far more than the socket takes at once
            }
            let (reader, writer) = try await loop.openConnection(host: "127.0.0.1", port: server.port)
            try await loop.sleep(for: .milliseconds(20))  // the handler returns before we read
            let received = try await loop.waitFor(timeout: .seconds(10)) { try await reader.readToEOF() }
            #expect(received.count == size)
            writer.close()
            server.close()
        }
    }

    @Test func aUnixDomainServerEchoes() throws {
        let path = NSTemporaryDirectory() + "looptrace-unix-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let server = try loop.startUnixServer(path: path, handler: echoHandler)
            let (reader, writer) = try await loop.openUnixConnection(path: path)
            try writer.write("hello over a unix socket")
            writer.writeEOF()
            #expect(try await reader.readToEOF() == Array("hello over a unix socket".utf8))
            writer.close()
            server.close()
            try await server.waitClosed()
        }
        #expect(access(path, F_OK) != 0)  // the socket file is gone
    }

    @Test func connectingWhereNobodyListensIsRefused() throws {
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let server = try loop.startServer(host: "127.0.0.1", port: 0, handler: echoHandler)
            let port = server.port
            server.close()
            await #expect {
                _ = try await loop.openConnection(host: "127.0.0.1", port: port)
            } throws: { error in
                if case LoopStreamError.connectionRefused = error { return true }
                return false
            }
        }
    }

    @Test func aPeerResetIsAConnectionResetError() throws {
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let server = try loop.startServer(host: "127.0.0.1", port: 0) { reader, _ in
                _ = try await reader.readExactly(1)
                // Close with RST rather than FIN.
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(reader.connection.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            }
            let (reader, writer) = try await loop.openConnection(host: "127.0.0.1", port: server.port)
            try writer.write([1])
            await #expect(throws: LoopStreamError.connectionReset) { _ = try await reader.read() }
            // Writing to the reset connection fails too, at once or at the next write.
            await #expect(throws: LoopStreamError.connectionReset) {
                for _ in 0..<100 {
                    try writer.write([UInt8](repeating: 0, count: 1024))
                    try await writer.drain()
                    try await loop.sleep(for: .milliseconds(1))
                }
            }
            writer.close()
            server.close()
        }
    }

    @Test func eofBeforeTheExpectedBytesIsAnIncompleteRead() throws {
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let server = try loop.startServer(host: "127.0.0.1", port: 0) { _, writer in
                try writer.write("partial line")
            }
            let (reader, writer) = try await loop.openConnection(host: "127.0.0.1", port: server.port)
            await #expect(throws: LoopStreamError.incompleteRead(partial: Array("partial line".utf8), expected: 100)) {
                _ = try await reader.readExactly(100)
            }
            #expect(try await reader.read() == [])
            #expect(try await reader.readLine() == [])
            writer.close()
            server.close()
        }
    }

    @Test func aLineLongerThanTheLimitOverrunsAndStaysBuffered() throws {
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let server = try loop.startServer(host: "127.0.0.1", port: 0) { _, writer in
                try writer.write([UInt8](repeating: 0x41, count: 300) + [0x0A])
            }
            let (reader, writer) = try await loop.openConnection(host: "127.0.0.1", port: server.port, limit: 100)
            await #expect(throws: LoopStreamError.limitOverrun(limit: 100)) { _ = try await reader.readLine() }
            #expect(try await reader.readExactly(301).count == 301)
            writer.close()
            server.close()
        }
    }

    @Test func aCancelledReadLosesNoBytes() throws {
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let go = LoopEvent()
            let server = try loop.startServer(host: "127.0.0.1", port: 0) { _, writer in
                try writer.write("12345")
                try await go.wait()
                try writer.write("67890")
            }
            let (reader, writer) = try await loop.openConnection(host: "127.0.0.1", port: server.port)
            let first = loop.createTask { try await reader.readExactly(10) }
            while reader.bufferedByteCount < 5 { try await loop.sleep(for: .milliseconds(1)) }
            first.cancel()
            #expect(await endsCancelled(first))
            go.set()
            #expect(try await reader.readExactly(10) == Array("1234567890".utf8))
            writer.close()
            server.close()
        }
    }

    /// Level-triggered epoll repeats a readiness the woken task has not read yet, and the task
    /// reads one iteration after its wakeup: that stale report woke the read again, which found
    /// nothing, so every echo round trip cost each side two steps and an empty `recv`.
    @Test func aRequestResponseConnectionTakesOneStepPerMessage() throws {
        let path = temporaryTracePath()
        defer { unlink(path) }
        let roundTrips = 200
        try EventLoop.run(trace: .file(path)) {
            let loop = EventLoop.current!
            let server = try loop.startServer(host: "127.0.0.1", port: 0, handler: echoHandler)
            let client = loop.createTask(name: "client") { () async throws -> Void in
                let (reader, writer) = try await loop.openConnection(host: "127.0.0.1", port: server.port)
                for _ in 0..<roundTrips {
                    try writer.write("ping\n")
                    _ = try await reader.readLine()
                }
                writer.close()
            }
            try await client.value()
            server.close()
            try await server.waitClosed()
        }
        let trace = try RecordedTrace(path: path)
        let steps = trace.story.filter { $0.hasPrefix("step client ") }.count
        let ioWakes = trace.story.filter { $0.hasPrefix("wakeup client by io") }.count
        // One step per reply, plus the connect and the first step (a few spare for a reply that
        // arrives in two segments on a loaded machine).
        #expect(steps >= roundTrips && steps <= roundTrips + 10, "client steps: \(steps)")
        #expect(ioWakes <= roundTrips + 8, "client I/O wakeups: \(ioWakes)")
        // One poll per half trip: a poll does not follow the one whose readiness woke the task
        // that reads it (two per half trip before).
        let polls = trace.types.filter { $0 == .pollBegin }.count
        #expect(polls <= 2 * roundTrips + 20, "polls: \(polls) for \(roundTrips) round trips")
    }

    @Test func theEchoTraceShowsIOWaitsAndWakeupsByTheDescriptor() throws {
        let path = temporaryTracePath()
        defer { unlink(path) }
        try EventLoop.run(trace: .file(path)) {
            let loop = EventLoop.current!
            let server = try loop.startServer(host: "127.0.0.1", port: 0, handler: echoHandler)
            let (reader, writer) = try await loop.openConnection(host: "127.0.0.1", port: server.port)
            for _ in 0..<3 {
                try writer.write("ping\n")
                _ = try await reader.readLine()
            }
            writer.close()
            server.close()
            try await server.waitClosed()
        }
        let trace = try RecordedTrace(path: path)
        #expect(trace.types.contains(.ioWait) && trace.types.contains(.ioReady))
        #expect(trace.story.contains { $0.hasPrefix("wakeup main by io") }, "\(trace.story.joined(separator: "\n"))")
        #expect(trace.lines.contains { $0.contains("StreamReader.readUntil") })
    }
}
