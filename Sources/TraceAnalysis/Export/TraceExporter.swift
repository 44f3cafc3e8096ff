import TraceFormat

/// A blocking step found by the first pass of `--around-blocking`, with the tasks it delayed.
public struct BlockingWindowFinding: Sendable, Equatable {
    public var task: UInt64
    public var taskName: String
    public var begin: Int64
    public var end: Int64
    /// Tasks that were ready while it ran, so waited for it.
    public var delayed: [UInt64]
    /// The earliest time one of them became ready.
    public var earliestReady: Int64
    public var duration: Int64 { end - begin }
}

/// Exports a trace to Chrome JSON or Perfetto protobuf in one streaming pass.
///
/// Memory does not depend on the trace's length (see ``ExportTimeline``). The output appears
/// under its name only when complete (``ExportOutput``).
public enum TraceExporter {
    /// Why reading stopped early.
    struct Stop: Error {}

    /// Exports what `reader` reads to `outputPath`.
    /// - Parameters:
    ///   - reader: an opened trace (read once, lenient or strict as it was opened).
    ///   - outputPath: the file to write; replaced only when the export is complete.
    ///   - options: format, filters and limits.
    /// - Returns: what was written, including the reader's damage.
    /// - Throws: ``ExportError`` when the output cannot be written; the reader's
    ///   ``TraceFormatError`` in strict mode. Nothing is left at `outputPath` then.
    public static func export(reader: TraceReader, to outputPath: String, options: ExportOptions) throws -> ExportSummary {
        let output = try ExportOutput(path: outputPath)
        do {
            var summary: ExportSummary
            switch options.format {
            case .chrome:
                summary = try run(reader: reader, sink: ChromeTraceWriter(output: output), output: output, options: options)
            case .perfetto:
                summary = try run(reader: reader, sink: PerfettoTraceWriter(output: output), output: output, options: options)
            }
            try output.commit()
            summary.bytes = output.bytesWritten
            return summary
        } catch {
            output.discard()
            throw error
        }
    }

    static func run<Sink: ExportSink>(reader: TraceReader, sink: Sink, output: ExportOutput,
                                      options: ExportOptions) throws -> ExportSummary {
        let header = reader.header
        let pid = header.pid == 0 ? 1 : Int64(header.pid)
        var timeline = ExportTimeline(sink: sink, options: options, pid: pid,
                                      processName: header.program.isEmpty ? "looptrace" : header.program)
        do {
            try reader.forEachChunk { chunk in
                timeline.consume(chunk)
                if timeline.summary.truncated || output.failed { throw Stop() }
            }
        } catch is Stop {}
        timeline.finish()
        if options.taskFilter != nil, timeline.tasksMatched == 0 {
            throw ExportFilterError.noSuchTask(options.taskFilter!.text)
        }
        var summary = timeline.summary
        summary.damage = reader.damage.map(\.description)
        summary.eventsLostToDamage = reader.eventsLostToDamage
        var metadata: [(String, String)] = [
            ("exporter", "looptrace export"),
            ("source", reader.path),
            ("program", ([header.program] + header.arguments).joined(separator: " ")),
            ("steps", String(summary.steps)),
            ("callbacks", String(summary.callbacks)),
            ("flows", String(summary.flows)),
            ("stateSlices", String(summary.states)),
            ("blocking", String(summary.blocking)),
            ("blockingThresholdNanos", String(options.blockingThreshold)),
            ("timeOrigin", "trace start (ts 0 = the trace's first nanosecond)"),
        ]
        if summary.truncated { metadata.append(("truncatedAtNanos", String(summary.cutAt))) }
        if !reader.damage.isEmpty { metadata.append(("damagedRegions", String(reader.damageCount))) }
        timeline.sink.finish(metadata: metadata)
        return summary
    }

    /// The first pass of `--around-blocking`: the `count` worst steps of at least `threshold`
    /// ns, with the tasks each delayed.
    public static func worstBlocking(reader: TraceReader, count: Int, threshold: Int64) throws -> [BlockingWindowFinding] {
        var options = ExportOptions()
        options.blockingThreshold = threshold
        var timeline = ExportTimeline(sink: NullExportSink(), options: options, pid: 1, processName: "")
        timeline.collectBlocking = count
        try reader.forEachChunk { chunk in timeline.consume(chunk) }
        return timeline.blockingFindings
    }

    /// The windows and tracked tasks that show `findings`: each step with room around it (a
    /// quarter of its length, 1 ms to 250 ms) from the earliest ready time of a task it
    /// delayed; overlapping windows merged.
    public static func windows(around findings: [BlockingWindowFinding]) -> (windows: [Range<Int64>], tasks: Set<UInt64>) {
        var ranges: [Range<Int64>] = []
        var tasks = Set<UInt64>()
        for f in findings {
            let pad = min(max(f.duration / 4, 1_000_000), 250_000_000)
            ranges.append(max(0, min(f.begin, f.earliestReady) - pad)..<(f.end + pad))
            tasks.insert(f.task)
            tasks.formUnion(f.delayed)
        }
        ranges.sort { $0.lowerBound < $1.lowerBound }
        var merged: [Range<Int64>] = []
        for r in ranges {
            if let last = merged.last, r.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        return (merged, tasks)
    }
}

/// A filter that matched nothing.
public enum ExportFilterError: Error, Sendable, Equatable, CustomStringConvertible {
    case noSuchTask(String)

    public var description: String {
        switch self {
        case .noSuchTask(let text): "no task named or numbered \"\(text)\" in the trace"
        }
    }
}

/// A sink that drops everything (the first pass of `--around-blocking`).
struct NullExportSink: ExportSink {
    mutating func process(pid: Int64, name: String, strings: inout ExportStrings) {}
    mutating func slice(_ slice: ExportSlice, nested: ArraySlice<ExportNested>, flowsOut: ArraySlice<UInt64>,
                        strings: inout ExportStrings) {}
    mutating func marker(name: String, at time: Int64, strings: inout ExportStrings) {}
    mutating func mark(tid: Int64, name: Int32, at time: Int64, value: Int64, strings: inout ExportStrings) {}
    mutating func readyQueue(depth: Int, at time: Int64) {}
    mutating func loopLag(nanos: Int64, at time: Int64) {}
    mutating func thread(tid: Int64, name: String, sortIndex: Int, strings: inout ExportStrings) {}
    mutating func finish(metadata: [(String, String)]) {}
}
