import Histogram

/// Exact count, sum, min and max of a latency, HDR histogram buckets (3 significant digits) for
/// its percentiles, and power-of-two buckets for the text histogram.
///
/// Values are ns. Negative values (a timer fired before its deadline) count in min, mean and
/// the lowest bucket; the HDR buckets count them as 0.
///
/// Recording is on the analysis pass's hot path (every step records two values), so it keeps
/// only the HDR bucket counts, indexed exactly as `Histogram` indexes them, in a flat array: one
/// leading-zero count, a shift and an add. The percentiles come from a `Histogram` loaded with
/// those counts when the summary is made, and the power-of-two buckets are derived from them
/// (every HDR bucket lies within one power of two), so both are what recording into the
/// library and counting powers of two directly gave.
public struct LatencyStats: Sendable {
    public private(set) var count: UInt64 = 0
    public private(set) var sum: Int64 = 0
    public private(set) var min: Int64 = .max
    public private(set) var max: Int64 = .min
    /// The smallest value above 0 (the histogram's "min non-zero").
    var minPositive: Int64 = .max
    /// HDR bucket counts, indexed like `Histogram<UInt64>`'s with `lowestDiscernibleValue` 1,
    /// 3 significant digits and ``highest``: index 0 counts values ≤ 0.
    var counts = [UInt64](repeating: 0, count: Self.countsLength)
    /// Values above ``highest`` by their power-of-two bucket: their HDR bucket is ``highest``'s,
    /// their text bucket their own. Empty until one comes.
    var beyondHighest: [UInt64] = []

    /// The largest value the HDR histogram tracks exactly (about 73 minutes); larger values are
    /// clamped there for the percentiles and kept exactly in `max`.
    static let highest: UInt64 = 1 << 42

    // The HDR layout for 3 significant digits: unit resolution up to 2048, then 1024
    // sub-buckets per power of two (`Histogram.init`).
    static let subBucketHalfCountMagnitude = 10
    static let subBucketMask: UInt64 = 2047
    static let leadingZeroCountBase = 53
    /// (buckets + 1) × 1024, with the 33 buckets `Histogram` takes to cover ``highest``.
    static let countsLength = 34 << 10

    public init() {}

    /// The HDR counts index of a value in 0…``highest``.
    @inline(__always)
    static func index(_ v: UInt64) -> Int {
        let bucket = leadingZeroCountBase - (v | subBucketMask).leadingZeroBitCount
        return ((bucket + 1) << subBucketHalfCountMagnitude) + Int(truncatingIfNeeded: v >> UInt64(bucket)) - (1 << subBucketHalfCountMagnitude)
    }

    /// The lowest value of HDR counts index `i` (`Histogram.valueFromIndex`).
    static func value(atIndex i: Int) -> UInt64 {
        var bucket = (i >> subBucketHalfCountMagnitude) - 1
        var subBucket = (i & ((1 << subBucketHalfCountMagnitude) - 1)) + (1 << subBucketHalfCountMagnitude)
        if bucket < 0 {
            subBucket -= 1 << subBucketHalfCountMagnitude
            bucket = 0
        }
        return UInt64(subBucket) << UInt64(bucket)
    }

    /// Records one value (ns).
    @inline(__always)
    public mutating func record(_ value: Int64) {
        count += 1
        sum &+= value
        if value < min { min = value }
        if value > max { max = value }
        var v: UInt64 = 0
        if value > 0 {
            if value < minPositive { minPositive = value }
            v = UInt64(value)
            if v > Self.highest {
                recordBeyondHighest(v)
                v = Self.highest
            }
        }
        let i = Self.index(v)
        counts.withUnsafeMutableBufferPointer { $0[i] &+= 1 }
    }

    mutating func recordBeyondHighest(_ v: UInt64) {
        if beyondHighest.isEmpty { beyondHighest = [UInt64](repeating: 0, count: 65) }
        beyondHighest[64 - v.leadingZeroBitCount] += 1
    }

    /// Adds another's values.
    public mutating func add(_ other: LatencyStats) {
        guard other.count > 0 else { return }
        count += other.count
        sum &+= other.sum
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
        minPositive = Swift.min(minPositive, other.minPositive)
        for i in 0..<Self.countsLength { counts[i] += other.counts[i] }
        for (i, n) in other.beyondHighest.enumerated() where n > 0 {
            if beyondHighest.isEmpty { beyondHighest = [UInt64](repeating: 0, count: 65) }
            beyondHighest[i] += n
        }
    }

