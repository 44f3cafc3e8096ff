import Foundation

/// Parsing and printing of durations the way the commands take and show them.
public enum Durations {
    /// Parses `10ms`, `1.5s`, `250us`, `250µs`, `800ns` (a bare number is ns) into ns.
    /// - Returns: nil when the text is not a duration (`10parsecs`, `-1s`, empty).
    public static func parse(_ text: String) -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9)]
        var number = t
        var scale = 1.0
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            number = String(t.dropLast(suffix.count))
            scale = factor
            break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }), let value = Double(number),
              value.isFinite, value >= 0, value * scale < 9.2e18 else { return nil }
        return Int64((value * scale).rounded())
    }

    /// A duration in the unit that reads best: ns, µs, ms or s, three significant-ish digits.
    public static func format(_ nanos: Int64) -> String {
        let m = abs(nanos)
        if m < 1_000 { return "\(nanos) ns" }
        if m < 1_000_000 { return String(format: "%.1f µs", Double(nanos) / 1e3) }
        if m < 1_000_000_000 { return String(format: "%.2f ms", Double(nanos) / 1e6) }
        return String(format: "%.3f s", Double(nanos) / 1e9)
    }

    /// A point in the trace (ns since its start) as seconds with ms precision: `1.204 s`.
    public static func formatTime(_ nanos: Int64) -> String {
        String(format: "%.6f s", Double(nanos) / 1e9)
    }
}
