import ArgumentParser
import TraceAnalysis
import TraceFormat

#if canImport(Glibc)
import Glibc
#endif

enum TraceSpecVersion {
    static let text = "\(TraceSpec.majorVersion).\(TraceSpec.minorVersion)"
}

/// Exit codes shared by every command (sysexits.h values where one fits).
enum ExitCodes {
    /// A `--fail-on` gate failed.
    static let gateFailed = ExitCode(1)
    /// A bad flag or value.
    static let usage = ExitCode(64)
    /// The trace is damaged or not a trace.
    static let badData = ExitCode(65)
    /// The file cannot be read.
    static let noInput = ExitCode(66)
    /// The output file cannot be created (`export`).
    static let cannotCreate = ExitCode(73)
    /// Writing the output failed: a write or close error, on stdout too.
    static let ioError = ExitCode(74)
}

/// Prints one line to stderr, prefixed with the program name.
func printError(_ message: String) {
    writeAll(fd: 2, Array(("looptrace: " + message + "\n").utf8))
}

/// Writes every byte to a file descriptor, after anything `print` buffered. A failure on fd 1
/// is recorded for ``StandardOutput/check()``; on fd 2 there is nowhere left to say it.
func writeAll(fd: Int32, _ bytes: [UInt8]) {
    fflush(nil)
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                if fd == 1 && StandardOutput.rawWriteFailure == nil { StandardOutput.rawWriteFailure = n < 0 ? errno : EIO }
                return
            }
            offset += n
        }
    }
}

/// The trace file argument and the reading options every command takes.
struct TraceInputOptions: ParsableArguments {
    @Argument(help: "The trace file to read.", completion: .file(extensions: ["trace"]))
    var file: String

    @Flag(help: "Stop at the first damaged chunk instead of skipping it.")
    var strict = false

    @Option(help: ArgumentHelp("Decoding threads (default: one per CPU).", valueName: "n"))
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 || threads > 256 {
            throw ValidationError("--threads must be between 1 and 256, got \(threads)")
        }
    }

    /// Opens the trace, turning failures into one line on stderr and the documented exit code.
    func open() throws -> TraceReader {
        // Opening a FIFO for reading waits for a writer: `looptrace info some.fifo` would hang.
        var st = stat()
        if stat(file, &st) == 0, (st.st_mode & S_IFMT) == S_IFIFO {
            printError("cannot read \(file): it is a FIFO, not a regular file")
            throw ExitCodes.noInput
        }
        do {
            return try TraceReader(path: file, options: .init(strict: strict, threads: threads ?? TraceReader.defaultThreads))
        } catch {
            switch error {
            case .cannotRead, .notATrace: printError(error.description)  // these name the file already
            default: printError("\(file): \(error)")
            }
            if case .cannotRead = error { throw ExitCodes.noInput }
            throw ExitCodes.badData
        }
    }

    /// Runs `body` over the chunks; in strict mode, damage ends the run with exit 65 after what
    /// was already printed.
    func read(_ reader: TraceReader, _ body: (DecodedChunk) throws -> Void) throws {
        do {
            try reader.forEachChunk(body)
        } catch let error as TraceFormatError {
            printError("\(file): \(error)")
            throw ExitCodes.badData
        }
    }

    /// How the recording ended, as `info` and `validate` say it: nil when the format cannot tell.
    static func ending(_ reader: TraceReader) -> String? {
        let r = reader.recording
        switch r.ending {
        case .unknown: return nil
        case .clean: return "closed cleanly"
        case .truncated: return "cut short: the file ends before the closing chunk its header promises"
        case .abrupt:
            let at = r.lastEventNanos.map { "at +" + Durations.format($0) + " " } ?? ""
            let lost = (r.flushIntervalNanos ?? 0) > 0 ? "last \(Durations.format(Int64(clamping: r.flushIntervalNanos!))) may be missing" : "its last events may be missing"
            return "recording ended abruptly \(at)(no closing chunk): \(lost)"
        }
    }

    /// After a lenient read: a one-line summary of the damage on stderr and exit 65, or nothing.
    func finish(_ reader: TraceReader, events: UInt64) throws {
        guard let first = reader.damage.first else { return }
        let lost = reader.eventsLostToDamage
        let more = reader.damageCount > 1 ? " (and \(reader.damageCount - 1) more damaged regions)" : ""
        printError("\(file): \(first.error)\(more); recovered \(events) events in \(reader.chunksRead) chunks, lost at least \(lost) events")
        throw ExitCodes.badData
    }
}
