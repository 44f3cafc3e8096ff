import TraceFormat

/// A `LoopQueue` whose depth only grew: its producers outpace its consumers, and its memory grows
/// with the run.
///
/// A queue's life (its first to its last put or get) is cut into at most `bucketCount` equal
/// stretches, and each keeps the lowest depth the queue had in it. The queue only grew when those
/// lows never fall, the last is at least `minGrowth` above the first, and the second half still
/// added a quarter of that rise (a bounded queue that sits full, its producers held back, has
/// stopped growing).
/// Memory: `bucketCount` integers per queue, whatever the trace's length (the stretches double in
/// width as the queue lives on).
struct GrowingQueueLint: LintChecker {
    let minGrowth: Int
    static let bucketCount = 8

    struct Trend {
        var first: Int64
        var last: Int64
        /// The width of a stretch, ns (doubles when the queue outlives `bucketCount` of them).
        var width: Int64 = 1_000
        /// The lowest depth in each stretch so far; stretches after `filled` unused.
        var lows: [Int]
        var filled = 1
        var depth: Int
        var peak: Int
        /// The last put that raised the depth: where and by which task.
        var raiseSite: SiteID
        var raiseTask: UInt64
        var stream: UInt32
    }
    var queues: [UInt64: Trend] = [:]

    init(minGrowth: Int) { self.minGrowth = minGrowth }

    mutating func queueDepth(_ sample: QueueDepthRecord, model: TraceModel) {
        guard var q = queues[sample.queue] else {
            // Before the first record the queue held this one's depth ± 1: take it as the start.
            queues[sample.queue] = Trend(first: sample.time, last: sample.time, lows: [sample.depth], depth: sample.depth,
                                         peak: sample.depth, raiseSite: sample.site, raiseTask: sample.task, stream: sample.stream)
            return
        }
        var index = Int((max(sample.time, q.first) - q.first) / q.width)
        while index >= Self.bucketCount {
            // Merge stretches pairwise: the low of two is the lower.
            var merged: [Int] = []
            for i in stride(from: 0, to: q.filled, by: 2) {
                merged.append(i + 1 < q.filled ? min(q.lows[i], q.lows[i + 1]) : q.lows[i])
            }
            q.lows = merged
            q.filled = merged.count
            q.width *= 2
            index = Int((sample.time - q.first) / q.width)
        }
        // Stretches with no record held the depth in effect.
        while q.filled <= index {
            q.lows.append(q.depth)
            q.filled += 1
        }
        q.lows[index] = min(q.lows[index], sample.depth)
        if sample.depth > q.depth {
            q.raiseSite = sample.site
            q.raiseTask = sample.task
        }
        q.depth = sample.depth
        q.peak = max(q.peak, sample.depth)
        q.last = max(q.last, sample.time)
        queues[sample.queue] = q
    }

    /// Whether the lows say the queue only grew.
    func grew(_ q: Trend) -> Bool {
        let lows = q.lows.prefix(q.filled)
        guard lows.count >= 4 else { return false }
        for i in 1..<lows.count where lows[i] < lows[i - 1] { return false }
        let growth = lows[lows.count - 1] - lows[0]
        let lateGrowth = lows[lows.count - 1] - lows[lows.count / 2]
        return growth >= minGrowth && lateGrowth * 4 >= growth
    }

    mutating func finish(model: TraceModel, formatMinor: UInt16, into lints: inout LintCollector) {
        for (id, q) in queues.sorted(by: { $0.key < $1.key }) where grew(q) {
            let detail = "queue \(id)'s depth rose from \(q.lows[0]) to \(q.depth) over \(Durations.format(q.last - q.first)) "
                + "and never fell back (peak \(q.peak)): its consumers fall behind"
            let name = q.raiseTask == 0 ? "queue \(id)" : model.name(ofTask: q.raiseTask)
            lints.add(.growingQueue, task: q.raiseTask, name: name.isEmpty ? "task\(q.raiseTask)" : name, detail,
                      model.sites[q.raiseSite])
        }
        queues = [:]
    }
}
