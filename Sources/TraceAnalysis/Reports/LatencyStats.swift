import Histogram

/// Exact count, sum, min and max of a latency, an HDR histogram (3 significant digits) for its
/// percentiles, and power-of-two buckets for the text histogram.
///
/// Values are ns. Negative values (a timer fired before its deadline) count in min, mean and
/// the lowest bucket; the HDR histogram records them as 0.
public struct LatencyStats: Sendable {
    public private(set) var count: UInt64 = 0
    public private(set) var sum: Int64 = 0
    public private(set) var min: Int64 = .max
    public private(set) var max: Int64 = .min
    var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: Self.highest,
                                      numberOfSignificantValueDigits: .three)
    /// Bucket i counts values in [2^(i-1), 2^i) ns; bucket 0 counts values ≤ 0.
    var log2Buckets = [UInt64](repeating: 0, count: 64)

    /// The largest value the HDR histogram tracks exactly (about 73 minutes); larger values are
    /// clamped there for the percentiles and kept exactly in `max`.
    static let highest: UInt64 = 1 << 42

    public init() {}

    /// Records one value (ns).
    @inline(__always)
    public mutating func record(_ value: Int64) {
        count += 1
        sum &+= value
        if value < min { min = value }
        if value > max { max = value }
        let v = value > 0 ? Swift.min(UInt64(value), Self.highest) : 0
        _ = histogram.record(v)
        log2Buckets[value > 0 ? 64 - UInt64(value).leadingZeroBitCount : 0] += 1
    }

    /// Adds another's values.
    public mutating func add(_ other: LatencyStats) {
        guard other.count > 0 else { return }
        count += other.count
        sum &+= other.sum
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
        histogram.add(other.histogram)
        for i in 0..<64 { log2Buckets[i] += other.log2Buckets[i] }
    }

    /// The value at `percentile` (0–100): the HDR histogram's, bounded by the exact max.
    public func percentile(_ percentile: Double) -> Int64 {
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
        var buckets: [LatencySummary.Bucket] = []
        for i in 0..<64 where log2Buckets[i] > 0 {
            let low: Int64 = i == 0 ? Swift.min(min, 0) : Int64(1) << (i - 1)
            let high: Int64 = i == 0 ? 0 : (i >= 63 ? Int64.max : (Int64(1) << i) - 1)
            buckets.append(.init(lowNanos: low, highNanos: high, count: log2Buckets[i]))
        }
        return LatencySummary(count: count, meanNanos: Int64((Double(sum) / Double(count)).rounded()), minNanos: min,
                              p50Nanos: percentile(50), p90Nanos: percentile(90), p99Nanos: percentile(99),
                              p999Nanos: percentile(99.9), maxNanos: max, buckets: buckets)
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
