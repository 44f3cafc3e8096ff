import Foundation
import Testing
@testable import TraceFormat
import TraceTestSupport

@Suite("Hostile inputs and format 1.2's self-checks")
struct HostileInputTests {
    @Test("The hostile fixtures in Tests/Fixtures/hostile are exactly what the builder makes from the real sample")
    func fixturesAreUpToDate() throws {
        let regenerate = ProcessInfo.processInfo.environment["LOOPTRACE_REGENERATE_FIXTURES"] == "1"
        for (name, bytes, _) in try HostileInputs.all() {
            let path = HostileInputs.fixtures + "/\(name).trace"
            if regenerate { _ = FileManager.default.createFile(atPath: path, contents: Data(bytes)) }
            let stored = FileManager.default.contents(atPath: path).map { [UInt8]($0) }
            #expect(stored == bytes, "\(name): run with LOOPTRACE_REGENERATE_FIXTURES=1 to rebuild")
        }
    }

    @Test("Every hostile input is refused, damaged or read as the format says, on one thread and on several",
          arguments: [1, 4])
    func hostileInputsReadAsSpecified(threads: Int) throws {
        let dir = TemporaryDirectory()
        for (name, bytes, outcome) in try HostileInputs.all() {
            let path = dir.file(name)
            write(bytes, to: path)
            let reader: TraceReader
            do {
                reader = try TraceReader(path: path, options: .init(threads: threads))
            } catch {
                #expect(outcome == .refused, "\(name): \(error)")
                continue
            }
            var events = 0
            try reader.forEachChunk { events += $0.events.count }
            switch outcome {
            case .refused: Issue.record("\(name) was not refused")
            case .intact(let ending):
                #expect(reader.damage.isEmpty, "\(name): \(reader.damage)")
                #expect(reader.recording.ending == ending, "\(name)")
                #expect(events > 0, "\(name)")
            case .damaged(let ending):
                #expect(!reader.damage.isEmpty, "\(name)")
                #expect(reader.recording.ending == ending, "\(name)")
            }
        }
    }

    @Test("A flipped minor version is caught by the 1.2 header CRC")
    func flippedMinorVersionIsRefused() throws {
        let dir = TemporaryDirectory()
        let bytes = try HostileInputs.sample().bytes()
        for minor: UInt8 in [0, 1, 3, 0x12] {
            var flipped = bytes
            flipped[10] = minor
            write(flipped, to: dir.file("m"))
            #expect(throws: TraceFormatError.self, "minor \(minor)") { _ = try TraceReader(path: dir.file("m")) }
        }
    }

