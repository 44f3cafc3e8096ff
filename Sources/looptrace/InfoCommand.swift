import ArgumentParser
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
                if e.type == .lostEvents { dropped += e.args[0] }
            }
        }
        let events = byType.reduce(0, +)
        let damagedLost = reader.damage.compactMap(\.eventsLost).reduce(0, +)
        let first = streams.values.map(\.first).min() ?? 0
        let last = streams.values.map(\.last).max() ?? 0
        let h = reader.header
        let perEvent = { (bytes: Int64) in events == 0 ? 0 : Double(bytes) / Double(events) }
        if json {
            var o = JSONObject()
            o["file"] = .string(input.file)
            o["formatVersion"] = .string("\(h.majorVersion).\(h.minorVersion)")
            o["program"] = .string(h.program)
            o["arguments"] = .array(h.arguments.map { .string($0) })
            o["hostname"] = .string(h.hostname)
            o["pid"] = .int(Int64(h.pid))
            o["startWallNanos"] = .int(Int64(h.startWallNanos))
            o["clock"] = .string(h.clock.kind.description)
            o["ticksPerSecond"] = .double(h.clock.ticksPerSecond)
            o["spanNanos"] = .int(streams.isEmpty ? 0 : last - first)
            o["streams"] = .array(streams.keys.sorted().map { id in
                let s = streams[id]!
                return .object(["id": .int(Int64(id)), "threadID": .int(Int64(s.threadID)), "chunks": .int(Int64(s.chunks)),
                                "events": .int(Int64(s.events))])
            })
            o["chunks"] = .int(Int64(reader.chunksRead))
            o["damagedRegions"] = .int(Int64(reader.damage.count))
            o["events"] = .int(Int64(events))
            o["eventsByType"] = .object(Dictionary(uniqueKeysWithValues: TraceSpec.events.compactMap { spec in
                byType[Int(spec.type.rawValue)] == 0 ? nil : (spec.name, JSONValue.int(Int64(byType[Int(spec.type.rawValue)])))
            }))
            o["droppedEvents"] = .int(Int64(dropped))
            o["eventsLostToDamage"] = .int(Int64(damagedLost))
            o["fileBytes"] = .int(reader.fileSize)
            o["compressedBytes"] = .int(reader.compressedBytes)
            o["rawBytes"] = .int(reader.uncompressedBytes)
            o["bytesPerEvent"] = .double(perEvent(reader.fileSize))
            print(JSONValue.object(o.fields).rendered)
        } else {
            var rows: [(String, String)] = []
            rows.append(("trace", "\(input.file) (\(formatBytes(reader.fileSize)))"))
            rows.append(("format", "v\(h.majorVersion).\(h.minorVersion)"))
            rows.append(("program", ([h.program] + h.arguments).joined(separator: " ")))
            rows.append(("host", h.hostname.isEmpty ? "pid \(h.pid)" : "\(h.hostname), pid \(h.pid)"))
            rows.append(("started", h.startWallNanos == 0 ? "unknown (synthetic clock)" : formatWallClock(h.startWallNanos)))
            let clock = h.clock.kind == .tsc
                ? String(format: "tsc at %.4f GHz, calibrated over %@", h.clock.ticksPerSecond / 1e9, formatDuration(Int64(h.clock.windowNanos)))
                : "CLOCK_MONOTONIC, ns"
            rows.append(("clock", clock))
            rows.append(("span", streams.isEmpty ? "no events" : "\(formatDuration(last - first)) (first event at +\(formatDuration(first)))"))
            rows.append(("chunks", "\(reader.chunksRead)" + (reader.damage.isEmpty ? "" : ", \(reader.damage.count) damaged regions")))
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
        try input.finish(reader, events: events)
    }
}
