/// How one argument of an event is stored on the wire.
///
/// Every kind is LEB128-based, so a reader can skip an argument it does not understand by kind
/// alone. A new kind needs a new major format version; new event types and new trailing arguments
/// only need a new minor version.
public enum WireKind: UInt8, Sendable, CaseIterable {
    /// An unsigned LEB128 varint.
    case uvarint = 1
    /// A zigzag-encoded signed LEB128 varint.
    case svarint = 2
    /// A task id, zigzag-coded as the difference from the previous task id of this chunk.
    case task = 3
    /// A callback or timer handle id, zigzag-coded as the difference from the previous handle
    /// id of this chunk.
    case handle = 4
    /// A string id (uvarint) defined earlier in the same chunk by a `stringDef` record.
    case string = 5
    /// Inline UTF-8 text: a uvarint byte length, then the bytes.
    case text = 6
    /// A point in time: a zigzag svarint of nanoseconds relative to this event's own timestamp.
    case time = 7
}

/// One argument of an event type.
public struct ArgSpec: Sendable, Equatable {
    /// The argument's name, with its unit where it has one (`timeoutNanos`).
    public let name: String
    /// How it is stored.
    public let kind: WireKind
    /// Names for the values of an enumerated argument; empty otherwise.
    public let choices: [String]

    /// Creates an argument description.
    public init(_ name: String, _ kind: WireKind, choices: [String] = []) {
        self.name = name
        self.kind = kind
        self.choices = choices
    }
}

/// One row of the format's single spec table.
public struct EventSpec: Sendable, Equatable {
    /// The wire id, the first byte of every record.
    public let type: EventType
    /// The event's name as it appears in dumps and docs.
    public let name: String
    /// The arguments in wire order.
    public let args: [ArgSpec]
    /// Whether a timestamp delta follows the type byte. Only `stringDef` has none.
    public let timed: Bool
    /// The minor version of format v1 that added this event type.
    public let sinceMinor: UInt16
    /// What the event means, for the docs and `--help`.
    public let summary: String
}

/// The wire id of an event type: the first byte of every record.
public struct EventType: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt8) { self.rawValue = rawValue }

    public static func < (a: EventType, b: EventType) -> Bool { a.rawValue < b.rawValue }

    public static let stringDef = EventType(1)
    // The types an emit writes are computed, not stored: a stored `static let` of another module
    // is reached through its lazy-initialization accessor, a call per event on the hot path.
    @inlinable public static var loopStart: EventType { EventType(2) }
    @inlinable public static var loopStop: EventType { EventType(3) }
    @inlinable public static var pollBegin: EventType { EventType(4) }
    @inlinable public static var pollEnd: EventType { EventType(5) }
    @inlinable public static var taskCreate: EventType { EventType(6) }
    @inlinable public static var stepBegin: EventType { EventType(7) }
    @inlinable public static var stepEnd: EventType { EventType(8) }
    @inlinable public static var wakeup: EventType { EventType(9) }
    @inlinable public static var callbackScheduled: EventType { EventType(10) }
    @inlinable public static var callbackBegin: EventType { EventType(11) }
    @inlinable public static var callbackEnd: EventType { EventType(12) }
    @inlinable public static var timerFired: EventType { EventType(13) }
    @inlinable public static var ioWait: EventType { EventType(14) }
    @inlinable public static var ioReady: EventType { EventType(15) }
    @inlinable public static var executorSubmit: EventType { EventType(16) }
    @inlinable public static var executorBegin: EventType { EventType(17) }
    @inlinable public static var executorEnd: EventType { EventType(18) }
    @inlinable public static var userMark: EventType { EventType(19) }
    @inlinable public static var userSpanBegin: EventType { EventType(20) }
    @inlinable public static var userSpanEnd: EventType { EventType(21) }
    @inlinable public static var lostEvents: EventType { EventType(22) }
    @inlinable public static var callbackCancelled: EventType { EventType(23) }
    @inlinable public static var ioWaitRemoved: EventType { EventType(24) }
    @inlinable public static var taskObserved: EventType { EventType(25) }
    public static let recordingEnd = EventType(26)
    public static let streamEnd = EventType(27)
    // 38–45: stacks and the loop watchdog (format 1.2). See `StackKind` and `TraceStream+Stacks`.
    public static let imageDef = EventType(38)
    public static let imageText = EventType(39)
    public static let stackDef = EventType(40)
    public static let stallSample = EventType(41)
    public static let stallEnd = EventType(42)
    public static let watchdogStart = EventType(43)
    @inlinable public static var wakeupSent: EventType { EventType(34) }
    @inlinable public static var taskUntracked: EventType { EventType(35) }
    public static let executorFactory = EventType(46)
    @inlinable public static var runtimeJob: EventType { EventType(47) }
    // 50–57: synchronization primitives (format 1.3). See `TraceStream+Sync`.
    @inlinable public static var lockAcquired: EventType { EventType(50) }
    @inlinable public static var lockReleased: EventType { EventType(51) }
    @inlinable public static var queueDepth: EventType { EventType(52) }
    // 58–61: the recorder (format 1.3).
    @inlinable public static var stepYield: EventType { EventType(58) }
    // 62–65: unmodified programs (format 1.3).
    @inlinable public static var suspendStack: EventType { EventType(62) }
    @inlinable public static var taskEntry: EventType { EventType(63) }
    @inlinable public static var taskHandleDropped: EventType { EventType(64) }

    /// The spec row of this type, if this reader knows it.
    @inlinable public var spec: EventSpec? { TraceSpec.byType[Int(rawValue)] }

    public var description: String { spec?.name ?? "type\(rawValue)" }
}

