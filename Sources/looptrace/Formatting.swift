import Foundation

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
