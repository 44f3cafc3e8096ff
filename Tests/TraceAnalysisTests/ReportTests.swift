import Foundation
import Testing
import TraceAnalysis
import TraceFormat
import TraceTestSupport

@Suite("Reports")
struct ReportTests {
    func loopShaped(_ dir: TemporaryDirectory, events: Int = 50_000) throws -> String {
        let path = dir.file("loop.trace")
        let recorder = try TraceRecorder(.init(path: path, bufferBytes: 16 << 10, programName: "gen", arguments: [],
                                               syntheticClock: true))
        var workload = LoopShapedWorkload(tasks: 16, seed: 3)
        workload.emit(into: recorder.makeStream(), events: events)
        recorder.close()
        return path
    }

    @Test("The JSON output round-trips and agrees with the model's counts")
    func jsonRoundTrips() throws {
        let dir = TemporaryDirectory()
        let path = try loopShaped(dir)
        let result = try TraceAnalysis.analyze(path: path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(result)
        let back = try JSONDecoder().decode(AnalysisResult.self, from: data)
        #expect(back.counts == result.counts)
        #expect(back.blocking == result.blocking)
        #expect(back.schedulingDelay == result.schedulingDelay)
        #expect(back.schema == "looptrace.analysis/1")
        #expect(result.counts.steps > 1_000)
        let text = ReportRenderer(result).report()
        #expect(text.contains("\(result.counts.tasks) (") && text.contains("→ looptrace blocking"))
    }

    @Test("A trace cut mid-chunk is analysed from what was recovered and says what was lost")
    func damagedTraceReportsLoss() throws {
        let dir = TemporaryDirectory()
        let path = try loopShaped(dir)
        let whole = try TraceAnalysis.analyze(path: path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes.removeLast(bytes.count / 3)
        let cut = dir.file("cut.trace")
        try bytes.write(to: URL(fileURLWithPath: cut))
        let partial = try TraceAnalysis.analyze(path: cut)
        #expect(partial.trace.damage.damagedChunks >= 1)
        #expect(partial.counts.steps > 0 && partial.counts.steps < whole.counts.steps)
        #expect(ReportRenderer(partial).report().contains("damage:"))
    }

    @Test("Every step of a generated trace is counted once, whatever the decoding threads")
    func threadsDoNotChangeTheResult() throws {
        let dir = TemporaryDirectory()
        let path = try loopShaped(dir)
        var one = AnalysisOptions()
        one.threads = 1
        var four = AnalysisOptions()
        four.threads = 4
        #expect(try TraceAnalysis.analyze(path: path, options: one) == TraceAnalysis.analyze(path: path, options: four))
    }
}
