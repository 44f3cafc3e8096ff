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
    /// Candidates decided before the end because `limits.lintCandidates` were held (a crafted
    /// file, or a 1.0 trace of millions of tasks): a later observation cannot clear them.
    var decidedEarly: UInt64 = 0
    var sawObservation = false

    mutating func taskFinished(_ t: TaskSummary, model: TraceModel, into lints: inout LintCollector) {
        let observed = observedLive.remove(t.id) != nil
        guard t.outcome != nil && !observed else { return }
        if candidates.count >= model.limits.lintCandidates {
            decidedEarly += UInt64(candidates.count)
            decide(model: model, formatMinor: nil, into: &lints)
        }
        candidates[t.id] = (t, model.sites[t.createSite])
    }

    mutating func taskObserved(_ task: UInt64, model: TraceModel) {
        sawObservation = true
        guard candidates.removeValue(forKey: task) == nil else { return }
        // Only tasks the model follows can finish later; past the limit, an observation of an
        // unknown id (a crafted file names millions) is not kept.
        if observedLive.count < model.limits.lintCandidates || model.isLive(task) { observedLive.insert(task) }
    }

    /// Format 1.1 traces carry `taskObserved`, so what is left was never awaited, read or given a
    /// done callback: exact. Format 1.0 traces do not: a finished task whose final step woke
    /// nobody counts, which misses nothing but also flags tasks awaited only after they finished.
    /// An unstructured Swift task (`taskUntracked`) may have its value read after it finished,
    /// out of the loop's sight: from format 1.3 on it is linted only when its handle was dropped
    /// before it finished (`taskHandleDropped`), before that by the 1.0 rule.
    mutating func finish(model: TraceModel, formatMinor: UInt16, into lints: inout LintCollector) {
        decide(model: model, formatMinor: formatMinor, into: &lints)
    }

    /// Lints the candidates held now and forgets them. `formatMinor` is nil before the end,
    /// when the trace's version is not known here: observations seen so far stand for 1.1, and
    /// handle drops only count from 1.3 on.
    mutating func decide(model: TraceModel, formatMinor: UInt16?, into lints: inout LintCollector) {
        let exact = formatMinor.map { $0 >= 1 } ?? sawObservation
        let handles = formatMinor.map { $0 >= 3 } ?? false
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
