import Testing
import TraceAnalysis
import TraceFormat

@Suite("The model's limits")
struct ModelLimitsTests {
    /// Tiny limits, so that a few events reach each.
    static var tiny: AnalysisOptions {
        var options = AnalysisOptions()
        options.limits.liveStateBytes = 8 << 10
        options.limits.streams = 1
        return options
    }

    /// A crafted trace of millions of never-finishing tasks took `report` to 475 MB: the model
    /// kept every live task whatever it cost.
    @Test("Tasks past the live-state limit are skipped, counted, and said in the report")
    func tasksPastTheLimitAreCounted() throws {
        let t = try SyntheticTrace()
        for id in UInt64(1)...1_000 {
            t.at(id * 1_000) { $0.taskCreate(task: id, parent: 0, name: "", site: nil) }
        }
        // A task past the limit: its step and its end are skipped, not anomalies.
        t.at(2_000_000) { $0.stepBegin(task: 999) }
        t.at(2_001_000) { $0.stepEnd(.completed, site: nil) }
        // A task that fits still runs its steps, which are counted.
        t.at(2_002_000) { $0.stepBegin(task: 1) }
        t.at(2_003_000) { $0.stepEnd(.completed, site: nil) }
        let (result, c) = try t.analyze(Self.tiny)
        let fitting = c.names.count
        #expect(fitting > 0 && fitting < 1_000)
        #expect(result.trace.damage.anomalies == 0)
        #expect(result.counts.steps == 1)
        let limits = try #require(result.trace.damage.limits)
        // Every task past the limit, plus the skipped step's begin and end.
        #expect(limits == ["\(1_000 - fitting + 2) events about tasks past the model's live-state limit (8 KiB) skipped"])
        #expect(ReportRenderer(result).damage().contains("limits reached"))
    }

    @Test("Callbacks past the live-state limit are counted, and finished tasks make room again")
    func callbacksPastTheLimitAreCounted() throws {
        let t = try SyntheticTrace()
        for h in UInt64(1)...1_000 {
            t.at(h * 1_000) { $0.callbackScheduled(handle: h, kind: .soon, dueInNanos: 0, site: siteA) }
        }
        let (result, _) = try t.analyze(Self.tiny)
        let limits = try #require(result.trace.damage.limits)
        #expect(limits.count == 1)
        #expect(limits[0].hasSuffix("callbacks scheduled past the model's live-state limit (8 KiB) not followed"))
    }

    @Test("Events of streams past the stream limit are skipped and counted")
    func streamsPastTheLimitAreCounted() throws {
        let t = try SyntheticTrace()
        t.at(1_000) { $0.loopStart(loop: 1) }
        let other = t.recorder.makeStream()
        other.setSyntheticTime(nanos: 2_000)
        other.loopStart(loop: 2)
        other.flush()
        t.at(3_000) { $0.loopStop(loop: 1) }
        let (result, _) = try t.analyze(Self.tiny)
        #expect(result.trace.damage.limits == ["1 events of streams past the limit of 1 streams skipped"])
    }

    @Test("A normal trace reaches no limit")
    func normalTraceReachesNoLimit() throws {
        let t = try SyntheticTrace()
        t.at(1_000) { $0.taskCreate(task: 1, parent: 0, name: "a", site: siteA) }
        t.at(2_000) { $0.stepBegin(task: 1) }
        t.at(3_000) { $0.stepEnd(.completed, site: nil) }
        let (result, _) = try t.analyze()
        #expect(result.trace.damage.limits == nil)
        #expect(result.trace.damage.isEmpty)
    }
}
