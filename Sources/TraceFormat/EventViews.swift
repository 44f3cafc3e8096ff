// Generated from `TraceSpec.events` by `EventViewTests`; do not edit. After a change to the
// spec table: LOOPTRACE_REGENERATE_VIEWS=1 swift test --filter eventViewsMatchTheSpec

// Typed views of decoded events, one per event type: `e.taskCreate.parent` instead of
// `e.args[1]`. Each view is a frozen wrapper of the event and every accessor is inlinable,
// so reading through a view compiles to the same load as indexing `args`.

/// A `loopStart` event (wire id 2, since 1.0): An event loop starts running on this stream's thread.
@frozen public struct LoopStartEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `loopStart`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `loop` (argument 0, uvarint): unsigned.
    @inlinable public var loop: UInt64 { event.args.a0 }
}

/// A `loopStop` event (wire id 3, since 1.0): The event loop stops running.
@frozen public struct LoopStopEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `loopStop`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `loop` (argument 0, uvarint): unsigned.
    @inlinable public var loop: UInt64 { event.args.a0 }
}

/// A `pollBegin` event (wire id 4, since 1.0): The loop waits for I/O or its next timer; -1 means no timeout.
@frozen public struct PollBeginEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `pollBegin`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `timeoutNanos` (argument 0, svarint): signed.
    @inlinable public var timeoutNanos: Int64 { Int64(bitPattern: event.args.a0) }
}

/// A `pollEnd` event (wire id 5, since 1.0): The wait returned with this many ready descriptors.
@frozen public struct PollEndEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `pollEnd`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `readyCount` (argument 0, uvarint): unsigned.
    @inlinable public var readyCount: UInt64 { event.args.a0 }
}

/// A `taskCreate` event (wire id 6, since 1.0): A task is created; parent 0 means none.
@frozen public struct TaskCreateEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `taskCreate`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `task` (argument 0, task): a task id.
    @inlinable public var task: UInt64 { event.args.a0 }
    /// `parent` (argument 1, task): a task id.
    @inlinable public var parent: UInt64 { event.args.a1 }
    /// `name` (argument 2, text): an index for `DecodedChunk.text(_:)`.
    @inlinable public var name: UInt64 { event.args.a2 }
    /// `site` (argument 3, string): a string id for `DecodedChunk.string(_:)`, 0 for none.
    @inlinable public var site: UInt64 { event.args.a3 }
}

/// A `stepBegin` event (wire id 7, since 1.0): A task step starts; the task is the stream's running task until stepEnd.
@frozen public struct StepBeginEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `stepBegin`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `task` (argument 0, task): a task id.
    @inlinable public var task: UInt64 { event.args.a0 }
}

/// A `stepEnd` event (wire id 8, since 1.0): The running task's step ends; site is where it suspended (0 = unknown).
@frozen public struct StepEndEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `stepEnd`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `outcome` (argument 0, uvarint): nil for a value this reader does not know.
    @inlinable public var outcome: StepOutcome? { StepOutcome(rawValue: UInt8(truncatingIfNeeded: event.args.a0)) }
    /// `site` (argument 1, string): a string id for `DecodedChunk.string(_:)`, 0 for none.
    @inlinable public var site: UInt64 { event.args.a1 }
}

/// A `wakeup` event (wire id 9, since 1.0): A task becomes ready; the waker says what made it ready.
@frozen public struct WakeupEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `wakeup`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `task` (argument 0, task): a task id.
    @inlinable public var task: UInt64 { event.args.a0 }
    /// `waker` (argument 1, uvarint): nil for a value this reader does not know.
    @inlinable public var waker: WakerKind? { WakerKind(rawValue: UInt8(truncatingIfNeeded: event.args.a1)) }
    /// `wakerID` (argument 2, uvarint): unsigned.
    @inlinable public var wakerID: UInt64 { event.args.a2 }
}

