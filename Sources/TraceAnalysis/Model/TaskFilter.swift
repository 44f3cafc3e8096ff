import TraceFormat

/// Which tasks a command looks at: `--task NAME|ID`.
public struct TaskFilter: Sendable, Equatable {
    /// The argument as given.
    public var text: String

    public init(_ text: String) { self.text = text }

    /// A task matches when its id equals the argument read as a number, or its name equals the
    /// argument.
    public func matches(id: UInt64, name: String) -> Bool {
        if let n = UInt64(text), n == id { return true }
        return name == text
    }
}