    /// The counts as the library's histogram, as if every value had been recorded into it: the
    /// buckets holding the smallest positive value and the largest value are loaded with those
    /// values, so its min and max are the recorded ones too.
    var histogram: Histogram<UInt64> {
        var h = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: Self.highest,
                                  numberOfSignificantValueDigits: .three)
        let minIndex = minPositive == .max ? -1 : Self.index(Swift.min(UInt64(minPositive), Self.highest))
        let maxIndex = max > 0 ? Self.index(Swift.min(UInt64(max), Self.highest)) : -1
        for i in 0..<Self.countsLength where counts[i] > 0 {
            let v = i == minIndex ? Swift.min(UInt64(minPositive), Self.highest) : Self.value(atIndex: i)
            h.record(v, count: counts[i])
            if i == maxIndex { h.record(Swift.min(UInt64(max), Self.highest), count: 0) }
        }
        return h
    }

    /// Bucket i counts values in [2^(i-1), 2^i) ns; bucket 0 counts values ≤ 0.
    var log2Buckets: [UInt64] {
        var buckets = [UInt64](repeating: 0, count: 65)
        for i in 0..<Self.countsLength where counts[i] > 0 {
            let v = Self.value(atIndex: i)
            buckets[v > 0 ? 64 - v.leadingZeroBitCount : 0] += counts[i]
        }
        for (k, n) in beyondHighest.enumerated() where n > 0 {
            buckets[64 - Self.highest.leadingZeroBitCount] -= n
            buckets[k] += n
        }
        return buckets
    }

    /// The value at `percentile` (0–100): the HDR histogram's, bounded by the exact max.
    public func percentile(_ percentile: Double) -> Int64 { Self.percentile(percentile, of: histogram, count: count, max: max) }

    static func percentile(_ percentile: Double, of histogram: Histogram<UInt64>, count: UInt64, max: Int64) -> Int64 {
        guard count > 0 else { return 0 }
        if percentile >= 100 { return max }
        return Swift.min(Int64(histogram.valueAtPercentile(percentile)), max)
    }

    /// The summary as reported.
    public var summary: LatencySummary {
        guard count > 0 else {
            return LatencySummary(count: 0, meanNanos: 0, minNanos: 0, p50Nanos: 0, p90Nanos: 0, p99Nanos: 0,
                                  p999Nanos: 0, maxNanos: 0, buckets: [])
        }
        let log2Buckets = self.log2Buckets
        var buckets: [LatencySummary.Bucket] = []
        for i in 0..<64 where log2Buckets[i] > 0 {
            let low: Int64 = i == 0 ? Swift.min(min, 0) : Int64(1) << (i - 1)
            let high: Int64 = i == 0 ? 0 : (i >= 63 ? Int64.max : (Int64(1) << i) - 1)
            buckets.append(.init(lowNanos: low, highNanos: high, count: log2Buckets[i]))
        }
        let h = histogram
        func p(_ x: Double) -> Int64 { Self.percentile(x, of: h, count: count, max: max) }
        return LatencySummary(count: count, meanNanos: Int64((Double(sum) / Double(count)).rounded()), minNanos: min,
                              p50Nanos: p(50), p90Nanos: p(90), p99Nanos: p(99),
                              p999Nanos: p(99.9), maxNanos: max, buckets: buckets)
    }
}

/// A latency distribution as reported (all values ns).
public struct LatencySummary: Sendable, Codable, Equatable {
    /// One power-of-two bucket of the text histogram: values in [lowNanos, highNanos].
    public struct Bucket: Sendable, Codable, Equatable {
        public var lowNanos: Int64
        public var highNanos: Int64
        public var count: UInt64
    }
    public var count: UInt64
    public var meanNanos: Int64
    public var minNanos: Int64
    public var p50Nanos: Int64
    public var p90Nanos: Int64
    public var p99Nanos: Int64
    public var p999Nanos: Int64
    public var maxNanos: Int64
    public var buckets: [Bucket]
}
