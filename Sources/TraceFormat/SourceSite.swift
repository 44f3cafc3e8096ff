/// A place in the program: a file, a line and a function, taken from `#fileID`, `#line` and
/// `#function` default arguments at the API a task awaits or a callback is scheduled from.
///
/// Sites are interned per stream: the recorder writes a site's text once per chunk and refers to
/// it by a small id afterwards, so recording a site costs a table probe, not a string copy.
public struct SourceSite: Sendable, Hashable, CustomStringConvertible {
    /// The file, as `#fileID` gives it (`Module/File.swift`).
    public let file: StaticString
    /// The line, 0 for a bare name (marks and spans).
    public let line: UInt32
    /// The function, as `#function` gives it.
    public let function: StaticString

    /// Captures the caller's site.
    public init(file: StaticString = #fileID, line: UInt = #line, function: StaticString = #function) {
        self.file = file
        self.line = UInt32(truncatingIfNeeded: line)
        self.function = function
    }

    /// A bare name, for user marks and spans.
    public init(name: StaticString) {
        self.file = name
        self.line = 0
        self.function = ""
    }

    /// `file:line:function`, or the bare name. This is the text stored in the trace.
    public var description: String {
        if line == 0 { return file.description }
        let function = function.description
        return function.isEmpty ? "\(file):\(line)" : "\(file):\(line):\(function)"
    }

    public static func == (a: SourceSite, b: SourceSite) -> Bool {
        a.line == b.line && a.file.description == b.file.description
            && a.function.description == b.function.description
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(line)
        hasher.combine(file.description)
        hasher.combine(function.description)
    }

    /// The identity the recorder keys its intern table on: the addresses of the static strings
    /// (stable for the life of the process) and the line.
    @inlinable @inline(__always)
    var internKey: (file: UInt, function: UInt, line: UInt32) {
        (Self.address(file), Self.address(function), line)
    }

    ///
    /// It is the first word of the `@frozen` (layout-stable) `StaticString`: the address of its
    /// UTF-8 bytes, or for a single-scalar literal the scalar's value, below 0x110000, where no
    /// Linux process has its strings. One load, where `utf8Start` and `unicodeScalar` validate the
    /// representation with about fifteen instructions per string on every emit with a site.
    @inlinable @inline(__always)
    static func address(_ s: StaticString) -> UInt {
        withUnsafeBytes(of: s) { $0.load(as: UInt.self) }
    }
}
