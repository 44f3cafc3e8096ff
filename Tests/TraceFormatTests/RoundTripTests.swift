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

@Suite("Decoder: the hand-written paths against the schema-driven one")
struct DecoderFastPathTests {
    /// Every event and every damage `path` reads as, with or without the hand-written paths.
    func read(_ path: String, fastPaths: Bool) throws -> (events: [TraceEvent], damage: [ChunkDamage]) {
        var options = TraceReader.Options(threads: 1)
        options.testsOnly_decodeFastPaths = fastPaths
        let reader = try TraceReader(path: path, options: options)
        var events: [TraceEvent] = []
        try reader.forEachEvent { e, _ in events.append(e) }
        return (events, reader.damage)
    }

    /// The samples (loop traces of every kind, on the synthetic clock) and the hostile fixtures
    /// (odd clocks, damage); and a trace recorded on the real clock, whose tick-to-ns conversion is
    /// not the identity.
    @Test("Steps, wakeups, polls, callbacks and timers decode to the same events, and the same damage, either way")
    func sameEventsEitherWay() throws {
        let root = HostileInputs.root
        var paths: [String] = []
        for dir in ["/traces", "/Tests/Fixtures/hostile", "/Tests/Fixtures/fuzz-crashes"] {
            // (Not the fixtures of millions of events, which are there for the reader's memory bound.)
            for name in try FileManager.default.contentsOfDirectory(atPath: root + dir).sorted()
            where name.hasSuffix(".trace") && !["dense-", "-2M", "-3M"].contains(where: name.contains) {
                paths.append(root + dir + "/" + name)
            }
        }
        let dir = TemporaryDirectory()
        let real = dir.file("real-clock.trace")
        let recorder = try TraceRecorder(.init(path: real))
        let stream = recorder.makeStream()
        for i in 0..<20_000 {
            stream.pollBegin(timeoutNanos: i % 3 == 0 ? -1 : Int64(i))
            stream.pollEnd(readyCount: i % 4)
            stream.callbackScheduled(handle: UInt64(i), kind: .later, dueInNanos: Int64(i % 5) * 1000 - 2000, site: sampleSites[i % sampleSites.count])
            stream.timerFired(handle: UInt64(i / 2), dueInNanos: -Int64(i % 7))
            stream.callbackBegin(handle: UInt64(i))
            stream.stepBegin(task: UInt64(i % 9) + 1)
            stream.wakeup(task: UInt64(i % 5) + 1, waker: .task, wakerID: UInt64(i % 9) + 1)
            stream.stepEnd(.suspended, site: sampleSites[(i + 1) % sampleSites.count])
            stream.callbackEnd(handle: UInt64(i))
        }
        recorder.close()
        paths.append(real)
        #expect(paths.count > 20)
        var loopRecords = 0
        for path in paths {
            // A header the reader refuses is refused either way, before any record is decoded.
            guard (try? TraceReader(path: path)) != nil else { continue }
            let fast = try read(path, fastPaths: true), generic = try read(path, fastPaths: false)
            #expect(fast.events == generic.events, "\(path)")
            #expect(fast.damage == generic.damage, "\(path)")
            loopRecords += fast.events.filter { [.pollBegin, .pollEnd, .callbackScheduled, .callbackBegin, .callbackEnd, .timerFired].contains($0.type) }.count
        }
        #expect(loopRecords > 100_000, "the loop's own records were exercised")
    }
}
