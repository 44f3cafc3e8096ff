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
        // The same suspend sites and task names as the reports, for unmodified code too.
        let model = TraceModel(blockingThreshold: options.blockingThreshold, suspendSiteResolver: SuspendSiteResolver())
        do {
            try reader.forEachChunk { chunk in
                model.consume(chunk, into: &timeline)
                if timeline.summary.truncated || output.failed { throw Stop() }
            }
        } catch is Stop {}
        model.finish(into: &timeline)
        timeline.finish(model: model)
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
            ("wakeups", String(summary.wakeups)),
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
    /// ns, with the tasks each delayed. An ordinary analysis pass (``BlockingWindowCollector`` on
    /// ``TraceModel``), so its findings are `report`'s.
    public static func worstBlocking(reader: TraceReader, count: Int, threshold: Int64) throws -> [BlockingWindowFinding] {
        let model = TraceModel(blockingThreshold: threshold)
        var collector = BlockingWindowCollector(count: count)
        try reader.forEachChunk { chunk in model.consume(chunk, into: &collector) }
        model.finish(into: &collector)
        return collector.findings
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

/// The `count` worst blocking steps of a pass, with the tasks each delayed (``TraceModel``'s
/// `delayedTasks`) and the earliest time one of them became ready.
struct BlockingWindowCollector: TraceObserver {
    let count: Int
    var findings: [BlockingWindowFinding] = []
    /// Since when each ready task has been ready.
    var readySince: [UInt64: Int64] = [:]

    init(count: Int) { self.count = count }

    mutating func taskTransition(_ change: TaskTransition, model: TraceModel) {
        if change.to == .ready { readySince[change.task] = change.at } else if change.from == .ready { readySince[change.task] = nil }
    }

    mutating func step(_ step: StepRecord, model: TraceModel) {
        guard step.impact != nil else { return }
        let duration = step.duration
        if findings.count >= count, let least = findings.last, least.duration >= duration { return }
        let delayed = model.delayedTasks
        let earliest = delayed.reduce(step.begin) { min($0, readySince[$1] ?? step.begin) }
        let finding = BlockingWindowFinding(task: step.task, taskName: model.name(ofTask: step.task), begin: step.begin,
                                            end: step.end, delayed: delayed, earliestReady: earliest)
        let at = findings.firstIndex { $0.duration < duration } ?? findings.count
        findings.insert(finding, at: at)
        if findings.count > count { findings.removeLast() }
    }
}
