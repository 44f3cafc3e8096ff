import TraceFormat

/// The observer that turns the model's intervals into every figure the commands report:
/// counts, loop utilization, latency histograms, blocking findings, longest steps, task rows and
/// lints. Memory: histograms, bounded lists, and per-site aggregates.
public struct TraceAnalyzer: TraceObserver {
    public let options: AnalysisOptions
    let window: Range<Int64>

    var steps: UInt64 = 0
    var callbacks: UInt64 = 0
    var timers: UInt64 = 0
    var wakeups: UInt64 = 0
    var polls: UInt64 = 0
    var busy: Int64 = 0
    var stepTime: Int64 = 0
    var callbackTime: Int64 = 0
    var pollTime: Int64 = 0
    /// Streams whose loop started, with whether it has stopped since: a loop that never stops
    /// means the recording was cut off.
    var loopRunning: [UInt32: Bool] = [:]
    var tasksSeen = 0
    var tasksFinished = 0

    var schedulingDelay = LatencyStats()
    var callbackQueueDelay = LatencyStats()
    var timerLateness = LatencyStats()
    /// Timer lateness per arming site: `siteStats[siteSlot[site]]`, -1 for a site without its
    /// own stats (an array indexed by ``SiteID`` instead of a dictionary: one load per timer).
    var siteSlot: [Int32] = []
    var siteStats: [LatencyStats] = []
    var siteOfStats: [SiteID] = []
    var otherSitesLateness = LatencyStats()
    var stepDuration = LatencyStats()
    /// The step with the worst scheduling delay, rendered when found: its waker may have
    /// finished (and its name gone from the model) by the end of the pass.
    var worstDelay: AnalysisResult.StepRef?
    var worstDelayNanos: Int64 = .min
    var series: WindowSeries

    var blockingCount = 0
    var findings: TopList<BlockingFinding>
    /// The latest blocking step or callback of each stream: wakeups other threads sent while it
    /// ran reach the loop (its inbox) only after it, so they complete its impact as they come.
    var lastBlocking: [UInt32: (task: UInt64, begin: Int64, end: Int64)] = [:]
    /// Those late wakeups per blocking step or callback (task 0), by (task, begin).
    var inboxImpact: [BlockingKey: (tasks: Set<UInt64>, maxDelay: Int64)] = [:]
    var groups: [GroupKey: BlockingGroup] = [:]
    var longestSteps: TopList<AnalysisResult.StepRef>
    var longestCallbacks: TopList<AnalysisResult.CallbackRef>

    var executorQueueDelay = LatencyStats()
    var executorRunTime = LatencyStats()
    var executorJobs: UInt64 = 0
    var executorBusy: Int64 = 0
    var executorWorkers: Set<UInt32> = []
    var rows: [TaskRow] = []
    /// Suspended time of every task counted, by ``SuspendReason`` raw value.
    var suspendedByReason: [Int64] = [0, 0, 0, 0, 0, 0]
    var omittedRows = 0
    /// The task lints, one checker each (see `Lints/`).
    var lints: TaskLints

    struct GroupKey: Hashable {
        var callback: Bool
        var a: SiteID
        var b: SiteID
    }
    /// Blocking findings that went into the "(other sites)" group at `limits.blockingGroups`.
    var groupsOverflowed: UInt64 = 0
    /// The site standing for every group past the limit.
    static let otherGroupSite = SiteID.max

    /// `key`, or the kind's "(other sites)" group when `key` is new and the groups are full.
    mutating func groupKey(_ key: GroupKey, _ model: TraceModel) -> GroupKey {
        guard groups.count >= model.limits.blockingGroups, groups[key] == nil else { return key }
        groupsOverflowed += 1
        return GroupKey(callback: key.callback, a: Self.otherGroupSite, b: key.callback ? 0 : Self.otherGroupSite)
    }

    static func groupSite(_ id: SiteID, _ model: TraceModel) -> String { id == Self.otherGroupSite ? SiteTable.otherSite : model.sites[id] }

    public init(options: AnalysisOptions) {
        self.options = options
        window = options.window
        series = WindowSeries(windowNanos: options.windowNanos, originNanos: max(0, options.since ?? 0))
        findings = TopList(capacity: options.maxFindings)
        longestSteps = TopList(capacity: options.topSteps)
        longestCallbacks = TopList(capacity: options.topSteps)
        lints = TaskLints(options: options)
    }

