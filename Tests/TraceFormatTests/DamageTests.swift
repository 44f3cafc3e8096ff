import Foundation
import Testing
@testable import TraceFormat
import TraceTestSupport

/// A small multi-chunk trace and where its chunks end.
struct SampleTrace {
    let bytes: [UInt8]
    let headerLength: Int
    /// (end offset, events) of each chunk, in file order.
    let chunks: [(end: Int, events: Int)]
    var totalEvents: Int { chunks.reduce(0) { $0 + $1.events } }

    /// Records `events` loop-shaped events with a 1 ms flush interval on a synthetic clock, which
    /// makes many small chunks.
    static func make(in dir: TemporaryDirectory, events: Int = 3_000, seed: UInt64 = 7) throws -> SampleTrace {
        let path = dir.file("sample-\(seed).trace")
        let recorder = try TraceRecorder(.init(path: path, bufferBytes: 16 << 10, flushIntervalNanos: 1_000_000,
                                               programName: "sample", arguments: [], syntheticClock: true))
        var workload = LoopShapedWorkload(tasks: 8, seed: seed)
        workload.emit(into: recorder.makeStream(), events: events)
        recorder.close()
        let reader = try TraceReader(path: path, options: .init(threads: 1))
        var chunks: [(Int, Int)] = []
        try reader.forEachChunk { c in
            chunks.append((Int(c.offset) + ChunkHeader.size + Int(c.header.compressedLength), c.events.count))
        }
        let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        return SampleTrace(bytes: bytes, headerLength: reader.headerLength, chunks: chunks)
    }
}

func write(_ bytes: [UInt8], to path: String) {
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
}

func recovered(_ path: String) throws -> (events: Int, reader: TraceReader) {
    let reader = try TraceReader(path: path, options: .init(threads: 1))
    var n = 0
    try reader.forEachChunk { n += $0.events.count }
    return (n, reader)
}

@Suite("Damaged and hostile input")
struct DamageTests {
    @Test("A trace truncated at every byte offset recovers every complete chunk and never crashes")
    func truncatedAtEveryOffset() throws {
        let dir = TemporaryDirectory()
        let sample = try SampleTrace.make(in: dir)
        #expect(sample.chunks.count >= 5)
        // The closing chunk follows the last chunk of events.
        #expect(sample.chunks.last!.end < sample.bytes.count)
        let path = dir.file("cut.trace")
        write(sample.bytes, to: path)
        let fd = open(path, O_RDWR)
        defer { close(fd) }
        for n in stride(from: sample.bytes.count - 1, through: 0, by: -1) {
            ftruncate(fd, off_t(n))
            if n < sample.headerLength {
                #expect(throws: TraceFormatError.self, "cut at \(n)") { _ = try TraceReader(path: path) }
                continue
            }
            let complete = sample.chunks.filter { $0.end <= n }
            let (events, reader) = try recovered(path)
            #expect(events == complete.reduce(0) { $0 + $1.events }, "cut at \(n)")
            // Any cut loses the closing chunk, which the header says is there: one truncation, and a
            // second one when the cut is inside a chunk.
            let atBoundary = n == sample.headerLength || complete.last?.end == n
            #expect(reader.damage.count == (atBoundary ? 1 : 2), "cut at \(n): \(reader.damage)")
            #expect(reader.recording.ending == .truncated, "cut at \(n)")
            for d in reader.damage {
                guard case .truncated = d.error else {
                    Issue.record("cut at \(n): expected a truncation, got \(d.error)")
                    break
                }
            }
        }
    }

