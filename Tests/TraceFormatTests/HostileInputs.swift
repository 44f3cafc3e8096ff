import Foundation
@testable import TraceFormat

/// A trace taken apart: its header and its chunks, to be changed and put back together.
struct RawTrace {
    var header: TraceHeader
    var chunks: [(header: ChunkHeader, payload: [UInt8])]
    /// Whether to end with the closing chunk (1.2).
    var closing = true

    /// Takes apart a file whose chunks are all intact.
    init(_ bytes: [UInt8]) throws {
        let (header, length) = try bytes.withUnsafeBytes { try TraceHeader.decode($0, path: "sample") }
        self.header = header
        chunks = []
        var offset = length
        while offset < bytes.count {
            let h = try bytes.withUnsafeBytes { try ChunkHeader.decode($0.baseAddress! + offset, offset: Int64(offset), minor: header.minorVersion) }
            let start = offset + ChunkHeader.size
            let end = start + Int(h.compressedLength)
            if h.stream != ChunkHeader.closingStream { chunks.append((h, Array(bytes[start..<end]))) }
            offset = end
        }
    }

    /// The same trace as format 1.2: the current schema, a flush interval, sequence numbers, the
    /// closing chunk and the closed flag.
    func upgraded() -> RawTrace {
        var t = self
        t.header.minorVersion = 2
        t.header.schema = TraceHeader.currentSchema
        t.header.flushIntervalNanos = 100_000_000
        var next: [UInt32: UInt32] = [:]
        for i in t.chunks.indices {
            t.chunks[i].header.sequence = next[t.chunks[i].header.stream, default: 0]
            next[t.chunks[i].header.stream, default: 0] += 1
        }
        return t
    }

    /// The file's bytes. The closed flag is set exactly when `closing` is (a file cut short
    /// afterwards keeps the flag).
    func bytes(closedFlag: Bool? = nil) -> [UInt8] {
        var h = header
        h.closedCleanly = closedFlag ?? closing
        var out = h.encode()
        var counts: [UInt32: UInt32] = [:]
        var lastTick: UInt64 = 0
        for (c, payload) in chunks {
            var raw = [UInt8](repeating: 0, count: ChunkHeader.size)
            raw.withUnsafeMutableBytes { c.encode(into: $0.baseAddress!) }
            out += raw + payload
            counts[c.stream] = max(counts[c.stream, default: 0], c.sequence + 1)
            lastTick = max(lastTick, c.lastTick)
        }
        if closing && header.minorVersion >= 2 {
            out += ChunkHeader.closingChunk(streams: counts.keys.sorted().map { ($0, counts[$0]!) },
                                            totalChunks: UInt64(chunks.count), tick: lastTick)
        }
        return out
    }
}

/// The inputs that crashed, hung or fooled the reader in issue 11, each built from a real sample
/// recording (`traces/slow-service.trace`, made 1.2 first), with what a reader must make of it.
enum HostileInputs {
    /// What reading a hostile input must give.
    enum Outcome: Equatable {
        /// Read with no damage; the recording's ending.
        case intact(RecordingSummary.Ending)
        /// The header is refused.
        case refused
        /// Chunks are damaged or missing (exit 65); the recording's ending.
        case damaged(RecordingSummary.Ending)
    }

    static var root: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// Where the built inputs are kept, for the CLI tests and as fuzz seeds.
    static var fixtures: String { root + "/Tests/Fixtures/hostile" }