/// What a task step ended with.
public enum StepOutcome: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The task awaits something that has not happened yet.
    case suspended = 0
    /// The task made itself ready again during the step: a hop or a `sleep(0)`-style yield.
    case yielded = 1
    /// The task returned.
    case completed = 2
    /// The task threw an error other than cancellation.
    case failed = 3
    /// The task ended by cancellation.
    case cancelled = 4

    public var description: String { TraceSpec.stepOutcomeNames[Int(rawValue)] }
}

/// What made a task ready.
public enum WakerKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Another task's step (wakerID is the task id).
    case task = 0
    /// A loop callback (wakerID is the callback handle).
    case callback = 1
    /// A timer (wakerID is the timer handle).
    case timer = 2
    /// An I/O readiness event (wakerID is the file descriptor).
    case io = 3
    /// A thread other than the loop's (wakerID is the kernel thread id).
    case thread = 4
    /// A thread-pool job that finished (wakerID is the job id of `executorSubmit`). Added in
    /// format 1.2: an older reader shows the raw value 5.
    case executor = 5

    public var description: String { TraceSpec.wakerKindNames[Int(rawValue)] }
}

/// How a callback was scheduled.
public enum CallbackKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case soon = 0
    case later = 1
    case at = 2
    case threadsafe = 3

    public var description: String { TraceSpec.callbackKindNames[Int(rawValue)] }
}

/// How a stack was captured (`stackDef`'s `kind`).
public enum StackKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The resume addresses of a suspended task's async frames, innermost first.
    case suspendChain = 0
    /// Unwound in a signal handler (DWARF CFI): exact.
    case signal = 1
    /// Scanned from a thread blocked in a syscall: may hold stale frames.
    case scan = 2

    public var description: String { TraceSpec.stackKindNames[Int(rawValue)] }
}

/// How a task's outcome was first observed.
public enum TaskObservation: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Another task awaited it.
    case awaited = 0
    /// Its result or error was read.
    case result = 1
    /// A done callback was added.
    case doneCallback = 2
    /// A structured child (`async let`, task group): its parent's scope awaits it by
    /// construction, whether or not the parent reaches an explicit `await` first.
    case structured = 3

    public var description: String { TraceSpec.observationNames[Int(rawValue)] }
}