    @Test("A removed middle chunk is reported as a gap in its stream's sequence numbers")
    func removedChunkIsAGap() throws {
        let dir = TemporaryDirectory()
        var t = try HostileInputs.sample()
        let stream = t.chunks[1].header.stream
        t.chunks.remove(at: 1)
        write(t.bytes(), to: dir.file("gap"))
        let reader = try TraceReader(path: dir.file("gap"), options: .init(threads: 1))
        try reader.forEachChunk { _ in }
        #expect(reader.damage.count == 1)
        #expect(reader.damage.first?.error.description.contains("1 chunk is missing") == true, "\(reader.damage)")
        #expect(reader.recording.missingChunks == [stream: 1])
        #expect(reader.recording.ending == .clean)
        #expect(throws: TraceFormatError.self) {
            try TraceReader(path: dir.file("gap"), options: .init(strict: true)).forEachChunk { _ in }
        }
    }

    @Test("A stream's missing last chunk is seen through the closing chunk's count")
    func missingLastChunkIsCounted() throws {
        let dir = TemporaryDirectory()
        let t = try HostileInputs.sample()
        var bytes = t.bytes()
        // Drop the last chunk of events but keep the closing chunk behind it.
        let last = t.chunks.last!
        let closingLength = ChunkHeader.closingChunk(streams: [(last.header.stream, 0)], totalChunks: 0, tick: 0).count
        let closing = Array(bytes.suffix(closingLength))
        bytes.removeLast(closingLength + ChunkHeader.size + last.payload.count)
        write(bytes + closing, to: dir.file("tail"))
        let reader = try TraceReader(path: dir.file("tail"), options: .init(threads: 1))
        try reader.forEachChunk { _ in }
        #expect(reader.recording.missingChunks == [last.header.stream: 1])
        #expect(reader.damage.count == 1, "\(reader.damage)")
    }

    @Test("A 1.2 recording closes with a closing chunk and the closed flag; without them it ended abruptly")
    func recorderWritesTheClosingChunk() throws {
        let dir = TemporaryDirectory()
        let sample = try SampleTrace.make(in: dir)
        let path = dir.file("s.trace")
        write(sample.bytes, to: path)
        let reader = try TraceReader(path: path, options: .init(threads: 1))
        #expect(reader.header.minorVersion == TraceSpec.minorVersion)
        #expect(reader.header.closedCleanly)
        #expect(reader.header.flushIntervalNanos == 1_000_000)
        var sequences: [UInt32] = []
        try reader.forEachChunk { sequences.append($0.header.sequence) }
        #expect(sequences == Array(0..<UInt32(sample.chunks.count)))
        #expect(reader.recording.ending == .clean)
        #expect(reader.damage.isEmpty)
        // The older samples cannot tell.
        let old = try TraceReader(path: HostileInputs.root + "/traces/loop-shaped.trace")
        try old.forEachChunk { _ in }
        #expect(old.recording.ending == .unknown)
    }

    @Test("Reserved bytes must be zero in the file header, chunk headers and schema flags")
    func reservedBytesAreChecked() throws {
        let dir = TemporaryDirectory()
        let t = try HostileInputs.sample()
        // Header byte 22 (reserved): rewrite with a valid CRC.
        var h = t.bytes()
        h[22] = 1
        TraceHeader.patchLengthAndCRC(&h)
        write(h, to: dir.file("h"))
        #expect(throws: TraceFormatError.self) { _ = try TraceReader(path: dir.file("h")) }
        // Chunk header byte 17 (flags): re-encode the header by hand with a valid CRC.
        var c = t.bytes()
        var headerLength = 0
        c.withUnsafeBytes { headerLength = Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 12, as: UInt32.self))) }
        c[headerLength + 17] = 1
        let crc = c.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[(headerLength + 8)..<(headerLength + 64)])) }
        withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { c[headerLength + 4 + i] = $0[i] } }
        write(c, to: dir.file("c"))
        let reader = try TraceReader(path: dir.file("c"), options: .init(threads: 1))
        try reader.forEachChunk { _ in }
        #expect(reader.damage.first?.error.description.contains("reserved") == true, "\(reader.damage)")
    }
}

@Suite("Tick conversion")
struct TickConverterTests {
    /// The formula of FileFormat.md, with 128-bit integers.
    func reference(_ ticks: UInt64, _ c: ClockCalibration) -> Int64 {
        let negative = ticks < c.baseTicks
        let d = UInt128(negative ? c.baseTicks - ticks : ticks - c.baseTicks)
        let q = d * UInt128(c.windowNanos) / UInt128(c.windowTicks)
        let clamped = Int64(min(q, UInt128(TickConverter.limitNanos)))
        return negative ? -clamped : clamped
    }

    @Test("Ticks convert to ns exactly, rounded toward zero and clamped to ±2^62, for any calibration")
    func conversionIsExact() {
        var rng = SplitMix64(seed: 42)
        for round in 0..<200_000 {
            let wn = round % 3 == 0 ? rng.next() : rng.next() >> (rng.next() % 64)
            let wt = max(1, round % 5 == 0 ? rng.next() : rng.next() >> (rng.next() % 64))
            let base = rng.next() >> (rng.next() % 64)
            let ticks = rng.next() >> (rng.next() % 64)
            let c = ClockCalibration(kind: .tsc, baseTicks: base, monotonicBaseNanos: 0, wallBaseNanos: 0,
                                     windowNanos: wn, windowTicks: wt)
            let got = c.nanos(sinceStart: ticks)
            let want = reference(ticks, c)
            if got != want {
                Issue.record("ticks \(ticks) base \(base) window \(wn)/\(wt): \(got) != \(want)")
                return
            }
        }
    }

