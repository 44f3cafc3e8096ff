import TraceAnalysis

/// What an analysis command prints with `--json`: its own part of the ``AnalysisResult``.
///
/// `report` prints the whole document (schema `looptrace.analysis/1`); every other command prints
/// `schema` (`looptrace.COMMAND/1`), `trace` (what was read, the window, the damage) and the
/// top-level keys of `looptrace.analysis/1` that its text shows, each exactly as the whole
/// document has it, so `jq .blocking` reads the same object from `report --json` and from
/// `blocking --json`. The only key of its own is `steps`' `busiestTasks`. Documented in the
/// TraceAnalysis DocC ("JSON schemas"); keys are only ever added within a schema version.
struct AnalysisJSON: Encodable {
    /// The command whose part is printed.
    enum Part {
        case report
        case latency
        case blocking
        /// With the number of busiest tasks listed (`--top`).
        case steps(top: Int)
        case tasks
        case lints

        var schema: String {
            switch self {
            case .report: AnalysisResult.schema
            case .latency: "looptrace.latency/1"
            case .blocking: "looptrace.blocking/1"
            case .steps: "looptrace.steps/1"
            case .tasks: "looptrace.tasks/1"
            case .lints: "looptrace.lints/1"
            }
        }
    }

    var part: Part
    var result: AnalysisResult

    enum Key: String, CodingKey {
        case schema, trace, counts, loop, schedulingDelay, worstSchedulingDelay, callbackQueueDelay, timerLateness,
             timerLatenessBySite, stepDuration, windows, executor, blocking, longestSteps, longestCallbacks, busiestTasks, tasks, lints
    }

    func encode(to encoder: any Encoder) throws {
        if case .report = part {
            try result.encode(to: encoder)
            return
        }
        let r = result
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(part.schema, forKey: .schema)
        try c.encode(r.trace, forKey: .trace)
        switch part {
        case .report:
            break
        case .latency:
            try c.encode(r.loop, forKey: .loop)
            try c.encode(r.schedulingDelay, forKey: .schedulingDelay)
            try c.encodeIfPresent(r.worstSchedulingDelay, forKey: .worstSchedulingDelay)
            try c.encode(r.callbackQueueDelay, forKey: .callbackQueueDelay)
            try c.encode(r.timerLateness, forKey: .timerLateness)
            try c.encode(r.timerLatenessBySite, forKey: .timerLatenessBySite)
            try c.encode(r.stepDuration, forKey: .stepDuration)
            try c.encode(r.windows, forKey: .windows)
            try c.encodeIfPresent(r.executor, forKey: .executor)
        case .blocking:
            try c.encode(r.blocking, forKey: .blocking)
        case .steps(let top):
            try c.encode(r.counts, forKey: .counts)
            try c.encode(r.stepDuration, forKey: .stepDuration)
            try c.encode(r.longestSteps, forKey: .longestSteps)
            try c.encode(r.longestCallbacks, forKey: .longestCallbacks)
            // The text's "busiest tasks" table: most busy time first, then by id.
            let busiest = r.tasks.rows.sorted { ($0.busyNanos, $1.id) > ($1.busyNanos, $0.id) }.prefix(top)
            try c.encode(Array(busiest), forKey: .busiestTasks)
        case .tasks:
            try c.encode(r.counts, forKey: .counts)
            try c.encode(r.tasks, forKey: .tasks)
        case .lints:
            try c.encode(r.lints, forKey: .lints)
        }
    }
}