    @inline(__always) func inWindow(_ t: Int64) -> Bool { t >= window.lowerBound && t < window.upperBound }

    /// What an interval of loop time was spent on.
    enum LoopTime { case step, callback, poll }

    @inline(__always) mutating func addBusy(_ begin: Int64, _ end: Int64, _ kind: LoopTime) {
        let lo = max(begin, window.lowerBound), hi = min(end, window.upperBound)
        guard hi > lo else { return }
        switch kind {
        case .step: stepTime += hi - lo; busy += hi - lo
        case .callback: callbackTime += hi - lo; busy += hi - lo
        case .poll: pollTime += hi - lo
        }
        series.add(lo, hi, poll: kind == .poll)
    }

    /// The part of [begin, end) inside the window when it crosses an edge of the window; nil
    /// when it lies wholly inside.
    @inline(__always) func clipped(_ begin: Int64, _ end: Int64) -> Int64? {
        guard begin < window.lowerBound || end > window.upperBound else { return nil }
        return max(0, min(end, window.upperBound) - max(begin, window.lowerBound))
    }

    /// Whether [begin, end) overlaps the window (a zero-length interval: whether it lies in it).
    @inline(__always) func overlapsWindow(_ begin: Int64, _ end: Int64) -> Bool {
        end > begin ? (begin < window.upperBound && end > window.lowerBound) : inWindow(begin)
    }

    func site(_ id: SiteID, _ model: TraceModel) -> String { model.sites[id] }

    func wakerText(_ edge: WakeEdge?, _ model: TraceModel) -> String? {
        guard let edge else { return nil }
        switch edge.wakerKind {
        case .task:
            if edge.wakerID == 0 { return "loop" }
            if edge.isSelfWake { return "self" }
            let name = model.name(ofTask: edge.wakerID)
            return "task \(name.isEmpty ? "#\(edge.wakerID)" : "\(name) #\(edge.wakerID)")" + (edge.wakerStep > 0 ? " step \(edge.wakerStep)" : "")
        case .callback: return "callback \(edge.wakerID)"
        case .timer: return "timer \(edge.wakerID)"
        case .io: return "io fd \(edge.wakerID)"
        case .thread: return "thread \(edge.wakerID)"
        case .executor: return "executor job \(edge.wakerID)"
        }
    }

    /// Nanoseconds by ``SuspendReason`` raw value as JSON: the reasons with time, by key.
    func reasonTable(_ nanos: [Int64]) -> [String: Int64] {
        var table: [String: Int64] = [:]
        for reason in SuspendReason.allCases where nanos[Int(reason.rawValue)] > 0 { table[reason.key] = nanos[Int(reason.rawValue)] }
        return table
    }

    func waitRef(_ w: TaskWait, _ model: TraceModel) -> WaitRef {
        let site = model.sites[w.site]
        let edge = w.wakerKind.map { WakeEdge(time: 0, stream: 0, task: 0, wakerKind: $0, wakerID: w.wakerID,
                                              wakerTask: 0, wakerStep: 0, wakerCallback: 0) }
        return WaitRef(reason: w.reason.key, on: SuspendReason.waitText(site: site, reason: w.reason), site: site,
                       beginNanos: w.begin, durationNanos: w.nanos, waker: wakerText(edge, model))
    }

    func stepRef(_ s: StepRecord, _ model: TraceModel) -> AnalysisResult.StepRef {
        AnalysisResult.StepRef(task: s.task, name: model.name(ofTask: s.task), step: s.index, beginNanos: s.begin,
                               durationNanos: s.duration, outcome: s.outcome.description,
                               resumeSite: model.sites[s.resumeSite], suspendSite: model.sites[s.suspendSite],
                               schedulingDelayNanos: s.schedulingDelay, waker: wakerText(s.wake, model))
    }

    // MARK: - Observer