/// A `callbackScheduled` event (wire id 10, since 1.0): A callback is scheduled to run at `due`. A threadsafe callback is due when the other thread sent it (since 1.2; before, when the loop took it from its inbox).
@frozen public struct CallbackScheduledEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `callbackScheduled`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `handle` (argument 0, handle): a callback or timer handle.
    @inlinable public var handle: UInt64 { event.args.a0 }
    /// `kind` (argument 1, uvarint): nil for a value this reader does not know.
    @inlinable public var kind: CallbackKind? { CallbackKind(rawValue: UInt8(truncatingIfNeeded: event.args.a1)) }
    /// `due` (argument 2, time): ns since the trace start.
    @inlinable public var due: Int64 { Int64(bitPattern: event.args.a2) }
    /// `site` (argument 3, string): a string id for `DecodedChunk.string(_:)`, 0 for none.
    @inlinable public var site: UInt64 { event.args.a3 }
}

/// A `callbackBegin` event (wire id 11, since 1.0): A callback starts running on the loop.
@frozen public struct CallbackBeginEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `callbackBegin`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `handle` (argument 0, handle): a callback or timer handle.
    @inlinable public var handle: UInt64 { event.args.a0 }
}

/// A `callbackEnd` event (wire id 12, since 1.0): The callback returns.
@frozen public struct CallbackEndEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `callbackEnd`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `handle` (argument 0, handle): a callback or timer handle.
    @inlinable public var handle: UInt64 { event.args.a0 }
}

/// A `timerFired` event (wire id 13, since 1.0): A timer is taken off the heap; `due` is when it should have fired.
@frozen public struct TimerFiredEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `timerFired`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `handle` (argument 0, handle): a callback or timer handle.
    @inlinable public var handle: UInt64 { event.args.a0 }
    /// `due` (argument 1, time): ns since the trace start.
    @inlinable public var due: Int64 { Int64(bitPattern: event.args.a1) }
}

/// A `ioWait` event (wire id 14, since 1.0): Interest in readiness of a descriptor is registered (events: 1 read, 4 write).
@frozen public struct IoWaitEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `ioWait`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `fd` (argument 0, uvarint): unsigned.
    @inlinable public var fd: UInt64 { event.args.a0 }
    /// `events` (argument 1, uvarint): unsigned.
    @inlinable public var events: UInt64 { event.args.a1 }
}

/// A `ioReady` event (wire id 15, since 1.0): A descriptor is ready.
@frozen public struct IoReadyEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `ioReady`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `fd` (argument 0, uvarint): unsigned.
    @inlinable public var fd: UInt64 { event.args.a0 }
    /// `events` (argument 1, uvarint): unsigned.
    @inlinable public var events: UInt64 { event.args.a1 }
}

/// A `executorSubmit` event (wire id 16, since 1.0): Work is handed to a thread pool.
@frozen public struct ExecutorSubmitEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `executorSubmit`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `job` (argument 0, uvarint): unsigned.
    @inlinable public var job: UInt64 { event.args.a0 }
    /// `site` (argument 1, string): a string id for `DecodedChunk.string(_:)`, 0 for none.
    @inlinable public var site: UInt64 { event.args.a1 }
}

/// A `executorBegin` event (wire id 17, since 1.0): A pool thread starts the job.
@frozen public struct ExecutorBeginEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `executorBegin`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `job` (argument 0, uvarint): unsigned.
    @inlinable public var job: UInt64 { event.args.a0 }
}

/// A `executorEnd` event (wire id 18, since 1.0): The pool thread finishes the job.
@frozen public struct ExecutorEndEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `executorEnd`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `job` (argument 0, uvarint): unsigned.
    @inlinable public var job: UInt64 { event.args.a0 }
}

/// A `userMark` event (wire id 19, since 1.0): A point the program marked.
@frozen public struct UserMarkEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `userMark`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `name` (argument 0, string): a string id for `DecodedChunk.string(_:)`, 0 for none.
    @inlinable public var name: UInt64 { event.args.a0 }
    /// `value` (argument 1, svarint): signed.
    @inlinable public var value: Int64 { Int64(bitPattern: event.args.a1) }
}

/// A `userSpanBegin` event (wire id 20, since 1.0): A span the program opened.
@frozen public struct UserSpanBeginEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `userSpanBegin`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `name` (argument 0, string): a string id for `DecodedChunk.string(_:)`, 0 for none.
    @inlinable public var name: UInt64 { event.args.a0 }
}

