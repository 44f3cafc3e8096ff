import TraceFormat

/// A task that finished with nobody awaiting it, reading its result or adding a done callback
/// (`neverAwaited`), or one that failed so (`failedUnobserved`): asyncio's "Task exception was
/// never retrieved".
struct NeverAwaitedLint: LintChecker {
    /// Live tasks something already awaited (or read, or gave a done callback): `taskObserved`.
    var observedLive: Set<UInt64> = []
    /// Finished tasks nobody had observed when they finished. A later `taskObserved` clears one;
    /// what is left at the end is linted. What a task's last step woke plays no part here (it did,
    /// and hid every task whose last step completed a future or scheduled a callback), except for
    /// format 1.0 traces, which carry no observations.
    var candidates: [UInt64: (summary: TaskSummary, site: String)] = [:]

    mutating func taskFinished(_ t: TaskSummary, model: TraceModel, into lints: inout LintCollector) {
        let observed = observedLive.remove(t.id) != nil
        if t.outcome != nil && !observed { candidates[t.id] = (t, model.sites[t.createSite]) }
    }

    mutating func taskObserved(_ task: UInt64, model: TraceModel) {
        if candidates.removeValue(forKey: task) == nil { observedLive.insert(task) }
    }

    /// Format 1.1 traces carry `taskObserved`, so what is left was never awaited, read or given a
    /// done callback: exact. Format 1.0 traces do not: a finished task whose final step woke
    /// nobody counts, which misses nothing but also flags tasks awaited only after they finished.
    /// An unstructured Swift task (`taskUntracked`) may have its value read after it finished,
    /// out of the loop's sight: from format 1.3 on it is linted only when its handle was dropped
    /// before it finished (`taskHandleDropped`), before that by the 1.0 rule.
    mutating func finish(model: TraceModel, formatMinor: UInt16, into lints: inout LintCollector) {
        let exact = formatMinor >= 1
        let handles = formatMinor >= 3
        for id in candidates.keys.sorted() {
            let (t, site) = candidates[id]!
            let how: String
            if exact && !t.observationTracked && handles {
                guard t.handleDropped else { continue }
                how = "its Task handle was dropped before it finished: nothing can read its result"
            } else {
                // Without observations, a task whose last step woke a waiter was probably awaited.
                let guessed = !exact || !t.observationTracked
                if guessed && t.waitersAtFinish > 0 { continue }
                how = !exact ? "no task was waiting and no done callback ran when it finished (format 1.0 trace: approximate)"
                    : !t.observationTracked ? "no task was waiting and no done callback ran when it finished (an unstructured Swift task: approximate)"
                    : "nothing awaited it, read its result or added a done callback"
            }
            lints.add(t.outcome == .failed ? .failedUnobserved : .neverAwaited, t, "\(t.outcome!); \(how)", site)
        }
        candidates = [:]
    }
}
