import Testing
import TraceAnalysis
import TraceFormat

@Suite("Task timelines")
struct TraceModelTests {
    /// Two tasks: "parent" wakes "child" twice; every interval has a known length.
    func pingPong() throws -> SyntheticTrace {
        let t = try SyntheticTrace()
        t.at(1_000) { $0.loopStart(loop: 1) }
        t.at(2_000) { $0.taskCreate(task: 1, parent: 0, name: "parent", site: siteA) }
        t.at(2_000) { $0.wakeup(task: 1, waker: .task, wakerID: 0) }
        t.at(5_000) { $0.stepBegin(task: 1) }
        t.at(6_000) { $0.taskCreate(task: 2, parent: 1, name: "child", site: siteA) }
        t.at(6_000) { $0.wakeup(task: 2, waker: .task, wakerID: 1) }
        t.at(10_000) { $0.stepEnd(.suspended, site: siteB) }
        t.at(12_000) { $0.stepBegin(task: 2) }            // child ready 6 µs
        t.at(20_000) { $0.stepEnd(.suspended, site: siteC) }
        t.at(20_500) { $0.pollBegin(timeoutNanos: -1) }
        t.at(30_500) { $0.pollEnd(readyCount: 1) }
        t.at(31_000) { $0.stepBegin(task: 1) }            // parent woken by nothing seen: no delay
        t.at(33_000) { $0.wakeup(task: 2, waker: .task, wakerID: 1) }
        t.at(39_000) { $0.taskObserved(task: 2, how: .awaited) }   // parent awaits child
        t.at(40_000) { $0.stepEnd(.suspended, site: siteB) }
        t.at(45_000) { $0.stepBegin(task: 2) }            // child ready 12 µs
        t.at(46_000) { $0.wakeup(task: 1, waker: .task, wakerID: 2) }
        t.at(50_000) { $0.stepEnd(.completed, site: nil) }
        t.at(51_000) { $0.stepBegin(task: 1) }            // parent ready 5 µs
        t.at(52_000) { $0.stepEnd(.completed, site: nil) }
        t.at(60_000) { $0.loopStop(loop: 1) }
        return t
    }

    @Test("Steps, scheduling delays and wake edges are exact")
    func stepsAndDelaysAreExact() throws {
        let (result, c) = try pingPong().analyze()
        #expect(c.steps.map(\.duration) == [5_000, 8_000, 9_000, 5_000, 1_000])
        #expect(c.steps.map(\.task) == [1, 2, 1, 2, 1])
        #expect(c.steps.map(\.index) == [1, 1, 2, 2, 3])
        #expect(c.steps.map(\.schedulingDelay) == [3_000, 6_000, nil, 12_000, 5_000])
        #expect(result.schedulingDelay.count == 4)
        #expect(result.schedulingDelay.maxNanos == 12_000)
        #expect(result.schedulingDelay.minNanos == 3_000)
        #expect(result.schedulingDelay.meanNanos == 6_500)
        #expect(result.worstSchedulingDelay?.name == "child")
        #expect(result.worstSchedulingDelay?.step == 2)
        // Wake edges name the waking step.
        let childWake = try #require(c.steps[3].wake)
        #expect(childWake.wakerTask == 1 && childWake.wakerStep == 2 && childWake.wakerKind == .task)
        let parentWake = try #require(c.steps[4].wake)
        #expect(parentWake.wakerTask == 2 && parentWake.wakerStep == 2)
        #expect(c.site(c.steps[2].resumeSite) == siteB.description)
        #expect(c.site(c.steps[2].suspendSite) == siteB.description)
        #expect(c.site(c.steps[3].resumeSite) == siteC.description)
    }

