import TraceFormat

/// What `looptrace export` writes and which part of the trace it keeps.
public struct ExportOptions: Sendable {
    /// The output format.
    public enum Format: String, Sendable, CaseIterable {
        /// Chrome Trace Event JSON (object form), for ui.perfetto.dev and chrome://tracing.
        case chrome
        /// Perfetto protobuf TrackEvent (`.pftrace`), for ui.perfetto.dev and trace_processor.
        case perfetto
    }

    public var format: Format = .chrome
    /// Steps and callbacks at least this long (ns) are marked blocking. Default 100 ms.
    public var blockingThreshold: Int64 = 100_000_000
    /// Time windows to keep (ns since the trace start); empty keeps everything. A slice is kept
    /// when it overlaps a window, whole (never clipped: durations stay true).
    public var windows: [Range<Int64>] = []
    /// `--task NAME|ID`: only this task's steps on the loop thread and its task track; callbacks
    /// are left out.
    public var taskFilter: TaskFilter?
    /// Tasks whose task tracks are shown while the loop thread shows every step (the windows of
    /// `--around-blocking`); nil shows every task's track.
    public var trackedTasks: Set<UInt64>?
    /// Stop after this many events, with ``ExportSummary/truncated`` set.
    public var maxEvents: Int = .max
    /// A finished task that lived less than this (ns) gives its lane to later tasks; longer
    /// tasks keep a track of their own. Default 1 s.
    public var laneReuseBelowNanos: Int64 = 1_000_000_000
    /// Decoding threads for the reader.
    public var threads: Int = TraceReader.defaultThreads

    public init() {}
}

/// What an export wrote.
public struct ExportSummary: Sendable, Equatable {
    /// Step slices written.
    public var steps = 0
    /// Callback slices written.
    public var callbacks = 0
    /// User span slices written.
    public var spans = 0
    /// Task state slices written.
    public var states = 0
    /// Wake flows written (each with both ends).
    public var flows = 0
    /// Wakeups the model saw (every `wakeup`, as `report` counts them); the flows are the ones
    /// made inside a step or callback that woke a task not yet ready.
    public var wakeups = 0
    /// Blocking steps and callbacks written.
    public var blocking = 0
    /// Watchdog stall samples written as instants.
    public var stallSamples = 0
    /// Counter samples written.
    public var counters = 0
    /// Events written, as `--max-events` counts them (slices, flow ends, counters, instants).
    public var events = 0
    /// Whether `--max-events` cut the export; then ``cutAt`` is the trace time reached.
    public var truncated = false
    public var cutAt: Int64 = 0
    /// User spans left out because they did not nest in one step or callback.
    public var spansDropped = 0
    /// Events that did not fit the state machine (after damage or loss), skipped.
    public var anomalies = 0
    /// Trace events read.
    public var eventsRead: UInt64 = 0
    /// Bytes written.
    public var bytes: Int64 = 0
    /// Damaged regions the reader skipped (their description), and events lost with them.
    public var damage: [String] = []
    public var eventsLostToDamage: UInt64 = 0

    public init() {}
}
