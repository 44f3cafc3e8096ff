/// The watchdog's part of the reports: where each blocking step blocked, stalls that never
/// ended, and whole stacks grouped (`blocking --stacks`).
extension ReportRenderer {
    /// The lines telling that the loop was still blocked when the trace ended.
    func unendedStallLines(indent: String) -> String {
        guard let stalls = result.stalls?.unended, !stalls.isEmpty else { return "" }
        var out = ""
        for s in stalls {
            let what = s.syscall.map { "blocked in \($0)" } ?? "running one step"
            let who = s.task == 0 ? "a callback" : "\(s.name.isEmpty ? "task" : s.name) #\(s.task)"
            out += indent + style.red("the loop was still \(what) after \(Durations.format(s.lastElapsedNanos))")
                + " (\(who), from \(t(s.stepStartNanos)); the trace ends there)\n"
            if let blockedIn = s.blockedIn { out += indent + "  " + blockedIn + "\n" }
        }
        return out
    }

    /// Where each listed finding blocked, for `looptrace blocking`.
    func blockedInSection() -> String {
        let findings = result.blocking.findings.filter { $0.blockedIn != nil }
        guard !findings.isEmpty else { return "" }
        var out = "\n" + style.bold("where they blocked") + " (innermost user frame, from the watchdog's samples)\n"
        for f in findings {
            out += "  \(d(f.durationNanos))  \(stepName(f.name, f.task, f.step))  \(f.blockedIn!)\n"
        }
        return out
    }

    /// Every sampled stack, grouped by its frames, most frequent first.
    func stacksSection() -> String {
        guard let report = result.stalls else {
            return "\n" + style.dim("no stacks: the trace has no watchdog samples (format 1.2 records them for steps over 50ms)") + "\n"
        }
        var groups: [[String]: (count: Int, methods: Set<String>, syscalls: Set<String>)] = [:]
        var order: [[String]] = []
        for stall in report.stalls {
            for sample in stall.samples {
                let key = sample.frames.map(\.text)
                if groups[key] == nil { order.append(key) }
                groups[key, default: (0, [], [])].count += 1
                groups[key]!.methods.insert(sample.method)
                groups[key]!.syscalls.insert(sample.syscall ?? "running")
            }
        }
        order.sort { groups[$0]!.count > groups[$1]!.count }
        var out = "\n" + style.bold("stacks") + " (\(count(report.samples)) sample(s), grouped)\n"
        if let note = report.symbolizerNote { out += "  " + style.yellow(note) + "\n" }
        for key in order {
            let g = groups[key]!
            out += "  \(g.count) × \(g.syscalls.sorted().joined(separator: ", ")) [\(g.methods.sorted().joined(separator: ", "))]\n"
            if key.isEmpty { out += "      (no stack captured)\n" }
            for frame in key { out += "      \(frame)\n" }
        }
        return out
    }
}
