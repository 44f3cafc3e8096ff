import TraceFormat

/// A task still alive when the trace ended: leaked, or the program stopped under it.
struct UnfinishedLint: LintChecker {
    mutating func taskFinished(_ t: TaskSummary, model: TraceModel, into lints: inout LintCollector) {
        guard t.outcome == nil else { return }
        lints.add(.unfinished, t, "\(t.endState) at the trace end", model.sites[t.lastSuspendSite])
    }
}
