import Foundation
import TraceAnalysis
import TraceFormat
@_exported import TraceTestSupport

/// Records a trace on a synthetic clock: every event happens at the time given, in ns.
final class SyntheticTrace {
    let dir = TemporaryDirectory()
    let path: String
    let recorder: TraceRecorder
    let stream: TraceStream

    init() throws {
        path = dir.file("synthetic.trace")
        recorder = try TraceRecorder(.init(path: path, bufferBytes: 16 << 10, programName: "synthetic", arguments: [],
                                           syntheticClock: true))
        stream = recorder.makeStream()
    }

    /// Runs `body` with the stream's clock at `nanos`.
    func at(_ nanos: UInt64, _ body: (TraceStream) -> Void) {
        stream.setSyntheticTime(nanos: nanos)
        body(stream)
    }

    /// Closes the recorder and analyses the trace, collecting every interval.
    func analyze(_ options: AnalysisOptions = AnalysisOptions()) throws -> (AnalysisResult, Collector) {
        recorder.close()
        var options = options
        options.threads = 1
        return try TraceAnalysis.analyze(path: path, options: options, extra: Collector())
    }
}

/// An observer that keeps everything, for assertions.
struct Collector: TraceObserver {
    var steps: [StepRecord] = []
    var callbacks: [CallbackRecord] = []
    var slices: [TaskStateSlice] = []
    var wakes: [WakeEdge] = []
    var timers: [TimerRecord] = []
    var polls: [PollRecord] = []
    var summaries: [UInt64: TaskSummary] = [:]
    var names: [UInt64: String] = [:]
    var sites: [SiteID: String] = [:]

    mutating func taskCreated(_ task: UInt64, at time: Int64, model: TraceModel) { names[task] = model.name(ofTask: task) }
    mutating func step(_ step: StepRecord, model: TraceModel) {
        steps.append(step)
        sites[step.resumeSite] = model.sites[step.resumeSite]
        sites[step.suspendSite] = model.sites[step.suspendSite]
    }
    mutating func callback(_ callback: CallbackRecord, model: TraceModel) { callbacks.append(callback) }
    mutating func taskState(_ slice: TaskStateSlice, model: TraceModel) { slices.append(slice) }
    mutating func wake(_ edge: WakeEdge, model: TraceModel) { wakes.append(edge) }
    mutating func timer(_ timer: TimerRecord, model: TraceModel) { timers.append(timer) }
    mutating func poll(_ poll: PollRecord, model: TraceModel) { polls.append(poll) }
    mutating func taskFinished(_ summary: TaskSummary, model: TraceModel) { summaries[summary.id] = summary }

    func site(_ id: SiteID) -> String { sites[id] ?? "?" }
}

let siteA = SourceSite(file: "App/Handler.swift", line: 42, function: "handle()")
let siteB = SourceSite(file: "App/Handler.swift", line: 57, function: "handle()")
let siteC = SourceSite(file: "App/Timer.swift", line: 9, function: "tick()")
let ms: UInt64 = 1_000_000
let us: UInt64 = 1_000
