import CLoopTraceShims
import DequeModule
import Glibc
import Atomics
import HeapModule
import TraceFormat

/// A single-threaded event loop with asyncio's semantics that runs Swift native async functions
/// as its tasks and records what it does into a looptrace trace.
///
/// One thread runs the loop (``runForever()``, ``runUntilComplete(_:)`` or ``run(trace:traceMemoryCapBytes:_:)``).
/// That thread, or the thread that created the loop while it is not running, is the loop's
/// *owner*: every API not marked thread-safe must be called there, and fails a precondition that
/// names the API otherwise. Other threads use ``callSoonThreadsafe(file:line:function:_:)`` or
/// resume continuations of loop tasks; both reach the loop through its inbox and wake it with an
/// eventfd.
///
/// Each iteration, like asyncio's `_run_once`: poll epoll for I/O (timed to the next timer, with
/// nanosecond precision), move due timers to the ready queue, then run exactly the callbacks and
/// task steps that were ready when the iteration began. Work made ready meanwhile runs on the
/// next iteration, so `callSoon` and `sleep(.zero)` interleave as in asyncio.
public final class EventLoop: @unchecked Sendable {
    /// Hot state (`LoopState`): loop thread only. Allocated once, freed in deinit.
    @usableFromInline let state: UnsafeMutablePointer<LoopState>
    let inbox: Inbox
    let epollFD: Int32
    /// The actor face: jobs that arrive here run isolated to the loop.
    let serialFace: LoopSerialExecutor
    /// The task-executor face: jobs of loop tasks and their children.
    let taskFace: LoopTaskExecutor
    /// Identifies this loop in traces.
    public let id: UInt64
    /// Set when tracing: foreign threads then pay a `gettid` per wakeup so the trace can name them.
    let tracesForeignThreads: Bool
    // The thread discipline (owner thread only) is what makes access to the stored properties
    // below exclusive, so they skip the runtime's dynamic exclusivity checks (~75 instructions
    // per loop iteration for `ioRegistrations` alone).
    /// The process-wide recorder this loop records into (shared with the other loops recording
    /// into the same path), kept after close for its statistics.
    let recorder: TraceRecorder?
    /// Why the loop runs untraced although asked to trace.
    let traceOpenError: TraceRecorderError?
    // owner thread only: samples the loop thread's stack during long steps (when tracing)
    @exclusivity(unchecked) var watchdog: Watchdog?
    // owner thread only (an I/O registration per descriptor)
    @exclusivity(unchecked) var ioRegistrations: [Int32: IORegistration] = [:]
    // owner thread only: the thread's timer slack before the run, restored after it
    @exclusivity(unchecked) var savedTimerSlack = 0
    // owner thread only: the pool of `runInExecutor`, started on first use (`defaultExecutor`)
    @exclusivity(unchecked) var defaultThreadPool: LoopThreadPool?
    // loop thread only; reused between iterations to drain the inbox without allocating
    @exclusivity(unchecked) var inboxBuffer: [Inbox.Item] = []
    let readyEvents: UnsafeMutablePointer<lt_ready_event>
    /// Room for one resume chain (``RuntimeInternals/resumeChain(of:into:)``): a suspend site of
    /// a task the loop did not create, read after its step. Loop thread only.
    let suspendFrames: UnsafeMutableBufferPointer<UInt>
    static let readyEventCapacity = 256

    /// Reports errors thrown by callbacks, and tasks that `run` had to cancel. Defaults to
    /// printing to standard error. Owner thread only.
    public var exceptionHandler: (@Sendable (ErrorContext) -> Void)?

