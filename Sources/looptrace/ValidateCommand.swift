import ArgumentParser
import Foundation
import TraceFormat

/// `looptrace validate FILE`: exit 0 when the trace is intact, 65 with a one-line reason when not.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a trace's header, chunk CRCs, lengths, varints, strings and timestamp order.",
        discussion: """
            Exits 0 and prints a summary when the trace is intact. Otherwise exits 65 with one line \
            on stderr: where the first damage is, why, and how much was recovered. --verbose lists \
            every damaged region. --json prints one object (schema looptrace.validate/1) on \
            stdout in both cases, with every damaged region; a file that is no trace at all, \
            or damage met with --strict, gets only the line on stderr.

            Examples:
              looptrace validate slow.trace
              looptrace validate --verbose crashed.trace
              looptrace validate --json crashed.trace | jq .damage
            """
    )

    @OptionGroup var input: TraceInputOptions

    @Flag(name: .shortAndLong, help: "List every damaged region on stderr.")
    var verbose = false

    @Flag(help: "Print one JSON object (schema looptrace.validate/1), intact or not.")
    var json = false

    /// `validate --json`: one object, keys sorted.
    struct ValidateJSON: Encodable {
        struct Region: Encodable {
            /// Where the damage starts, when known.
            var offset: Int64?
            var message: String
            /// Events lost with it, when its chunk header could be read.
            var eventsLost: UInt64?
            var bytesSkipped: Int64
        }
        var schema = "looptrace.validate/1"
        var file: String
        /// No damage at all.
        var ok: Bool
        var formatVersion: String
        var chunks: Int
        var events: UInt64
        /// Events lost in damaged regions, where their headers told (a lower bound).
        var eventsLost: UInt64
        var damage: [Region]
    }

    func run() throws {
        let reader = try input.open()
        var events: UInt64 = 0
        try input.read(reader) { chunk in events += UInt64(chunk.events.count) }
        if json {
            let report = ValidateJSON(
                file: input.file, ok: reader.damageCount == 0,
                formatVersion: "\(reader.header.majorVersion).\(reader.header.minorVersion)",
                chunks: reader.chunksRead, events: events,
                eventsLost: reader.eventsLostToDamage,
                damage: reader.damage.map {
                    .init(offset: $0.error.offset, message: $0.error.description, eventsLost: $0.eventsLost, bytesSkipped: $0.bytesSkipped)
                })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            try StandardOutput.check()
        }
        if verbose {
            for d in reader.damage { printError("\(input.file): \(d)") }
        }
        try input.finish(reader, events: events)
        if reader.recording.ending == .abrupt, let note = TraceInputOptions.ending(reader) {
            printError("\(input.file): \(note)")
        }
        if json { return }
        print("\(input.file): ok, format \(reader.header.majorVersion).\(reader.header.minorVersion), \(reader.chunksRead) chunk\(reader.chunksRead == 1 ? "" : "s"), \(events) events")
    }
}