/// The format's single source of truth: every event type with its wire id, name, arguments and
/// the version that added it. The writer, the reader, the text dump and the DocC spec all derive
/// from this table (Go's `tracev2/events.go` plays the same role).
public enum TraceSpec {
    /// The major version: a reader refuses any other.
    public static let majorVersion: UInt16 = 1
    /// The minor version this code writes. A reader accepts any minor version and skips event
    /// types it does not know, using the schema stored in the file header.
    public static let minorVersion: UInt16 = 3

    static let stepOutcomeNames = ["suspended", "yielded", "completed", "failed", "cancelled"]
    static let wakerKindNames = ["task", "callback", "timer", "io", "thread", "executor"]
    static let callbackKindNames = ["soon", "later", "at", "threadsafe"]
    static let observationNames = ["awaited", "result", "doneCallback", "structured"]
    static let stackKindNames = ["suspendChain", "signal", "scan"]
    static let globalHookNames = ["preinstalled", "foreign", "unavailable"]

    /// Every event type of format v1, in wire-id order.
    public static let events: [EventSpec] = [
        EventSpec(type: .stringDef, name: "stringDef",
                  args: [ArgSpec("id", .uvarint), ArgSpec("text", .text)], timed: false, sinceMinor: 0,
                  summary: "Defines a string id for the rest of this chunk; consumed by the reader, never delivered."),
        EventSpec(type: .loopStart, name: "loopStart", args: [ArgSpec("loop", .uvarint)], timed: true,
                  sinceMinor: 0, summary: "An event loop starts running on this stream's thread."),
        EventSpec(type: .loopStop, name: "loopStop", args: [ArgSpec("loop", .uvarint)], timed: true,
                  sinceMinor: 0, summary: "The event loop stops running."),
        EventSpec(type: .pollBegin, name: "pollBegin", args: [ArgSpec("timeoutNanos", .svarint)], timed: true,
                  sinceMinor: 0, summary: "The loop waits for I/O or its next timer; -1 means no timeout."),
        EventSpec(type: .pollEnd, name: "pollEnd", args: [ArgSpec("readyCount", .uvarint)], timed: true,
                  sinceMinor: 0, summary: "The wait returned with this many ready descriptors."),
        EventSpec(type: .taskCreate, name: "taskCreate",
                  args: [ArgSpec("task", .task), ArgSpec("parent", .task), ArgSpec("name", .text),
                         ArgSpec("site", .string)],
                  timed: true, sinceMinor: 0, summary: "A task is created; parent 0 means none."),
        EventSpec(type: .stepBegin, name: "stepBegin", args: [ArgSpec("task", .task)], timed: true,
                  sinceMinor: 0, summary: "A task step starts; the task is the stream's running task until stepEnd."),
        EventSpec(type: .stepEnd, name: "stepEnd",
                  args: [ArgSpec("outcome", .uvarint, choices: stepOutcomeNames), ArgSpec("site", .string)],
                  timed: true, sinceMinor: 0,
                  summary: "The running task's step ends; site is where it suspended (0 = unknown)."),
        EventSpec(type: .wakeup, name: "wakeup",
                  args: [ArgSpec("task", .task), ArgSpec("waker", .uvarint, choices: wakerKindNames),
                         ArgSpec("wakerID", .uvarint)],
                  timed: true, sinceMinor: 0, summary: "A task becomes ready; the waker says what made it ready."),
        EventSpec(type: .callbackScheduled, name: "callbackScheduled",
                  args: [ArgSpec("handle", .handle), ArgSpec("kind", .uvarint, choices: callbackKindNames),
                         ArgSpec("due", .time), ArgSpec("site", .string)],
                  timed: true, sinceMinor: 0,
                  summary: "A callback is scheduled to run at `due`. A threadsafe callback is due when the other thread sent it (since 1.2; before, when the loop took it from its inbox)."),
        EventSpec(type: .callbackBegin, name: "callbackBegin", args: [ArgSpec("handle", .handle)], timed: true,
                  sinceMinor: 0, summary: "A callback starts running on the loop."),
        EventSpec(type: .callbackEnd, name: "callbackEnd", args: [ArgSpec("handle", .handle)], timed: true,
                  sinceMinor: 0, summary: "The callback returns."),
        EventSpec(type: .timerFired, name: "timerFired",
                  args: [ArgSpec("handle", .handle), ArgSpec("due", .time)], timed: true, sinceMinor: 0,
                  summary: "A timer is taken off the heap; `due` is when it should have fired."),
        EventSpec(type: .ioWait, name: "ioWait",
                  args: [ArgSpec("fd", .uvarint), ArgSpec("events", .uvarint)], timed: true, sinceMinor: 0,
                  summary: "Interest in readiness of a descriptor is registered (events: 1 read, 4 write)."),
        EventSpec(type: .ioReady, name: "ioReady",
                  args: [ArgSpec("fd", .uvarint), ArgSpec("events", .uvarint)], timed: true, sinceMinor: 0,
                  summary: "A descriptor is ready."),
        EventSpec(type: .executorSubmit, name: "executorSubmit",
                  args: [ArgSpec("job", .uvarint), ArgSpec("site", .string)], timed: true, sinceMinor: 0,
                  summary: "Work is handed to a thread pool."),
        EventSpec(type: .executorBegin, name: "executorBegin", args: [ArgSpec("job", .uvarint)], timed: true,
                  sinceMinor: 0, summary: "A pool thread starts the job."),
        EventSpec(type: .executorEnd, name: "executorEnd", args: [ArgSpec("job", .uvarint)], timed: true,
                  sinceMinor: 0, summary: "The pool thread finishes the job."),
        EventSpec(type: .userMark, name: "userMark",
                  args: [ArgSpec("name", .string), ArgSpec("value", .svarint)], timed: true, sinceMinor: 0,
                  summary: "A point the program marked."),
        EventSpec(type: .userSpanBegin, name: "userSpanBegin", args: [ArgSpec("name", .string)], timed: true,
                  sinceMinor: 0, summary: "A span the program opened."),
        EventSpec(type: .userSpanEnd, name: "userSpanEnd", args: [ArgSpec("name", .string)], timed: true,
                  sinceMinor: 0, summary: "The span closes."),
        EventSpec(type: .lostEvents, name: "lostEvents",
                  args: [ArgSpec("count", .uvarint), ArgSpec("from", .time), ArgSpec("to", .time)],
                  timed: true, sinceMinor: 0,
                  summary: "The recorder dropped this many events between `from` and `to` (memory cap reached)."),
        EventSpec(type: .callbackCancelled, name: "callbackCancelled", args: [ArgSpec("handle", .handle)], timed: true,
                  sinceMinor: 1, summary: "A scheduled callback or timer is cancelled before it runs."),
        EventSpec(type: .ioWaitRemoved, name: "ioWaitRemoved",
                  args: [ArgSpec("fd", .uvarint), ArgSpec("events", .uvarint)], timed: true, sinceMinor: 1,
                  summary: "Readiness interest in a descriptor is removed."),
        EventSpec(type: .taskObserved, name: "taskObserved",
                  args: [ArgSpec("task", .task), ArgSpec("how", .uvarint, choices: observationNames)],
                  timed: true, sinceMinor: 1,
                  summary: "Something first takes an interest in a task's outcome: awaits it, reads its result or adds a done callback. Emitted once per task."),
        EventSpec(type: .recordingEnd, name: "recordingEnd",
                  args: [ArgSpec("streams", .uvarint), ArgSpec("chunks", .uvarint)], timed: true, sinceMinor: 2,
                  summary: "The recording closed cleanly after writing `chunks` chunks of `streams` streams. Only in the closing chunk (stream 0); consumed by the reader, never delivered."),
        EventSpec(type: .streamEnd, name: "streamEnd",
                  args: [ArgSpec("stream", .uvarint), ArgSpec("chunks", .uvarint)], timed: true, sinceMinor: 2,
                  summary: "Stream `stream` wrote `chunks` chunks, sequence numbers 0 to `chunks` − 1. Only in the closing chunk; consumed by the reader, never delivered."),
        EventSpec(type: .wakeupSent, name: "wakeupSent",
                  args: [ArgSpec("task", .task), ArgSpec("sent", .time)], timed: true, sinceMinor: 2,
                  summary: "Another thread made `task` ready at `sent`; the loop takes the wakeup from its inbox now, and its `wakeup` (waker thread) follows."),
        EventSpec(type: .taskUntracked, name: "taskUntracked", args: [ArgSpec("task", .task)], timed: true, sinceMinor: 2,
                  summary: "The loop cannot see interest in `task`'s outcome (a Swift task it did not create and no structured child): no `taskObserved` will say whether it was awaited."),
        // Stacks and the loop watchdog (wire ids 38–45). Images and stacks are defined per chunk
        // like strings, just before the first record of the chunk that refers to them.
        EventSpec(type: .imageDef, name: "imageDef",
                  args: [ArgSpec("image", .uvarint), ArgSpec("path", .text), ArgSpec("buildID", .text),
                         ArgSpec("loadBase", .uvarint)],
                  timed: false, sinceMinor: 2,
                  summary: "Defines image id `image` (a loaded ELF file; the same id in every stream of the trace) for the rest of this chunk: its path, its GNU build-id in lowercase hex (\"\" if none) and its load bias. A frame's offset is its address minus `loadBase`."),
        EventSpec(type: .imageText, name: "imageText",
                  args: [ArgSpec("image", .uvarint), ArgSpec("textStart", .uvarint), ArgSpec("textSize", .uvarint)],
                  timed: false, sinceMinor: 2,
                  summary: "The executable segment of image `image`: its start as an offset from the load bias, and its size in bytes. Follows the image's `imageDef`."),
        EventSpec(type: .stackDef, name: "stackDef",
                  args: [ArgSpec("stack", .uvarint), ArgSpec("kind", .uvarint, choices: stackKindNames),
                         ArgSpec("frames", .text)],
                  timed: false, sinceMinor: 2,
                  summary: "Defines stack id `stack` of this stream for the rest of this chunk (the id means the same stack in every chunk of the stream). `frames` is ASCII, innermost first: see \"Stacks\"."),
        EventSpec(type: .stallSample, name: "stallSample",
                  args: [ArgSpec("task", .task), ArgSpec("stepStart", .time), ArgSpec("syscall", .svarint),
                         ArgSpec("stack", .uvarint)],
                  timed: true, sinceMinor: 2,
                  summary: "The watchdog sampled a loop thread whose step or callback (task 0) began at `stepStart` and still runs: the Linux syscall number it is blocked in (-1 when running) and its stack (0 = none captured)."),
        EventSpec(type: .stallEnd, name: "stallEnd", args: [ArgSpec("stepStart", .time)], timed: true, sinceMinor: 2,
                  summary: "The watchdog saw the sampled step or callback that began at `stepStart` end (at most a quarter of its threshold before this record)."),
        EventSpec(type: .watchdogStart, name: "watchdogStart",
                  args: [ArgSpec("loopStream", .uvarint), ArgSpec("thresholdNanos", .uvarint)], timed: true,
                  sinceMinor: 2,
                  summary: "A watchdog starts watching the loop that records on stream `loopStream`; it samples steps that run longer than the threshold."),
        EventSpec(type: .executorFactory, name: "executorFactory",
                  args: [ArgSpec("globalHook", .uvarint, choices: globalHookNames)], timed: true, sinceMinor: 2,
                  summary: "The loop is the program's main and default executor (factory mode, unmodified programs). globalHook: preinstalled = a later takeover of the global executor (SwiftNIO's) is refused; foreign = another hook got there first and its jobs bypass the loop."),
        EventSpec(type: .runtimeJob, name: "runtimeJob", args: [ArgSpec("kind", .uvarint)], timed: true,
                  sinceMinor: 2,
                  summary: "The running step or callback is a Swift runtime job, not a task: kind 192–194 a default-actor drain, run for the step's task (the one that scheduled it); 196 an isolated deinit."),
        // Synchronization primitives (wire ids 50–57): what `lints` needs to see a lock held
        // across an await and a queue that only grows.
        EventSpec(type: .lockAcquired, name: "lockAcquired",
                  args: [ArgSpec("lock", .uvarint), ArgSpec("site", .string)], timed: true, sinceMinor: 3,
                  summary: "The running task takes `LoopLock` `lock` (an id unique in the process) at `site` (`File.swift:40:Lock.acquire`); it holds it until `lockReleased`. A `LoopCondition` re-taking its lock after a wait records one too."),
        EventSpec(type: .lockReleased, name: "lockReleased",
                  args: [ArgSpec("lock", .uvarint), ArgSpec("waiters", .uvarint)], timed: true, sinceMinor: 3,
                  summary: "Lock `lock` is released (by the running task or callback, not necessarily its holder); `waiters` tasks were waiting for it."),
        EventSpec(type: .queueDepth, name: "queueDepth",
                  args: [ArgSpec("queue", .uvarint), ArgSpec("depth", .uvarint), ArgSpec("site", .string)],
                  timed: true, sinceMinor: 3,
                  summary: "A put or get on `LoopQueue` `queue` (an id unique in the process) at `site` (`File.swift:40:Queue.put`) left `depth` elements in it."),
        EventSpec(type: .stepYield, name: "stepYield", args: [ArgSpec("site", .string)], timed: true, sinceMinor: 3,
                  summary: "The running task's step ends by making the task ready again (a `sleep(0)`): stands for two events at this record's time, `stepEnd` (outcome 1 yielded, this site) and then `wakeup` of that task (waker 0 task, wakerID the task). See \"Records that stand for two events\"."),
        EventSpec(type: .suspendStack, name: "suspendStack", args: [ArgSpec("stack", .uvarint)], timed: true,
                  sinceMinor: 3,
                  summary: "The running step is about to end (its `stepEnd` follows) with its task suspended where stack `stack` says: the resume addresses of the task's async frames, innermost first (kind suspendChain). Written for tasks the loop knows no source site for (unmodified code); it stands for the `stepEnd`'s site."),
        EventSpec(type: .taskEntry, name: "taskEntry", args: [ArgSpec("task", .task), ArgSpec("stack", .uvarint)], timed: true,
                  sinceMinor: 3,
                  summary: "Where `task`'s body starts: stack `stack` holds the code its first step will run, innermost first (the runtime's entry adapter, then the closure given to `Task {}` or the group child's body). Written after the `taskCreate` of a task the loop did not create and could not name; a reader may name the task after it."),
        EventSpec(type: .taskHandleDropped, name: "taskHandleDropped", args: [ArgSpec("task", .task)], timed: true,
                  sinceMinor: 3,
                  summary: "An unstructured Swift task (`taskUntracked`) just completed and nothing but the loop still referenced it: its `Task` handle was dropped, so nothing can read its result or error. Its `stepEnd` follows. From 1.3 on, an untracked task without this record was still referenced when it completed."),
    ]