    /// Where a loop records its trace.
    ///
    /// Tracing never takes the program down: when the file cannot be created or written, the
    /// loop prints one line on standard error (`looptrace: cannot create …; running untraced`,
    /// `looptrace: disk full after 300 ms …: trace incomplete`) and runs on untraced;
    /// ``EventLoop/traceStatistics`` keeps the error.
    ///
    /// Loops in one process that record into the same path share one recorder, each loop on its
    /// own stream (one per thread), so one trace holds them all. In a path, `%p` stands for the
    /// process id.
    public enum TraceDestination: Sendable {
        /// No tracing.
        case off
        /// Record into this file, created or truncated by the first loop that records into it;
        /// the last of those loops to close finishes it.
        case file(String)
        /// Record into the file named by the `LOOPTRACE` environment variable, if it is set. The
        /// trace stays open until the process exits, so every loop of the process, one after the
        /// other (two `EventLoop.run` calls) or at once (a loop per thread), appends to it.
        /// `LOOPTRACE_MAX_MEMORY` (e.g. `64MiB`) sets the recorder's memory cap.
        case environment
    }

    /// Creates a loop owned by the calling thread.
    ///
    /// - Parameters:
    ///   - trace: where to record a trace; by default the file named by `LOOPTRACE`.
    ///   - traceMemoryCapBytes: the most memory the recorder's buffers may use (events beyond it
    ///     are dropped and counted, never waited for). By default `LOOPTRACE_MAX_MEMORY`, else
    ///     64 MiB. A recorder shared with a loop that opened it first keeps that loop's cap.
    /// - Throws: ``SyscallError`` when epoll or eventfd cannot be created. A trace file that
    ///   cannot be created is not an error: the loop runs untraced (see ``TraceDestination``).
    public convenience init(trace: TraceDestination = .environment, traceMemoryCapBytes: Int? = nil) throws {
        try self.init(trace: trace, traceMemoryCapBytes: traceMemoryCapBytes,
                      environment: { name in getenv(name).map { String(cString: $0) } })
    }

    /// Creates a loop, reading `LOOPTRACE` and `LOOPTRACE_MAX_MEMORY` through `environment`
    /// (tests pass their own).
    init(trace: TraceDestination, traceMemoryCapBytes: Int? = nil, environment: (String) -> String?) throws {
        state = .allocate(capacity: 1)
        state.initialize(to: LoopState(ownerThread: pthread_self()))
        readyEvents = .allocate(capacity: Self.readyEventCapacity)
        suspendFrames = .allocate(capacity: RuntimeInternals.maxResumeChain)
        inbox = try Inbox()
        epollFD = try SyscallError.check(lt_epoll_create(), "epoll_create1")
        id = EventLoop.loopIDs.loadThenWrappingIncrement(ordering: .relaxed) + 1
        serialFace = LoopSerialExecutor()
        taskFace = LoopTaskExecutor()
        var path: String?
        switch trace {
        case .off: path = nil
        case .file(let p): path = p
        case .environment:
            if let p = environment("LOOPTRACE"), !p.isEmpty { path = p }
        }
        var opened: TraceRecorder?
        var openError: TraceRecorderError?
        if let path {
            var configuration = TraceRecorder.Configuration(path: TraceRecorder.expandPath(path))
            configuration.memoryCapBytes = traceMemoryCapBytes ?? Self.memoryCap(from: environment)
            switch TraceRecorder.shared(configuration, untilExit: trace.isEnvironment) {
            case .success(let recorder): opened = recorder
            case .failure(let error): openError = error
            }
        }
        recorder = opened
        traceOpenError = openError
        tracesForeignThreads = opened != nil
        serialFace.loop = self
        taskFace.loopReference = .passUnretained(self)
        try SyscallError.check(lt_epoll_ctl(epollFD, Int32(LT_EPOLL_CTL_ADD), inbox.eventFD, UInt32(LT_EPOLLIN), Self.inboxToken),
                               "epoll_ctl(ADD, eventfd)")
        if let opened {
            let stream = opened.makeStream()
            state.pointee.tracer = stream
            if let threshold = Watchdog.threshold(from: environment("LOOPTRACE_WATCHDOG")) {
                let watchdog = Watchdog(recorder: opened, loopStream: stream.id, thresholdNanos: threshold)
                self.watchdog = watchdog
                state.pointee.beacon = watchdog.beacon
            }
        }
    }

