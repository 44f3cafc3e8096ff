import Foundation
import ArgumentParser
import TraceAnalysis
import TraceFormat

/// `looptrace info FILE`: what is in a trace, without analysing it.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show a trace's header, streams, chunks, event counts, time span and sizes.",
        discussion: """
            Reads the whole trace once. "lost" counts events the recorder dropped at its memory \
            cap (lostEvents records) plus events in damaged chunks.

            Examples:
              looptrace info slow.trace
              looptrace info --json slow.trace
            """
    )

    @OptionGroup var input: TraceInputOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    /// `info --json`: one object, keys sorted.
    struct InfoJSON: Encodable {
        struct Stream: Encodable {
            var id: UInt32
            var threadID: UInt32
            var chunks: Int
            var events: UInt64
        }
        var file: String
        var formatVersion: String
        var program: String
        var arguments: [String]
        var hostname: String
        var pid: UInt32
        var startWallNanos: UInt64
        var clock: String
        var ticksPerSecond: Double
        var spanNanos: Int64
        var streams: [Stream]
        var chunks: Int
        var damagedRegions: Int
        /// How the recording ended (1.2): "clean", "abrupt" or "truncated"; absent before 1.2.
        var ending: String?
        var events: UInt64
        var eventsByType: [String: UInt64]
        var droppedEvents: UInt64
        var eventsLostToDamage: UInt64
        var fileBytes: Int64
        var compressedBytes: Int64
        var rawBytes: Int64
        var bytesPerEvent: Double
    }

    struct StreamSummary {
        var threadID: UInt32 = 0
        var chunks = 0
        var events: UInt64 = 0
        var first = Int64.max
        var last = Int64.min
    }

    func run() throws {
        let reader = try input.open()
        var byType = [UInt64](repeating: 0, count: 256)
        var streams: [UInt32: StreamSummary] = [:]
        var dropped: UInt64 = 0
        var skippedUnknown = 0
        try input.read(reader) { chunk in
            var s = streams[chunk.header.stream, default: StreamSummary()]
            s.threadID = chunk.header.threadID
            s.chunks += 1
            s.events += UInt64(chunk.events.count)
            if let f = chunk.events.first { s.first = min(s.first, f.timestamp) }
            if let l = chunk.events.last { s.last = max(s.last, l.timestamp) }
            streams[chunk.header.stream] = s
            skippedUnknown += chunk.skippedUnknown
            for e in chunk.events {
                byType[Int(e.type.rawValue)] += 1
                if e.type == .lostEvents { dropped += e.lostEvents.count }
            }
        }
        let events = byType.reduce(0, +)
        let damagedLost = reader.eventsLostToDamage
        let first = streams.values.map(\.first).min() ?? 0
        let last = streams.values.map(\.last).max() ?? 0
        let h = reader.header
        let perEvent = { (bytes: Int64) in events == 0 ? 0 : Double(bytes) / Double(events) }
        if json {
            let info = InfoJSON(
                file: input.file, formatVersion: "\(h.majorVersion).\(h.minorVersion)", program: h.program,
                arguments: h.arguments, hostname: h.hostname, pid: h.pid, startWallNanos: h.startWallNanos,
                clock: h.clock.kind.description, ticksPerSecond: h.clock.ticksPerSecond,
                spanNanos: streams.isEmpty ? 0 : last - first,
                streams: streams.keys.sorted().map { id in
                    let s = streams[id]!
                    return .init(id: id, threadID: s.threadID, chunks: s.chunks, events: s.events)
                },
                chunks: reader.chunksRead, damagedRegions: reader.damageCount,
                ending: reader.recording.ending == .unknown ? nil : "\(reader.recording.ending)", events: events,
                eventsByType: Dictionary(uniqueKeysWithValues: TraceSpec.events.compactMap { spec in
                    byType[Int(spec.type.rawValue)] == 0 ? nil : (spec.name, byType[Int(spec.type.rawValue)])
                }),
                droppedEvents: dropped, eventsLostToDamage: damagedLost, fileBytes: reader.fileSize,
                compressedBytes: reader.compressedBytes, rawBytes: reader.uncompressedBytes,
                bytesPerEvent: perEvent(reader.fileSize))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(info), as: UTF8.self))
        } else {
            var rows: [(String, String)] = []
            rows.append(("trace", "\(input.file) (\(formatBytes(reader.fileSize)))"))
            rows.append(("format", "v\(h.majorVersion).\(h.minorVersion)"))
            rows.append(("program", ([h.program] + h.arguments).joined(separator: " ")))
            rows.append(("host", h.hostname.isEmpty ? "pid \(h.pid)" : "\(h.hostname), pid \(h.pid)"))
            rows.append(("started", h.startWallNanos == 0 ? "unknown (synthetic clock)" : formatWallClock(h.startWallNanos)))
            let clock = h.clock.kind == .tsc
                ? String(format: "tsc at %.4f GHz, calibrated over %@", h.clock.ticksPerSecond / 1e9, Durations.format(Int64(clamping: h.clock.windowNanos)))
                : "CLOCK_MONOTONIC, ns"
            rows.append(("clock", clock))
            rows.append(("span", streams.isEmpty ? "no events" : "\(Durations.format(last - first)) (first event at +\(Durations.format(first)))"))
            rows.append(("chunks", "\(reader.chunksRead)" + (reader.damage.isEmpty ? "" : ", \(reader.damageCount) damaged regions")))
            if let ending = TraceInputOptions.ending(reader) { rows.append(("ending", ending)) }
            rows.append(("events", "\(events)"))
            rows.append(("lost", "\(dropped) dropped by the recorder, \(damagedLost) in damaged chunks"))
            rows.append(("size", "raw \(formatBytes(reader.uncompressedBytes)), compressed \(formatBytes(reader.compressedBytes)), file \(formatBytes(reader.fileSize))"))
            rows.append(("per event", String(format: "%.2f B compressed (file), %.2f B raw", perEvent(reader.fileSize), perEvent(reader.uncompressedBytes))))
            if skippedUnknown > 0 { rows.append(("skipped", "\(skippedUnknown) events of types newer than this reader")) }
            for (k, v) in rows { print(k.padding(toLength: 11, withPad: " ", startingAt: 0) + v) }
            print("\nstreams")
            for id in streams.keys.sorted() {
                let s = streams[id]!
                print("  s\(id)  thread \(s.threadID)  \(s.chunks) chunks  \(s.events) events")
            }
            print("\nevents by type")
            let width = TraceSpec.events.map(\.name.count).max() ?? 10
            for spec in TraceSpec.events where byType[Int(spec.type.rawValue)] > 0 {
                let n = byType[Int(spec.type.rawValue)]
                let share = String(format: "%5.1f%%", Double(n) * 100 / Double(max(events, 1)))
                print("  " + spec.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + String(n).leftPad(12) + "  " + share)
            }
            if !reader.damage.isEmpty {
                print("\ndamage")
                for d in reader.damage { print("  \(d)") }
            }
        }
        try StandardOutput.check()
        try input.finish(reader, events: events)
    }
}
