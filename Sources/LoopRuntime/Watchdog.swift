import Atomics
import CLoopTraceShims
import Dispatch
import Glibc
import TraceFormat

/// What the loop thread publishes to its watchdog: the running task and the tick its step (or
/// callback) began at, 0 between steps. Two words on a cache line of their own.
///
/// Publishing costs three plain stores per step on x86 (task and start at the begin, a zero at the
/// end; relaxed and release atomics compile to `mov`), and no clock read: the start is the tick
/// `stepBegin` read for its record (returned even when the record was dropped). The start doubles as
/// the step's identity (ticks only grow on a stream), so no sequence number is needed.
struct StepBeacon {
    /// The running task, 0 for a callback. Written by the loop thread before `start`.
    let task: UnsafeAtomic<UInt64>
    /// The step's start tick; 0 when no step runs. Loop thread writes, watchdog reads.
    let start: UnsafeAtomic<UInt64>
    private let block: UnsafeMutableRawPointer

    init() {
        block = .allocate(byteCount: 64, alignment: 64)
        let words = block.bindMemory(to: UnsafeAtomic<UInt64>.Storage.self, capacity: 2)
        words.initialize(to: .init(0))
        (words + 1).initialize(to: .init(0))
        task = UnsafeAtomic(at: words)
        start = UnsafeAtomic(at: words + 1)
    }

    func deallocate() { block.deallocate() }

    /// A step (or a callback, with task 0) began at `ticks`. Loop thread.
    @inline(__always) func began(task id: UInt64, ticks: UInt64) {
        task.store(id, ordering: .relaxed)
        start.store(ticks, ordering: .releasing)
    }

    /// The step ended. Loop thread.
    @inline(__always) func ended() { start.store(0, ordering: .relaxed) }
}

/// Watches one loop thread while tracing: when a step or callback runs longer than the threshold,
/// it records where the loop thread is, as `stallSample` records on a stream of its own.
///
/// - A thread blocked in a syscall (read from `/proc/self/task/TID/syscall`) is not disturbed:
///   its frozen stack is scanned for return addresses (a "scanned" stack, which may hold a stale
///   frame or two). The exception is `futex` (locks, semaphores, condition variables), which
///   the kernel restarts after a signal handler: it gets the exact unwinder below.
/// - A running thread gets a real-time signal whose handler unwinds it with glibc's
///   `backtrace()` (exact). A signal makes a sleep or poll the thread enters at that very moment
///   return early with EINTR, which is why blocked threads are scanned instead.
/// - Samples are taken at N, 2N, 4N, … into the step (the interval capped at one second) and stop
///   when it ends; its end is recorded as `stallEnd`.
/// - The watchdog flushes its stream after each record, so a program that hangs forever and is
///   then killed still leaves its samples in the trace.
///
/// Threads: ``loopStarted()`` and ``stop()`` run on the loop's owner thread; everything else on
/// the watchdog's own thread.
final class Watchdog: @unchecked Sendable {
    /// The default threshold: 50 ms.
    static let defaultThresholdNanos: Int64 = 50_000_000

    let beacon = StepBeacon()
    let thresholdNanos: Int64
    private let recorder: TraceRecorder
    private let loopStream: UInt32
    private let stopping = ManagedAtomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    /// The loop thread's kernel id and stack top, set by ``loopStarted()``.
    private let loopThread = ManagedAtomic<Int>(0)
    private let loopStackTop = ManagedAtomic<UInt>(0)
    private var thread: pthread_t?  // owner thread only

    /// Creates a watchdog for the loop recording on `loopStream`; its thread starts with the loop.
    init(recorder: TraceRecorder, loopStream: UInt32, thresholdNanos: Int64) {
        self.recorder = recorder
        self.loopStream = loopStream
        self.thresholdNanos = thresholdNanos
    }

    deinit { beacon.deallocate() }

    /// The threshold from `LOOPTRACE_WATCHDOG` (`50ms`, `20ms`, `500us`, `1s`, or `off`); nil when
    /// off. A value it does not understand gets one line on standard error and the default.
    static func threshold(from value: String?) -> Int64? {
        guard let raw = value?.trimmingWhitespace, !raw.isEmpty else { return defaultThresholdNanos }
        if raw == "off" || raw == "0" { return nil }
        let units: [(String, Double)] = [("ms", 1e6), ("us", 1e3), ("µs", 1e3), ("ns", 1), ("s", 1e9)]
        for (suffix, scale) in units where raw.hasSuffix(suffix) {
            if let number = Double(raw.dropLast(suffix.count)), number > 0, number * scale <= 3600e9 {
                return max(1_000_000, Int64(number * scale))
            }
            break
        }
        var line = "looptrace: LOOPTRACE_WATCHDOG=\(raw) not understood (use e.g. 20ms, or off); using 50ms\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        return defaultThresholdNanos
    }