    public mutating func step(_ s: StepRecord, model: TraceModel) {
        addBusy(s.begin, s.end, .step)
        guard model.isSelected(s.task) else { return }
        if let delay = s.schedulingDelay, inWindow(s.begin) {
            schedulingDelay.record(delay)
            series.lag(delay, at: s.begin)
            // Compared against a plain copy of the worst delay: rendering the step costs a few
            // strings, so only for a new worst.
            if delay > worstDelayNanos {
                worstDelayNanos = delay
                worstDelay = stepRef(s, model)
            }
        }
        let d = s.duration
        // A blocking step counts where it overlaps the window, as its busy time does: one that
        // began before `--since` is reported with its whole and its clipped duration.
        if d >= options.blockingThreshold, let impact = s.impact, overlapsWindow(s.begin, s.end) {
            blockingCount += 1
            let key = groupKey(GroupKey(callback: false, a: s.resumeSite, b: s.suspendSite), model)
            groups[key, default: BlockingGroup(kind: "step", resumeSite: Self.groupSite(key.a, model),
                                               suspendSite: Self.groupSite(key.b, model), count: 0, totalNanos: 0, maxNanos: 0)]
                .add(d)
            lastBlocking[s.stream] = (s.task, s.begin, s.end)
            findings.offer(d, BlockingFinding(kind: "step", task: s.task, name: model.name(ofTask: s.task), step: s.index,
                                              resumeSite: model.sites[s.resumeSite], suspendSite: model.sites[s.suspendSite],
                                              beginNanos: s.begin, durationNanos: d, windowDurationNanos: clipped(s.begin, s.end),
                                              impact: impact, delayedTasks: model.delayedTasks))
        }
        guard inWindow(s.begin) else { return }
        steps += 1
        stepDuration.record(d)
        if d > longestSteps.floor {
            let ref = stepRef(s, model)
            longestSteps.offer(d, ref)
        }
    }

    public mutating func callback(_ c: CallbackRecord, model: TraceModel) {
        addBusy(c.begin, c.end, .callback)
        guard options.taskFilter == nil else { return }
        let d = c.duration
        if d >= options.blockingThreshold, let impact = c.impact, overlapsWindow(c.begin, c.end) {
            blockingCount += 1
            let key = groupKey(GroupKey(callback: true, a: c.site, b: 0), model)
            groups[key, default: BlockingGroup(kind: "callback", resumeSite: Self.groupSite(key.a, model), suspendSite: "",
                                               count: 0, totalNanos: 0, maxNanos: 0)].add(d)
            lastBlocking[c.stream] = (0, c.begin, c.end)
            findings.offer(d, BlockingFinding(kind: "callback", task: 0, name: "callback \(c.handle)", step: 0,
                                              resumeSite: model.sites[c.site], suspendSite: "", beginNanos: c.begin,
                                              durationNanos: d, windowDurationNanos: clipped(c.begin, c.end), impact: impact,
                                              delayedTasks: model.delayedTasks))
        }
        guard inWindow(c.begin) else { return }
        callbacks += 1
        if let delay = c.queueDelay {
            callbackQueueDelay.record(delay)
            series.lag(delay, at: c.begin)
        }
        if d > longestCallbacks.floor {
            let ref = AnalysisResult.CallbackRef(handle: c.handle, kind: c.kind?.description ?? "?",
                                                 site: model.sites[c.site], beginNanos: c.begin,
                                                 durationNanos: d, queueDelayNanos: c.queueDelay)
            longestCallbacks.offer(d, ref)
        }
    }

    public mutating func timer(_ t: TimerRecord, model: TraceModel) {
        guard inWindow(t.fired), options.taskFilter == nil else { return }
        timers += 1
        let late = t.lateness
        timerLateness.record(late)
        series.lag(late, at: t.fired)
        let site = Int(t.site)
        if site < siteSlot.count, siteSlot[site] >= 0 {
            siteStats[Int(siteSlot[site])].record(late)
        } else {
            recordNewSite(site, late)
        }
    }

    mutating func recordNewSite(_ site: Int, _ late: Int64) {
        if site >= siteSlot.count { siteSlot.append(contentsOf: repeatElement(-1, count: site + 1 - siteSlot.count)) }
        if siteStats.count < options.maxTimerSites {
            var stats = LatencyStats()
            stats.record(late)
            siteSlot[site] = Int32(siteStats.count)
            siteStats.append(stats)
            siteOfStats.append(SiteID(site))
        } else {
            otherSitesLateness.record(late)
        }
    }

