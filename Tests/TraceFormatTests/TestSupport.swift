import Foundation
import TraceFormat
@_exported import TraceTestSupport

/// What one event should decode to: type, running task, arguments with strings resolved and
/// times made relative to the event.
struct ExpectedEvent: Equatable, CustomStringConvertible {
    var type: EventType
    var timestamp: Int64
    var task: UInt64
    var args: [String]

    var description: String { "\(timestamp) \(type) task=\(task) \(args)" }
}

/// Describes a decoded event in the same terms as ``ExpectedEvent``.
func describe(_ e: TraceEvent, _ chunk: DecodedChunk) -> ExpectedEvent {
    let spec = e.type.spec!
    var args: [String] = []
    for (i, arg) in spec.args.enumerated() {
        switch arg.kind {
        case .string: args.append(chunk.string(e.args[i]))
        case .text: args.append(chunk.text(e.args[i]))
        case .time: args.append("\(e.signed(i) - e.timestamp)")
        case .svarint: args.append("\(e.signed(i))")
        default: args.append("\(e.args[i])")
        }
    }
    return ExpectedEvent(type: e.type, timestamp: e.timestamp, task: e.task, args: args)
}

/// Reads every intact event of a trace.
func readAll(_ path: String, threads: Int = 2, strict: Bool = false) throws -> (events: [ExpectedEvent], reader: TraceReader) {
    let reader = try TraceReader(path: path, options: .init(strict: strict, threads: threads))
    var events: [ExpectedEvent] = []
    try reader.forEachEvent { e, chunk in events.append(describe(e, chunk)) }
    return (events, reader)
}

let sampleSites: [SourceSite] = [
    SourceSite(file: "App/Main.swift", line: 10, function: "main()"),
    SourceSite(file: "App/Worker.swift", line: 77, function: "work(_:)"),
    SourceSite(file: "App/Net.swift", line: 3, function: "read()"),
]
let sampleNames: [StaticString] = ["tick", "phase", "request"]

/// Emits `count` random events of every kind into `stream` on a synthetic clock and returns
/// what they must decode to.
func emitRandom(_ stream: TraceStream, count: Int, seed: UInt64) -> [ExpectedEvent] {
    var rng = SplitMix64(seed: seed)
    var expected: [ExpectedEvent] = []
    var now: UInt64 = 0
    var running: UInt64 = 0
    func r(_ n: UInt64) -> UInt64 { rng.next() % n }
    for _ in 0..<count {
        // Mostly small gaps, sometimes huge ones, to exercise every varint length.
        now += r(10) == 0 ? r(1 << 40) : r(3_000)
        stream.setSyntheticTime(nanos: now)
        let t = Int64(now)
        let task = r(4) == 0 ? r(UInt64.max) : r(50) + 1
        let handle = r(8) == 0 ? r(1 << 50) : r(100) + 1
        let site = sampleSites[Int(r(3))]
        let name = sampleNames[Int(r(3))]
        var e = ExpectedEvent(type: .loopStart, timestamp: t, task: running, args: [])
        switch r(22) {
        case 0: stream.loopStart(loop: 7); e.type = .loopStart; e.args = ["7"]
        case 1: stream.loopStop(loop: 7); e.type = .loopStop; e.args = ["7"]
        case 2:
            let timeout = r(3) == 0 ? -1 : Int64(r(1 << 30))
            stream.pollBegin(timeoutNanos: timeout); e.type = .pollBegin; e.args = ["\(timeout)"]
        case 3:
            let ready = Int(r(64))
            stream.pollEnd(readyCount: ready); e.type = .pollEnd; e.args = ["\(ready)"]
        case 4:
            let label = String(repeating: "é", count: Int(r(200)))
            stream.taskCreate(task: task, parent: task / 2, name: label, site: site)
            // Names are cut to 255 bytes at most; "é" is 2 bytes.
            let kept = String(decoding: Array(label.utf8.prefix(255)), as: UTF8.self)
            e.type = .taskCreate; e.args = ["\(task)", "\(task / 2)", kept, site.description]
        case 5: stream.stepBegin(task: task); running = task; e.type = .stepBegin; e.task = task; e.args = ["\(task)"]
        case 6:
            let outcome = StepOutcome(rawValue: UInt8(r(5)))!
            let withSite = r(2) == 0
            stream.stepEnd(outcome, site: withSite ? site : nil)
            e.type = .stepEnd; e.args = ["\(outcome.rawValue)", withSite ? site.description : ""]
            running = 0
        case 7:
            let waker = WakerKind(rawValue: UInt8(r(5)))!
            stream.wakeup(task: task, waker: waker, wakerID: handle)
            e.type = .wakeup; e.args = ["\(task)", "\(waker.rawValue)", "\(handle)"]
        case 8:
            let kind = CallbackKind(rawValue: UInt8(r(4)))!
            let due = Int64(r(1 << 34)) - (1 << 20)
            stream.callbackScheduled(handle: handle, kind: kind, dueInNanos: due, site: site)
            e.type = .callbackScheduled; e.args = ["\(handle)", "\(kind.rawValue)", "\(due)", site.description]
        case 9: stream.callbackBegin(handle: handle); e.type = .callbackBegin; e.args = ["\(handle)"]
        case 10: stream.callbackEnd(handle: handle); e.type = .callbackEnd; e.args = ["\(handle)"]
        case 11:
            let due = -Int64(r(1 << 24))
            stream.timerFired(handle: handle, dueInNanos: due); e.type = .timerFired; e.args = ["\(handle)", "\(due)"]
        case 12: stream.ioWait(fd: 5, events: 1); e.type = .ioWait; e.args = ["5", "1"]
        case 13: stream.ioReady(fd: 6, events: 4); e.type = .ioReady; e.args = ["6", "4"]
        case 14: stream.executorSubmit(job: handle, site: site); e.type = .executorSubmit; e.args = ["\(handle)", site.description]
        case 15: stream.executorBegin(job: handle); e.type = .executorBegin; e.args = ["\(handle)"]
        case 16: stream.executorEnd(job: handle); e.type = .executorEnd; e.args = ["\(handle)"]
        case 19: stream.callbackCancelled(handle: handle); e.type = .callbackCancelled; e.args = ["\(handle)"]
        case 21:
            let how = TaskObservation(rawValue: UInt8(r(3)))!
            stream.taskObserved(task: task, how: how); e.type = .taskObserved; e.args = ["\(task)", "\(how.rawValue)"]
        case 20: stream.ioWaitRemoved(fd: 7, events: 5); e.type = .ioWaitRemoved; e.args = ["7", "5"]
        case 17:
            let value = Int64(bitPattern: rng.next())
            stream.mark(name, value: value); e.type = .userMark; e.args = [name.description, "\(value)"]
        default:
            if r(2) == 0 { stream.spanBegin(name); e.type = .userSpanBegin } else { stream.spanEnd(name); e.type = .userSpanEnd }
            e.args = [name.description]
        }
        expected.append(e)
    }
    return expected
}
