import ArgumentParser
import Foundation
import TraceAnalysis
import TraceFormat

/// `looptrace export FILE -o OUT`: the trace as Chrome JSON or Perfetto protobuf, for
/// ui.perfetto.dev and chrome://tracing.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a trace for ui.perfetto.dev or chrome://tracing (Chrome JSON or Perfetto protobuf).",
        discussion: """
            Shows the loop thread's steps and callbacks (user spans nested inside), one track \
            per task with its ready, running and suspended time, arrows from each waker to the \
            step it woke, blocking steps (category "blocking" and a marker), and the ready-queue \
            depth and loop lag counters. Times are µs from the trace start, exact to the ns.

            JSON costs ~190 bytes per trace event and the viewers struggle past a few hundred \
            MB: cut a window out of a big trace with --since/--until, --task or \
            --around-blocking, cap it with --max-events, or write --format perfetto (about a \
            fifth of the size: interned names and delta timestamps).

            A file output appears only when complete (written to a temporary file beside it, \
            then renamed over it; a symbolic link is followed and kept, its target replaced). \
            `-o -` writes to standard output; devices, FIFOs and /dev/stdout are written in \
            place, never replaced. The summary line goes to stderr when the export goes to \
            standard output.

            Exit codes: 0 written; 64 conflicting or bad options, or --task matched no task; \
            65 the trace is damaged (what was recovered is still exported) or not a trace; \
            66 the trace cannot be read; 73 the output cannot be created; 74 writing it failed \
            (a write or close error, e.g. a full disk).

            Examples:
              looptrace export slow.trace -o slow.json
              looptrace export slow.trace --format perfetto -o slow.pftrace
              looptrace export slow.trace --around-blocking 1 -o worst.json
              looptrace export big.trace --since 2s --until 2.5s --task worker-7 -o w7.json
            """
    )

    @OptionGroup var input: TraceInputOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("The file to write, - for standard output (default: FILE with .json or .pftrace).",
                                                     valueName: "out"))
    var output: String?

    @Option(help: ArgumentHelp("chrome (JSON, default) or perfetto (protobuf TrackEvent).", valueName: "format"))
    var format: ExportFormatArgument = .init(.chrome)

    @Option(parsing: .unconditional,
            help: DurationArgument.help("Steps and callbacks this long or longer are marked blocking (ns, us, ms, s).",
                                        default: DurationArgument.defaultThreshold),
            transform: { try DurationArgument(parsing: $0) })
    var threshold = DurationArgument.defaultThreshold

    @Option(parsing: .unconditional, help: DurationArgument.help("Keep what overlaps this time on (since the trace start: 1.5s, 200ms)."),
            transform: { try DurationArgument(parsing: $0) })
    var since: DurationArgument?

    @Option(parsing: .unconditional, help: DurationArgument.help("Keep what overlaps the time before this."),
            transform: { try DurationArgument(parsing: $0) })
    var until: DurationArgument?

    @Option(help: ArgumentHelp("Only this task's steps and track (name or id).", valueName: "name|id"))
    var task: String?

    @Option(name: .customLong("around-blocking"),
            help: ArgumentHelp("Only windows around the N worst blocking steps, with the tasks they delayed.", valueName: "n"))
    var aroundBlocking: Int?

    @Option(name: .customLong("max-events"), help: ArgumentHelp("Stop after this many events (a notice says where).", valueName: "n"))
    var maxEvents: Int?

    func validate() throws {
        if let aroundBlocking, aroundBlocking < 1 {
            throw ValidationError("--around-blocking must be at least 1, got \(aroundBlocking)")
        }
        if aroundBlocking != nil, since != nil || until != nil || task != nil {
            throw ValidationError("--around-blocking chooses its own windows and tasks: drop --since, --until and --task")
        }
        if let since, let until, since.nanos >= until.nanos {
            throw ValidationError("--since (\(Durations.format(since.nanos))) must be before --until (\(Durations.format(until.nanos)))")
        }
        if let maxEvents, maxEvents < 1 {
            throw ValidationError("--max-events must be at least 1, got \(maxEvents)")
        }
        if let output, output == input.file || Self.sameFile(output, input.file) {
            throw ValidationError("the output would overwrite the trace \(input.file)")
        }
    }

    func run() throws {
        var options = ExportOptions()
        options.format = format.format
        options.blockingThreshold = threshold.nanos
        options.threads = input.threads ?? TraceReader.defaultThreads
        if let maxEvents { options.maxEvents = maxEvents }
        if since != nil || until != nil {
            options.windows = [(since?.nanos ?? 0)..<(until?.nanos ?? Int64.max)]
        }
        if let task { options.taskFilter = TaskFilter(task) }
        let out = output ?? Self.defaultOutput(for: input.file, format: options.format)

        if let n = aroundBlocking {
            let findings: [BlockingWindowFinding]
            do {
                findings = try TraceExporter.worstBlocking(reader: try input.open(), count: n, threshold: threshold.nanos)
            } catch let error as TraceFormatError {
                // --strict: the first damage ends the first pass, before anything is written.
                printError("\(input.file): \(error); nothing written")
                throw ExitCodes.badData
            }
            if findings.isEmpty {
                printError("\(input.file): no step or callback of \(Durations.format(threshold.nanos)) or more; nothing to show around (lower --threshold?)")
                throw ExitCodes.usage
            }
            let (windows, tasks) = TraceExporter.windows(around: findings)
            options.windows = windows
            options.trackedTasks = tasks
        }

        let reader = try input.open()
        let summary: ExportSummary
        do {
            summary = try TraceExporter.export(reader: reader, to: out, options: options)
        } catch let error as ExportError {
            printError(error.description)
            if case .cannotCreate = error { throw ExitCodes.cannotCreate }
            throw ExitCodes.ioError
        } catch let error as ExportFilterError {
            printError("\(input.file): \(error)")
            throw ExitCodes.usage
        } catch let error as TraceFormatError {
            printError("\(input.file): \(error); " + (ExportOutput.writesInPlace(out) ? "the output is incomplete" : "nothing written"))
            throw ExitCodes.badData
        }
        if summary.truncated {
            printError("export cut at \(summary.events) events (--max-events) at \(Durations.formatTime(summary.cutAt)) into the trace; narrow it with --since/--until, --task or --around-blocking")
        }
        if summary.spansDropped > 0 {
            printError("note: \(summary.spansDropped) user spans crossed a step or callback boundary and were left out")
        }
        if since != nil || until != nil, summary.steps + summary.callbacks + summary.states == 0 {
            printError("warning: nothing happens in the window \(windowText): no step, callback or task state "
                       + "(`looptrace info \(input.file)` shows the trace's span)")
        }
        // The summary must not end up inside an export written to stdout.
        let summaryLine = "wrote \(out == "-" ? "standard output" : out): \(summary.steps) steps, \(summary.callbacks) callbacks, \(summary.flows) wake flows, \(summary.blocking) blocking, \(summary.events) events, \(formatBytes(summary.bytes))"
        if Self.isStandardOutput(out) {
            writeAll(fd: 2, Array((summaryLine + "\n").utf8))
        } else {
            print(summaryLine)
        }
        if let first = summary.damage.first {
            let more = summary.damage.count > 1 ? " (and \(summary.damage.count - 1) more damaged regions)" : ""
            printError("\(input.file): \(first)\(more); exported what was recovered (\(summary.eventsRead) events), lost at least \(summary.eventsLostToDamage) events")
            throw ExitCodes.badData
        }
    }

    /// `--since 2s --until 3s`, as given.
    var windowText: String {
        [since.map { "--since \($0)" }, until.map { "--until \($0)" }].compactMap { $0 }.joined(separator: " ")
    }

    /// Whether `path` names this process's standard output (`-`, `/dev/stdout`, or the very file,
    /// pipe or terminal fd 1 is).
    static func isStandardOutput(_ path: String) -> Bool {
        if path == "-" { return true }
        var a = stat()
        var b = stat()
        return fstat(1, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

    /// Whether two paths name the same existing file (through links too).
    static func sameFile(_ a: String, _ b: String) -> Bool {
        var x = stat()
        var y = stat()
        return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino
    }

    /// `slow.trace` → `slow.json` or `slow.pftrace`.
    static func defaultOutput(for file: String, format: ExportOptions.Format) -> String {
        let ext = format == .chrome ? ".json" : ".pftrace"
        let base = file.hasSuffix(".trace") ? String(file.dropLast(6)) : file
        return base + ext
    }
}

/// `--format chrome|perfetto`.
struct ExportFormatArgument: ExpressibleByArgument, Sendable {
    var format: ExportOptions.Format
    init(_ format: ExportOptions.Format) { self.format = format }
    init?(argument: String) {
        switch argument.lowercased() {
        case "chrome", "json": format = .chrome
        case "perfetto", "protobuf", "pftrace": format = .perfetto
        default: return nil
        }
    }
    var defaultValueDescription: String { format.rawValue }
    static var allValueStrings: [String] { ["chrome", "perfetto"] }
}