    public mutating func wake(_ edge: WakeEdge, model: TraceModel) {
        if inWindow(edge.time) && model.isSelected(edge.task) { wakeups += 1 }
        // Another thread made the task ready while a blocking step ran (the edge is dated from
        // its send, `wakeupSent`): it waited for that step too, though the loop only took it
        // from its inbox after the step ended, when the impact was counted.
        if edge.wakerKind == .thread, let b = lastBlocking[edge.stream], edge.time >= b.begin, edge.time < b.end,
           edge.task != b.task {
            let key = BlockingKey(task: b.task, begin: b.begin)
            var entry = inboxImpact[key] ?? ([], 0)
            entry.tasks.insert(edge.task)
            entry.maxDelay = max(entry.maxDelay, b.end - edge.time)
            inboxImpact[key] = entry
        }
    }

    struct BlockingKey: Hashable {
        var task: UInt64
        var begin: Int64
    }

    /// The findings with the inbox wakeups each held up added to its impact.
    func findingsWithInboxImpact() -> [BlockingFinding] {
        findings.elements.map { f in
            guard let late = inboxImpact[BlockingKey(task: f.task, begin: f.beginNanos)] else { return f }
            var f = f
            f.impact.readyTasks += late.tasks.count
            f.impact.maxDelayCausedNanos = max(f.impact.maxDelayCausedNanos, late.maxDelay)
            return f
        }
    }

    public mutating func poll(_ p: PollRecord, model: TraceModel) {
        addBusy(p.begin, p.end, .poll)
        if inWindow(p.begin) { polls += 1 }
    }

    public mutating func taskFinished(_ t: TaskSummary, model: TraceModel) {
        guard t.selected else { return }
        // Alive in the window: created before its end and not finished before its start.
        if let c = t.createdAt, c >= window.upperBound { return }
        if let f = t.finishedAt, f < window.lowerBound { return }
        tasksSeen += 1
        if t.outcome != nil { tasksFinished += 1 }
        for (i, nanos) in t.suspendedByReason.enumerated() { suspendedByReason[i] &+= nanos }
        if rows.count < options.maxTaskRows {
            rows.append(TaskRow(id: t.id, parent: t.parent, name: t.name, createSite: model.sites[t.createSite],
                                createdNanos: t.createdAt, finishedNanos: t.finishedAt,
                                outcome: t.outcome?.description ?? t.endState.description, steps: t.steps,
                                busyNanos: t.busyNanos, maxStepNanos: t.maxStepNanos, readyWaitNanos: t.readyWaitNanos,
                                suspendedNanos: t.suspendedNanos,
                                wakers: Dictionary(uniqueKeysWithValues: WakerKind.allCases.compactMap { k in
                                    t.wakersByKind[Int(k.rawValue)] > 0 ? (k.description, t.wakersByKind[Int(k.rawValue)]) : nil
                                }),
                                selfWakes: t.selfWakes, suspendedByReason: reasonTable(t.suspendedByReason),
                                longestWait: t.longestWait.map { waitRef($0, model) }))
        } else {
            omittedRows += 1
        }
        lints.taskFinished(t, model: model)
    }

    public mutating func executorJob(_ job: ExecutorJobRecord, model: TraceModel) {
        guard options.taskFilter == nil else { return }
        let lo = max(job.begin, window.lowerBound), hi = min(job.end, window.upperBound)
        if hi > lo { executorBusy += hi - lo }
        guard overlapsWindow(job.begin, job.end) else { return }
        executorWorkers.insert(job.workerStream)
        guard inWindow(job.begin) else { return }
        executorJobs += 1
        executorRunTime.record(job.duration)
        if let delay = job.queueDelay { executorQueueDelay.record(delay) }
    }

    public mutating func lockHeld(_ hold: LockHoldRecord, model: TraceModel) {
        if hold.holder == 0 || model.isSelected(hold.holder) { lints.lockHeld(hold, model: model) }
    }

    public mutating func queueDepth(_ sample: QueueDepthRecord, model: TraceModel) {
        lints.queueDepth(sample, model: model)
    }

    public mutating func loop(started: Bool, stream: UInt32, at time: Int64, model: TraceModel) {
        loopRunning[stream] = started
    }

    public mutating func taskObserved(_ task: UInt64, at time: Int64, model: TraceModel) {
        lints.taskObserved(task, model: model)
    }

    // MARK: - Result