    /// The loop starts running on the calling thread: watch it (starting the watchdog's thread
    /// on the first run).
    func loopStarted() {
        loopThread.store(Int(lt_thread_id()), ordering: .relaxed)
        loopStackTop.store(lt_current_stack_top(), ordering: .relaxed)
        // The loop thread may have inherited a mask that blocks every signal: let ours through.
        _ = lt_capture_install()
        lt_capture_unblock()
        guard thread == nil else { return }
        let context = Unmanaged.passRetained(self).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { raw in
            let watchdog = Unmanaged<Watchdog>.fromOpaque(raw!).takeRetainedValue()
            watchdog.run()
            return nil
        }, context)
        if rc == 0 {
            thread = t
        } else {
            Unmanaged<Watchdog>.fromOpaque(context).release()
        }
    }

    /// Stops and joins the watchdog's thread. Call before the recorder closes. Idempotent.
    func stop() {
        stopping.store(true, ordering: .releasing)
        wake.signal()
        if let thread { pthread_join(thread, nil) }
        thread = nil
    }

    // MARK: - The watchdog thread

    private func run() {
        // Here rather than on the loop thread: the first backtrace() loads libgcc.
        lt_capture_warm_up()
        let stream = recorder.makeStream()
        stream.watchdogStart(loopStream: loopStream, thresholdNanos: UInt64(thresholdNanos))
        stream.flush()
        let nanosPerTick = stream.nanosPerTick
        let period = max(thresholdNanos / 4, 250_000)
        var frames = [UInt](repeating: 0, count: Int(LT_MAX_FRAMES))
        // The step being sampled: its start tick and the elapsed time of its next sample.
        var current: (start: UInt64, nextSampleNanos: Int64)?
        while !stopping.load(ordering: .acquiring) {
            _ = wake.wait(timeout: .now() + .nanoseconds(Int(period)))
            if stopping.load(ordering: .acquiring) { break }
            // Once the file cannot be written, no sample can be kept: stop disturbing the loop.
            if recorder.isFailed { break }
            let start = beacon.start.load(ordering: .acquiring)
            if let sampled = current, sampled.start != start {
                stream.stallEnd(stepStartTicks: sampled.start)
                stream.flush()
                current = nil
            }
            guard start != 0 else { continue }
            let task = beacon.task.load(ordering: .relaxed)
            let elapsed = Int64(Double(Int64(bitPattern: stream.ticksNow() &- start)) * nanosPerTick)
            guard elapsed >= (current?.nextSampleNanos ?? thresholdNanos) else { continue }
            let due = current?.nextSampleNanos ?? thresholdNanos
            current = (start, due + min(due, 1_000_000_000))
            let (syscall, count, kind) = frames.withUnsafeMutableBufferPointer { sample(into: $0) }
            // The step ended while we looked: the stack may belong to the next one.
            guard beacon.start.load(ordering: .acquiring) == start else { continue }
            frames.withUnsafeBufferPointer { buffer in
                stream.stallSample(task: task, stepStartTicks: start, syscall: syscall,
                                   frames: UnsafeBufferPointer(rebasing: buffer[..<count]), kind: kind)
            }
            stream.flush()
        }
        if let sampled = current { stream.stallEnd(stepStartTicks: sampled.start) }
        stream.flush()
    }

    /// Captures the loop thread's stack: scanned when it is blocked (no signal), unwound in the
    /// signal handler when it runs. Returns the syscall (-1 when running), the frame count and
    /// how the frames were captured.
    /// `futex` on x86-64 (202) and arm64 (98): restarted after a handler with `SA_RESTART`
    /// (signal(7)), unlike sleeps, polls and `epoll_wait`, which return EINTR.
    /// How long a signalled thread may take to run the handler: generous, as a loaded machine
    /// may not schedule it at once (20–60 µs on a quiet one).
    static let signalTimeoutNanos: Int64 = 250_000_000

    #if arch(x86_64)
    static let futexSyscall: Int64 = 202
    #else
    static let futexSyscall: Int64 = 98
    #endif

    private func sample(into frames: UnsafeMutableBufferPointer<UInt>) -> (Int64, Int, StackKind) {
        let tid = Int32(truncatingIfNeeded: loopThread.load(ordering: .relaxed))
        var nr: Int64 = -1
        var sp: UInt = 0
        var pc: UInt = 0
        let state = lt_thread_syscall(tid, &nr, &sp, &pc)
        if state == 1 && nr == Self.futexSyscall {
            // A lock or semaphore wait: the kernel restarts it after the handler (and glibc's
            // lock loops retry anyway), so the exact unwinder costs the program nothing here,
            // while a scan would pick up the stale frames that lock waits leave (the frames of
            // whatever ran just before, at the same depth).
            let count = lt_capture_signal(tid, frames.baseAddress, Int32(frames.count), Self.signalTimeoutNanos)
            return (nr, max(0, Int(count)), .signal)
        }
        if state == 1 || state == 2 {
            let ranges = ImageTable.shared.executableRanges()
            let count = ranges.withUnsafeBufferPointer { r in
                lt_scan_stack(sp, loopStackTop.load(ordering: .relaxed), pc, r.baseAddress, Int32(r.count / 2),
                              frames.baseAddress, Int32(frames.count))
            }
            // Still in the same place? Otherwise the scan read a stack that was moving.
            var nr2: Int64 = -1
            var sp2: UInt = 0
            var pc2: UInt = 0
            let again = lt_thread_syscall(tid, &nr2, &sp2, &pc2)
            guard again == state, sp2 == sp, pc2 == pc else { return (state == 1 ? nr : -1, 0, .scan) }
            return (state == 1 ? nr : -1, Int(count), .scan)
        }
        let count = lt_capture_signal(tid, frames.baseAddress, Int32(frames.count), Self.signalTimeoutNanos)
        return (-1, max(0, Int(count)), .signal)
    }
}

fileprivate extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s = s.dropFirst() }
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
