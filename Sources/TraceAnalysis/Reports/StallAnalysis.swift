import TraceFormat

/// Builds the ``StallReport`` from the watchdog's records after the pass, and attaches where each
/// blocking step blocked to its ``BlockingFinding``.
public enum StallAnalysis {
    /// Samples of one step share its start time; the watchdog's and the loop's conversions of
    /// the same tick may differ by a few ns.
    static let startTolerance: Int64 = 2_000

    /// Symbolizes the samples and groups them by step. Nil when the trace has no samples.
    public static func report(model: TraceModel, symbolizer: Symbolizer = Symbolizer()) -> StallReport? {
        let table = model.stacks
        guard !table.samples.isEmpty else { return nil }
        let infos = sampleInfos(table.samples, images: table.images, symbolizer: symbolizer)
        var stalls: [Stall] = []
        var open: [StallKey: Int] = [:]
        for (i, sample) in table.samples.enumerated() {
            let info = infos[i]
            let key = StallKey(stream: sample.stream, task: sample.task, start: sample.stepStart / startTolerance)
            let index = open[key] ?? open[StallKey(stream: key.stream, task: key.task, start: key.start - 1)]
                ?? open[StallKey(stream: key.stream, task: key.task, start: key.start + 1)]
            if let index {
                stalls[index].samples.append(info)
                stalls[index].lastElapsedNanos = max(stalls[index].lastElapsedNanos, info.elapsedNanos)
                stalls[index].syscall = info.syscall
            } else {
                open[key] = stalls.count
                let name = sample.task == 0 ? "callback" : model.name(ofTask: sample.task)
                stalls.append(Stall(task: sample.task, name: name, loopStream: table.watchdogs[sample.stream]?.loopStream,
                                    stepStartNanos: sample.stepStart, ended: false, lastElapsedNanos: info.elapsedNanos,
                                    syscall: info.syscall, blockedIn: nil, samples: [info]))
            }
        }
        for end in table.ends {
            for i in stalls.indices where abs(stalls[i].stepStartNanos - end.stepStart) <= startTolerance { stalls[i].ended = true }
        }
        for i in stalls.indices { stalls[i].blockedIn = blockedIn(stalls[i].samples) }
        stalls.sort { $0.stepStartNanos < $1.stepStartNanos }
        return StallReport(samples: table.samples.count, stalls: stalls,
                           symbolizerNote: symbolizer.isAvailable ? nil : "llvm-symbolizer not found: frames show image+offset (set LOOPTRACE_SYMBOLIZER)")
    }

    /// Symbolizes samples, all in one batch.
    public static func sampleInfos(_ samples: [StackTable.Sample], images: [UInt32: StackTable.Image],
                                   symbolizer: Symbolizer) -> [StallSampleInfo] {
        let stacks = samples.map { $0.stack ?? StackTable.Stack(kind: nil, frames: []) }
        let symbolized = symbolizer.symbolize(stacks, images: images)
        return samples.enumerated().map { i, sample in
            let frames = symbolized[i].map(frameInfo)
            return StallSampleInfo(timeNanos: sample.time, elapsedNanos: sample.elapsed,
                                   syscall: sample.syscall.map(SyscallNames.name), method: sample.stack?.kind?.description ?? "none",
                                   frames: frames, userFrame: frames.firstIndex(where: \.user))
        }
    }

    /// A stall's stack as one text block: where it blocked, then its frames, innermost first
    /// (the export's `stack` argument).
    public static func stackText(_ samples: [StallSampleInfo]) -> String? {
        guard let s = representative(samples) else { return nil }
        var lines = [blockedIn(samples) ?? ""]
        lines += s.frames.map { "  " + $0.text }
        if s.method == "scan" { lines.append("(scanned: may hold stale frames)") }
        return lines.joined(separator: "\n")
    }

