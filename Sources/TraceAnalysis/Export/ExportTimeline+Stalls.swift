import TraceFormat

/// The watchdog's samples in the export: the stack in each blocking slice's args, and an instant
/// per sample on the loop thread.
///
/// Samples arrive on the watchdog's own stream, which it flushes at once, so its chunks normally
/// precede the loop's chunk that ends the step: a blocking slice finds its samples already read.
/// One that arrives later still gets its instant (written at the end, all symbolized in one
/// batch), only not the slice's `stack` argument.
extension ExportTimeline {
    /// Takes an `imageDef`/`imageText`/`stackDef`/`stallSample`/`stallEnd`/`watchdogStart`.
    mutating func stallRecord(_ e: TraceEvent, _ chunk: DecodedChunk) {
        stallTable.add(e, chunk: chunk)
    }

    /// Takes a chunk's image and stack definitions before its records, and symbolizes its new
    /// suspend chains in one batch, as the model does.
    mutating func suspendChainDefinitions(_ events: [TraceEvent], _ chunk: DecodedChunk) {
        var fresh: [StackTable.StackKey] = []
        for e in events where e.type == .imageDef || e.type == .imageText || e.type == .stackDef {
            stallTable.add(e, chunk: chunk)
            if e.type == .stackDef && e.args[1] == UInt64(StackKind.suspendChain.rawValue) {
                let key = StackTable.StackKey(stream: e.stream, id: e.args[0])
                if !suspendSites.knows(key) { fresh.append(key) }
            }
        }
        if !fresh.isEmpty { suspendSites.resolve(fresh, table: stallTable) }
    }

    /// The string index of a `suspendStack`'s site (0 when its definition was lost).
    mutating func suspendSite(_ key: StackTable.StackKey) -> Int32 {
        if let text = suspendSites.site(key) { return strings.intern(text) }
        guard let stack = stallTable.stacks[key] else { return 0 }
        return strings.intern(SuspendSiteResolver.fallback(stack, table: stallTable))
    }

    /// `taskEntry`: names the task after the closure it runs, when the symbolizer can.
    mutating func taskEntry(_ e: TraceEvent) {
        guard let name = suspendSites.entryName(StackTable.StackKey(stream: e.stream, id: e.args[1])),
              var t = tasks[e.args[0]] else { return }
        t.name = strings.intern(name)
        tasks[e.args[0]] = t
    }

    /// The `stack` argument of a blocking step or callback that began at `begin`: a string index,
    /// or -1 when the watchdog has no sample of it.
    mutating func stallStack(task: UInt64, begin: Int64) -> Int32 {
        let samples = stallTable.samples.filter {
            $0.task == task && abs($0.stepStart - begin) <= StallAnalysis.startTolerance
        }
        guard !samples.isEmpty else { return -1 }
        let infos = StallAnalysis.sampleInfos(samples, images: stallTable.images, symbolizer: stallSymbolizer)
        guard let text = StallAnalysis.stackText(infos) else { return -1 }
        return strings.intern(text)
    }

    /// One instant per sample, on the watchdog's loop thread, named after where it was.
    mutating func writeStallSamples() {
        let samples = stallTable.samples.filter { shown($0.time, $0.time) }
        guard !samples.isEmpty, options.taskFilter == nil else { return }
        let infos = StallAnalysis.sampleInfos(samples, images: stallTable.images, symbolizer: stallSymbolizer)
        for (sample, info) in zip(samples, infos) {
            guard admit(1, at: sample.time) else { return }
            let loop = stallTable.watchdogs[sample.stream].map { Int($0.loopStream) } ?? Int(sample.stream)
            let tid = loop < streams.count && streams[loop].tid != 0 ? streams[loop].tid : Int64(loop)
            let name = strings.intern("watchdog: " + (StallAnalysis.blockedIn([info]) ?? "no stack")
                                      + " after \(Durations.format(info.elapsedNanos))")
            sink.mark(tid: tid, name: name, at: sample.time, value: info.elapsedNanos, strings: &strings)
            summary.stallSamples += 1
        }
    }
}
