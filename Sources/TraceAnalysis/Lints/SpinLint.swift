import TraceFormat

/// A task that mostly wakes itself (≥ 90 % of at least `minWakeups` wakeups): a busy-wait
/// through the ready queue, such as `while !flag { await Task.yield() }`.
struct SpinLint: LintChecker {
    let minWakeups: Int

    mutating func taskFinished(_ t: TaskSummary, model: TraceModel, into lints: inout LintCollector) {
        let wakes = t.wakeups
        guard wakes >= minWakeups && t.selfWakes * 10 >= wakes * 9 else { return }
        lints.add(.spin, t, "\(t.selfWakes) of \(wakes) wakeups were self-wakes", model.sites[t.lastSuspendSite])
    }
}