/// A `userSpanEnd` event (wire id 21, since 1.0): The span closes.
@frozen public struct UserSpanEndEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `userSpanEnd`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `name` (argument 0, string): a string id for `DecodedChunk.string(_:)`, 0 for none.
    @inlinable public var name: UInt64 { event.args.a0 }
}

/// A `lostEvents` event (wire id 22, since 1.0): The recorder dropped this many events between `from` and `to` (memory cap reached).
@frozen public struct LostEventsEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `lostEvents`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `count` (argument 0, uvarint): unsigned.
    @inlinable public var count: UInt64 { event.args.a0 }
    /// `from` (argument 1, time): ns since the trace start.
    @inlinable public var from: Int64 { Int64(bitPattern: event.args.a1) }
    /// `to` (argument 2, time): ns since the trace start.
    @inlinable public var to: Int64 { Int64(bitPattern: event.args.a2) }
}

/// A `callbackCancelled` event (wire id 23, since 1.1): A scheduled callback or timer is cancelled before it runs.
@frozen public struct CallbackCancelledEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `callbackCancelled`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `handle` (argument 0, handle): a callback or timer handle.
    @inlinable public var handle: UInt64 { event.args.a0 }
}

/// A `ioWaitRemoved` event (wire id 24, since 1.1): Readiness interest in a descriptor is removed.
@frozen public struct IoWaitRemovedEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `ioWaitRemoved`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `fd` (argument 0, uvarint): unsigned.
    @inlinable public var fd: UInt64 { event.args.a0 }
    /// `events` (argument 1, uvarint): unsigned.
    @inlinable public var events: UInt64 { event.args.a1 }
}

/// A `taskObserved` event (wire id 25, since 1.1): Something first takes an interest in a task's outcome: awaits it, reads its result or adds a done callback. Emitted once per task.
@frozen public struct TaskObservedEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `taskObserved`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `task` (argument 0, task): a task id.
    @inlinable public var task: UInt64 { event.args.a0 }
    /// `how` (argument 1, uvarint): nil for a value this reader does not know.
    @inlinable public var how: TaskObservation? { TaskObservation(rawValue: UInt8(truncatingIfNeeded: event.args.a1)) }
}

/// A `recordingEnd` event (wire id 26, since 1.2): The recording closed cleanly after writing `chunks` chunks of `streams` streams. Only in the closing chunk (stream 0); consumed by the reader, never delivered.
@frozen public struct RecordingEndEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `recordingEnd`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `streams` (argument 0, uvarint): unsigned.
    @inlinable public var streams: UInt64 { event.args.a0 }
    /// `chunks` (argument 1, uvarint): unsigned.
    @inlinable public var chunks: UInt64 { event.args.a1 }
}

/// A `streamEnd` event (wire id 27, since 1.2): Stream `stream` wrote `chunks` chunks, sequence numbers 0 to `chunks` − 1. Only in the closing chunk; consumed by the reader, never delivered.
@frozen public struct StreamEndEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `streamEnd`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `stream` (argument 0, uvarint): unsigned.
    @inlinable public var stream: UInt64 { event.args.a0 }
    /// `chunks` (argument 1, uvarint): unsigned.
    @inlinable public var chunks: UInt64 { event.args.a1 }
}

/// A `wakeupSent` event (wire id 34, since 1.2): Another thread made `task` ready at `sent`; the loop takes the wakeup from its inbox now, and its `wakeup` (waker thread) follows.
@frozen public struct WakeupSentEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `wakeupSent`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `task` (argument 0, task): a task id.
    @inlinable public var task: UInt64 { event.args.a0 }
    /// `sent` (argument 1, time): ns since the trace start.
    @inlinable public var sent: Int64 { Int64(bitPattern: event.args.a1) }
}

/// A `taskUntracked` event (wire id 35, since 1.2): The loop cannot see interest in `task`'s outcome (a Swift task it did not create and no structured child): no `taskObserved` will say whether it was awaited.
@frozen public struct TaskUntrackedEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `taskUntracked`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `task` (argument 0, task): a task id.
    @inlinable public var task: UInt64 { event.args.a0 }
}

