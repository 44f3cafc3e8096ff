import ArgumentParser
import TraceFormat

/// `looptrace validate FILE`: exit 0 when the trace is intact, 65 with a one-line reason when not.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a trace's header, chunk CRCs, lengths, varints, strings and timestamp order.",
        discussion: """
            Exits 0 and prints a summary when the trace is intact. Otherwise exits 65 with one line \
            on stderr: where the first damage is, why, and how much was recovered. --verbose lists \
            every damaged region.

            Examples:
              looptrace validate slow.trace
              looptrace validate --verbose crashed.trace
            """
    )

    @OptionGroup var input: TraceInputOptions

    @Flag(name: .shortAndLong, help: "List every damaged region on stderr.")
    var verbose = false

    func run() throws {
        let reader = try input.open()
        var events: UInt64 = 0
        try input.read(reader) { chunk in events += UInt64(chunk.events.count) }
        if verbose {
            for d in reader.damage { printError("\(input.file): \(d)") }
        }
        try input.finish(reader, events: events)
        if reader.recording.ending == .abrupt, let note = TraceInputOptions.ending(reader) {
            printError("\(input.file): \(note)")
        }
        print("\(input.file): ok, format \(reader.header.majorVersion).\(reader.header.minorVersion), \(reader.chunksRead) chunk\(reader.chunksRead == 1 ? "" : "s"), \(events) events")
    }
}
