import Foundation
import Testing
@testable import TraceFormat
import TraceTestSupport

@Suite("Round trips")
struct RoundTripTests {
    @Test("Seeded random streams read back exactly", arguments: [1, 2, 3, 42, 9001] as [UInt64])
    func seededRandomStreamReadsBackExactly(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("random.trace")
        // Small buffers and a short flush interval make many chunks.
        let recorder = try TraceRecorder(.init(path: path, bufferBytes: 16 << 10, flushIntervalNanos: 1_000_000,
                                               programName: "roundtrip", arguments: ["--seed", "\(seed)"],
                                               syntheticClock: true))
        let stream = recorder.makeStream()
        let expected = emitRandom(stream, count: 30_000, seed: seed)
        let stats = recorder.close()
        #expect(stats.droppedEvents == 0, "seed \(seed)")
        let (events, reader) = try readAll(path)
        #expect(reader.damage.isEmpty, "seed \(seed): \(reader.damage)")
        #expect(reader.chunksRead > 10, "seed \(seed)")
        #expect(events.count == expected.count, "seed \(seed)")
        for (i, (got, want)) in zip(events, expected).enumerated() where got != want {
            Issue.record("seed \(seed): event \(i) decoded as \(got), expected \(want)")
            break
        }
        #expect(reader.header.program == "roundtrip")
        #expect(reader.header.arguments == ["--seed", "\(seed)"])
    }

    @Test("The text dump of a trace is the same on every read")
    func textDumpIsStable() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("stable.trace")
        let recorder = try TraceRecorder(.init(path: path, bufferBytes: 16 << 10, syntheticClock: true))
        var workload = LoopShapedWorkload(tasks: 16, seed: 5)
        workload.emit(into: recorder.makeStream(), events: 20_000)
        recorder.close()
        func dump(threads: Int) throws -> [String] {
            var lines: [String] = []
            try TraceReader(path: path, options: .init(threads: threads)).forEachEvent { e, c in lines.append(TextDump.line(e, in: c)) }
            return lines
        }
        let first = try dump(threads: 1)
        #expect(first.count >= 20_000)
        #expect(try dump(threads: 4) == first)
        #expect(try dump(threads: 1) == first)
    }

    @Test("Every event of every thread is recovered when several threads record at once")
    func concurrentStreamsLoseNothing() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("threads.trace")
        let recorder = try TraceRecorder(.init(path: path, bufferBytes: 64 << 10, flushIntervalNanos: 5_000_000))
        let perThread = 100_000
        let threads = 4
        let group = DispatchGroup()
        for _ in 0..<threads {
            group.enter()
            Thread.detachNewThread {
                let stream = recorder.makeStream()
                for i in 0..<perThread { stream.mark("seq", value: Int64(i)) }
                stream.flush()
                group.leave()
            }
        }
        group.wait()
        let stats = recorder.close()
        #expect(stats.droppedEvents == 0)
        var next: [UInt32: Int64] = [:]
        var lastTime: [UInt32: Int64] = [:]
        let reader = try TraceReader(path: path)
        try reader.forEachEvent { e, _ in
            #expect(e.type == .userMark)
            #expect(e.signed(1) == next[e.stream, default: 0], "stream \(e.stream) out of sequence")
            #expect(e.timestamp >= lastTime[e.stream, default: 0])
            next[e.stream] = e.signed(1) + 1
            lastTime[e.stream] = e.timestamp
        }
        #expect(reader.damage.isEmpty)
        #expect(next.count == threads)
        #expect(next.values.allSatisfy { $0 == Int64(perThread) })
    }

    @Test("At the memory cap events are dropped, counted, and reported by a lostEvents record")
    func memoryCapDropsAndReports() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("cap.trace")
        // Two 16 KiB buffers and a paused writer: the budget runs out and events drop.
        let recorder = try TraceRecorder(.init(path: path, memoryCapBytes: 32 << 10, bufferBytes: 16 << 10,
                                               syntheticClock: true))
        let stream = recorder.makeStream()
        recorder.testsOnly_writerPaused.store(true, ordering: .relaxed)
        var time: UInt64 = 0
        func burst(_ n: Int) {
            for i in 0..<n {
                time += 10
                stream.setSyntheticTime(nanos: time)
                stream.mark("burst", value: Int64(i))
            }
        }
        burst(50_000)
        #expect(stream.droppedEvents > 0)
        recorder.testsOnly_writerPaused.store(false, ordering: .relaxed)
        // Once the writer has returned a buffer, the next event finds room and reports the loss.
        let deadline = Date().addingTimeInterval(10)
        var reportedLive = false
        while Date() < deadline && !reportedLive {
            Thread.sleep(forTimeInterval: 0.01)
            let before = stream.droppedEvents
            burst(1)
            reportedLive = stream.droppedEvents == before
        }
        burst(10)
        let stats = recorder.close()
        var marks: UInt64 = 0
        var reported: UInt64 = 0
        let reader = try TraceReader(path: path)
        try reader.forEachEvent { e, _ in
            if e.type == .userMark { marks += 1 }
            if e.type == .lostEvents {
                reported += e.args[0]
                #expect(e.signed(1) <= e.signed(2))
                #expect(e.signed(2) <= e.timestamp)
            }
        }
        #expect(reader.damage.isEmpty)
        #expect(stats.droppedEvents > 0)
        #expect(reported == stats.droppedEvents)
        #expect(marks + stats.droppedEvents == UInt64(time / 10))
    }

    @Test("Chunks are written while recording, not only at close")
    func periodicFlushWritesBeforeClose() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("flush.trace")
        let recorder = try TraceRecorder(.init(path: path, flushIntervalNanos: 10_000_000))
        let stream = recorder.makeStream()
        stream.mark("first")
        let deadline = Date().addingTimeInterval(5)
        var size = 0
        // The next event after the flush interval hands the buffer over.
        while Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
            stream.mark("later")
            size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            if size > 200 { break }
        }
        #expect(size > 200, "nothing reached the file within 5 s")
        #expect(stream.nanosUntilFlush <= 10_000_000)
        recorder.close()
    }
}

@Suite("Codecs")
struct CodecTests {
    @Test("zlib and libdeflate write and read the same format", arguments: [(false, true), (true, false), (false, false)])
    func codecsInteroperate(writeWithLibdeflate: Bool, readWithLibdeflate: Bool) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("codec.trace")
        let recorder = try TraceRecorder(.init(path: path, bufferBytes: 16 << 10, preferLibdeflate: writeWithLibdeflate,
                                               syntheticClock: true))
        let expected = emitRandom(recorder.makeStream(), count: 5_000, seed: 77)
        recorder.close()
        let reader = try TraceReader(path: path, options: .init(preferLibdeflate: readWithLibdeflate))
        var events: [ExpectedEvent] = []
        try reader.forEachEvent { e, c in events.append(describe(e, c)) }
        #expect(reader.damage.isEmpty)
        #expect(events == expected)
    }
}
