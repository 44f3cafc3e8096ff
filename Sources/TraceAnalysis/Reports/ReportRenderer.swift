import Foundation

/// Renders an ``AnalysisResult`` as the text each command prints. Deterministic for a result,
/// so golden files can hold it.
public struct ReportRenderer {
    public var result: AnalysisResult
    public var style: TextStyle
    /// The file name shown in the "→ looptrace …" pointers.
    public var file: String

    public init(_ result: AnalysisResult, style: TextStyle = .plain, file: String? = nil) {
        self.result = result
        self.style = style
        self.file = file ?? result.trace.path
    }

    func d(_ nanos: Int64) -> String { Durations.format(nanos) }
    func t(_ nanos: Int64) -> String { Durations.formatTime(nanos) }
    func pct(_ x: Double) -> String { String(format: "%.1f %%", x * 100) }
    func pointer(_ command: String) -> String { style.dim("→ looptrace \(command) \(file)") }
    func count(_ n: some BinaryInteger) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 && ch != "-" { out.append(",") }
            out.append(ch)
        }
        return String(out.reversed())
    }
    func stepName(_ name: String, _ task: UInt64, _ step: Int) -> String {
        step > 0 ? "\(name) #\(task) step \(step)" : name
    }
    func sites(_ a: String, _ b: String) -> String {
        let from = a.isEmpty ? "(start)" : a
        return b.isEmpty ? from : "\(from) → \(b)"
    }

    /// What was lost, or nothing.
    public func damage() -> String {
        let dm = result.trace.damage
        guard !dm.isEmpty else { return "" }
        var parts: [String] = []
        if dm.damagedChunks > 0 {
            parts.append("\(dm.damagedChunks) damaged chunk(s) skipped (\(count(dm.eventsLostInChunks)) events, \(count(dm.bytesSkipped)) bytes)")
        }
        if dm.eventsDroppedByRecorder > 0 { parts.append("\(count(dm.eventsDroppedByRecorder)) events dropped by the recorder") }
        if dm.anomalies > 0 { parts.append("\(count(dm.anomalies)) events out of sequence skipped") }
        if let limits = dm.limits { parts.append("limits reached: " + limits.joined(separator: "; ")) }
        var out = style.yellow("damage: ") + parts.joined(separator: "; ")
            + "; the figures cover what was recovered and may miss steps near the gaps\n"
        for m in dm.messages { out += "  " + m + "\n" }
        return out
    }

    func header(_ title: String) -> String {
        let r = result.trace
        var s = style.bold("\(title) \(file)") + "\n"
        var span = "\(t(r.sinceNanos)) … \(t(r.untilNanos)) (\(d(r.spanNanos)))"
        if let f = r.taskFilter { span += ", task \(f)" }
        s += "  span \(span), \(count(r.events)) events" + (r.program.isEmpty ? "" : ", program \(r.program)") + "\n"
        return s
    }

    // MARK: - report

    /// `looptrace report`: the overview.
    public func report() -> String {
        let r = result
        var rows: [(String, String, String)] = []
        rows.append(("tasks", "\(count(r.counts.tasks)) (\(count(r.counts.tasksFinished)) finished, peak \(count(r.counts.peakLiveTasks)) live)", pointer("tasks")))
        if let split = r.tasks.suspendedByReason, !split.isEmpty {
            rows.append(("suspended", suspendedSplit(split), pointer("tasks")))
        }
        rows.append(("steps", "\(count(r.counts.steps)) steps, \(count(r.counts.callbacks)) callbacks, \(count(r.counts.timersFired)) timers; longest step \(d(r.stepDuration.maxNanos))", pointer("steps")))
        rows.append(("loop", loopBreakdown(r.loop), pointer("latency --window 100ms")))
        var sched = "p50 \(d(r.schedulingDelay.p50Nanos)), p99 \(d(r.schedulingDelay.p99Nanos))"
        if let w = r.worstSchedulingDelay {
            sched += ", worst \(d(w.schedulingDelayNanos ?? 0)) (\(stepName(w.name, w.task, w.step)) at \(t(w.beginNanos)))"
        }
        rows.append(("scheduling", r.schedulingDelay.count == 0 ? "no woken steps" : sched, pointer("latency")))
        let b = r.blocking
        let blockingText = "\(count(b.count)) step(s)/callback(s) ≥ \(d(b.thresholdNanos))"
        rows.append(("blocking", b.count > 0 ? style.red(blockingText) : style.green(blockingText), pointer("blocking")))
        let lintText = r.lints.count == 0 ? "none" : "\(count(r.lints.count)) (" + Lint.Kind.allCases.compactMap { k in
            r.lints.byKind[k.rawValue].map { "\($0) \(k.rawValue)" } }.joined(separator: ", ") + ")"
        rows.append(("lints", r.lints.count > 0 ? style.yellow(lintText) : lintText, pointer("lints")))
        var out = header("report")
        let width = rows.map { visible($0.1).count }.max() ?? 0
        for (label, text, ptr) in rows {
            out += "  " + label.padding(toLength: 11, withPad: " ", startingAt: 0) + text
                + String(repeating: " ", count: max(1, width - visible(text).count + 2)) + ptr + "\n"
            if label == "blocking" {
                for (i, f) in b.findings.prefix(3).enumerated() {
                    out += "     \(i + 1). \(duration(f))  \(stepName(f.name, f.task, f.step))  \(sites(f.resumeSite, f.suspendSite))  at \(t(f.beginNanos))\n"
                    if let blockedIn = f.blockedIn { out += "        \(blockedIn)\n" }
                }
                out += unendedStallLines(indent: "     ")
            }
        }
        out += abruptEnd()
        out += damage()
        return out
    }

    /// Tasks' suspended time and its split by reason, in ``SuspendReason`` order: `1.20 s: I/O
    /// 45.0 %, sleep 55.0 %`.
    func suspendedSplit(_ split: [String: Int64]) -> String {
        let total = split.values.reduce(0, +)
        return "\(d(total)) in all: " + SuspendReason.allCases.compactMap { reason in
            split[reason.key].map { "\(reason) \(pct(total > 0 ? Double($0) / Double(total) : 0))" }
        }.joined(separator: ", ")
    }

    /// A task's suspended time by reason, in ``SuspendReason`` order: `I/O 24.70 ms, other task 1.00 ms`.
    func reasonCells(_ split: [String: Int64]?) -> String {
        guard let split else { return "" }
        return SuspendReason.allCases.compactMap { reason in split[reason.key].map { "\(reason) \(d($0))" } }
            .joined(separator: ", ")
    }

    /// A wait, for the tasks table: `50.12 ms Lock.acquire at Cache.swift:40 ← task holder #3`.
    func waitCell(_ w: WaitRef?) -> String {
        guard let w else { return "-" }
        return "\(d(w.durationNanos)) \(w.on)" + (w.waker.map { " ← \($0)" } ?? " (no wakeup)")
    }

    /// Where the loop's time went, adding up to 100 %: busy in steps and callbacks, the loop's
    /// own overhead between them, idle in poll. (Over several loops, of their summed time.)
    func loopBreakdown(_ l: AnalysisResult.LoopUtilization) -> String {
        let total = Double(l.spanNanos) * Double(l.loops)
        func share(_ nanos: Int64) -> String { pct(total > 0 ? Double(nanos) / total : 0) }
        return "busy \(share(l.stepNanos + l.callbackNanos)) (steps \(share(l.stepNanos)), callbacks \(share(l.callbackNanos))), "
            + "loop overhead \(share(l.overheadNanos)), idle in poll \(share(l.pollNanos))"
            + (l.loops > 1 ? " of \(l.loops) loops" : "")
    }

    /// A blocking finding's duration, with the part inside the window when it was clipped.
    func duration(_ f: BlockingFinding) -> String {
        guard let inWindow = f.windowDurationNanos else { return d(f.durationNanos) }
        return "\(d(f.durationNanos)) (\(d(inWindow)) in window)"
    }

    /// The line saying the recording was cut off, if it was.
    func abruptEnd() -> String {
        guard let a = result.trace.abruptEnd else { return "" }
        var line = "recording ended abruptly at \(t(a.atNanos)): a loop started and never stopped"
        if a.silentNanos > 0 {
            line += "; its last \(d(a.silentNanos)) before the end, at least, are missing"
        } else {
            line += "; events after its last buffer hand-over may be missing"
        }
        return style.yellow("warning: ") + line + "\n"
    }

    /// The text without ANSI escapes (for width computations).
    func visible(_ s: String) -> String {
        guard s.contains("\u{1B}") else { return s }
        var out = ""
        var inEscape = false
        for ch in s {
            if ch == "\u{1B}" { inEscape = true; continue }
            if inEscape { if ch == "m" { inEscape = false }; continue }
            out.append(ch)
        }
        return out
    }

    // MARK: - latency

    func latencyTable(_ rows: [(String, LatencySummary)]) -> String {
        var table = TextTable([("", .left), ("count", .right), ("mean", .right), ("p50", .right), ("p90", .right),
                               ("p99", .right), ("p99.9", .right), ("max", .right)])
        for (name, l) in rows {
            table.add([name, count(l.count), d(l.meanNanos), d(l.p50Nanos), d(l.p90Nanos), d(l.p99Nanos),
                       d(l.p999Nanos), d(l.maxNanos)])
        }
        return table.render(style: style)
    }

    func histogram(_ l: LatencySummary) -> String {
        guard let peak = l.buckets.map(\.count).max(), peak > 0 else { return "" }
        var table = TextTable([("range", .left), ("count", .right), ("", .left)])
        for b in l.buckets {
            let range = b.highNanos <= 0 ? "≤ 0" : "\(d(b.lowNanos)) – \(d(b.highNanos + 1))"
            let bar = String(repeating: "█", count: max(1, Int((Double(b.count) / Double(peak) * 40).rounded())))
            table.add([range, count(b.count), style.cyan(bar)])
        }
        return table.render(indent: 4, style: style)
    }

    /// `looptrace latency`.
    public func latency(worstWindows: Int = 5) -> String {
        let r = result
        var out = header("latency")
        out += "\n" + style.bold("scheduling delay") + " (wakeup → step begin)\n"
        var rows = [("scheduling delay", r.schedulingDelay), ("callback queue delay", r.callbackQueueDelay),
                    ("timer lateness", r.timerLateness), ("step duration", r.stepDuration)]
        if let e = r.executor { rows += [("executor queue delay", e.queueDelay), ("executor job run time", e.runTime)] }
        out += latencyTable(rows)
        if let e = r.executor { out += "\n" + threadPool(e) }
        if r.schedulingDelay.count > 0 { out += "\n" + histogram(r.schedulingDelay) }
        if !r.timerLatenessBySite.isEmpty {
            out += "\n" + style.bold("timer lateness by arming site") + " (due → fired)\n"
            out += latencyTable(r.timerLatenessBySite.map { ($0.site.isEmpty ? "(unknown)" : $0.site, $0.latency) })
        }
        let w = r.windows
        if !w.windows.isEmpty {
            out += "\n" + style.bold("loop utilization per \(d(w.windowNanos)) window") + " (\(w.windows.count) windows; ▁ idle … █ busy)\n"
            out += "  " + sparkline(w.windows.map(\.utilization)) + "\n"
            out += "  max lag per window: " + sparkline(normalised(w.windows.map { Double($0.maxLagNanos) })) + "\n"
            let worst = w.windows.enumerated().sorted { ($0.element.utilization, $1.offset) > ($1.element.utilization, $0.offset) }.prefix(worstWindows)
            var table = TextTable([("window", .left), ("busy", .right), ("poll", .right), ("max lag", .right)])
            for (_, win) in worst {
                table.add(["\(t(win.startNanos)) +\(d(win.spanNanos))", pct(win.utilization),
                           pct(win.spanNanos > 0 ? Double(win.pollNanos) / Double(win.spanNanos) : 0), d(win.maxLagNanos)])
            }
            out += "\n" + style.bold("busiest windows") + "\n" + table.render(style: style)
        }
        out += damage()
        return out
    }

    /// The thread pools' line: jobs, workers, utilization.
    func threadPool(_ e: ExecutorReport) -> String {
        var line = style.bold("thread pool") + " (runInExecutor): \(count(e.jobs)) jobs on \(e.workers) worker thread(s), "
            + "utilization \(pct(e.utilization)) (busy \(d(e.busyNanos)) of \(e.workers) × \(d(result.trace.spanNanos)))"
        if e.queueDelay.count > 0 { line += "; queue delay p99 \(d(e.queueDelay.p99Nanos)), max \(d(e.queueDelay.maxNanos))" }
        if e.unfinishedJobs > 0 { line += "; \(count(e.unfinishedJobs)) job(s) never finished" }
        return line + "\n"
    }

    func normalised(_ xs: [Double]) -> [Double] {
        guard let m = xs.max(), m > 0 else { return xs.map { _ in 0 } }
        return xs.map { $0 / m }
    }

    /// A sparkline of values in 0…1, at most 120 characters (windows are merged by max).
    public func sparkline(_ values: [Double], width: Int = 120) -> String {
        let blocks = Array("▁▂▃▄▅▆▇█")
        guard !values.isEmpty else { return "" }
        let per = max(1, (values.count + width - 1) / width)
        var out = ""
        var i = 0
        while i < values.count {
            let v = values[i..<min(values.count, i + per)].max()!
            out.append(blocks[min(7, max(0, Int((v * 7).rounded())))])
            i += per
        }
        return out
    }

    // MARK: - blocking

    /// `looptrace blocking`; with `stacks`, every watchdog stack, grouped.
    public func blocking(stacks: Bool = false) -> String {
        let b = result.blocking
        var out = header("blocking")
        guard b.count > 0 else {
            return out + style.green("  no step or callback ran \(d(b.thresholdNanos)) or longer") + "\n"
                + unendedStallLines(indent: "  ") + (stacks ? stacksSection() : "") + damage()
        }
        out += "  " + style.red("\(count(b.count)) step(s)/callback(s) ran ≥ \(d(b.thresholdNanos))")
        if b.findings.count < b.count { out += " (the \(b.findings.count) longest listed)" }
        out += "\n\n"
        var table = TextTable([("duration", .right), ("task", .left), ("step", .right), ("sites (resume → suspend)", .left),
                               ("start", .right), ("ready", .right), ("timers", .right), ("callbacks", .right),
                               ("max delay caused", .right)])
        for f in b.findings {
            table.add([duration(f), f.kind == "step" ? "\(f.name) #\(f.task)" : f.name, f.step > 0 ? "\(f.step)" : "-",
                       sites(f.resumeSite, f.suspendSite), t(f.beginNanos), "\(f.impact.readyTasks)",
                       "\(f.impact.timersDue)", "\(f.impact.callbacksQueued)", d(f.impact.maxDelayCausedNanos)])
        }
        out += table.render(style: style)
        out += "\n" + style.bold("by site") + "\n"
        var groups = TextTable([("count", .right), ("total", .right), ("max", .right), ("kind", .left), ("sites", .left)])
        for g in b.groups {
            groups.add([count(g.count), d(g.totalNanos), d(g.maxNanos), g.kind, sites(g.resumeSite, g.suspendSite)])
        }
        out += groups.render(style: style)
        out += blockedInSection()
        out += unendedStallLines(indent: "  ")
        if stacks { out += stacksSection() }
        out += damage()
        return out
    }

    // MARK: - steps

    /// `looptrace steps`.
    public func steps(top: Int) -> String {
        let r = result
        var out = header("steps")
        out += "\n" + style.bold("longest steps") + "\n"
        var table = TextTable([("duration", .right), ("task", .left), ("step", .right), ("outcome", .left),
                               ("sites (resume → suspend)", .left), ("start", .right), ("sched delay", .right)])
        for s in r.longestSteps.prefix(top) {
            table.add([d(s.durationNanos), "\(s.name) #\(s.task)", "\(s.step)", s.outcome, sites(s.resumeSite, s.suspendSite),
                       t(s.beginNanos), s.schedulingDelayNanos.map(d) ?? "-"])
        }
        out += table.render(style: style)
        if !r.longestCallbacks.isEmpty {
            out += "\n" + style.bold("longest callbacks") + "\n"
            var cb = TextTable([("duration", .right), ("handle", .right), ("kind", .left), ("scheduled at", .left),
                                ("start", .right), ("queue delay", .right)])
            for c in r.longestCallbacks.prefix(top) {
                cb.add([d(c.durationNanos), "\(c.handle)", c.kind, c.site.isEmpty ? "(unknown)" : c.site, t(c.beginNanos),
                        c.queueDelayNanos.map(d) ?? "-"])
            }
            out += cb.render(style: style)
        }
        out += "\n" + style.bold("busiest tasks") + "\n"
        var tasks = TextTable([("task", .left), ("steps", .right), ("busy", .right), ("max step", .right), ("mean step", .right)])
        for row in r.tasks.rows.sorted(by: { ($0.busyNanos, $1.id) > ($1.busyNanos, $0.id) }).prefix(top) {
            tasks.add(["\(row.name) #\(row.id)", count(row.steps), d(row.busyNanos), d(row.maxStepNanos),
                       row.steps > 0 ? d(row.busyNanos / Int64(row.steps)) : "-"])
        }
        out += tasks.render(style: style)
        out += damage()
        return out
    }

    // MARK: - tasks

    func taskCells(_ row: TaskRow, indent: Int) -> [String] {
        let wakers = WakerKindOrder.names.compactMap { k in row.wakers[k].map { "\(k) \($0)" } }.joined(separator: ", ")
        return [String(repeating: "  ", count: indent) + "\(row.name) #\(row.id)", row.parent == 0 ? "-" : "#\(row.parent)",
                row.createdNanos.map(t) ?? "?", row.finishedNanos.map(t) ?? "-", row.outcome, count(row.steps),
                d(row.busyNanos), d(row.readyWaitNanos), d(row.suspendedNanos), reasonCells(row.suspendedByReason),
                wakers + (row.selfWakes > 0 ? " (\(row.selfWakes) self)" : ""), waitCell(row.longestWait)]
    }

    /// `looptrace tasks`.
    public func tasks(tree: Bool) -> String {
        let r = result
        var out = header("tasks")
        var table = TextTable([("task", .left), ("parent", .left), ("created", .right), ("finished", .right),
                               ("outcome", .left), ("steps", .right), ("busy", .right), ("ready-wait", .right),
                               ("suspended", .right), ("suspended on", .left), ("wakers", .left), ("longest wait", .left)])
        if tree {
            let ids = Set(r.tasks.rows.map(\.id))
            var children: [UInt64: [TaskRow]] = [:]
            for row in r.tasks.rows { children[ids.contains(row.parent) ? row.parent : 0, default: []].append(row) }
            func walk(_ parent: UInt64, _ depth: Int) {
                for row in children[parent] ?? [] {
                    table.add(taskCells(row, indent: depth))
                    if row.id != parent { walk(row.id, depth + 1) }
                }
            }
            walk(0, 0)
        } else {
            for row in r.tasks.rows { table.add(taskCells(row, indent: 0)) }
        }
        out += table.render(style: style)
        if r.tasks.omitted > 0 { out += "  … \(count(r.tasks.omitted)) more tasks not listed\n" }
        out += damage()
        return out
    }

    // MARK: - lints

    /// `looptrace lints`.
    public func lints() -> String {
        let l = result.lints
        var out = header("lints")
        guard l.count > 0 else { return out + style.green("  no lints") + "\n" + damage() }
        var table = TextTable([("lint", .left), ("task", .left), ("detail", .left), ("site", .left)])
        for item in l.items {
            table.add([item.kind.rawValue, item.task == 0 ? item.name : "\(item.name) #\(item.task)", item.detail, item.site])
        }
        out += table.render(style: style)
        if l.items.count < l.count { out += "  … \(count(l.count - l.items.count)) more\n" }
        if !result.trace.damage.isEmpty {
            out += style.yellow("  events were lost: lints near the gaps may be wrong\n")
        }
        out += damage()
        return out
    }
}

enum WakerKindOrder {
    static let names = ["task", "callback", "timer", "io", "thread", "executor"]
}
