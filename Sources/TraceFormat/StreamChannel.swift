import Atomics
#if canImport(Glibc)
import Glibc
#endif

/// A bounded single-producer single-consumer ring of buffer pointers.
///
/// A value type over one raw block, so that the emitting thread reaches a ring's indices and slots
/// without a hop through an object: at the flush deadline, after a long step, every line the
/// hand-off touches may be cold (on a shared machine other work ran on the core meanwhile), and
/// each one costs a cache miss. The producer's line (its index and its copy of the consumer's)
/// and the consumer's are 128 bytes apart, so neither side's stores evict the other's line.
/// Each side reloads the other's index only when the ring looks full (producer) or empty
/// (consumer). Copies share the block; ``StreamChannel`` frees it.
@usableFromInline
struct BufferRing: @unchecked Sendable {
    private let block: UnsafeMutableRawPointer
    private let mask: Int

    // Block layout: [0] tail (atomic), [8] producer's copy of head;
    // [128] head (atomic), [136] consumer's copy of tail; [256…] slots.
    private var tail: UnsafeAtomic<Int> { UnsafeAtomic(at: block.assumingMemoryBound(to: Int.AtomicRepresentation.self)) }
    private var producerHead: UnsafeMutablePointer<Int> { (block + 8).assumingMemoryBound(to: Int.self) }
    private var head: UnsafeAtomic<Int> { UnsafeAtomic(at: (block + 128).assumingMemoryBound(to: Int.AtomicRepresentation.self)) }
    private var consumerTail: UnsafeMutablePointer<Int> { (block + 136).assumingMemoryBound(to: Int.self) }
    private var slots: UnsafeMutablePointer<UnsafeMutableRawPointer?> {
        (block + 256).assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
    }

    init(capacity: Int) {
        var size = 2
        while size < capacity + 1 { size *= 2 }
        mask = size - 1
        block = .allocate(byteCount: 256 + size * MemoryLayout<UnsafeMutableRawPointer?>.stride, alignment: 128)
        block.initializeMemory(as: UInt8.self, repeating: 0, count: 256)
        block.bindMemory(to: Int.AtomicRepresentation.self, capacity: 1).initialize(to: .init(0))
        (block + 128).bindMemory(to: Int.AtomicRepresentation.self, capacity: 1).initialize(to: .init(0))
        (block + 256).bindMemory(to: UnsafeMutableRawPointer?.self, capacity: size).initialize(repeating: nil, count: size)
    }

    /// Frees the block. Once no thread uses the ring.
    func destroy() { block.deallocate() }

    /// Producer side. The rings are sized for every buffer that can exist, so this never fails.
    func push(_ buffer: UnsafeMutableRawPointer) {
        let t = tail.load(ordering: .relaxed)
        if t - producerHead.pointee > mask {
            producerHead.pointee = head.load(ordering: .acquiring)
            precondition(t - producerHead.pointee <= mask, "BufferRing overflow")
        }
        slots[t & mask] = buffer
        tail.store(t + 1, ordering: .releasing)
    }

    /// Consumer side.
    func pop() -> UnsafeMutableRawPointer? {
        let h = head.load(ordering: .relaxed)
        if h == consumerTail.pointee {
            consumerTail.pointee = tail.load(ordering: .acquiring)
            if h == consumerTail.pointee { return nil }
        }
        let buffer = slots[h & mask]
        head.store(h + 1, ordering: .releasing)
        return buffer
    }

    /// Whether the ring holds at least `threshold` buffers. Producer only: it rereads the
    /// consumer's index only when its copy says so.
    func producerCount(atLeast threshold: Int) -> Bool {
        let t = tail.load(ordering: .relaxed)
        guard t - producerHead.pointee >= threshold else { return false }
        producerHead.pointee = head.load(ordering: .acquiring)
        return t - producerHead.pointee >= threshold
    }

    /// How many buffers the ring holds (exact on either side for its own end, a lower or upper
    /// bound for the other's).
    var count: Int { tail.load(ordering: .acquiring) - head.load(ordering: .acquiring) }
}

