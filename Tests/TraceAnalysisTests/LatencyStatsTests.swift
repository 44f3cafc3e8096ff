import Histogram
import Testing
@testable import TraceAnalysis
import TraceTestSupport

@Suite("Latency statistics")
struct LatencyStatsTests {
    /// What recording every value into the HDR histogram and counting powers of two directly
    /// gives: the summary before the flat counts derived both.
    func reference(_ values: [Int64]) -> LatencySummary {
        var h = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: LatencyStats.highest,
                                  numberOfSignificantValueDigits: .three)
        var log2 = [UInt64](repeating: 0, count: 64)
        for v in values {
            h.record(v > 0 ? min(UInt64(v), LatencyStats.highest) : 0)
            log2[v > 0 ? 64 - UInt64(v).leadingZeroBitCount : 0] += 1
        }
        let lo = values.min()!, hi = values.max()!
        func p(_ x: Double) -> Int64 { x >= 100 ? hi : min(Int64(h.valueAtPercentile(x)), hi) }
        var buckets: [LatencySummary.Bucket] = []
        for i in 0..<64 where log2[i] > 0 {
            buckets.append(.init(lowNanos: i == 0 ? min(lo, 0) : Int64(1) << (i - 1),
                                 highNanos: i == 0 ? 0 : (i >= 63 ? .max : (Int64(1) << i) - 1), count: log2[i]))
        }
        return LatencySummary(count: UInt64(values.count), meanNanos: Int64((Double(values.reduce(0, &+)) / Double(values.count)).rounded()),
                              minNanos: lo, p50Nanos: p(50), p90Nanos: p(90), p99Nanos: p(99), p999Nanos: p(99.9),
                              maxNanos: hi, buckets: buckets)
    }

    @Test("The summary from flat HDR counts equals recording into the HDR histogram, for any values",
          arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func summaryEqualsTheLibrarysHistogram(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var stats = LatencyStats()
        var values: [Int64] = []
        let n = Int(rng.next() % 5_000) + 1
        for _ in 0..<n {
            // Every scale: negatives, zero, unit resolution, far above 2^42.
            let v: Int64 = switch rng.next() % 6 {
            case 0: -Int64(rng.next() % 1_000_000)
            case 1: Int64(rng.next() % 3)
            case 2: Int64(rng.next() % 4_096)
            case 3: Int64(bitPattern: rng.next() >> (rng.next() % 64)) & Int64.max
            case 4: Int64(1 << 42) + Int64(rng.next() % 3) - 1
            default: Int64(rng.next() % 100_000_000)
            }
            stats.record(v)
            values.append(v)
        }
        #expect(stats.summary == reference(values), "seed \(seed)")
        var merged = LatencyStats()
        merged.add(stats)
        #expect(merged.summary == reference(values), "seed \(seed)")
    }
}
