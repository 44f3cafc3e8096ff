import Foundation

/// One figure measured several times: its samples (one per run) and their median, min and max.
///
/// Benchmarks report the median with min and max beside it (STYLE.md §8): on a shared machine a
/// single run says little. A ratio of two figures is a `Summary` too (see ``ratio(_:_:)``), so
/// that every line of a report and every object of `--json` has the same shape.
public struct Summary: CustomStringConvertible, Sendable {
    /// The figure of each run, in run order (empty for a derived figure such as a ratio).
    public let samples: [Double]
    /// The median of the samples (the mean of the middle two for an even count).
    public let median: Double
    /// The smallest sample.
    public let min: Double
    /// The largest sample.
    public let max: Double

    /// A figure from the samples of its runs.
    /// - Parameter samples: one value per run; at least one.
    public init(samples: [Double]) {
        precondition(!samples.isEmpty, "a figure needs at least one run")
        let sorted = samples.sorted()
        let middle = sorted.count / 2
        self.samples = samples
        median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        min = sorted[0]
        max = sorted[sorted.count - 1]
    }

    /// A derived figure given by its median and bounds.
    public init(median: Double, min: Double, max: Double) {
        samples = []
        self.median = median
        self.min = min
        self.max = max
    }

    /// `a ÷ b`: the ratio of the medians, bounded by the extreme ratios (`a.min ÷ b.max` to
    /// `a.max ÷ b.min`).
    public static func ratio(_ a: Summary, _ b: Summary) -> Summary {
        Summary(median: a.median / b.median, min: a.min / b.max, max: a.max / b.min)
    }

    /// `a[i] ÷ b[i]` run by run, for figures whose runs were interleaved (A, B, A, B, …) so that
    /// drift of the machine hits both alike: steadier than ``ratio(_:_:)`` under load.
    public static func pairedRatio(_ a: Summary, _ b: Summary) -> Summary {
        precondition(a.samples.count == b.samples.count && !a.samples.isEmpty, "paired ratios need runs in pairs")
        return Summary(samples: zip(a.samples, b.samples).map { $0 / $1 })
    }

    /// The median and bounds, each written by `format`: "2.77 M [1.92 M – 2.81 M]".
    public func formatted(_ format: (Double) -> String) -> String {
        "\(format(median)) [\(format(min)) – \(format(max))]"
    }

    /// The figure as a rate (see ``rate(_:)``).
    public var description: String { formatted(rate) }
}

/// Runs `body` `runs` times and summarises the figures it returns.
public func measure(runs: Int, _ body: () throws -> Double) rethrows -> Summary {
    var samples: [Double] = []
    for _ in 0..<runs { samples.append(try body()) }
    return Summary(samples: samples)
}

/// A rate per second with an SI suffix: "2.77 M", "461 k", "8.4 k", "12.5".
public func rate(_ value: Double) -> String {
    if value >= 1e6 { return String(format: "%.2f M", value / 1e6) }
    if value >= 1e5 { return String(format: "%.0f k", value / 1e3) }
    if value >= 1e3 { return String(format: "%.1f k", value / 1e3) }
    return String(format: "%.1f", value)
}

/// A ratio as the reports print it: "1.23×".
public func times(_ value: Double) -> String { String(format: "%.2f×", value) }

/// One table row: each cell padded to its column's width.
public func tableRow(_ cells: [String], widths: [Int]) -> String {
    zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined()
}

/// Runs each of `bodies` once per run, in turn (A, B, C, A, B, C, …), so that drift of the
/// machine hits all alike, and summarises each; pair them with ``Summary/pairedRatio(_:_:)``.
public func measureInterleaved(runs: Int, _ bodies: [() throws -> Double]) throws -> [Summary] {
    var samples = [[Double]](repeating: [], count: bodies.count)
    for _ in 0..<runs {
        for (i, body) in bodies.enumerated() { samples[i].append(try body()) }
    }
    return samples.map { Summary(samples: $0) }
}
