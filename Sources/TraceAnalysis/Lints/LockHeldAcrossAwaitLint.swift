import TraceFormat

/// A `LoopLock` held across an await for at least the blocking threshold: whoever wants the lock
/// waits for whatever its holder awaits (a sleep, a request), not for the critical section. A
/// lock held that long without an await is a blocking step, which `blocking` reports instead.
///
/// One lint per acquiring site, naming its longest such hold; the detail counts the others.
/// A lock still held at the trace end counts up to the end.
struct LockHeldAcrossAwaitLint: LintChecker {
    let threshold: Int64

    struct Worst {
        var hold: LockHoldRecord
        var duration: Int64
        var holderName: String
        var count: Int
    }
    /// The longest qualifying hold per acquiring site, with how many qualified there.
    var bySite: [SiteID: Worst] = [:]
    /// Holds still open at the trace end: their length is only known in `finish`.
    var open: [LockHoldRecord] = []

    init(threshold: Int64) { self.threshold = threshold }

    mutating func lockHeld(_ hold: LockHoldRecord, model: TraceModel) {
        guard hold.awaits > 0 else { return }
        guard hold.releasedAt != nil else {
            open.append(hold)
            return
        }
        consider(hold, duration: hold.duration(end: 0), model: model)
    }

    mutating func consider(_ hold: LockHoldRecord, duration: Int64, model: TraceModel) {
        guard duration >= threshold else { return }
        let name = model.name(ofTask: hold.holder)
        if var worst = bySite[hold.site] {
            worst.count += 1
            if duration > worst.duration {
                worst.hold = hold
                worst.duration = duration
                worst.holderName = name
            }
            bySite[hold.site] = worst
        } else {
            bySite[hold.site] = Worst(hold: hold, duration: duration, holderName: name, count: 1)
        }
    }

    mutating func finish(model: TraceModel, formatMinor: UInt16, into lints: inout LintCollector) {
        for hold in open { consider(hold, duration: hold.duration(end: model.lastTimestamp), model: model) }
        open = []
        for (site, worst) in bySite.sorted(by: { model.sites[$0.key] < model.sites[$1.key] }) {
            let h = worst.hold
            var detail = "held \(Durations.format(worst.duration)) across \(h.awaits) await(s)"
            detail += h.releasedAt == nil ? ", still held at the trace end" : ""
            if h.waitersAtRelease > 0 { detail += "; \(h.waitersAtRelease) task(s) waiting at its release" }
            if worst.count > 1 { detail += "; \(worst.count) holds ≥ \(Durations.format(threshold)) at this site" }
            lints.add(.lockHeldAcrossAwait, task: h.holder, name: worst.holderName.isEmpty ? "task\(h.holder)" : worst.holderName,
                      detail, model.sites[site])
        }
        bySite = [:]
    }
}