/// A `imageDef` event (wire id 38, since 1.2): Defines image id `image` (a loaded ELF file; the same id in every stream of the trace) for the rest of this chunk: its path, its GNU build-id in lowercase hex ("" if none) and its load bias. A frame's offset is its address minus `loadBase`.
@frozen public struct ImageDefEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `imageDef`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `image` (argument 0, uvarint): unsigned.
    @inlinable public var image: UInt64 { event.args.a0 }
    /// `path` (argument 1, text): an index for `DecodedChunk.text(_:)`.
    @inlinable public var path: UInt64 { event.args.a1 }
    /// `buildID` (argument 2, text): an index for `DecodedChunk.text(_:)`.
    @inlinable public var buildID: UInt64 { event.args.a2 }
    /// `loadBase` (argument 3, uvarint): unsigned.
    @inlinable public var loadBase: UInt64 { event.args.a3 }
}

/// A `imageText` event (wire id 39, since 1.2): The executable segment of image `image`: its start as an offset from the load bias, and its size in bytes. Follows the image's `imageDef`.
@frozen public struct ImageTextEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `imageText`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `image` (argument 0, uvarint): unsigned.
    @inlinable public var image: UInt64 { event.args.a0 }
    /// `textStart` (argument 1, uvarint): unsigned.
    @inlinable public var textStart: UInt64 { event.args.a1 }
    /// `textSize` (argument 2, uvarint): unsigned.
    @inlinable public var textSize: UInt64 { event.args.a2 }
}

/// A `stackDef` event (wire id 40, since 1.2): Defines stack id `stack` of this stream for the rest of this chunk (the id means the same stack in every chunk of the stream). `frames` is ASCII, innermost first: see "Stacks".
@frozen public struct StackDefEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `stackDef`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `stack` (argument 0, uvarint): unsigned.
    @inlinable public var stack: UInt64 { event.args.a0 }
    /// `kind` (argument 1, uvarint): nil for a value this reader does not know.
    @inlinable public var kind: StackKind? { StackKind(rawValue: UInt8(truncatingIfNeeded: event.args.a1)) }
    /// `frames` (argument 2, text): an index for `DecodedChunk.text(_:)`.
    @inlinable public var frames: UInt64 { event.args.a2 }
}

/// A `stallSample` event (wire id 41, since 1.2): The watchdog sampled a loop thread whose step or callback (task 0) began at `stepStart` and still runs: the Linux syscall number it is blocked in (-1 when running) and its stack (0 = none captured).
@frozen public struct StallSampleEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `stallSample`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `task` (argument 0, task): a task id.
    @inlinable public var task: UInt64 { event.args.a0 }
    /// `stepStart` (argument 1, time): ns since the trace start.
    @inlinable public var stepStart: Int64 { Int64(bitPattern: event.args.a1) }
    /// `syscall` (argument 2, svarint): signed.
    @inlinable public var syscall: Int64 { Int64(bitPattern: event.args.a2) }
    /// `stack` (argument 3, uvarint): unsigned.
    @inlinable public var stack: UInt64 { event.args.a3 }
}

/// A `stallEnd` event (wire id 42, since 1.2): The watchdog saw the sampled step or callback that began at `stepStart` end (at most a quarter of its threshold before this record).
@frozen public struct StallEndEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `stallEnd`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `stepStart` (argument 0, time): ns since the trace start.
    @inlinable public var stepStart: Int64 { Int64(bitPattern: event.args.a0) }
}

/// A `watchdogStart` event (wire id 43, since 1.2): A watchdog starts watching the loop that records on stream `loopStream`; it samples steps that run longer than the threshold.
@frozen public struct WatchdogStartEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `watchdogStart`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `loopStream` (argument 0, uvarint): unsigned.
    @inlinable public var loopStream: UInt64 { event.args.a0 }
    /// `thresholdNanos` (argument 1, uvarint): unsigned.
    @inlinable public var thresholdNanos: UInt64 { event.args.a1 }
}

/// A `executorFactory` event (wire id 46, since 1.2): The loop is the program's main and default executor (factory mode, unmodified programs). globalHook: preinstalled = a later takeover of the global executor (SwiftNIO's) is refused; foreign = another hook got there first and its jobs bypass the loop.
@frozen public struct ExecutorFactoryEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `executorFactory`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `globalHook` (argument 0, uvarint): unsigned.
    @inlinable public var globalHook: UInt64 { event.args.a0 }
}

