import Foundation
import Testing
@testable import TraceAnalysis
import TraceFormat
import TraceTestSupport

@Suite("Export")
struct ExportTests {
    /// A loop where task 1 wakes task 2 inside its step, a timer callback with a user span wakes
    /// task 1, and task 2's second step blocks for 150 ms.
    static func wakeChain() throws -> ExportTestTrace {
        let t = try ExportTestTrace()
        let ms: UInt64 = 1_000_000
        t.at(1_000) { $0.loopStart(loop: 1) }
        t.at(2_000) { $0.taskCreate(task: 1, parent: 0, name: "parent", site: exportSiteA) }
        t.at(3_000) { $0.taskCreate(task: 2, parent: 1, name: "child", site: exportSiteA) }
        t.at(4_000) { $0.wakeup(task: 1, waker: .thread, wakerID: 99) }
        t.at(10_000) { $0.stepBegin(task: 1) }
        t.at(11_000) { $0.wakeup(task: 2, waker: .task, wakerID: 1) }
        t.at(12_000) { $0.callbackScheduled(handle: 7, kind: .later, dueInNanos: 1 * Int64(ms), site: exportSiteTimer) }
        t.at(20_000) { $0.stepEnd(.suspended, site: exportSiteB) }
        t.at(21_000) { $0.stepBegin(task: 2) }
        t.at(30_000) { $0.stepEnd(.suspended, site: exportSiteB) }
        t.at(500_000) { $0.pollBegin(timeoutNanos: 1_000_000) }
        t.at(1 * ms + 10_000) { $0.pollEnd(readyCount: 0) }
        t.at(1 * ms + 12_000) { $0.timerFired(handle: 7, dueInNanos: -500) }
        t.at(1 * ms + 13_000) { $0.callbackBegin(handle: 7) }
        t.at(1 * ms + 14_000) { $0.spanBegin("parse") }
        t.at(1 * ms + 15_000) { $0.wakeup(task: 1, waker: .timer, wakerID: 7) }
        t.at(1 * ms + 16_000) { $0.wakeup(task: 2, waker: .timer, wakerID: 7) }
        t.at(1 * ms + 17_000) { $0.spanEnd("parse") }
        t.at(1 * ms + 18_000) { $0.callbackEnd(handle: 7) }
        t.at(1 * ms + 20_000) { $0.stepBegin(task: 2) }
        t.at(151 * ms + 20_000) { $0.stepEnd(.completed, site: nil) }
        t.at(151 * ms + 21_000) { $0.stepBegin(task: 1) }
        t.at(151 * ms + 30_000) { $0.stepEnd(.completed, site: nil) }
        t.at(151 * ms + 40_000) { $0.pollBegin(timeoutNanos: -1) }
        t.close()
        return t
    }

    @Test func stepsFlowsStatesAndBlockingAreDrawnAsTheViewersNeedThem() throws {
        let t = try Self.wakeChain()
        let summary = try t.export()
        let check = try ChromeExportCheck(path: t.file("out.json"))
        #expect(check.problems.isEmpty, "\(check.problems)")
        #expect(summary.steps == 4)
        #expect(check.steps.map(\.name) == ["parent step #1", "child step #1", "child step #2", "parent step #2"])
        // parent → child inside parent's step, then the timer callback → child and → parent.
        #expect(check.flows == 3)
        #expect(summary.flows == 3)
        let first = try #require(check.steps.first)
        #expect(first.args["resume"] as? String == "")
        #expect((first.args["suspend"] as? String)?.hasSuffix(":57:handle()") == true)
        #expect(first.args["outcome"] as? String == "suspended")
        let blocking = check.steps.filter { $0.cat == "step,blocking" }
        #expect(blocking.map(\.name) == ["child step #2"])
        #expect(check.raw.contains(#""ph":"i","s":"p","cat":"blocking""#))
        #expect(check.raw.contains("blocking step: child step #2 (150.00 ms)"))
        // The user span nests inside its callback.
        let span = try #require(check.slices.first { $0.cat == "user" })
        let callback = try #require(check.slices.first { $0.cat == "callback" })
        #expect(span.begin >= callback.begin && span.end <= callback.end)
        #expect(callback.name == "callback App/Timer.swift:9:tick()")
        // ns precision: the child's blocking step starts at 1.020 ms exactly.
        #expect(check.raw.contains(#""ts":1020.000,"dur":150000.000,"cat":"step,blocking""#))
        // Each task is covered from creation to its end.
        let child = check.slices.filter { $0.cat == "state" && $0.args["task"] as? Int == 2 }.sorted { $0.begin < $1.begin }
        #expect(child.map(\.name) == ["created", "ready", "running", "suspended: App/Handler.swift:57:handle()", "ready", "running"])
        #expect(child.first?.begin == 3_000 && child.last?.end == 151 * 1_000_000 + 20_000)
        // Counters are there.
        #expect(check.raw.contains(#""name":"ready_queue""#))
        // The loop iteration after the poll ran parent 150.006 ms after it was ready.
        #expect(check.raw.contains(#""name":"loop_lag_ms","pid":1,"ts":1010.000,"args":{"lag":150.006000}"#))
        #expect(!check.raw.contains(",\n]"))
    }

