import Foundation
import Testing
@testable import TraceFormat
import TraceTestSupport

@Suite("stepYield: one record for a step that yields (format 1.3)")
struct StepYieldTests {
    /// Writes 2,000 steps of 100 tasks taking turns: stepBegin, then the step's end either as one
    /// `stepYield` record or as the `stepEnd(.yielded)` + `wakeup` pair that format 1.2 wrote,
    /// with the same times; also a task-chain argument after each step, to check that the
    /// implicit wakeup task does not move the chain. Returns the events read back, the file's
    /// size and the recorder's statistics.
    func record(asOneRecord: Bool, in dir: TemporaryDirectory) throws -> (events: [ExpectedEvent], bytes: Int, stats: TraceRecorder.Statistics) {
        let path = dir.file(asOneRecord ? "yield.trace" : "pair.trace")
        let recorder = try TraceRecorder(.init(path: path, bufferBytes: 16 << 10, syntheticClock: true))
        let stream = recorder.makeStream()
        var time: UInt64 = 1_000
        for i in 0..<2_000 {
            let task = UInt64(i % 100) + 1
            time += 300
            stream.setSyntheticTime(nanos: time)
            stream.stepBegin(task: task)
            time += 450
            stream.setSyntheticTime(nanos: time)
            let site = i % 7 == 0 ? nil : sampleSites[i % sampleSites.count]
            if asOneRecord {
                stream.stepYield(site: site)
            } else {
                stream.stepEnd(.yielded, site: site)
                stream.wakeup(task: task, waker: .task, wakerID: task)
            }
            if i % 5 == 0 {
                time += 20
                stream.setSyntheticTime(nanos: time)
                stream.taskObserved(task: task + 1_000, how: .awaited)
            }
        }
        let stats = recorder.close()
        let (events, reader) = try readAll(path)
        #expect(reader.damage.isEmpty, "\(reader.damage)")
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        return (events, size, stats)
    }

    @Test("A stepYield record reads as the stepEnd and wakeup pair it replaces, and leaves the task chain alone")
    func stepYieldReadsAsThePairItReplaces() throws {
        let dir = TemporaryDirectory()
        let one = try record(asOneRecord: true, in: dir)
        let pair = try record(asOneRecord: false, in: dir)
        #expect(one.events.count == pair.events.count)
        #expect(one.events.count == 2_000 * 3 + 400)
        for (i, (got, want)) in zip(one.events, pair.events).enumerated() where got != want {
            Issue.record("event \(i) decoded as \(got), the 1.2 pair as \(want)")
            break
        }
        // The recorder counts events, not records, as the reader does.
        #expect(one.stats.events == UInt64(one.events.count))
        #expect(pair.stats.events == UInt64(pair.events.count))
        #expect(one.stats.rawBytes < pair.stats.rawBytes)
    }

    @Test("A trace the recorder writes says format 1.3 and lists stepYield in its schema")
    func headerSaysOnePointThree() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("v.trace")
        try TraceRecorder(.init(path: path, syntheticClock: true)).close()
        let reader = try TraceReader(path: path)
        #expect(reader.header.minorVersion == 3)
        #expect(reader.header.schema[Int(EventType.stepYield.rawValue)]?.args.map(\.kind) == [.string])
    }
}