/// A `runtimeJob` event (wire id 47, since 1.2): The running step or callback is a Swift runtime job, not a task: kind 192–194 a default-actor drain, run for the step's task (the one that scheduled it); 196 an isolated deinit.
@frozen public struct RuntimeJobEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `runtimeJob`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `kind` (argument 0, uvarint): unsigned.
    @inlinable public var kind: UInt64 { event.args.a0 }
}

/// A `lockAcquired` event (wire id 50, since 1.3): The running task takes `LoopLock` `lock` (an id unique in the process) at `site` (`File.swift:40:Lock.acquire`); it holds it until `lockReleased`. A `LoopCondition` re-taking its lock after a wait records one too.
@frozen public struct LockAcquiredEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `lockAcquired`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `lock` (argument 0, uvarint): unsigned.
    @inlinable public var lock: UInt64 { event.args.a0 }
    /// `site` (argument 1, string): a string id for `DecodedChunk.string(_:)`, 0 for none.
    @inlinable public var site: UInt64 { event.args.a1 }
}

/// A `lockReleased` event (wire id 51, since 1.3): Lock `lock` is released (by the running task or callback, not necessarily its holder); `waiters` tasks were waiting for it.
@frozen public struct LockReleasedEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `lockReleased`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `lock` (argument 0, uvarint): unsigned.
    @inlinable public var lock: UInt64 { event.args.a0 }
    /// `waiters` (argument 1, uvarint): unsigned.
    @inlinable public var waiters: UInt64 { event.args.a1 }
}

/// A `queueDepth` event (wire id 52, since 1.3): A put or get on `LoopQueue` `queue` (an id unique in the process) at `site` (`File.swift:40:Queue.put`) left `depth` elements in it.
@frozen public struct QueueDepthEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `queueDepth`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `queue` (argument 0, uvarint): unsigned.
    @inlinable public var queue: UInt64 { event.args.a0 }
    /// `depth` (argument 1, uvarint): unsigned.
    @inlinable public var depth: UInt64 { event.args.a1 }
    /// `site` (argument 2, string): a string id for `DecodedChunk.string(_:)`, 0 for none.
    @inlinable public var site: UInt64 { event.args.a2 }
}

/// A `stepYield` event (wire id 58, since 1.3): The running task's step ends by making the task ready again (a `sleep(0)`): stands for two events at this record's time, `stepEnd` (outcome 1 yielded, this site) and then `wakeup` of that task (waker 0 task, wakerID the task). See "Records that stand for two events".
@frozen public struct StepYieldEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `stepYield`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `site` (argument 0, string): a string id for `DecodedChunk.string(_:)`, 0 for none.
    @inlinable public var site: UInt64 { event.args.a0 }
}

/// A `suspendStack` event (wire id 62, since 1.3): The running step is about to end (its `stepEnd` follows) with its task suspended where stack `stack` says: the resume addresses of the task's async frames, innermost first (kind suspendChain). Written for tasks the loop knows no source site for (unmodified code); it stands for the `stepEnd`'s site.
@frozen public struct SuspendStackEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `suspendStack`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `stack` (argument 0, uvarint): unsigned.
    @inlinable public var stack: UInt64 { event.args.a0 }
}

/// A `taskEntry` event (wire id 63, since 1.3): Where `task`'s body starts: stack `stack` holds the code its first step will run, innermost first (the runtime's entry adapter, then the closure given to `Task {}` or the group child's body). Written after the `taskCreate` of a task the loop did not create and could not name; a reader may name the task after it.
@frozen public struct TaskEntryEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `taskEntry`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `task` (argument 0, task): a task id.
    @inlinable public var task: UInt64 { event.args.a0 }
    /// `stack` (argument 1, uvarint): unsigned.
    @inlinable public var stack: UInt64 { event.args.a1 }
}

