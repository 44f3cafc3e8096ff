import TraceFormat

/// What the loop watchdog saw during long steps: each sampled step or callback ("stall") with
/// its symbolized stacks, and the innermost frame of user code each one blocked in.
///
/// Built after the pass from ``TraceModel/stacks`` (see ``StallAnalysis``). Part of
/// ``AnalysisResult`` as `stalls` when the trace has watchdog samples.
public struct StallReport: Sendable, Codable, Equatable {
    /// Stall samples in the trace.
    public var samples: Int
    /// Every sampled step or callback, by start time.
    public var stalls: [Stall]
    /// Why names may be missing everywhere (no symbolizer found), if so.
    public var symbolizerNote: String?

    /// The stalls whose step never ended in the trace (the program was killed or hung).
    public var unended: [Stall] { stalls.filter { !$0.ended } }
}

/// One step or callback the watchdog sampled.
public struct Stall: Sendable, Codable, Equatable {
    /// The task; 0 for a callback.
    public var task: UInt64
    public var name: String
    /// The loop's stream, when the watchdog said which one it watches.
    public var loopStream: UInt32?
    public var stepStartNanos: Int64
    /// Whether the watchdog saw it end (`stallEnd`).
    public var ended: Bool
    /// How long it had run at its last sample.
    public var lastElapsedNanos: Int64
    /// The syscall of its last sample (nil: running).
    public var syscall: String?
    /// The innermost user frame, e.g. `in slowLookup() Lookup.swift:8 (usleep)`.
    public var blockedIn: String?
    public var samples: [StallSampleInfo]
}

/// One symbolized watchdog sample.
public struct StallSampleInfo: Sendable, Codable, Equatable {
    public var timeNanos: Int64
    public var elapsedNanos: Int64
    /// The syscall name (or `syscall N`); nil when the thread was running.
    public var syscall: String?
    /// "signal" (exact) or "scan" (may hold stale frames).
    public var method: String
    /// Innermost first.
    public var frames: [StackFrameInfo]
    /// The index in `frames` of the innermost user frame, if any.
    public var userFrame: Int?
}

/// A frame as reports show it.
public struct StackFrameInfo: Sendable, Codable, Equatable, Hashable {
    public var function: String
    /// The source file's name (no directories), when the debug info tells.
    public var file: String?
    public var line: Int?
    /// The image's path.
    public var image: String
    /// "stale image", "image missing", … when the name could not be trusted or found.
    public var note: String?
    /// Whether it is the program's own code (not libc, the Swift runtime or LoopRuntime).
    public var user: Bool

    /// `function file:line`, or `function (note)`.
    public var text: String {
        var s = function
        if let file, let line { s += " \(file):\(line)" }
        if let note { s += " (\(note))" }
        return s
    }
}
