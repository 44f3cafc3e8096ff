import TraceFormat

/// A task suspended at the trace end on a loop with nothing left that could wake it: no timer,
/// no I/O interest, nothing ready or queued. Decided at the end, when every task is in.
struct LostWakeupLint: LintChecker {
    /// What a lint needs of each candidate: a whole ``TaskSummary`` per unfinished task would be
    /// several hundred bytes each, and the model may end with over 100,000 of them.
    var candidates: [(id: UInt64, name: String, stream: UInt32, site: SiteID)] = []

    mutating func taskFinished(_ t: TaskSummary, model: TraceModel, into lints: inout LintCollector) {
        if t.outcome == nil && t.endState == .suspended && !t.pendingTimer {
            candidates.append((t.id, t.name, t.stream, t.lastSuspendSite))
        }
    }

    mutating func finish(model: TraceModel, formatMinor: UInt16, into lints: inout LintCollector) {
        var quiescent: [UInt32: Bool] = [:]
        for c in candidates {
            let quiet = quiescent[c.stream] ?? model.streamIsQuiescent(c.stream)
            quiescent[c.stream] = quiet
            guard quiet else { continue }
            lints.add(.lostWakeup, task: c.id, name: c.name, "suspended at the trace end with no timer, I/O or ready work left on its loop",
                      model.sites[c.site])
        }
        candidates = []
    }
}