    @Test("Single bit flips in chunks are reported as damage and cost at most their chunk")
    func bitFlipsAreDetected() throws {
        let dir = TemporaryDirectory()
        let sample = try SampleTrace.make(in: dir)
        let path = dir.file("flipped.trace")
        var rng = SplitMix64(seed: 11)
        for _ in 0..<400 {
            var bytes = sample.bytes
            let position = sample.headerLength + Int(rng.next() % UInt64(bytes.count - sample.headerLength))
            bytes[position] ^= UInt8(1 << (rng.next() % 8))
            write(bytes, to: path)
            let (events, reader) = try recovered(path)
            #expect(!reader.damage.isEmpty, "flip at \(position) went unnoticed")
            // A flip past the last chunk of events hits the closing chunk, which holds no events.
            let cost = sample.chunks.first { $0.end > position }?.events ?? 0
            #expect(events >= sample.totalEvents - cost, "flip at \(position) cost more than its chunk")
            let reasons = reader.damage.map(\.error.description).joined(separator: "; ")
            #expect(reasons.contains("CRC") || reasons.contains("magic") || reasons.contains("codec"), "flip at \(position): \(reasons)")
            #expect(throws: TraceFormatError.self) {
                try TraceReader(path: path, options: .init(strict: true)).forEachChunk { _ in }
            }
        }
    }

    @Test("Bit flips in the file header are refused with a clear error")
    func headerBitFlipsAreRefused() throws {
        let dir = TemporaryDirectory()
        let sample = try SampleTrace.make(in: dir)
        let path = dir.file("header.trace")
        for position in stride(from: 0, to: sample.headerLength, by: 3) {
            var bytes = sample.bytes
            bytes[position] ^= 0x10
            write(bytes, to: path)
            #expect(throws: TraceFormatError.self, "flip at \(position)") { _ = try TraceReader(path: path) }
        }
    }

    @Test("huge-length: a chunk declaring 4 GiB is refused before anything is allocated")
    func hugeChunkLengthIsBounded() throws {
        let dir = TemporaryDirectory()
        let sample = try SampleTrace.make(in: dir)
        var bytes = sample.bytes
        let at = sample.headerLength
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt32.max.littleEndian, toByteOffset: at + 20, as: UInt32.self)
            let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[(at + 8)..<(at + 64)]))
            raw.storeBytes(of: crc.littleEndian, toByteOffset: at + 4, as: UInt32.self)
        }
        let path = dir.file("huge-length.trace")
        write(bytes, to: path)
        let (events, reader) = try recovered(path)
        let first = try #require(reader.damage.first)
        #expect(first.error == .badChunk(offset: Int64(at), reason: "declared compressed length 4294967295 exceeds limit 4194304"))
        // Reading resynchronises on the next chunk.
        #expect(events == sample.totalEvents - sample.chunks[0].events)
    }

    @Test("huge-length: a file header declaring 4 GiB is refused")
    func hugeHeaderLengthIsBounded() throws {
        let dir = TemporaryDirectory()
        let sample = try SampleTrace.make(in: dir)
        var bytes = sample.bytes
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: UInt32.max.littleEndian, toByteOffset: 12, as: UInt32.self) }
        let path = dir.file("huge-header.trace")
        write(bytes, to: path)
        #expect(throws: TraceFormatError.badHeader(offset: 12, reason: "declared header length 4294967295 is outside [64, 1048576]")) {
            _ = try TraceReader(path: path)
        }
    }

    @Test("Files that are not traces get a clear error", arguments: ["empty", "random", "directory", "missing", "text"])
    func notATrace(kind: String) throws {
        let dir = TemporaryDirectory()
        var path = dir.file(kind)
        switch kind {
        case "empty": write([], to: path)
        case "random":
            var rng = SplitMix64(seed: 3)
            write((0..<100).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, to: path)
        case "directory": path = dir.path
        case "text": write(Array("hello, this is not a trace\n".utf8), to: path)
        default: break
        }
        do {
            _ = try TraceReader(path: path)
            Issue.record("\(kind): no error")
        } catch {
            switch (kind, error) {
            case ("empty", .notATrace(_, let reason)): #expect(reason == "the file is empty")
            case ("random", .notATrace), ("text", .notATrace): break
            case ("directory", .cannotRead(_, let reason)): #expect(reason == "it is a directory")
            case ("missing", .cannotRead(_, let reason)): #expect(reason == "No such file or directory")
            default: Issue.record("\(kind): unexpected \(error)")
            }
        }
    }

    @Test("A reader skips event types from a newer minor version using the header's schema")
    func unknownEventTypesAreSkipped() throws {
        let dir = TemporaryDirectory()
        var schema = TraceHeader.currentSchema
        schema[200] = .init(type: EventType(200), name: "futureThing", timed: true, sinceMinor: 1,
                            args: [("count", .uvarint), ("label", .text), ("site", .string)])
        var header = TraceHeader(clock: ClockCalibration(kind: .monotonic, baseTicks: 0, monotonicBaseNanos: 0, wallBaseNanos: 0,
                                                         windowNanos: 1, windowTicks: 1),
                                 pid: 1, hostname: "h", program: "p", arguments: [], schema: schema)
        header.minorVersion = 1
        var payload = ByteBuilder()
        payload.byte(EventType.stringDef.rawValue); payload.varint(1); payload.text("Site.swift:1:f()")
        payload.byte(EventType.stepBegin.rawValue); payload.varint(0); payload.svarint(5)
        payload.byte(200); payload.varint(10); payload.varint(99); payload.text("from the future"); payload.varint(1)
        payload.byte(EventType.stepEnd.rawValue); payload.varint(7); payload.varint(0); payload.varint(1)
        var chunk = [UInt8](repeating: 0, count: ChunkHeader.size)
        let body = payload.bytes
        let crc = body.withUnsafeBytes { CRC32.checksum($0) }
        chunk.withUnsafeMutableBytes {
            ChunkHeader(stream: 1, threadID: 9, codec: .stored, compressedLength: UInt32(body.count),
                        uncompressedLength: UInt32(body.count), eventCount: 3, payloadCRC: crc,
                        firstTick: 100, lastTick: 117, runningTask: 0).encode(into: $0.baseAddress!)
        }
        let path = dir.file("newer.trace")
        write(header.encode() + chunk + body, to: path)
        let reader = try TraceReader(path: path)
        var seen: [TraceEvent] = []
        var skipped = 0
        try reader.forEachChunk { c in
            seen += c.events
            skipped += c.skippedUnknown
            #expect(c.string(1) == "Site.swift:1:f()")
        }
        #expect(reader.damage.isEmpty, "\(reader.damage)")
        #expect(skipped == 1)
        #expect(seen.map(\.type) == [.stepBegin, .stepEnd])
        #expect(seen.map(\.timestamp) == [100, 117])
        #expect(seen[1].task == 5)
        #expect(seen[1].outcome == .suspended)
        #expect(seen[1].args[1] == 1)
    }
}
