/// A table whose columns line up: text columns left-aligned, number columns right-aligned.
/// Widths count characters, so `µ` and `→` take one column each.
public struct TextTable {
    public enum Alignment { case left, right }
    public var headers: [String]
    public var alignments: [Alignment]
    public var rows: [[String]] = []

    public init(_ columns: [(String, Alignment)]) {
        headers = columns.map(\.0)
        alignments = columns.map(\.1)
    }

    public mutating func add(_ row: [String]) { rows.append(row) }

    /// The table as lines, each indented by `indent` spaces; the header is styled bold.
    public func render(indent: Int = 2, style: TextStyle = .plain) -> String {
        var widths = headers.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, cell) in cells.enumerated() where i < widths.count {
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                let last = i == cells.count - 1
                parts.append(alignments[i] == .right ? pad + cell : (last ? cell : cell + pad))
            }
            return String(repeating: " ", count: indent) + parts.joined(separator: "  ")
        }
        var out = style.bold(line(headers)) + "\n"
        for row in rows { out += line(row) + "\n" }
        return out
    }
}

/// ANSI styling, or none.
public struct TextStyle: Sendable {
    public var color: Bool
    public static let plain = TextStyle(color: false)
    public init(color: Bool) { self.color = color }
    func wrap(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m" + s + "\u{1B}[0m" : s }
    public func bold(_ s: String) -> String { wrap(s, "1") }
    public func dim(_ s: String) -> String { wrap(s, "2") }
    public func red(_ s: String) -> String { wrap(s, "31") }
    public func yellow(_ s: String) -> String { wrap(s, "33") }
    public func green(_ s: String) -> String { wrap(s, "32") }
    public func cyan(_ s: String) -> String { wrap(s, "36") }
}
