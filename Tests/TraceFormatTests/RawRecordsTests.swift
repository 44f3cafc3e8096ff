import Foundation
import Testing
@testable import TraceFormat
import TraceTestSupport

@Suite("Raw records: the recorder's first stage, transcoded by the writer")
struct RawRecordsTests {
    @Test("The transcoder's straight-line cases have the spec table's argument kinds")
    func straightLineCasesMatchTheSpec() {
        // The layouts `RawRecords.Transcoder.run` hard-codes, type by type.
        let hardCoded: [(EventType, [WireKind])] = [
            (.stepBegin, [.task]),
            (.stepEnd, [.uvarint, .string]),
            (.stepYield, [.string]),
            (.wakeup, [.task, .uvarint, .uvarint]),
            (.callbackScheduled, [.handle, .uvarint, .time, .string]),
            (.callbackBegin, [.handle]),
            (.callbackEnd, [.handle]),
            (.pollBegin, [.svarint]),
            (.pollEnd, [.uvarint]),
        ]
        for (type, kinds) in hardCoded {
            let spec = try! #require(type.spec)
            #expect(spec.timed, "\(spec.name)")
            #expect(spec.args.map(\.kind) == kinds, "\(spec.name): the spec says \(spec.args.map(\.kind))")
        }
        #expect(TraceSpec.byType[Int(RawRecords.verbatim)] == nil, "type 0 must stay free for verbatim records")
    }

    @Test("Timestamps that go back, within a buffer and across buffers, read back in order and validate")
    func timestampsGoingBackAreClampedInOrder() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("skewed.trace")
        let recorder = try TraceRecorder(.init(path: path, bufferBytes: 16 << 10, syntheticClock: true))
        let stream = recorder.makeStream()
        // A clock that mostly advances and every seventh event steps back 5 µs (as a counter
        // read on another core can), over about 20 buffers.
        var time: UInt64 = 1_000_000
        var emitted = 0
        for i in 0..<15_000 {
            time = i % 7 == 6 ? time - 5_000 : time + 1_000
            stream.setSyntheticTime(nanos: time)
            stream.stepBegin(task: UInt64(i % 13) + 1)
            stream.stepEnd(.suspended, site: sampleSites[i % sampleSites.count])
            emitted += 2
        }
        let stats = recorder.close()
        #expect(stats.chunks > 10, "the run must span buffers: \(stats.chunks) chunks")
        let (events, reader) = try readAll(path, strict: true)
        #expect(reader.damage.isEmpty, "\(reader.damage)")
        #expect(events.count == emitted)
        let times = events.map(\.timestamp)
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 <= $1 }, "timestamps went back")
        // The last event is at the clamped maximum, not the clock's last (lower) reading.
        #expect(times.last == times.max())
    }
}
