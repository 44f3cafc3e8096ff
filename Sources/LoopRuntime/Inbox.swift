import CLoopTraceShims
import Glibc
import Synchronization

/// Work handed to the loop by other threads, plus the eventfd that wakes the loop for it.
///
/// Any thread appends; the loop thread drains. Only an append to an empty inbox signals the
/// eventfd: the loop empties the inbox after every poll, so a non-empty inbox always has a
/// signal pending and no wakeup is lost, and a burst of appends costs one syscall.
final class Inbox: @unchecked Sendable {
    /// `sentNanos` is the loop time (``EventLoop/time()``) at which the other thread handed the
    /// item over, read by that thread so that the trace times the wait from the send; 0 when the
    /// loop is not tracing, to skip the clock read.
    enum Item: Sendable {
        case callback(CallbackHandle, sentNanos: Int64)
        /// A job made ready on another thread; `thread` is that thread's kernel id (0 when the
        /// loop is not tracing, to skip the syscall).
        case job(UnownedJob, JobRoute, isTask: Bool, thread: UInt32, sentNanos: Int64)
        /// A `Task.sleep` wake job scheduled from another thread, due at this loop time.
        case timer(UnownedJob, deadline: Int64)
    }

    let eventFD: Int32
    // A pthread mutex rather than `Synchronization.Mutex`: ThreadSanitizer sees through it.
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private nonisolated(unsafe) var items: [Item] = []  // guarded by lock
    private nonisolated(unsafe) var closed = false  // guarded by lock
    /// Whether `items` may be non-empty: lets the loop skip the lock when nothing was handed over.
    private let pending = Atomic<Bool>(false)

    init() throws(SyscallError) {
        eventFD = try SyscallError.check(lt_eventfd_create(), "eventfd")
        lock = .allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
    }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// Hands `item` to the loop. After the loop has closed, the item is dropped (a callback never
    /// runs; a job's task never resumes), as asyncio drops work scheduled on a closed loop.
    func append(_ item: Item) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        guard !closed else { return }
        items.append(item)
        pending.store(true, ordering: .releasing)
        // Signalled under the lock so that close cannot slip in between and leave us writing to
        // a closed (or reused) descriptor. EAGAIN only when the counter is huge: signalled.
        if items.count == 1 { _ = lt_eventfd_signal(eventFD) }
    }

    /// Moves everything out (loop thread), reusing `buffer`'s storage.
    func drain(into buffer: inout [Item]) {
        pthread_mutex_lock(lock)
        swap(&items, &buffer)
        pending.store(false, ordering: .relaxed)
        pthread_mutex_unlock(lock)
    }

    /// Whether other threads handed something over since the last drain (one relaxed load).
    var hasItems: Bool { pending.load(ordering: .acquiring) }

    /// Closes the eventfd; later appends are dropped.
    func close() {
        pthread_mutex_lock(lock)
        closed = true
        items.removeAll()
        _ = Glibc.close(eventFD)
        pthread_mutex_unlock(lock)
    }
}
