import TraceFormat

/// What a suspended task waited for: the split of its suspended time in `looptrace tasks` and
/// `report`.
///
/// Derived from the trace, never guessed from names the user chose: first from the operation
/// LoopRuntime records as the function part of the suspend site (`Cache.swift:40:Lock.acquire`,
/// `StreamReader.read`, `runInExecutor`), then, for a site without one (an await on a task or
/// future, `sleep(for:)`, unmodified code), from the kind of waker that ended the wait: I/O
/// readiness, a timer, a thread-pool job, a task or callback.
public enum SuspendReason: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Waiting for a descriptor: a stream read, a drain, a connect, a subprocess's exit (pidfd),
    /// or any wait that I/O readiness ended.
    case io = 0
    /// Waiting in a synchronization primitive: `Lock`, `Event`, `Condition`, `Semaphore`,
    /// `Queue`.
    case lockOrQueue = 1
    /// Waiting for a timer: `sleep(for:)`, `Task.sleep`.
    case sleep = 2
    /// Waiting for a thread-pool job (`runInExecutor`, `toThread`).
    case executor = 3
    /// Waiting for another task or a future: woken by a task's step or a callback.
    case otherTask = 4
    /// Anything else: woken by another thread, or still suspended at the trace end at a site
    /// that names no operation.
    case other = 5

    /// The words the reports print: "I/O", "lock or queue", "sleep", "executor", "other task",
    /// "other".
    public var description: String {
        switch self {
        case .io: "I/O"
        case .lockOrQueue: "lock or queue"
        case .sleep: "sleep"
        case .executor: "executor"
        case .otherTask: "other task"
        case .other: "other"
        }
    }

    /// The key in the JSON documents (`suspendedByReason`).
    public var key: String {
        switch self {
        case .io: "io"
        case .lockOrQueue: "lockOrQueue"
        case .sleep: "sleep"
        case .executor: "executor"
        case .otherTask: "otherTask"
        case .other: "other"
        }
    }

    /// The operation LoopRuntime names in a suspend site's function part, and what it waits for.
    /// Prefixes of the function part: `Lock.acquire`, `Queue.get`, `StreamReader.readLine`, …
    static let operations: [(prefix: String, reason: SuspendReason)] = [
        ("Lock.", .lockOrQueue), ("Event.", .lockOrQueue), ("Condition.", .lockOrQueue),
        ("Semaphore.", .lockOrQueue), ("BoundedSemaphore.", .lockOrQueue), ("Queue.", .lockOrQueue),
        ("StreamReader.", .io), ("StreamWriter.", .io), ("StreamServer.", .io), ("openConnection", .io),
        ("Subprocess.", .io), ("runInExecutor", .executor),
    ]

    /// The operation named by a site's text (`File.swift:40:Lock.acquire` → `Lock.acquire`) when
    /// it is one of LoopRuntime's, with what it waits for.
    static func operation(ofSite text: String) -> (name: Substring, reason: SuspendReason)? {
        guard let function = functionPart(text) else { return nil }
        for (prefix, reason) in operations where function.hasPrefix(prefix) { return (function, reason) }
        return nil
    }

    /// What the wait was for, when its site names no operation: by the waker that ended it
    /// (nil: still suspended at the trace end).
    static func byWaker(_ kind: WakerKind?) -> SuspendReason {
        switch kind {
        case .io: .io
        case .timer: .sleep
        case .executor: .executor
        case .task, .callback: .otherTask
        case .thread, nil: .other
        }
    }

    /// The function part of `file:line:function` (which may itself hold colons: `f(x:)`).
    static func functionPart(_ text: String) -> Substring? {
        guard let first = text.firstIndex(of: ":") else { return nil }
        let rest = text[text.index(after: first)...]
        guard let second = rest.firstIndex(of: ":") else { return nil }
        let function = rest[rest.index(after: second)...]
        return function.isEmpty ? nil : function
    }

    /// `file:line` of a site's text, without its function part.
    static func fileLine(_ text: String) -> Substring {
        guard let first = text.firstIndex(of: ":") else { return text[...] }
        let rest = text[text.index(after: first)...]
        guard let second = rest.firstIndex(of: ":") else { return text[...] }
        return text[..<second]
    }

    /// What a wait was on, for people: `Lock.acquire at Cache.swift:40`, `sleep at Main.swift:9`,
    /// `other task at Main.swift:12`, or the reason alone when the site is unknown.
    static func waitText(site text: String, reason: SuspendReason) -> String {
        let what = operation(ofSite: text).map { String($0.name) } ?? reason.description
        return text.isEmpty ? what : "\(what) at \(fileLine(text))"
    }
}
