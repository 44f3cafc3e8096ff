import TraceFormat

/// One lint's checker, as tokio-console's `warnings.rs` has one `Warn` per warning: it sees every
/// task as it finishes (or as the trace ends with it unfinished) and every observation, and
/// decides at the end what is left to report.
///
/// Checkers only decide; ``LintCollector`` counts and keeps what they find. ``TaskLints`` runs
/// them all in a fixed order so that the kept lints (the first `maxLints`) are reproducible.
protocol LintChecker {
    /// A task finished, or the trace ended with it unfinished (`t.outcome == nil`).
    mutating func taskFinished(_ t: TaskSummary, model: TraceModel, into lints: inout LintCollector)
    /// Something took an interest in a task's outcome.
    mutating func taskObserved(_ task: UInt64, model: TraceModel)
    /// A lock was released, or the trace ended with it held.
    mutating func lockHeld(_ hold: LockHoldRecord, model: TraceModel)
    /// A queue's depth after a put or get.
    mutating func queueDepth(_ sample: QueueDepthRecord, model: TraceModel)
    /// The pass ended; `formatMinor` is the trace's format minor version.
    mutating func finish(model: TraceModel, formatMinor: UInt16, into lints: inout LintCollector)
}

extension LintChecker {
    mutating func taskFinished(_ t: TaskSummary, model: TraceModel, into lints: inout LintCollector) {}
    mutating func taskObserved(_ task: UInt64, model: TraceModel) {}
    mutating func lockHeld(_ hold: LockHoldRecord, model: TraceModel) {}
    mutating func queueDepth(_ sample: QueueDepthRecord, model: TraceModel) {}
    mutating func finish(model: TraceModel, formatMinor: UInt16, into lints: inout LintCollector) {}
}

/// The lints found so far: a count per kind and the first `maxLints` in the order found.
struct LintCollector {
    let maxLints: Int
    var items: [Lint] = []
    var counts: [Lint.Kind: Int] = [:]

    mutating func add(_ kind: Lint.Kind, _ t: TaskSummary, _ detail: String, _ site: String) {
        add(kind, task: t.id, name: t.name, detail, site)
    }

    /// A lint about something other than a finished task (a lock, a queue): `task` and `name`
    /// say which task it concerns most (0 and "" for none).
    mutating func add(_ kind: Lint.Kind, task: UInt64, name: String, _ detail: String, _ site: String) {
        counts[kind, default: 0] += 1
        if items.count < maxLints {
            items.append(Lint(kind: kind, task: task, name: name, detail: detail, site: site))
        }
    }

    /// The report: every count, and the kept lints by kind then task id.
    var report: AnalysisResult.LintReport {
        .init(count: counts.values.reduce(0, +),
              byKind: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }),
              items: items.sorted { ($0.kind.order, $0.task) < ($1.kind.order, $1.task) })
    }
}

/// Every task lint, run in a fixed order.
struct TaskLints {
    var collector: LintCollector
    var spin: SpinLint
    var neverAwaited = NeverAwaitedLint()
    var unfinished = UnfinishedLint()
    var lostWakeup = LostWakeupLint()
    var lockHeld: LockHeldAcrossAwaitLint
    var growingQueue: GrowingQueueLint

    init(options: AnalysisOptions) {
        collector = LintCollector(maxLints: options.maxLints)
        spin = SpinLint(minWakeups: options.spinMinWakeups)
        lockHeld = LockHeldAcrossAwaitLint(threshold: options.blockingThreshold)
        growingQueue = GrowingQueueLint(minGrowth: options.queueGrowthMinItems)
    }

    mutating func lockHeld(_ hold: LockHoldRecord, model: TraceModel) {
        lockHeld.lockHeld(hold, model: model)
    }

    mutating func queueDepth(_ sample: QueueDepthRecord, model: TraceModel) {
        growingQueue.queueDepth(sample, model: model)
    }

    mutating func taskFinished(_ t: TaskSummary, model: TraceModel) {
        spin.taskFinished(t, model: model, into: &collector)
        neverAwaited.taskFinished(t, model: model, into: &collector)
        unfinished.taskFinished(t, model: model, into: &collector)
        lostWakeup.taskFinished(t, model: model, into: &collector)
    }

    mutating func taskObserved(_ task: UInt64, model: TraceModel) {
        neverAwaited.taskObserved(task, model: model)
    }

    mutating func finish(model: TraceModel, formatMinor: UInt16) -> AnalysisResult.LintReport {
        neverAwaited.finish(model: model, formatMinor: formatMinor, into: &collector)
        lostWakeup.finish(model: model, formatMinor: formatMinor, into: &collector)
        lockHeld.finish(model: model, formatMinor: formatMinor, into: &collector)
        growingQueue.finish(model: model, formatMinor: formatMinor, into: &collector)
        return collector.report
    }
}

extension Lint.Kind {
    var order: Int { Self.allCases.firstIndex(of: self)! }
}