    /// The real sample the inputs are made from, as 1.2.
    static func sample() throws -> RawTrace {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "/traces/slow-service.trace")))
        return try RawTrace(bytes).upgraded()
    }

    /// Every input by name, with its expected outcome (built once per test run).
    static func all() throws -> [(name: String, bytes: [UInt8], outcome: Outcome)] { try built.get() }

    private static let built = Result { try build() }

    private static func build() throws -> [(name: String, bytes: [UInt8], outcome: Outcome)] {
        let base = try sample()
        var inputs: [(String, [UInt8], Outcome)] = [("clean-1.2", base.bytes(), .intact(.clean))]

        // The clock window's ns ÷ ticks ratio at 2^23 (the SIGILL) and far beyond.
        var t = base
        t.header.clock.windowNanos = 1 << 23
        t.header.clock.windowTicks = 1
        inputs.append(("window-ratio-2p23", t.bytes(), .intact(.clean)))
        t = base
        t.header.clock.windowNanos = UInt64.max
        t.header.clock.windowTicks = 1
        inputs.append(("window-ratio-max", t.bytes(), .intact(.clean)))

        // Stream ids that report and export used to size arrays by.
        for id: UInt32 in [1 << 22, 1 << 29, UInt32.max] {
            t = base
            for i in t.chunks.indices { t.chunks[i].header.stream = id }
            inputs.append(("stream-id-\(id)", t.bytes(), .intact(.clean)))
        }

        inputs.append(("dense-16-chunks-of-4MiB", denseChunks(base), .intact(.clean)))
        inputs.append(("live-tasks-2M", liveTasks(base), .intact(.clean)))
        inputs.append(("pending-callbacks-3M", pendingCallbacks(base), .intact(.clean)))

        // The minor version flipped after the CRC was computed.
        for minor: UInt8 in [1, 3] {
            var bytes = base.bytes()
            bytes[10] = minor
            inputs.append(("minor-version-flipped-to-\(minor)", bytes, .refused))
        }

        t = base
        t.chunks.remove(at: 1)
        inputs.append(("middle-chunk-removed", t.bytes(), .damaged(.clean)))

        // Cut after a chunk: the closing chunk is gone but the header says it closed.
        t = base
        t.chunks.removeLast()
        t.closing = false
        inputs.append(("cut-at-chunk-boundary", t.bytes(closedFlag: true), .damaged(.truncated)))

        // A crash: no closing chunk, no closed flag.
        t = base
        t.closing = false
        inputs.append(("ended-abruptly", t.bytes(), .intact(.abrupt)))
        return inputs
    }

    /// 2 M tasks created and never run (`taskCreate`, 6 bytes each): the model's live state,
    /// which follows the live tasks, took several hundred MiB of it before it had a limit.
    static func liveTasks(_ base: RawTrace) -> [UInt8] {
        // Task ids rise by one; each parent is the task before, so every record after a chunk's
        // first is the same six bytes: task delta +2, parent delta −1, no name, no site.
        repeatedRecords(base, events: 2 << 20) { first in
            [EventType.taskCreate.rawValue, 0] + zigzagVarint(Int64(first) + 2) + [1, 0, 0]
        } record: { [EventType.taskCreate.rawValue, 0, 4, 1, 0, 0] }
    }

    /// 3 M callbacks scheduled and never run, on a loop that never polls: pending callbacks and
    /// the stream's ready queue grow with every one.
    static func pendingCallbacks(_ base: RawTrace) -> [UInt8] {
        repeatedRecords(base, events: 3 << 20) { first in
            [EventType.callbackScheduled.rawValue, 0] + zigzagVarint(Int64(first) + 1) + [0, 0, 0]
        } record: { [EventType.callbackScheduled.rawValue, 0, 2, 0, 0, 0] }
    }

    static func zigzagVarint(_ value: Int64) -> [UInt8] {
        var b = ByteBuilder()
        b.svarint(value)
        return b.bytes
    }

    /// `events` records of stream 1 at one tick, in chunks of at most the payload limit:
    /// `first(n)` opens a chunk whose first record is the trace's record `n` (the id chains of
    /// task and handle arguments restart in every chunk), `record()` is every other record.
    static func repeatedRecords(_ base: RawTrace, events: Int, first: (Int) -> [UInt8], record: () -> [UInt8]) -> [UInt8] {
        var t = base
        t.chunks = []
        let compressor = ChunkCompressor(level: 6, preferLibdeflate: false)
        let tick = base.header.clock.baseTicks
        let body = record()
        var done = 0
        while done < events {
            var payload = first(done)
            var n = 1
            while n < events - done && payload.count + body.count <= ChunkHeader.maxPayload {
                payload += body
                n += 1
            }
            var out = [UInt8](repeating: 0, count: ChunkCompressor.bound(payload.count))
            let size = payload.withUnsafeBytes { input in out.withUnsafeMutableBytes { compressor.compress(input, into: $0)! } }
            let compressed = Array(out[..<size])
            t.chunks.append((ChunkHeader(stream: 1, threadID: 7, codec: .zlib, compressedLength: UInt32(size),
                                         uncompressedLength: UInt32(payload.count), eventCount: UInt32(n),
                                         payloadCRC: compressed.withUnsafeBytes { CRC32.checksum($0) },
                                         firstTick: tick, lastTick: tick, runningTask: 0, sequence: UInt32(t.chunks.count)),
                             compressed))
            done += n
        }
        return t.bytes()
    }

    /// 16 chunks of one stream, each 4 MiB of the densest valid events: a task stepping and
    /// yielding (3 and 4 bytes), all at one tick per chunk. About 19 M events from 70 KB.
    static func denseChunks(_ base: RawTrace) -> [UInt8] {
        var t = base
        t.chunks = []
        let limit = ChunkHeader.maxPayload
        let compressor = ChunkCompressor(level: 6, preferLibdeflate: false)
        let tick0 = base.header.clock.baseTicks
        for i in 0..<16 {
            var payload: [UInt8] = [EventType.stepBegin.rawValue, 0, 2, EventType.stepEnd.rawValue, 0, 1, 0]
            let pair: [UInt8] = [EventType.stepBegin.rawValue, 0, 0, EventType.stepEnd.rawValue, 0, 1, 0]
            payload.reserveCapacity(limit)
            while payload.count + pair.count <= limit { payload += pair }
            let events = UInt32(payload.count / 7 * 2)
            var out = [UInt8](repeating: 0, count: ChunkCompressor.bound(payload.count))
            let n = payload.withUnsafeBytes { input in
                out.withUnsafeMutableBytes { compressor.compress(input, into: $0)! }
            }
            let compressed = Array(out[..<n])
            let tick = tick0 + UInt64(i) * 1_000_000
            let header = ChunkHeader(stream: 1, threadID: 7, codec: .zlib, compressedLength: UInt32(n),
                                     uncompressedLength: UInt32(payload.count), eventCount: events,
                                     payloadCRC: compressed.withUnsafeBytes { CRC32.checksum($0) },
                                     firstTick: tick, lastTick: tick, runningTask: 0, sequence: UInt32(i))
            t.chunks.append((header, compressed))
        }
        return t.bytes()
    }
}
