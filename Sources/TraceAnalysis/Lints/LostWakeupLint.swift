import TraceFormat

/// A task suspended at the trace end on a loop with nothing left that could wake it: no timer,
/// no I/O interest, nothing ready or queued. Decided at the end, when every task is in.
struct LostWakeupLint: LintChecker {
    var candidates: [TaskSummary] = []

    mutating func taskFinished(_ t: TaskSummary, model: TraceModel, into lints: inout LintCollector) {
        if t.outcome == nil && t.endState == .suspended && !t.pendingTimer { candidates.append(t) }
    }

    mutating func finish(model: TraceModel, formatMinor: UInt16, into lints: inout LintCollector) {
        for t in candidates where model.streamIsQuiescent(t.stream) {
            lints.add(.lostWakeup, t, "suspended at the trace end with no timer, I/O or ready work left on its loop",
                      model.sites[t.lastSuspendSite])
        }
        candidates = []
    }
}