    /// The spec rows indexed by wire id (nil where unassigned).
    public static let byType: [EventSpec?] = {
        var table = [EventSpec?](repeating: nil, count: 256)
        for spec in events { table[Int(spec.type.rawValue)] = spec }
        return table
    }()

    /// The most arguments any v1 event has: the size of ``TraceEvent``'s argument vector.
    public static let maxArgs = 4
}

extension TraceSpec {
    /// The spec table as Markdown, exactly as the DocC article "FileFormat" shows it (a test keeps
    /// the two identical).
    public static func markdownTable() -> String {
        var out = "| id | event | timestamp | arguments (wire kind) | since | meaning |\n"
        out += "|---:|---|---|---|---|---|\n"
        for spec in events {
            let args = spec.args.isEmpty ? "—" : spec.args.map { arg in
                var s = "`\(arg.name)` (\(arg.kind))"
                if !arg.choices.isEmpty {
                    s += ": " + arg.choices.enumerated().map { "\($0.offset) \($0.element)" }.joined(separator: ", ")
                }
                return s
            }.joined(separator: "; ")
            out += "| \(spec.type.rawValue) | `\(spec.name)` | \(spec.timed ? "yes" : "no") | \(args) | 1.\(spec.sinceMinor) | \(spec.summary) |\n"
        }
        return out
    }
}