    @Test("Task summaries fold busy, ready-wait and suspended time")
    func summariesAreExact() throws {
        let (result, c) = try pingPong().analyze()
        let parent = try #require(c.summaries[1])
        #expect(parent.steps == 3 && parent.busyNanos == 15_000)
        #expect(parent.readyWaitNanos == 3_000 + 5_000)
        #expect(parent.suspendedNanos == 21_000 + 6_000)  // 10→31 µs, then 40→46 µs
        #expect(parent.outcome == .completed && parent.finishedAt == 52_000)
        let child = try #require(c.summaries[2])
        #expect(child.busyNanos == 13_000 && child.readyWaitNanos == 18_000 && child.suspendedNanos == 13_000)
        #expect(child.wakersByKind[Int(WakerKind.task.rawValue)] == 2)
        #expect(child.waitersAtFinish == 1)
        #expect(parent.waitersAtFinish == 0)
        #expect(result.counts.steps == 5 && result.counts.tasks == 2 && result.counts.tasksFinished == 2)
        // Nothing observed parent: never awaited; parent awaited child.
        #expect(result.lints.items.map(\.kind) == [.neverAwaited])
        #expect(result.lints.items.first?.name == "parent")
    }

    @Test("State slices tile each task's life without gaps or overlaps")
    func slicesTile() throws {
        let (_, c) = try pingPong().analyze()
        for task in [UInt64(1), 2] {
            let slices = c.slices.filter { $0.task == task }
            for (a, b) in zip(slices, slices.dropFirst()) { #expect(a.end == b.begin, "task \(task): \(a) then \(b)") }
            #expect(slices.allSatisfy { $0.end >= $0.begin })
        }
        let child = c.slices.filter { $0.task == 2 }.map(\.state)
        #expect(child == [.created, .ready, .running, .suspended, .ready, .running])
    }

    @Test("A cross-thread send is ready from the send, never before the task's current state began")
    func crossThreadSendsCountFromTheSend() throws {
        let t = try SyntheticTrace()
        t.at(0) { $0.taskCreate(task: 1, parent: 0, name: "a", site: siteA) }
        t.at(0) { $0.taskCreate(task: 2, parent: 0, name: "b", site: siteA) }
        t.at(1 * us) { $0.wakeup(task: 1, waker: .task, wakerID: 0) }
        t.at(1 * us) { $0.wakeup(task: 2, waker: .task, wakerID: 0) }
        t.at(2 * us) { $0.stepBegin(task: 1) }
        t.at(3 * us) { $0.stepEnd(.suspended, site: siteB) }
        t.at(4 * us) { $0.stepBegin(task: 2) }
        t.at(10 * us) { $0.stepEnd(.suspended, site: siteB) }
        // Both sent at 5 µs, taken from the inbox at 50 µs: `a` (suspended since 3 µs) is ready
        // from 5 µs; `b` suspended only at 10 µs, so it is ready from there.
        t.at(50 * us) { $0.wakeupSent(task: 1, sentInNanos: -45_000) }
        t.at(50 * us) { $0.wakeup(task: 1, waker: .thread, wakerID: 99) }
        t.at(50 * us) { $0.wakeupSent(task: 2, sentInNanos: -45_000) }
        t.at(50 * us) { $0.wakeup(task: 2, waker: .thread, wakerID: 99) }
        // A threadsafe callback sent at 20 µs, taken at 50 µs, run at 60 µs.
        t.at(50 * us) { $0.callbackScheduled(handle: 5, kind: .threadsafe, dueInNanos: -30_000, site: siteC) }
        t.at(60 * us) { $0.callbackBegin(handle: 5) }
        t.at(61 * us) { $0.callbackEnd(handle: 5) }
        t.at(70 * us) { $0.stepBegin(task: 1) }
        t.at(71 * us) { $0.stepEnd(.completed, site: nil) }
        t.at(80 * us) { $0.stepBegin(task: 2) }
        t.at(81 * us) { $0.stepEnd(.completed, site: nil) }
        let (_, c) = try t.analyze()
        #expect(c.steps.filter { $0.index == 2 }.map(\.schedulingDelay) == [65_000, 70_000])
        #expect(c.callbacks.first?.queueDelay == 40_000)
        for task in [UInt64(1), 2] {
            let slices = c.slices.filter { $0.task == task }
            for (a, b) in zip(slices, slices.dropFirst()) { #expect(a.end == b.begin, "task \(task): \(a) then \(b)") }
        }
    }

    @Test("A cancelled timer no longer counts as pending work")
    func cancelledTimersAreNotPending() throws {
        let t = try SyntheticTrace()
        t.at(0) { $0.loopStart(loop: 1) }
        t.at(0) { $0.taskCreate(task: 1, parent: 0, name: "stuck", site: siteA) }
        t.at(1 * us) { $0.wakeup(task: 1, waker: .task, wakerID: 0) }
        t.at(2 * us) { $0.stepBegin(task: 1) }
        t.at(3 * us) { $0.callbackScheduled(handle: 4, kind: .later, dueInNanos: 1_000_000_000, site: siteC) }
        t.at(4 * us) { $0.stepEnd(.suspended, site: siteB) }
        t.at(5 * us) { $0.callbackCancelled(handle: 4) }
        t.at(9 * us) { $0.loopStop(loop: 1) }
        let (result, _) = try t.analyze()
        #expect(result.lints.items.map(\.kind).contains(.lostWakeup), "\(result.lints.items)")
    }

    @Test("Loop utilization counts steps as busy and polls as idle")
    func loopUtilization() throws {
        let (result, _) = try pingPong().analyze()
        #expect(result.loop.busyNanos == 28_000)
        #expect(result.loop.pollNanos == 10_000)
        #expect(result.loop.spanNanos == 59_000)
    }

    @Test("A step over the threshold is a blocking finding with its impact")
    func blockingFindingWithImpact() throws {
        let t = try SyntheticTrace()
        t.at(0) { $0.taskCreate(task: 1, parent: 0, name: "slow", site: siteA) }
        t.at(0) { $0.taskCreate(task: 2, parent: 0, name: "victim", site: siteA) }
        t.at(0) { $0.wakeup(task: 1, waker: .task, wakerID: 0) }
        t.at(1 * ms) { $0.stepBegin(task: 1) }
        t.at(1 * ms) { $0.stepEnd(.suspended, site: siteA) }
        t.at(2 * ms) { $0.wakeup(task: 1, waker: .task, wakerID: 0) }
        t.at(3 * ms) { $0.callbackScheduled(handle: 7, kind: .later, dueInNanos: Int64(10 * ms), site: siteC) }  // due 13 ms
        t.at(5 * ms) { $0.stepBegin(task: 1) }
        t.at(6 * ms) { $0.wakeup(task: 2, waker: .task, wakerID: 1) }
        t.at(7 * ms) { $0.callbackScheduled(handle: 8, kind: .soon, dueInNanos: 0, site: siteC) }
        t.at(155 * ms) { $0.stepEnd(.suspended, site: siteB) }
        t.at(156 * ms) { $0.timerFired(handle: 7, dueInNanos: -143 * Int64(ms)) }
        t.at(157 * ms) { $0.callbackBegin(handle: 8) }
        t.at(158 * ms) { $0.callbackEnd(handle: 8) }
        t.at(159 * ms) { $0.callbackBegin(handle: 7) }
        t.at(160 * ms) { $0.callbackEnd(handle: 7) }
        t.at(161 * ms) { $0.stepBegin(task: 2) }
        t.at(162 * ms) { $0.stepEnd(.completed, site: nil) }
        let (result, c) = try t.analyze()
        #expect(result.blocking.count == 1)
        let f = try #require(result.blocking.findings.first)
        #expect(f.name == "slow" && f.task == 1 && f.step == 2)
        #expect(f.durationNanos == 150 * Int64(ms) && f.beginNanos == 5 * Int64(ms))
        #expect(f.resumeSite == siteA.description && f.suspendSite == siteB.description)
        #expect(f.impact == BlockingImpact(readyTasks: 1, timersDue: 1, callbacksQueued: 1, maxDelayCausedNanos: 149 * Int64(ms)))
        #expect(result.blocking.groups.count == 1 && result.blocking.groups[0].count == 1)
        #expect(result.timerLateness.maxNanos == 143 * Int64(ms))
        #expect(result.timerLatenessBySite.first?.site == siteC.description)
        // Queue delay: soon callback 157 − 7 ms; timer callback 159 − 156 ms.
        #expect(c.callbacks.map(\.queueDelay) == [150 * Int64(ms), 3 * Int64(ms)])
        #expect(result.callbackQueueDelay.maxNanos == 150 * Int64(ms))
        #expect(c.steps.last?.schedulingDelay == 155 * Int64(ms))
    }

    @Test("Lints: unfinished, lost wakeup, spin")
    func lints() throws {
        let t = try SyntheticTrace()
        t.at(0) { $0.taskCreate(task: 1, parent: 0, name: "spinner", site: siteA) }
        t.at(0) { $0.taskCreate(task: 2, parent: 0, name: "stuck", site: siteA) }
        t.at(0) { $0.wakeup(task: 2, waker: .task, wakerID: 0) }
        t.at(10) { $0.stepBegin(task: 2) }
        t.at(20) { $0.stepEnd(.suspended, site: siteB) }
        t.at(20) { $0.wakeup(task: 1, waker: .task, wakerID: 0) }
        var now: UInt64 = 100
        for _ in 0..<200 {
            t.at(now) { $0.stepBegin(task: 1) }
            t.at(now + 5) { $0.wakeup(task: 1, waker: .task, wakerID: 1) }
            t.at(now + 10) { $0.stepEnd(.yielded, site: siteC) }
            now += 20
        }
        t.at(now) { $0.stepBegin(task: 1) }
        t.at(now + 10) { $0.stepEnd(.completed, site: nil) }
        let (result, c) = try t.analyze()
        #expect(c.summaries[1]?.selfWakes == 200)
        #expect(result.lints.byKind == ["spin": 1, "neverAwaited": 1, "unfinished": 1, "lostWakeup": 1])
        #expect(result.lints.items.first { $0.kind == .lostWakeup }?.name == "stuck")
        #expect(result.lints.items.first { $0.kind == .spin }?.name == "spinner")
        // A yielded step's task is ready from the step's end.
        #expect(c.steps[2].schedulingDelay == 10)
    }

    @Test("A suspended task with a pending timer of its own is unfinished but not a lost wakeup")
    func pendingTimerIsNotLostWakeup() throws {
        let t = try SyntheticTrace()
        t.at(0) { $0.taskCreate(task: 1, parent: 0, name: "sleeper", site: siteA) }
        t.at(0) { $0.wakeup(task: 1, waker: .task, wakerID: 0) }
        t.at(10) { $0.stepBegin(task: 1) }
        t.at(15) { $0.callbackScheduled(handle: 3, kind: .at, dueInNanos: 1_000_000_000, site: siteB) }
        t.at(20) { $0.stepEnd(.suspended, site: siteB) }
        let (result, _) = try t.analyze()
        #expect(result.lints.byKind == ["unfinished": 1])
    }

    @Test("The time window and task filter restrict what counts")
    func windowAndFilter() throws {
        var options = AnalysisOptions()
        options.since = 30_000
        let (windowed, _) = try pingPong().analyze(options)
        #expect(windowed.counts.steps == 3)
        #expect(windowed.loop.busyNanos == 15_000)
        #expect(windowed.loop.pollNanos == 500)
        var byName = AnalysisOptions()
        byName.taskFilter = TaskFilter("child")
        let (filtered, _) = try pingPong().analyze(byName)
        #expect(filtered.counts.steps == 2)
        #expect(filtered.tasks.rows.map(\.name) == ["child"])
        #expect(filtered.schedulingDelay.maxNanos == 12_000)
    }

    @Test("Durations parse with units and reject nonsense")
    func durations() {
        #expect(Durations.parse("100ms") == 100_000_000)
        #expect(Durations.parse("1.5s") == 1_500_000_000)
        #expect(Durations.parse("250us") == 250_000)
        #expect(Durations.parse("250µs") == 250_000)
        #expect(Durations.parse("800ns") == 800)
        #expect(Durations.parse("42") == 42)
        #expect(Durations.parse("10parsecs") == nil)
        #expect(Durations.parse("-1s") == nil)
        #expect(Durations.parse("") == nil)
        #expect(Durations.parse("ms") == nil)
    }
}
