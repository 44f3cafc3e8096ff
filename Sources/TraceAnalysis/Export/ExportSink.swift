import TraceFormat

/// What a slice of the export shows.
public enum ExportSliceKind: UInt8, Sendable {
    /// A task step on the loop thread.
    case step
    /// A callback on the loop thread.
    case callback
    /// A user span (nested in a step or callback, or on its own on the loop thread).
    case span
    /// A piece of a task's timeline on its task track.
    case state
}

/// A task's state as its task track shows it.
public enum ExportTaskState: UInt8, Sendable {
    case created, ready, running, suspended
}

/// One slice, format-neutral: the exporter fills it, a writer renders it.
public struct ExportSlice {
    public var kind: ExportSliceKind
    /// The thread the slice is on: a loop thread's tid or a task lane's synthetic tid.
    public var tid: Int64
    /// ns since the trace start.
    public var begin: Int64
    public var end: Int64
    /// The slice's name (an ``ExportStrings`` index); steps build theirs from ``taskName``.
    public var name: Int32 = 0
    /// Over the blocking threshold (steps and callbacks).
    public var blocking = false
    /// The task of a step or state slice.
    public var task: UInt64 = 0
    public var taskName: Int32 = 0
    /// A state slice that is the first of its task on its lane (a reused lane changes task
    /// there): the protobuf names the task on these only.
    public var firstOfTask = false
    /// The 1-based step index within its task.
    public var stepIndex = 0
    public var resumeSite: Int32 = 0
    /// Where a step suspended; for a callback, the site that scheduled it; for a suspended
    /// state, where it waits.
    public var site: Int32 = 0
    public var outcome: StepOutcome = .suspended
    public var state: ExportTaskState = .running
    public var handle: UInt64 = 0
    public var callbackKind: CallbackKind?
    /// The wake flow that ends at this step's start (0: none), with its source's thread and time.
    public var flowIn: UInt64 = 0
    public var flowInTid: Int64 = 0
    public var flowInTime: Int64 = 0
    /// The descriptor of an I/O wait (a suspended state ended by readiness) or of the I/O
    /// callback that handled it; −1 for none.
    public var fd: Int32 = -1
    /// What it waited for or was ready for: 1 read, 4 write (0: unknown).
    public var ioEvents: UInt32 = 0
    /// A blocking step's or callback's stack from the loop watchdog (an ``ExportStrings`` index:
    /// where it blocked, then its frames); -1 when none.
    public var stack: Int32 = -1

    public var duration: Int64 { end - begin }
}

/// A slice nested in a step or callback (a user span), with its depth below it.
public struct ExportNested {
    public var name: Int32
    public var begin: Int64
    public var end: Int64
}

/// Receives the export in trace order, one item at a time, and renders it (Chrome JSON or
/// Perfetto protobuf). Generic, so the exporter's calls are direct.
public protocol ExportSink {
    /// The process: its pid and name. Called once, first.
    mutating func process(pid: Int64, name: String, strings: inout ExportStrings)
    /// A slice; `nested` holds the user spans inside it sorted by (begin, longest first),
    /// `flowsOut` the ids of wake flows that start inside it (their ends come with later steps),
    /// and `delayed` the tasks a blocking step or callback held up, in id order.
    mutating func slice(_ slice: ExportSlice, nested: ArraySlice<ExportNested>, flowsOut: ArraySlice<UInt64>,
                        delayed: ArraySlice<UInt64>, strings: inout ExportStrings)
    /// A process-scoped marker (a blocking step, lost events).
    mutating func marker(name: String, at time: Int64, strings: inout ExportStrings)
    /// A thread-scoped instant (a user mark).
    mutating func mark(tid: Int64, name: Int32, at time: Int64, value: Int64, strings: inout ExportStrings)
    /// The ready-queue depth changed.
    mutating func readyQueue(depth: Int, at time: Int64)
    /// The loop lag of the iteration that began at `time`.
    mutating func loopLag(nanos: Int64, at time: Int64)
    /// A thread's name and sort position: called before the thread's first slice, and again
    /// at the end when its name changed (a lane that hosted several tasks).
    mutating func thread(tid: Int64, name: String, sortIndex: Int, strings: inout ExportStrings)
    /// The end: `metadata` goes into the output's metadata.
    mutating func finish(metadata: [(String, String)])
}

extension ExportSlice {
    /// "read", "write" or "read,write" for epoll events (nil when neither).
    static func ioText(_ events: UInt32) -> StaticString? {
        switch events & 5 {
        case 1: "read"
        case 4: "write"
        case 5: "read,write"
        default: nil
        }
    }
}