    /// The memory cap `LOOPTRACE_MAX_MEMORY` asks for, or the default; a value that is not a
    /// size gets one warning line.
    static func memoryCap(from environment: (String) -> String?) -> Int {
        let fallback = TraceRecorder.Configuration.defaultMemoryCapBytes
        guard let text = environment("LOOPTRACE_MAX_MEMORY"), !text.isEmpty else { return fallback }
        if let bytes = TraceRecorder.parseMemorySize(text) { return bytes }
        var line = "looptrace: LOOPTRACE_MAX_MEMORY=\(text) is not a size (e.g. 64MiB); using \(fallback >> 20) MiB\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        return fallback
    }

    /// What the recording of this loop's trace did so far: events and bytes written, events
    /// dropped (at the memory cap or after a write error) and the error that stopped it, if any.
    /// Counts cover the whole recorder, which loops recording into the same file share. Nil when
    /// the loop is not traced; when the trace file could not be created, only
    /// ``TraceFormat/TraceRecorder/Statistics/lastError`` is set. Any thread.
    public var traceStatistics: TraceRecorder.Statistics? {
        if let recorder { return recorder.statistics }
        guard let traceOpenError else { return nil }
        var statistics = TraceRecorder.Statistics()
        statistics.lastError = "\(traceOpenError); running untraced"
        return statistics
    }

    deinit {
        if state.pointee.lifecycle != .closed { closeResources() }
        state.deinitialize(count: 1)
        state.deallocate()
        readyEvents.deallocate()
        suspendFrames.deallocate()
    }

    static let inboxToken = UInt64.max
    static let loopIDs = ManagedAtomic<UInt64>(0)
    /// Ids of `callSoonThreadsafe` handles, made on any thread: the high bit keeps them apart
    /// from the loop's own handle ids.
    static let threadsafeHandleIDs = ManagedAtomic<UInt64>(1 << 63)

    // MARK: Thread discipline

    /// Whether the calling thread is the loop's owner.
    @inlinable
    public var isOnLoopThread: Bool {
        #if os(Linux)
        // glibc's pthread_t is the thread's address and pthread_equal compares it: comparing here
        // saves a call into libc per check (a few per step).
        state.pointee.ownerThread == pthread_self()
        #else
        pthread_equal(state.pointee.ownerThread, pthread_self()) != 0
        #endif
    }

    /// Fails with a message naming `api` unless called on the loop's owner thread.
    @inlinable @inline(__always)
    func preconditionOnLoopThread(_ api: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
        precondition(isOnLoopThread, "\(api()) must be called on the event loop's thread", file: file, line: line)
    }

    /// The loop running on the calling thread, if any.
    public static var current: EventLoop? {
        guard let raw = pthread_getspecific(currentLoopKey) else { return nil }
        return Unmanaged<EventLoop>.fromOpaque(raw).takeUnretainedValue()
    }

    // MARK: Lifecycle

