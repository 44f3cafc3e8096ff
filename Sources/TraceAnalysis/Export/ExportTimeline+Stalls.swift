import TraceFormat

/// The watchdog's samples in the export: the stack in each blocking slice's args, and an instant
/// per sample on the loop thread.
///
/// Samples arrive on the watchdog's own stream, which it flushes at once, so its chunks normally
/// precede the loop's chunk that ends the step: a blocking slice finds its samples already in the
/// model's ``StackTable``. One that arrives later still gets its instant (written at the end, all
/// symbolized in one batch), only not the slice's `stack` argument.
extension ExportTimeline {
    /// The `stack` argument of a blocking step or callback that began at `begin`: a string index,
    /// or -1 when the watchdog has no sample of it.
    mutating func stallStack(task: UInt64, begin: Int64, model: TraceModel) -> Int32 {
        let table = model.stacks
        let samples = table.samples.filter {
            $0.task == task && abs($0.stepStart - begin) <= StallAnalysis.startTolerance
        }
        guard !samples.isEmpty else { return -1 }
        let infos = StallAnalysis.sampleInfos(samples, images: table.images, symbolizer: stallSymbolizer)
        guard let text = StallAnalysis.stackText(infos) else { return -1 }
        return strings.intern(text)
    }

    /// One instant per sample, on the watchdog's loop thread, named after where it was.
    mutating func writeStallSamples(model: TraceModel) {
        let table = model.stacks
        let samples = table.samples.filter { shown($0.time, $0.time) }
        guard !samples.isEmpty, options.taskFilter == nil else { return }
        let infos = StallAnalysis.sampleInfos(samples, images: table.images, symbolizer: stallSymbolizer)
        for (sample, info) in zip(samples, infos) {
            guard admit(1, at: sample.time) else { return }
            let loop = table.watchdogs[sample.stream].map { $0.loopStream } ?? sample.stream
            let tid = streamSlots[loop].map { streams[$0].tid } ?? Int64(loop)
            let name = strings.intern("watchdog: " + (StallAnalysis.blockedIn([info]) ?? "no stack")
                                      + " after \(Durations.format(info.elapsedNanos))")
            sink.mark(tid: tid, name: name, at: sample.time, value: info.elapsedNanos, strings: &strings)
            summary.stallSamples += 1
        }
    }
}