    @Test func flowStartAtTheWakersLastNanosecondStaysInsideItsSlice() throws {
        // Regression: a wakeup recorded at the same ns as the waker's stepEnd put the flow
        // start exactly at the slice end, which the legacy viewer rejects.
        let t = try ExportTestTrace()
        t.at(1_000) { $0.taskCreate(task: 1, parent: 0, name: "a", site: exportSiteA) }
        t.at(1_000) { $0.taskCreate(task: 2, parent: 0, name: "b", site: exportSiteA) }
        t.at(2_000) { $0.stepBegin(task: 1) }
        t.at(5_000) { $0.wakeup(task: 2, waker: .task, wakerID: 1) }
        t.at(5_000) { $0.stepEnd(.suspended, site: exportSiteB) }
        t.at(6_000) { $0.stepBegin(task: 2) }
        t.at(7_000) { $0.stepEnd(.suspended, site: exportSiteB) }
        t.close()
        _ = try t.export()
        let check = try ChromeExportCheck(path: t.file("out.json"))
        #expect(check.problems.isEmpty, "\(check.problems)")
        #expect(check.flows == 1)
        #expect(check.flowStarts.values.first?.ns == 4_999)
    }

    @Test func protobufHasTheSameSlicesAndFlowsAsJSON() throws {
        let t = try Self.wakeChain()
        let json = try t.export()
        let proto = try t.export(.perfetto, to: "out.pftrace")
        let count = try PerfettoExportCount(path: t.file("out.pftrace"))
        let check = try ChromeExportCheck(path: t.file("out.json"))
        #expect(count.sliceBegins == check.slices.count)
        #expect(count.sliceEnds == count.sliceBegins)
        #expect(count.flows == check.flows)
        #expect(proto.steps == json.steps && proto.flows == json.flows && proto.events == json.events)
    }

    @Test func goldenSampleExportsCleanlyBothWays() throws {
        let t = try ExportTestTrace()
        t.close()
        let sample = t.file("loop-shaped.trace")
        try LoopShapedWorkload.writeGoldenSample(to: sample)
        var options = ExportOptions()
        options.threads = 1
        let json = try TraceExporter.export(reader: TraceReader(path: sample), to: t.file("g.json"), options: options)
        options.format = .perfetto
        let proto = try TraceExporter.export(reader: TraceReader(path: sample), to: t.file("g.pftrace"), options: options)
        let check = try ChromeExportCheck(path: t.file("g.json"))
        #expect(check.problems.isEmpty, "\(check.problems.prefix(5))")
        var stepEnds = 0
        try TraceReader(path: sample).forEachEvent { e, _ in if e.type == .stepEnd { stepEnds += 1 } }
        #expect(check.steps.count == stepEnds)
        let count = try PerfettoExportCount(path: t.file("g.pftrace"))
        #expect(count.sliceBegins == check.slices.count)
        #expect(count.flows == check.flows)
        #expect(json.flows == proto.flows && json.flows > 0)
    }

