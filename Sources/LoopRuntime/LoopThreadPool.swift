import Atomics
import CLoopTraceShims
import DequeModule
import Glibc
import TraceFormat

/// A bounded pool of threads for blocking work, as the `ThreadPoolExecutor` behind asyncio's
/// `run_in_executor` and `to_thread`.
///
/// Threads start on demand, one per submitted job while none is idle, up to ``maxThreads``
/// (asyncio's default: `min(32, CPUs + 4)`), and live until ``shutdown()``. Jobs run in
/// submission order. When the loop that submits is tracing, each worker records into a stream
/// of its own: `executorBegin` and `executorEnd` around every job it runs.
///
/// Submit through ``EventLoop/runInExecutor(_:file:line:_:)``. The loop's default pool shuts
/// down when the loop closes; shut a pool of your own down before closing the loops that use
/// it (its workers record into their traces).
public final class LoopThreadPool: @unchecked Sendable {
    /// The most threads the pool runs at once.
    public let maxThreads: Int
    // A pthread mutex rather than `Synchronization.Mutex`: ThreadSanitizer sees through it.
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    // guarded by lock
    private nonisolated(unsafe) var queue = Deque<(ThreadPoolJob, TraceRecorder?)>()
    private nonisolated(unsafe) var threads: [pthread_t] = []
    private nonisolated(unsafe) var idle = 0
    private nonisolated(unsafe) var running = 0
    private nonisolated(unsafe) var stopping = false
    /// Jobs whose work ran, for tests and ``statistics``.
    private let ran = ManagedAtomic<Int>(0)

    /// asyncio's default pool size: `min(32, CPUs + 4)`.
    public static var defaultMaxThreads: Int { min(32, max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) + 4) }

    /// A pool of at most `maxThreads` threads (asyncio's default size unless given).
    public init(maxThreads: Int = LoopThreadPool.defaultMaxThreads) {
        precondition(maxThreads > 0, "LoopThreadPool(maxThreads:) needs at least one thread, not \(maxThreads)")
        self.maxThreads = maxThreads
        lock = .allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        wake = .allocate(capacity: 1)
        pthread_cond_init(wake, nil)
    }

    deinit {
        shutdown()
        pthread_cond_destroy(wake)
        wake.deallocate()
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// What the pool holds now. Any thread.
    public struct Statistics: Sendable, Equatable {
        /// Threads started.
        public var threads: Int
        /// Jobs waiting for a thread (including withdrawn ones not yet skipped).
        public var queued: Int
        /// Jobs running.
        public var running: Int
        /// Jobs whose work has run, since the pool started.
        public var ran: Int
    }

    /// The pool's threads and jobs now. Any thread.
    public var statistics: Statistics {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return Statistics(threads: threads.count, queued: queue.count, running: running, ran: ran.load(ordering: .relaxed))
    }

    /// Queues `job`, starting a thread if none is idle and the pool is not at its size.
    func submit(_ job: ThreadPoolJob, recorder: TraceRecorder?) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        precondition(!stopping, "LoopThreadPool: submit after shutdown()")
        queue.append((job, recorder))
        if idle > 0 {
            pthread_cond_signal(wake)
        } else if threads.count < maxThreads {
            startThread()
        }
    }

    /// Stops the threads once the jobs they run are done; queued jobs that did not start are
    /// dropped (their tasks are not resumed). Idempotent; not from a pool thread.
    public func shutdown() {
        pthread_mutex_lock(lock)
        stopping = true
        queue.removeAll()
        pthread_cond_broadcast(wake)
        let joining = threads
        threads = []
        pthread_mutex_unlock(lock)
        for thread in joining { pthread_join(thread, nil) }
    }

    // guarded by lock
    private func startThread() {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&thread, nil, { raw in
            let pool = Unmanaged<LoopThreadPool>.fromOpaque(raw!).takeRetainedValue()
            pool.work()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<LoopThreadPool>.fromOpaque(context).release()
            // No thread: the job waits for an existing one (there is at least one unless the
            // very first start failed, which leaves the job queued until a later start works).
            return
        }
        threads.append(thread)
    }

    /// A worker's life: take jobs in order, run them, hand each back to its loop.
    private func work() {
        var stream: TraceStream?
        var streamRecorder: ObjectIdentifier?
        pthread_mutex_lock(lock)
        while true {
            while queue.isEmpty, !stopping {
                idle += 1
                pthread_cond_wait(wake, lock)
                idle -= 1
            }
            if stopping { break }
            let (job, recorder) = queue.removeFirst()
            running += 1
            pthread_mutex_unlock(lock)
            if let recorder, streamRecorder != ObjectIdentifier(recorder) {
                stream?.flush()
                stream = recorder.makeStream()
                streamRecorder = ObjectIdentifier(recorder)
            }
            // A job withdrawn by its task's cancellation is skipped, untraced.
            if job.start() {
                let tracer = recorder == nil ? nil : stream
                tracer?.executorBegin(job: job.id)
                job.runWork()
                ran.wrappingIncrement(ordering: .relaxed)
                tracer?.executorEnd(job: job.id)
                job.loop.callSoonThreadsafe { job.complete() }
            }
            pthread_mutex_lock(lock)
            running -= 1
        }
        pthread_mutex_unlock(lock)
        stream?.flush()
    }
}
