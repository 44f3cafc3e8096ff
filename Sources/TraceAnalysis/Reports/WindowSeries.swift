/// Loop utilization and maximum lag per fixed time window.
///
/// Busy time (steps, callbacks) and poll time are split exactly across the windows an interval
/// covers. Lag is the largest wait that ended in the window: scheduling delay, callback queue
/// delay or timer lateness. When the series would exceed ``maxWindows`` windows, adjacent pairs
/// merge and the width doubles, so memory stays bounded whatever the trace's length.
public struct WindowSeries: Sendable, Codable, Equatable {
    public struct Window: Sendable, Codable, Equatable {
        public var startNanos: Int64
        public var busyNanos: Int64
        public var pollNanos: Int64
        /// The part of the window inside the analysed span.
        public var spanNanos: Int64
        public var maxLagNanos: Int64
        /// busy ÷ span (0 for an empty window).
        public var utilization: Double { spanNanos > 0 ? Double(busyNanos) / Double(spanNanos) : 0 }

        enum CodingKeys: String, CodingKey { case startNanos, busyNanos, pollNanos, spanNanos, maxLagNanos, utilization }
        public init(startNanos: Int64, busyNanos: Int64, pollNanos: Int64, spanNanos: Int64, maxLagNanos: Int64) {
            self.startNanos = startNanos
            self.busyNanos = busyNanos
            self.pollNanos = pollNanos
            self.spanNanos = spanNanos
            self.maxLagNanos = maxLagNanos
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            startNanos = try c.decode(Int64.self, forKey: .startNanos)
            busyNanos = try c.decode(Int64.self, forKey: .busyNanos)
            pollNanos = try c.decode(Int64.self, forKey: .pollNanos)
            spanNanos = try c.decode(Int64.self, forKey: .spanNanos)
            maxLagNanos = try c.decode(Int64.self, forKey: .maxLagNanos)
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(startNanos, forKey: .startNanos)
            try c.encode(busyNanos, forKey: .busyNanos)
            try c.encode(pollNanos, forKey: .pollNanos)
            try c.encode(spanNanos, forKey: .spanNanos)
            try c.encode(maxLagNanos, forKey: .maxLagNanos)
            try c.encode((utilization * 10_000).rounded() / 10_000, forKey: .utilization)
        }
    }

    /// The most windows kept before merging.
    public static let maxWindows = 1 << 16

    /// The window width in ns (the requested width, doubled by each merge).
    public private(set) var windowNanos: Int64
    /// Where window 0 starts.
    public private(set) var originNanos: Int64
    var busy: [Int64] = []
    var poll: [Int64] = []
    var lag: [Int64] = []
    /// The finished windows (filled by ``finalize(since:until:)``).
    public private(set) var windows: [Window] = []
    /// The last window touched and its bounds: nearly every interval falls in the same window
    /// as the one before, so the index costs two compares instead of a 64-bit division.
    var cachedIndex = -1
    var cachedStart: Int64 = 0
    var cachedEnd: Int64 = 0

    enum CodingKeys: String, CodingKey { case windowNanos, originNanos, windows }

    public init(windowNanos: Int64, originNanos: Int64) {
        self.windowNanos = Swift.max(1, windowNanos)
        self.originNanos = originNanos
    }

    @inline(__always)
    mutating func index(_ t: Int64) -> Int {
        if t >= cachedStart && t < cachedEnd { return cachedIndex }
        return slowIndex(t)
    }

    mutating func slowIndex(_ t: Int64) -> Int {
        var i = Int((t - originNanos) / windowNanos)
        if i < 0 { i = 0 }
        while i >= Self.maxWindows {
            merge()
            i = Int((t - originNanos) / windowNanos)
        }
        if i >= busy.count {
            let n = i + 1 - busy.count
            busy.append(contentsOf: repeatElement(0, count: n))
            poll.append(contentsOf: repeatElement(0, count: n))
            lag.append(contentsOf: repeatElement(0, count: n))
        }
        if t >= originNanos {
            cachedIndex = i
            cachedStart = originNanos + Int64(i) * windowNanos
            cachedEnd = cachedStart + windowNanos
        }
        return i
    }

    mutating func merge() {
        let n = (busy.count + 1) / 2
        for i in 0..<n {
            let a = 2 * i, b = 2 * i + 1
            busy[i] = busy[a] + (b < busy.count ? busy[b] : 0)
            poll[i] = poll[a] + (b < poll.count ? poll[b] : 0)
            lag[i] = Swift.max(lag[a], b < lag.count ? lag[b] : 0)
        }
        busy.removeLast(busy.count - n)
        poll.removeLast(poll.count - n)
        lag.removeLast(lag.count - n)
        windowNanos *= 2
        cachedIndex = -1
        cachedStart = 0
        cachedEnd = 0
    }

    /// Adds the interval [begin, end) to busy (or poll) time, split across windows.
    @inline(__always)
    mutating func add(_ begin: Int64, _ end: Int64, poll isPoll: Bool) {
        guard end > begin else { return }
        if begin >= cachedStart && end <= cachedEnd {
            // Inside the cached window (the common case): no merge possible, one add.
            if isPoll { poll[cachedIndex] += end - begin } else { busy[cachedIndex] += end - begin }
            return
        }
        var t = begin
        _ = index(end - 1)  // may merge: take begin's index after
        var i = index(begin)
        while t < end {
            let windowEnd = originNanos + Int64(i + 1) * windowNanos
            let piece = Swift.min(end, windowEnd) - t
            if isPoll { poll[i] += piece } else { busy[i] += piece }
            t += piece
            i += 1
        }
    }

    /// Notes a wait of `lag` ns that ended at `t`.
    @inline(__always)
    mutating func lag(_ lag: Int64, at t: Int64) {
        let i = index(t)
        if lag > self.lag[i] { self.lag[i] = lag }
    }

    /// Builds ``windows`` covering [since, until).
    mutating func finalize(since: Int64, until: Int64) {
        guard until > since else { return }
        _ = index(until - 1)
        windows = []
        for i in 0..<busy.count {
            let start = originNanos + Int64(i) * windowNanos
            let lo = Swift.max(start, since), hi = Swift.min(start + windowNanos, until)
            guard hi > lo else { continue }
            windows.append(Window(startNanos: start, busyNanos: busy[i], pollNanos: poll[i], spanNanos: hi - lo,
                                  maxLagNanos: lag[i]))
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        windowNanos = try c.decode(Int64.self, forKey: .windowNanos)
        originNanos = try c.decode(Int64.self, forKey: .originNanos)
        windows = try c.decode([Window].self, forKey: .windows)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(windowNanos, forKey: .windowNanos)
        try c.encode(originNanos, forKey: .originNanos)
        try c.encode(windows, forKey: .windows)
    }

    public static func == (a: WindowSeries, b: WindowSeries) -> Bool {
        a.windowNanos == b.windowNanos && a.originNanos == b.originNanos && a.windows == b.windows
    }
}
