import Foundation
import Testing
@testable import TraceFormat

/// Renders `Sources/TraceFormat/EventViews.swift` from the spec table: one view per event type,
/// one accessor per argument in spec order, typed by its wire kind. The views are derived from
/// ``TraceSpec/events`` as the DocC table is, so they cannot drift from it.
enum EventViewSource {
    /// The enum an enumerated argument decodes to, by its choices.
    static let enums: [[String]: String] = [
        TraceSpec.stepOutcomeNames: "StepOutcome",
        TraceSpec.wakerKindNames: "WakerKind",
        TraceSpec.callbackKindNames: "CallbackKind",
        TraceSpec.observationNames: "TaskObservation",
        TraceSpec.stackKindNames: "StackKind",
    ]

    static func typeName(_ spec: EventSpec) -> String {
        spec.name.prefix(1).uppercased() + spec.name.dropFirst() + "Event"
    }

    static func render() -> String {
        var out = """
        // Generated from `TraceSpec.events` by `EventViewTests`; do not edit. After a change to the
        // spec table: LOOPTRACE_REGENERATE_VIEWS=1 swift test --filter eventViewsMatchTheSpec

        // Typed views of decoded events, one per event type: `e.taskCreate.parent` instead of
        // `e.args[1]`. Each view is a frozen wrapper of the event and every accessor is inlinable,
        // so reading through a view compiles to the same load as indexing `args`.

        """
        for spec in TraceSpec.events where spec.type != .stringDef {
            let name = typeName(spec)
            out += """

            /// A `\(spec.name)` event (wire id \(spec.type.rawValue), since 1.\(spec.sinceMinor)): \(spec.summary)
            @frozen public struct \(name): Sendable {
                /// The event viewed.
                public let event: TraceEvent
                /// Views `event`, which must be a `\(spec.name)`.
                @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }

            """
            for (i, arg) in spec.args.enumerated() {
                let raw = "event.args.a\(i)"
                let (type, value, what): (String, String, String)
                if let e = enums[arg.choices] {
                    (type, value, what) = ("\(e)?", "\(e)(rawValue: UInt8(truncatingIfNeeded: \(raw)))", "nil for a value this reader does not know")
                } else {
                    switch arg.kind {
                    case .uvarint: (type, value, what) = ("UInt64", raw, "unsigned")
                    case .svarint: (type, value, what) = ("Int64", "Int64(bitPattern: \(raw))", "signed")
                    case .task: (type, value, what) = ("UInt64", raw, "a task id")
                    case .handle: (type, value, what) = ("UInt64", raw, "a callback or timer handle")
                    case .string: (type, value, what) = ("UInt64", raw, "a string id for `DecodedChunk.string(_:)`, 0 for none")
                    case .text: (type, value, what) = ("UInt64", raw, "an index for `DecodedChunk.text(_:)`")
                    case .time: (type, value, what) = ("Int64", "Int64(bitPattern: \(raw))", "ns since the trace start")
                    }
                }
                out += """
                    /// `\(arg.name)` (argument \(i), \(arg.kind)): \(what).
                    @inlinable public var \(arg.name): \(type) { \(value) }

                """
            }
            out += "}\n"
        }
        out += "\nextension TraceEvent {\n"
        for spec in TraceSpec.events where spec.type != .stringDef {
            out += """
                /// This event as a `\(spec.name)`; only meaningful when `type == .\(spec.name)`.
                @inlinable public var \(spec.name): \(typeName(spec)) { \(typeName(spec))(self) }

            """
        }
        out += "}\n"
        return out
    }
}

@Suite("Typed event views")
struct EventViewTests {
    static let path = HostileInputs.root + "/Sources/TraceFormat/EventViews.swift"

    @Test("EventViews.swift is exactly what the spec table renders")
    func eventViewsMatchTheSpec() throws {
        let rendered = EventViewSource.render()
        if ProcessInfo.processInfo.environment["LOOPTRACE_REGENERATE_VIEWS"] == "1" {
            try rendered.write(toFile: Self.path, atomically: true, encoding: .utf8)
        }
        let stored = try String(contentsOfFile: Self.path, encoding: .utf8)
        #expect(stored == rendered, "run with LOOPTRACE_REGENERATE_VIEWS=1 to regenerate Sources/TraceFormat/EventViews.swift")
    }

    @Test("A view reads the arguments of a decoded event in spec order, with their kinds")
    func viewsReadDecodedArguments() {
        let create = TraceEvent(type: .taskCreate, stream: 1, timestamp: 5, task: 0, args: EventArgs(7, 3, 1, 9))
        #expect(create.taskCreate.task == 7 && create.taskCreate.parent == 3)
        #expect(create.taskCreate.name == 1 && create.taskCreate.site == 9)
        let end = TraceEvent(type: .stepEnd, stream: 1, timestamp: 5, task: 7, args: EventArgs(2, 4))
        #expect(end.stepEnd.outcome == .completed && end.stepEnd.site == 4)
        let poll = TraceEvent(type: .pollBegin, stream: 1, timestamp: 5, task: 0, args: EventArgs(UInt64(bitPattern: -1)))
        #expect(poll.pollBegin.timeoutNanos == -1)
        let wake = TraceEvent(type: .wakeup, stream: 1, timestamp: 5, task: 0, args: EventArgs(7, 200, 1))
        #expect(wake.wakeup.waker == nil && wake.wakeup.wakerID == 1)
    }
}