    /// The figures, once the model has finished.
    public mutating func result(model: TraceModel, reader: TraceReader?) -> AnalysisResult {
        let lintReport = lints.finish(model: model, formatMinor: reader?.header.minorVersion ?? TraceSpec.minorVersion)
        let first = model.firstTimestamp ?? 0
        let last = model.lastTimestamp
        let since = max(first, options.since ?? first)
        let until = max(since, min(last, options.until ?? last))
        series.finalize(since: since, until: until)
        let span = until - since
        let loops = max(1, loopRunning.count)
        let unstopped = loopRunning.filter(\.value).keys.sorted()
        let abruptEnd = unstopped.isEmpty ? nil : AnalysisResult.AbruptEnd(
            atNanos: last, streams: unstopped,
            silentNanos: unstopped.map { last - (model.lastTimestamp(ofStream: $0) ?? last) }.max() ?? 0)
        var damage = AnalysisResult.Damage(damagedChunks: 0, eventsLostInChunks: 0, bytesSkipped: 0,
                                           eventsDroppedByRecorder: model.lostEvents, anomalies: model.anomalies, messages: [])
        var overflow = model.overflow
        overflow.lintCandidates = lints.neverAwaited.decidedEarly
        overflow.blockingGroups = groupsOverflowed
        if !overflow.isEmpty { damage.limits = overflow.messages(model.limits) }
        if let reader {
            damage.damagedChunks = reader.damageCount
            damage.eventsLostInChunks = reader.eventsLostToDamage
            damage.bytesSkipped = reader.bytesSkippedByDamage
            damage.messages = reader.damage.prefix(20).map(\.description)
        }
        var bySite = zip(siteOfStats, siteStats).map { AnalysisResult.SiteLatency(site: model.sites[$0.0], latency: $0.1.summary) }
        if otherSitesLateness.count > 0 { bySite.append(.init(site: "(other sites)", latency: otherSitesLateness.summary)) }
        bySite.sort { ($0.latency.maxNanos, $1.site) > ($1.latency.maxNanos, $0.site) }
        let executor = executorJobs == 0 && executorWorkers.isEmpty && model.unfinishedJobs == 0 ? nil : ExecutorReport(
            jobs: executorJobs, unfinishedJobs: model.unfinishedJobs, workers: executorWorkers.count,
            queueDelay: executorQueueDelay.summary, runTime: executorRunTime.summary, busyNanos: executorBusy,
            utilization: span > 0 && !executorWorkers.isEmpty ? Double(executorBusy) / (Double(span) * Double(executorWorkers.count)) : 0)
        var result = AnalysisResult(
            trace: .init(path: reader?.path ?? "", program: reader?.header.program ?? "", events: model.events,
                         chunks: reader?.chunksRead ?? 0, firstNanos: first, lastNanos: last, sinceNanos: since,
                         untilNanos: until, taskFilter: options.taskFilter?.text, damage: damage, abruptEnd: abruptEnd),
            counts: .init(tasks: tasksSeen, tasksFinished: tasksFinished, steps: steps, callbacks: callbacks,
                          timersFired: timers, wakeups: wakeups, polls: polls, peakLiveTasks: model.peakLiveTasks),
            loop: .init(busyNanos: busy, pollNanos: pollTime, spanNanos: span,
                        utilization: span > 0 ? Double(busy) / Double(span) : 0,
                        idleFraction: span > 0 ? Double(pollTime) / Double(span) : 0,
                        stepNanos: stepTime, callbackNanos: callbackTime,
                        overheadNanos: max(0, span * Int64(loops) - stepTime - callbackTime - pollTime), loops: loops),
            schedulingDelay: schedulingDelay.summary,
            worstSchedulingDelay: worstDelay,
            callbackQueueDelay: callbackQueueDelay.summary,
            timerLateness: timerLateness.summary,
            timerLatenessBySite: bySite,
            stepDuration: stepDuration.summary,
            windows: series,
            blocking: .init(thresholdNanos: options.blockingThreshold, count: blockingCount, findings: findingsWithInboxImpact(),
                            groups: groups.values.sorted { ($0.totalNanos, $1.resumeSite, $1.suspendSite) > ($1.totalNanos, $0.resumeSite, $0.suspendSite) }),
            longestSteps: longestSteps.elements,
            longestCallbacks: longestCallbacks.elements,
            tasks: .init(count: tasksSeen, rows: rows.sorted { $0.id < $1.id }, omitted: omittedRows,
                         suspendedByReason: reasonTable(suspendedByReason)),
            lints: lintReport)
        result.executor = executor
        return result
    }
}

extension BlockingGroup {
    mutating func add(_ d: Int64) {
        count += 1
        totalNanos += d
        maxNanos = max(maxNanos, d)
    }
}