    @Test func maxEventsCutsAtACompleteFile() throws {
        let t = try Self.wakeChain()
        let summary = try t.export { $0.maxEvents = 5 }
        #expect(summary.truncated)
        #expect(summary.events <= 5)
        let check = try ChromeExportCheck(path: t.file("out.json"))
        #expect(check.problems.filter { !$0.contains("task") }.isEmpty, "\(check.problems)")
        #expect(check.raw.contains("truncatedAtNanos"))
    }

    @Test func taskFilterKeepsOnlyThatTasksStepsAndTrack() throws {
        let t = try Self.wakeChain()
        let summary = try t.export { $0.taskFilter = TaskFilter("child") }
        #expect(summary.steps == 2)
        let check = try ChromeExportCheck(path: t.file("out.json"))
        #expect(check.problems.isEmpty, "\(check.problems)")
        #expect(Set(check.slices.filter { $0.cat == "state" }.compactMap { $0.args["task"] as? Int }) == [2])
        #expect(check.slices.allSatisfy { $0.cat != "callback" })
        #expect(throws: ExportFilterError.self) { try t.export { $0.taskFilter = TaskFilter("nobody") } }
        #expect(!FileManager.default.fileExists(atPath: t.file("out.json")) || check.steps.count == 2)
    }

    @Test func aroundBlockingShowsTheWorstStepAndTheTasksItDelayed() throws {
        let t = try Self.wakeChain()
        let findings = try TraceExporter.worstBlocking(reader: TraceReader(path: t.path), count: 1, threshold: 100_000_000)
        let worst = try #require(findings.first)
        #expect(worst.taskName == "child")
        #expect(worst.delayed == [1])
        let (windows, tasks) = TraceExporter.windows(around: findings)
        #expect(tasks == [1, 2])
        let summary = try t.export {
            $0.windows = windows
            $0.trackedTasks = tasks
        }
        #expect(summary.blocking == 1)
        let check = try ChromeExportCheck(path: t.file("out.json"))
        #expect(check.steps.contains { $0.name == "child step #2" })
    }

    /// Tasks sleeping on timers that came due during a blocking step were delayed by it too, though
    /// they were not ready yet when it ended: slow-service's 150 ms step delays `main` and `metrics`.
    @Test func aroundBlockingCountsTasksWhoseTimersCameDueDuringTheStep() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path + "/traces/slow-service.trace"
        let findings = try TraceExporter.worstBlocking(reader: TraceReader(path: sample), count: 1, threshold: 100_000_000)
        let worst = try #require(findings.first)
        #expect(worst.taskName == "request17")
        #expect(Set(worst.delayed).isSuperset(of: [1, 2]), "\(worst.delayed)")
    }

    @Test func windowKeepsOverlappingSlicesWhole() throws {
        let t = try Self.wakeChain()
        _ = try t.export { $0.windows = [100_000_000..<100_000_001] }
        let check = try ChromeExportCheck(path: t.file("out.json"))
        #expect(check.steps.map(\.name) == ["child step #2"])
        #expect(check.steps.first?.end == 151_020_000)
    }

    @Test func unwritableOutputLeavesNothingBehind() throws {
        let t = try Self.wakeChain()
        #expect(throws: ExportError.self) { try t.export(to: "missing-dir/out.json") }
        // An existing file is replaced only by a complete export.
        try "previous".write(toFile: t.file("keep.json"), atomically: true, encoding: .utf8)
        #expect(throws: ExportFilterError.self) { try t.export(to: "keep.json") { $0.taskFilter = TaskFilter("nobody") } }
        #expect(try String(contentsOfFile: t.file("keep.json"), encoding: .utf8) == "previous")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: t.directory).filter { $0.contains("partial") }
        #expect(leftovers.isEmpty)
    }

    @Test func microsecondsKeepEveryNanosecond() {
        var buffer = ExportBuffer(capacity: 64)
        defer { buffer.deallocate() }
        for (ns, text) in [(Int64(0), "0.000"), (1, "0.001"), (999, "0.999"), (1_000, "1.000"),
                           (1_700_000_000_123_456_789, "1700000000123456.789"), (-1_500, "-1.500")] {
            buffer.count = 0
            buffer.micros(ns)
            #expect(String(decoding: UnsafeBufferPointer(start: buffer.base, count: buffer.count), as: UTF8.self) == text)
        }
    }
}