    /// Gives each blocking finding the stall that matches it (same task, same start).
    public static func attach(_ report: StallReport, to result: inout AnalysisResult) {
        var report = report
        // A stall whose step the trace shows ending did end, even without a `stallEnd` (the
        // program exited before the watchdog's next look).
        let ended = result.blocking.findings.map { ($0.task, $0.beginNanos) }
            + result.longestSteps.map { ($0.task, $0.beginNanos) }
            + result.longestCallbacks.map { (UInt64(0), $0.beginNanos) }
        for i in report.stalls.indices where !report.stalls[i].ended {
            let s = report.stalls[i]
            if ended.contains(where: { $0.0 == s.task && abs($0.1 - s.stepStartNanos) <= startTolerance }) {
                report.stalls[i].ended = true
            }
        }
        for i in result.blocking.findings.indices {
            let f = result.blocking.findings[i]
            guard let stall = report.stalls.first(where: {
                $0.task == f.task && abs($0.stepStartNanos - f.beginNanos) <= startTolerance
            }) else { continue }
            result.blocking.findings[i].blockedIn = stall.blockedIn
            result.blocking.findings[i].stack = representative(stall.samples)?.frames
        }
        // A step still running at the end of the trace (the program hung and was killed) ran
        // at least as long as its last sample: a blocking step too, so `--fail-on blocking`
        // catches a hang. Its impact is unknown (the loop's last events are usually lost).
        for stall in report.unended where stall.lastElapsedNanos >= result.blocking.thresholdNanos {
            let known = result.blocking.findings.contains {
                $0.task == stall.task && abs($0.beginNanos - stall.stepStartNanos) <= startTolerance
            }
            guard !known else { continue }
            let kind = stall.task == 0 ? "callback" : "step"
            let still = "(still running at the end of the trace)"
            var finding = BlockingFinding(kind: kind, task: stall.task, name: stall.name.isEmpty ? "task" : stall.name, step: 0,
                                          resumeSite: "(unknown)", suspendSite: still,
                                          beginNanos: stall.stepStartNanos, durationNanos: stall.lastElapsedNanos,
                                          impact: BlockingImpact(readyTasks: 0, timersDue: 0, callbacksQueued: 0, maxDelayCausedNanos: 0))
            finding.blockedIn = stall.blockedIn
            finding.stack = representative(stall.samples)?.frames
            let at = result.blocking.findings.firstIndex { $0.durationNanos < finding.durationNanos } ?? result.blocking.findings.count
            result.blocking.findings.insert(finding, at: at)
            result.blocking.count += 1
            result.blocking.groups.append(BlockingGroup(kind: kind, resumeSite: "(unknown)", suspendSite: still, count: 1,
                                                        totalNanos: stall.lastElapsedNanos, maxNanos: stall.lastElapsedNanos))
        }
        result.stalls = report
    }

    /// Builds the report and attaches it: what `AnalysisSession.finish` does when the trace has
    /// samples.
    public static func apply(model: TraceModel, to result: inout AnalysisResult) {
        guard let report = report(model: model) else { return }
        attach(report, to: &result)
    }

    struct StallKey: Hashable {
        var stream: UInt32
        var task: UInt64
        var start: Int64
    }

    /// The sample that best says where a stall was: the one whose innermost user frame is the
    /// most common among its samples (the latest of those).
    static func representative(_ samples: [StallSampleInfo]) -> StallSampleInfo? {
        var counts: [String: Int] = [:]
        for s in samples { counts[userText(s) ?? "", default: 0] += 1 }
        var best: StallSampleInfo?
        var bestCount = 0
        for s in samples {
            let c = counts[userText(s) ?? ""] ?? 0
            let better = userText(s) != nil && (best.flatMap(userText) == nil || c >= bestCount)
            if best == nil || better {
                best = s
                bestCount = c
            }
        }
        return best
    }

    static func userText(_ s: StallSampleInfo) -> String? { s.userFrame.map { s.frames[$0].text } }

    /// `in f() File.swift:8 (usleep)`: the innermost user frame, and the call it made into the
    /// system (and the syscall when that says more), or "(running)".
    static func blockedIn(_ samples: [StallSampleInfo]) -> String? {
        guard let s = representative(samples) else { return nil }
        var callee: String?
        let inner: ArraySlice<StackFrameInfo>
        if let u = s.userFrame {
            inner = s.frames[..<u]
        } else {
            inner = s.frames[...]
        }
        if let outer = inner.last { callee = cleanSystemName(outer.function) }
        var detail: String
        if let syscall = s.syscall {
            if let callee, callee != syscall { detail = "\(callee) in \(syscall)" } else { detail = syscall }
        } else {
            detail = "running"
        }
        if s.frames.isEmpty { detail += ", no stack" }
        guard let u = s.userFrame else {
            // Say why no user frame is named when the binaries do not match the trace.
            if let unknown = s.frames.first(where: { $0.note == "stale image" || $0.note == "image missing" }) {
                return "in an unknown frame (\(s.syscall ?? "running"); \(unknown.note!): \(unknown.image))"
            }
            return "in \(detail)"
        }
        return "in \(s.frames[u].text) (\(detail))"
    }