/// What an emitting thread shares with the writer thread: a ring of filled buffers going to the
/// writer and a ring of empty ones coming back, plus the recorder-wide memory budget.
///
/// The hand-off is O(1) and quiet on the emitting thread: a buffer goes into `full` with one
/// release store and an empty, pre-faulted one comes out of `free` with one acquire load. The
/// emitting thread does not wake the writer (a futex wake is a syscall of a few µs, and the woken
/// writer may preempt it); the writer polls every ``TraceRecorder`` tick instead and keeps `free`
/// stocked with spares. Only under pressure (many buffers waiting, or none left) does the emitting
/// thread wake it, since a syscall is then cheaper than dropping events.
final class StreamChannel: @unchecked Sendable {
    let full: BufferRing
    let free: BufferRing
    unowned let budget: BufferBudget
    let wake: () -> Void
    /// Set by the writer thread when the file can no longer be written: streams then stop
    /// recording. Shared by every channel of a recorder, which owns it.
    let failed: UnsafeAtomic<Bool>
    /// The stream's hot state; owned by the channel's recorder, freed when the channel retires.
    let state: UnsafeMutablePointer<StreamState>
    /// Events the stream dropped so far: a copy of `StreamState.droppedTotal` that other threads
    /// may read. Emitting thread writes (on the drop path only), anyone reads.
    let dropped = ManagedAtomic<UInt64>(0)
    /// Set by the stream's thread once it will emit no more: the writer then frees what the
    /// channel holds and drops it.
    let retiring = ManagedAtomic<Bool>(false)
    /// Set by the writer once a retiring channel is drained and gone.
    let retired = ManagedAtomic<Bool>(false)
    /// The last tick of the stream's last chunk written: the writer keeps the stream's
    /// timestamps in order across chunks with it. Writer thread only.
    var writerLastTick: UInt64 = 0
    /// The task in a step at the end of the stream's last chunk written, the next chunk's
    /// running task. Writer thread only.
    var writerRunningTask: UInt64 = 0
    /// `full` holding this many buffers wakes the writer at once.
    let pressure: Int
    /// Wake the writer at every hand-off (offline generators that wait rather than drop).
    let wakeAlways: Bool

    /// How many spare buffers the writer keeps in `free`, so that a hand-off never allocates.
    static let spares = 2

    init(budget: BufferBudget, failed: UnsafeAtomic<Bool>, state: UnsafeMutablePointer<StreamState>,
         wakeAlways: Bool, wake: @escaping () -> Void) {
        self.budget = budget
        self.wake = wake
        self.failed = failed
        self.state = state
        self.wakeAlways = wakeAlways
        full = BufferRing(capacity: budget.maxBuffers + 1)
        free = BufferRing(capacity: budget.maxBuffers + 1)
        pressure = max(1, budget.maxBuffers / 4)
    }

    deinit {
        full.destroy()
        free.destroy()
    }

    /// A buffer for a thread other than the writer: a recycled or spare one, or a new one while
    /// under the cap.
    func takeBuffer() -> UnsafeMutableRawPointer? {
        if let recycled = free.pop() { return recycled }
        return budget.allocate(prefault: false)
    }

    /// Gives back a buffer that holds nothing. (Rare: a buffer taken for an event too big to fit.
    /// `free` has the writer as its only producer, so the buffer goes back to the budget.)
    func returnUnused(_ buffer: UnsafeMutableRawPointer) {
        budget.release(buffer)
    }

    /// Frees every spare buffer. Writer thread (or the recorder once the writer has stopped),
    /// after the emitting thread is done.
    func releaseSpares() {
        while let b = free.pop() { budget.release(b) }
    }
}

/// The recorder's memory cap, counted in buffers. Lock-free: the emitting thread never blocks.
///
/// Buffers are anonymous mappings populated up front (`MAP_POPULATE`), so that the thread that
/// fills one never takes a page fault in it.
final class BufferBudget: @unchecked Sendable {
    let bufferBytes: Int
    let maxBuffers: Int
    private let allocated = ManagedAtomic<Int>(0)
    private let allocationCount = ManagedAtomic<Int>(0)

    init(capBytes: Int, bufferBytes: Int) {
        self.bufferBytes = bufferBytes
        maxBuffers = max(2, capBytes / bufferBytes)
    }

    /// A new buffer, or nil at the cap.
    /// - Parameter prefault: map its pages in now (`MAP_POPULATE`), as the writer thread does for
    ///   spares. The emitting thread, when it must map a buffer itself, leaves them to fault in one
    ///   by one as it fills the buffer: one long stall of ~64 faults would distort the event that
    ///   took it more than a fault now and then distorts any event.
    func allocate(prefault: Bool = true) -> UnsafeMutableRawPointer? {
        var current = allocated.load(ordering: .relaxed)
        while true {
            guard current < maxBuffers else { return nil }
            let (exchanged, original) = allocated.weakCompareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
        guard let mapped = mmap(nil, bufferBytes, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | (prefault ? MAP_POPULATE : 0), -1, 0),
              mapped != MAP_FAILED else {
            allocated.wrappingDecrement(ordering: .relaxed)
            return nil
        }
        allocationCount.wrappingIncrement(ordering: .relaxed)
        let meta = mapped.bindMemory(to: BufferMeta.self, capacity: 1)
        meta.initialize(to: BufferMeta(capacity: bufferBytes - BufferMeta.size, length: 0, eventCount: 0, stream: 0,
                                       threadID: 0, firstTick: 0, lastTick: 0, runningTask: 0))
        return mapped
    }

    /// Frees a buffer and gives its room back to the budget.
    func release(_ buffer: UnsafeMutableRawPointer) {
        munmap(buffer, bufferBytes)
        allocated.wrappingDecrement(ordering: .relaxed)
    }

    /// Buffers allocated so far in total (new allocations, not recycles).
    var allocations: Int { allocationCount.load(ordering: .relaxed) }
}