/// A `taskHandleDropped` event (wire id 64, since 1.3): An unstructured Swift task (`taskUntracked`) just completed and nothing but the loop still referenced it: its `Task` handle was dropped, so nothing can read its result or error. Its `stepEnd` follows. From 1.3 on, an untracked task without this record was still referenced when it completed.
@frozen public struct TaskHandleDroppedEvent: Sendable {
    /// The event viewed.
    public let event: TraceEvent
    /// Views `event`, which must be a `taskHandleDropped`.
    @inlinable @inline(__always) public init(_ event: TraceEvent) { self.event = event }
    /// `task` (argument 0, task): a task id.
    @inlinable public var task: UInt64 { event.args.a0 }
}

extension TraceEvent {
    /// This event as a `loopStart`; only meaningful when `type == .loopStart`.
    @inlinable public var loopStart: LoopStartEvent { LoopStartEvent(self) }
    /// This event as a `loopStop`; only meaningful when `type == .loopStop`.
    @inlinable public var loopStop: LoopStopEvent { LoopStopEvent(self) }
    /// This event as a `pollBegin`; only meaningful when `type == .pollBegin`.
    @inlinable public var pollBegin: PollBeginEvent { PollBeginEvent(self) }
    /// This event as a `pollEnd`; only meaningful when `type == .pollEnd`.
    @inlinable public var pollEnd: PollEndEvent { PollEndEvent(self) }
    /// This event as a `taskCreate`; only meaningful when `type == .taskCreate`.
    @inlinable public var taskCreate: TaskCreateEvent { TaskCreateEvent(self) }
    /// This event as a `stepBegin`; only meaningful when `type == .stepBegin`.
    @inlinable public var stepBegin: StepBeginEvent { StepBeginEvent(self) }
    /// This event as a `stepEnd`; only meaningful when `type == .stepEnd`.
    @inlinable public var stepEnd: StepEndEvent { StepEndEvent(self) }
    /// This event as a `wakeup`; only meaningful when `type == .wakeup`.
    @inlinable public var wakeup: WakeupEvent { WakeupEvent(self) }
    /// This event as a `callbackScheduled`; only meaningful when `type == .callbackScheduled`.
    @inlinable public var callbackScheduled: CallbackScheduledEvent { CallbackScheduledEvent(self) }
    /// This event as a `callbackBegin`; only meaningful when `type == .callbackBegin`.
    @inlinable public var callbackBegin: CallbackBeginEvent { CallbackBeginEvent(self) }
    /// This event as a `callbackEnd`; only meaningful when `type == .callbackEnd`.
    @inlinable public var callbackEnd: CallbackEndEvent { CallbackEndEvent(self) }
    /// This event as a `timerFired`; only meaningful when `type == .timerFired`.
    @inlinable public var timerFired: TimerFiredEvent { TimerFiredEvent(self) }
    /// This event as a `ioWait`; only meaningful when `type == .ioWait`.
    @inlinable public var ioWait: IoWaitEvent { IoWaitEvent(self) }
    /// This event as a `ioReady`; only meaningful when `type == .ioReady`.
    @inlinable public var ioReady: IoReadyEvent { IoReadyEvent(self) }
    /// This event as a `executorSubmit`; only meaningful when `type == .executorSubmit`.
    @inlinable public var executorSubmit: ExecutorSubmitEvent { ExecutorSubmitEvent(self) }
    /// This event as a `executorBegin`; only meaningful when `type == .executorBegin`.
    @inlinable public var executorBegin: ExecutorBeginEvent { ExecutorBeginEvent(self) }
    /// This event as a `executorEnd`; only meaningful when `type == .executorEnd`.
    @inlinable public var executorEnd: ExecutorEndEvent { ExecutorEndEvent(self) }
    /// This event as a `userMark`; only meaningful when `type == .userMark`.
    @inlinable public var userMark: UserMarkEvent { UserMarkEvent(self) }
    /// This event as a `userSpanBegin`; only meaningful when `type == .userSpanBegin`.
    @inlinable public var userSpanBegin: UserSpanBeginEvent { UserSpanBeginEvent(self) }
    /// This event as a `userSpanEnd`; only meaningful when `type == .userSpanEnd`.
    @inlinable public var userSpanEnd: UserSpanEndEvent { UserSpanEndEvent(self) }
    /// This event as a `lostEvents`; only meaningful when `type == .lostEvents`.
    @inlinable public var lostEvents: LostEventsEvent { LostEventsEvent(self) }
    /// This event as a `callbackCancelled`; only meaningful when `type == .callbackCancelled`.
    @inlinable public var callbackCancelled: CallbackCancelledEvent { CallbackCancelledEvent(self) }
    /// This event as a `ioWaitRemoved`; only meaningful when `type == .ioWaitRemoved`.
    @inlinable public var ioWaitRemoved: IoWaitRemovedEvent { IoWaitRemovedEvent(self) }
    /// This event as a `taskObserved`; only meaningful when `type == .taskObserved`.
    @inlinable public var taskObserved: TaskObservedEvent { TaskObservedEvent(self) }
    /// This event as a `recordingEnd`; only meaningful when `type == .recordingEnd`.
    @inlinable public var recordingEnd: RecordingEndEvent { RecordingEndEvent(self) }
    /// This event as a `streamEnd`; only meaningful when `type == .streamEnd`.
    @inlinable public var streamEnd: StreamEndEvent { StreamEndEvent(self) }
    /// This event as a `wakeupSent`; only meaningful when `type == .wakeupSent`.
    @inlinable public var wakeupSent: WakeupSentEvent { WakeupSentEvent(self) }
    /// This event as a `taskUntracked`; only meaningful when `type == .taskUntracked`.
    @inlinable public var taskUntracked: TaskUntrackedEvent { TaskUntrackedEvent(self) }
    /// This event as a `imageDef`; only meaningful when `type == .imageDef`.
    @inlinable public var imageDef: ImageDefEvent { ImageDefEvent(self) }
    /// This event as a `imageText`; only meaningful when `type == .imageText`.
    @inlinable public var imageText: ImageTextEvent { ImageTextEvent(self) }
    /// This event as a `stackDef`; only meaningful when `type == .stackDef`.
    @inlinable public var stackDef: StackDefEvent { StackDefEvent(self) }
    /// This event as a `stallSample`; only meaningful when `type == .stallSample`.
    @inlinable public var stallSample: StallSampleEvent { StallSampleEvent(self) }
    /// This event as a `stallEnd`; only meaningful when `type == .stallEnd`.
    @inlinable public var stallEnd: StallEndEvent { StallEndEvent(self) }
    /// This event as a `watchdogStart`; only meaningful when `type == .watchdogStart`.
    @inlinable public var watchdogStart: WatchdogStartEvent { WatchdogStartEvent(self) }
    /// This event as a `executorFactory`; only meaningful when `type == .executorFactory`.
    @inlinable public var executorFactory: ExecutorFactoryEvent { ExecutorFactoryEvent(self) }
    /// This event as a `runtimeJob`; only meaningful when `type == .runtimeJob`.
    @inlinable public var runtimeJob: RuntimeJobEvent { RuntimeJobEvent(self) }
    /// This event as a `lockAcquired`; only meaningful when `type == .lockAcquired`.
    @inlinable public var lockAcquired: LockAcquiredEvent { LockAcquiredEvent(self) }
    /// This event as a `lockReleased`; only meaningful when `type == .lockReleased`.
    @inlinable public var lockReleased: LockReleasedEvent { LockReleasedEvent(self) }
    /// This event as a `queueDepth`; only meaningful when `type == .queueDepth`.
    @inlinable public var queueDepth: QueueDepthEvent { QueueDepthEvent(self) }
    /// This event as a `stepYield`; only meaningful when `type == .stepYield`.
    @inlinable public var stepYield: StepYieldEvent { StepYieldEvent(self) }
    /// This event as a `suspendStack`; only meaningful when `type == .suspendStack`.
    @inlinable public var suspendStack: SuspendStackEvent { SuspendStackEvent(self) }
    /// This event as a `taskEntry`; only meaningful when `type == .taskEntry`.
    @inlinable public var taskEntry: TaskEntryEvent { TaskEntryEvent(self) }
    /// This event as a `taskHandleDropped`; only meaningful when `type == .taskHandleDropped`.
    @inlinable public var taskHandleDropped: TaskHandleDroppedEvent { TaskHandleDroppedEvent(self) }
}
