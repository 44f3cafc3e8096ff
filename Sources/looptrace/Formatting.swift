import Foundation
import TraceFormat

/// A duration in ns, in the unit that reads best: ns, µs, ms or s.
func formatDuration(_ nanos: Int64) -> String {
    let magnitude = abs(nanos)
    if magnitude < 1_000 { return "\(nanos) ns" }
    if magnitude < 1_000_000 { return String(format: "%.1f µs", Double(nanos) / 1e3) }
    if magnitude < 1_000_000_000 { return String(format: "%.2f ms", Double(nanos) / 1e6) }
    return String(format: "%.3f s", Double(nanos) / 1e9)
}

/// A byte count in B, KiB, MiB or GiB.
func formatBytes(_ bytes: Int64) -> String {
    if bytes < 1024 { return "\(bytes) B" }
    if bytes < 1 << 20 { return String(format: "%.1f KiB", Double(bytes) / 1024) }
    if bytes < 1 << 30 { return String(format: "%.1f MiB", Double(bytes) / Double(1 << 20)) }
    return String(format: "%.2f GiB", Double(bytes) / Double(1 << 30))
}

/// Wall-clock ns since the epoch as ISO 8601 UTC with milliseconds.
func formatWallClock(_ nanos: UInt64) -> String {
    let date = Date(timeIntervalSince1970: Double(nanos) / 1e9)
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.string(from: date)
}

extension String {
    /// Right-aligns in a field of `width` characters.
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

/// A JSON value with deterministic rendering (object keys sorted).
enum JSONValue {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    var rendered: String {
        switch self {
        case .string(let s): return TextDump.quote(s)
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? String(format: "%.6g", d) : "null"
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let a): return "[" + a.map(\.rendered).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.keys.sorted().map { TextDump.quote($0) + ":" + o[$0]!.rendered }.joined(separator: ",") + "}"
        }
    }
}

/// Builds a JSON object field by field.
struct JSONObject {
    var fields: [String: JSONValue] = [:]
    subscript(key: String) -> JSONValue? {
        get { fields[key] }
        set { fields[key] = newValue }
    }
}
