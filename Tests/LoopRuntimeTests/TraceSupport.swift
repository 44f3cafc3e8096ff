@_exported import TraceTestSupport
import Foundation
import TraceFormat
@testable import LoopRuntime

/// A decoded trace reduced to what the runtime's trace tests assert on.
struct RecordedTrace {
    struct Task: Equatable {
        var id: UInt64
        var parent: UInt64
        var name: String
        var site: String
    }

    /// Every event as one dump line (the `TextDump` format), for failure messages.
    var lines: [String] = []
    /// Tasks by id, from their create events.
    var tasks: [UInt64: Task] = [:]
    /// The events in order, each rendered in a compact, time-free form:
    /// `create <name>`, `wakeup <name> by <kind> <waker>`, `step <name> <outcome> @<site>`,
    /// `callback <site>`, `timer`, `poll`.
    var story: [String] = []
    var types: [EventType] = []

    /// Reads the trace at `path`.
    init(path: String) throws {
        let reader = try TraceReader(path: path)
        var stepStart: [UInt64: Bool] = [:]
        try reader.forEachEvent { event, chunk in
            lines.append(TextDump.line(event, in: chunk))
            types.append(event.type)
            switch event.type {
            case .taskCreate:
                let task = Task(id: event.args[0], parent: event.args[1], name: chunk.text(event.args[2]),
                                site: chunk.string(event.args[3]))
                tasks[task.id] = task
                story.append("create \(task.name)")
            case .stepBegin:
                stepStart[event.args[0]] = true
            case .stepEnd:
                let site = chunk.string(event.args[1])
                let shortSite = site.split(separator: ":").prefix(2).joined(separator: ":")
                story.append("step \(name(event.task)) \(event.outcome!)" + (site.isEmpty ? "" : " @\(shortSite)"))
            case .taskObserved:
                story.append("observed \(name(event.args[0])) \(TaskObservation(rawValue: UInt8(event.args[1]))!)")
            case .wakeup:
                let kind = event.wakerKind!
                let waker = kind == .task ? name(event.args[2]) : "\(kind)"
                story.append("wakeup \(name(event.args[0])) by \(kind == .task ? "task " : "")\(waker)")
            default:
                break
            }
        }
    }

    func name(_ task: UInt64) -> String {
        if task == 0 { return "none" }
        return tasks[task]?.name ?? "task\(task)"
    }

    /// The story of the named tasks only (steps of and wakeups of these tasks; not observations).
    func story(of names: Set<String>) -> [String] {
        story.filter { line in
            guard !line.hasPrefix("observed") else { return false }
            let parts = line.split(separator: " ")
            return parts.count > 1 && names.contains(String(parts[1]))
        }
    }
}

/// A fresh path in the temporary directory, removed by the caller.
func temporaryTracePath(_ name: String = #function) -> String {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    return NSTemporaryDirectory() + "looptrace-\(safe)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).trace"
}
