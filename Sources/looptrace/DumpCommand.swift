import ArgumentParser
import TraceFormat
#if canImport(Glibc)
import Glibc
#endif

/// `looptrace dump FILE [--json]`: every event, one per line.
struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print every event, one per line, in recorded order.",
        discussion: """
            Each line is: nanoseconds since the trace start, the stream (s1 is the first \
            recording thread), the event type, and its arguments by name, with sites and names \
            resolved. stepEnd also shows the task whose step ended. The output is deterministic: \
            the same trace always dumps the same way. --json prints one JSON object per line.

            A damaged trace dumps what could be recovered, then exits 65.

            Examples:
              looptrace dump slow.trace | less
              looptrace dump --json slow.trace | jq 'select(.type == "stepEnd")'
            """
    )

    @OptionGroup var input: TraceInputOptions

    @Flag(help: "One JSON object per line.")
    var json = false

    func run() throws {
        let reader = try input.open()
        var out = BufferedOutput()
        var events: UInt64 = 0
        try input.read(reader) { chunk in
            for e in chunk.events {
                out.write(json ? TextDump.json(e, in: chunk) : TextDump.line(e, in: chunk))
                out.write("\n")
            }
            events += UInt64(chunk.events.count)
            // Stdout is gone (a full disk): stop decoding instead of formatting the rest for nothing.
            if StandardOutput.rawWriteFailure != nil { try StandardOutput.check() }
        }
        out.flush()
        try StandardOutput.check()
        try input.finish(reader, events: events)
    }
}

/// Batches stdout writes: printing millions of lines one `print` at a time is slow.
struct BufferedOutput {
    private var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(1 << 16) }

    mutating func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        writeAll(fd: 1, buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