    /// glibc's internal aliases read better without their prefixes (`__GI___libc_read` → `read`).
    static func cleanSystemName(_ name: String) -> String {
        var s = Substring(name)
        for prefix in ["__GI_", "__libc_", "___", "__"] where s.hasPrefix(prefix) { s = s.dropFirst(prefix.count) }
        for prefix in ["libc_"] where s.hasPrefix(prefix) { s = s.dropFirst(prefix.count) }
        while s.hasPrefix("_") { s = s.dropFirst() }
        return s.isEmpty ? name : String(s)
    }

    static func frameInfo(_ symbol: Symbolizer.Symbol) -> StackFrameInfo {
        var function = symbol.function
        while function.hasSuffix(" in ") { function = String(function.dropLast(4)) }
        var file = symbol.file.map { path in path.split(separator: "/").last.map(String.init) ?? path }
        if file == "<compiler-generated>" { file = nil }
        return StackFrameInfo(function: function, file: file, line: file == nil ? nil : symbol.line, image: symbol.image,
                              note: symbol.note, user: isUser(symbol))
    }

    /// Libraries and modules that are not the program's own code.
    static let systemImagePrefixes = ["libc.so", "libc-", "libm.so", "libpthread", "ld-linux", "libgcc_s", "libstdc++",
                                      "libdispatch", "libBlocksRuntime", "libFoundation", "lib_Foundation", "libswift",
                                      "linux-vdso", "libicu", "libz.so", "libdeflate", "libdl", "librt", "libutil"]
    static let systemModules: Set<String> = ["Swift", "_Concurrency", "_StringProcessing", "LoopRuntime", "TraceFormat",
                                             "Dispatch", "Foundation", "FoundationEssentials", "Glibc", "Atomics",
                                             "DequeModule", "HeapModule", "Synchronization", "CLoopTraceShims",
                                             "_SwiftConcurrencyShims", "SwiftGlibc", "InternalCollectionsUtilities"]

    /// Whether a frame is the program's own code: not in a system library, not a function of
    /// the Swift standard library, runtime or LoopRuntime, and not one of our C shims.
    static func isUser(_ symbol: Symbolizer.Symbol) -> Bool {
        let base = Symbolizer.basename(symbol.image)
        if systemImagePrefixes.contains(where: { base.hasPrefix($0) }) { return false }
        guard let linkage = symbol.linkageName else { return symbol.note == nil && symbol.function.first != "?" }
        if let module = swiftModule(linkage) { return !systemModules.contains(module) }
        // C or runtime symbols linked into the program: our shims and the runtime's entry points.
        // `_init`/`_fini` also stand for a PLT stub: `.plt` has no symbols of its own, so the
        // symbolizer names an address there after `.init`, the section before it (a CPU-bound
        // step sampled inside `clock_gettime@plt` read "in _init").
        return !(linkage.hasPrefix("lt_") || linkage.hasPrefix("swift_") || linkage.hasPrefix("_swift")
                 || linkage.hasPrefix("__") || linkage == "_start" || linkage == "_init" || linkage == "_fini")
    }

    /// The module of a Swift mangled name (`$s11LoopRuntime…` → LoopRuntime; `$ss…`/`$sS…`: the
    /// standard library); nil when not a Swift name.
    static func swiftModule(_ linkage: String) -> String? {
        var s = Substring(linkage)
        if s.hasPrefix("_") { s = s.dropFirst() }
        guard s.hasPrefix("$s") else { return nil }
        s = s.dropFirst(2)
        guard let first = s.first else { return nil }
        if first == "s" || first == "S" { return "Swift" }
        let digits = s.prefix(while: \.isNumber)
        guard let length = Int(digits), length > 0 else { return nil }
        let rest = s.dropFirst(digits.count)
        guard rest.count >= length else { return nil }
        return String(rest.prefix(length))
    }
}