    /// Whether the loop is running (`runForever`, `runUntilComplete` or `run`).
    public var isRunning: Bool {
        state.pointee.lifecycle == .running
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { state.pointee.lifecycle == .closed }

    /// The loop's clock: `CLOCK_MONOTONIC` in nanoseconds. Timers are due against this clock.
    @inlinable
    public func time() -> Int64 { Int64(bitPattern: lt_monotonic_ns()) }

    /// Runs the loop until ``stop()`` is called.
    ///
    /// If `stop()` was called before, the loop runs one iteration (the callbacks already ready)
    /// and returns, as in asyncio.
    /// - Throws: ``LoopError/alreadyRunning(_:)`` or ``LoopError/closed(_:)``.
    public func runForever() throws {
        try beginRunning("runForever()")
        defer { endRunning() }
        while true {
            runOnce()
            if state.pointee.stopRequested { break }
        }
    }

    /// Asks a running loop to stop after the current iteration. Owner thread only; other threads
    /// use `callSoonThreadsafe { loop.stop() }`.
    public func stop() {
        preconditionOnLoopThread("EventLoop.stop()")
        if state.pointee.lifecycle != .closed { state.pointee.stopRequested = true }
    }

    /// Runs the loop until `future` is done and returns its result.
    ///
    /// Callbacks that became ready in the iteration that completed the future still run before
    /// this returns (asyncio stops the loop with a callback scheduled on completion).
    /// - Throws: the future's error, `CancellationError`, or a ``LoopError`` for misuse.
    @discardableResult
    public func runUntilComplete<T>(_ future: LoopFuture<T>) throws -> T {
        preconditionOnLoopThread("EventLoop.runUntilComplete(_:)")
        if !future.isDone {
            let token = future.addDoneCallback { [unowned self] _ in self.stop() }
            try runForever()
            if !future.isDone {
                future.removeDoneCallback(token)
                throw LoopError.invalidState("the event loop stopped before the future completed")
            }
        }
        return try future.result()
    }

    /// Closes the loop: releases epoll and eventfd, drops pending callbacks, and finishes the
    /// trace. Idempotent. Owner thread only; the loop must not be running.
    public func close() {
        preconditionOnLoopThread("EventLoop.close()")
        precondition(!isRunning, "EventLoop.close() called while the loop is running")
        guard state.pointee.lifecycle != .closed else { return }
        closeResources()
    }

    func closeResources() {
        state.pointee.lifecycle = .closed
        state.pointee.ready.removeAll()
        state.pointee.timers = Heap()
        watchdog?.stop()
        watchdog = nil
        state.pointee.beacon = nil
        // Before the loop's stream finishes: the pool's workers record into the same recorder.
        defaultThreadPool?.shutdown()
        defaultThreadPool = nil
        // The loop's events reach the file now; the recorder itself may stay open for other loops.
        if let stream = state.pointee.tracer, let recorder {
            state.pointee.tracer = nil
            recorder.finishStream(stream)
            recorder.releaseShared()
        }
        inbox.close()
        _ = Glibc.close(epollFD)
    }

    func beginRunning(_ api: String) throws(LoopError) {
        let st = state
        switch st.pointee.lifecycle {
        case .closed: throw .closed(api)
        case .running: throw .alreadyRunning(api)
        case .idle: break
        }
        if pthread_getspecific(currentLoopKey) != nil { throw .alreadyRunning("\(api): another loop runs on this thread") }
        // The owner becomes the running thread; other threads see the new value before they can
        // have reason to use the loop from this run (a word-sized store).
        st.pointee.ownerThread = pthread_self()
        st.pointee.lifecycle = .running
        pthread_setspecific(currentLoopKey, Unmanaged.passUnretained(self).toOpaque())
        // The kernel may wake a timed wait up to the thread's timer slack late (50 µs by
        // default); the loop wants its timers on time.
        savedTimerSlack = lt_set_timer_slack(1)
        st.pointee.chainedTick = 0
        st.pointee.tracer?.loopStart(loop: id)
        watchdog?.loopStarted()
    }

    func endRunning() {
        let st = state
        st.pointee.tracer?.loopStop(loop: id)
        st.pointee.tracer?.flush()
        if st.pointee.lifecycle != .closed { st.pointee.lifecycle = .idle }
        st.pointee.stopRequested = false
        if savedTimerSlack > 0 { _ = lt_set_timer_slack(UInt(savedTimerSlack)) }
        pthread_setspecific(currentLoopKey, nil)
    }
}

/// What an exception handler is told.
public struct ErrorContext: @unchecked Sendable, CustomStringConvertible {
    /// What happened, e.g. "callback scheduled at Main.swift:12 threw".
    public let message: String
    /// The error.
    public let error: any Error

    /// `message: error`.
    public var description: String { "\(message): \(error)" }
}

extension EventLoop {
    /// Reports an error through ``exceptionHandler`` (or standard error).
    public func reportError(_ message: String, _ error: any Error) {
        let context = ErrorContext(message: message, error: error)
        if let handler = exceptionHandler {
            handler(context)
        } else {
            var line = "looptrace: \(context)\n"
            line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        }
    }
}

extension EventLoop.TraceDestination {
    var isEnvironment: Bool {
        if case .environment = self { return true }
        return false
    }
}

/// The thread-local key behind ``EventLoop/current``.
let currentLoopKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()
