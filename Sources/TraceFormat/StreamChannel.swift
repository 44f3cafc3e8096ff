import Atomics
#if canImport(Glibc)
import Glibc
#endif

/// A bounded single-producer single-consumer ring of buffer pointers.
final class BufferRing: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private let mask: Int
    // head: consumer only; tail: producer only; each read by the other side with acquire.
    private let head = ManagedAtomic<Int>(0)
    private let tail = ManagedAtomic<Int>(0)

    init(capacity: Int) {
        var size = 2
        while size < capacity + 1 { size *= 2 }
        slots = .allocate(capacity: size)
        slots.initialize(repeating: nil, count: size)
        mask = size - 1
    }

    deinit { slots.deallocate() }

    /// Producer side. The rings are sized for every buffer that can exist, so this never fails.
    func push(_ buffer: UnsafeMutableRawPointer) {
        let t = tail.load(ordering: .relaxed)
        precondition(t - head.load(ordering: .acquiring) <= mask, "BufferRing overflow")
        slots[t & mask] = buffer
        tail.store(t + 1, ordering: .releasing)
    }

    /// Consumer side.
    func pop() -> UnsafeMutableRawPointer? {
        let h = head.load(ordering: .relaxed)
        guard h != tail.load(ordering: .acquiring) else { return nil }
        let buffer = slots[h & mask]
        head.store(h + 1, ordering: .releasing)
        return buffer
    }
}

/// What an emitting thread shares with the writer thread: a ring of filled buffers going to the
/// writer and a ring of empty ones coming back, plus the recorder-wide memory budget.
/// `submit`, `takeBuffer` and `returnUnused` run on the emitting thread, once per buffer.
final class StreamChannel: @unchecked Sendable {
    let full: BufferRing
    let free: BufferRing
    unowned let budget: BufferBudget
    let wake: () -> Void

    init(budget: BufferBudget, wake: @escaping () -> Void) {
        self.budget = budget
        self.wake = wake
        full = BufferRing(capacity: budget.maxBuffers + 1)
        free = BufferRing(capacity: budget.maxBuffers + 1)
    }

    /// A buffer for the emitting thread: a recycled one, or a new one while under the cap.
    func takeBuffer() -> UnsafeMutableRawPointer? {
        if let recycled = free.pop() { return recycled }
        return budget.allocate()
    }

    /// Hands a filled buffer to the writer thread.
    func submit(_ buffer: UnsafeMutableRawPointer) {
        full.push(buffer)
        wake()
    }

    /// Gives back a buffer that holds nothing.
    func returnUnused(_ buffer: UnsafeMutableRawPointer) {
        budget.release(buffer)
    }
}

/// The recorder's memory cap, counted in buffers. Lock-free: the emitting thread never blocks.
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
    func allocate() -> UnsafeMutableRawPointer? {
        var current = allocated.load(ordering: .relaxed)
        while true {
            guard current < maxBuffers else { return nil }
            let (exchanged, original) = allocated.weakCompareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
        allocationCount.wrappingIncrement(ordering: .relaxed)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bufferBytes, alignment: 64)
        let meta = raw.bindMemory(to: BufferMeta.self, capacity: 1)
        meta.initialize(to: BufferMeta(capacity: bufferBytes - BufferMeta.size, length: 0, eventCount: 0, stream: 0,
                                       threadID: 0, firstTick: 0, lastTick: 0, runningTask: 0))
        return raw
    }

    /// Frees a buffer and gives its room back to the budget.
    func release(_ buffer: UnsafeMutableRawPointer) {
        buffer.deallocate()
        allocated.wrappingDecrement(ordering: .relaxed)
    }

    /// Buffers allocated so far in total (new allocations, not recycles).
    var allocations: Int { allocationCount.load(ordering: .relaxed) }
}