    @Test("Three ticks at one ns per three ticks is one ns, and minus three ticks is minus one")
    func roundingTowardZero() {
        let c = ClockCalibration(kind: .tsc, baseTicks: 10, monotonicBaseNanos: 0, wallBaseNanos: 0, windowNanos: 1, windowTicks: 3)
        #expect(c.nanos(sinceStart: 13) == 1)
        #expect(c.nanos(sinceStart: 12) == 0)
        #expect(c.nanos(sinceStart: 7) == -1)
        #expect(c.nanos(sinceStart: 8) == 0)
    }
}

@Suite("The spec's limits")
struct SpecLimitTests {
    @Test("The limits table of FileFormat.md equals the reader's constants, row for row")
    func docLimitsMatchCode() throws {
        let doc = try String(contentsOfFile: HostileInputs.root + "/Sources/TraceFormat/TraceFormat.docc/FileFormat.md", encoding: .utf8)
        let expected: [String: Int] = [
            "file header length H, at least": TraceHeader.fixedLength,
            "file header length H, at most": TraceHeader.maxLength,
            "header text (hostname, program, each argument), bytes": TraceHeader.maxTextLength,
            "program arguments": TraceHeader.maxArguments,
            "schema entries": TraceHeader.maxSchemaEntries,
            "arguments per schema entry": TraceHeader.maxSchemaArguments,
            "schema event type or argument name, bytes": TraceHeader.maxNameLength,
            "chunk payload, compressed or uncompressed, bytes": ChunkHeader.maxPayload,
            "`text` argument, bytes": Int(ChunkDecoder.maxTextLength),
            "`taskCreate` name, bytes": Int(ChunkDecoder.maxTaskNameLength),
            "string ids, exclusive upper bound": Int(ChunkDecoder.maxStringID),
            "uvarint, bytes": 10,
            "decoded time magnitude, ns": Int(TickConverter.limitNanos),
        ]
        let section = doc.components(separatedBy: "### Limits")[1].components(separatedBy: "###")[0]
        var found: [String: Int] = [:]
        for line in section.split(separator: "\n") where line.hasPrefix("| ") && !line.hasPrefix("| limit") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 2, let value = Int(cells[1].replacingOccurrences(of: ",", with: "")) else { continue }
            found[cells[0]] = value
        }
        #expect(found == expected)
        // A varint of 11 bytes is refused, so the 10 above is the code's too.
        let cursor = [UInt8](repeating: 0x80, count: 10) + [0]
        cursor.withUnsafeBytes { raw in
            var c = ByteCursor(raw)
            #expect(throws: DecodeFailure.self) { _ = try c.varint() }
        }
    }
}

@Suite("Fuzzer finds")
struct FuzzRegressionTests {
    /// Every input the fuzzer (tools/fuzz) ever flagged, kept under a name that says what it
    /// caught. `strict-read-leaked-pending-chunks`: a strict read that threw at the first damage
    /// left the chunks already queued behind it alive (each job's closure held the job).
    static let finds: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: HostileInputs.root + "/Tests/Fixtures/fuzz-crashes")) ?? [])
        .filter { $0.hasSuffix(".trace") }.sorted()

    @Test("Every input the fuzzer caught reads, strictly and leniently, on one thread and several, without crashing",
          arguments: finds)
    func fuzzFindReplays(name: String) throws {
        let path = HostileInputs.root + "/Tests/Fixtures/fuzz-crashes/" + name
        for threads in [1, 4] {
            for strict in [true, false] {
                guard let reader = try? TraceReader(path: path, options: .init(strict: strict, threads: threads)) else { continue }
                var events = 0
                do {
                    try reader.forEachEvent { e, chunk in events += TextDump.line(e, in: chunk).isEmpty ? 0 : 1 }
                } catch {
                    #expect(strict, "\(name): a lenient read threw \(error)")
                }
                if !strict { #expect(reader.damage.isEmpty == false || events > 0, "\(name)") }
            }
        }
    }

    @Test("The fuzzer's finds are on record")
    func findsExist() {
        #expect(Self.finds.contains("strict-read-leaked-pending-chunks.trace"))
    }
}
