import Atomics
import DequeModule
import TraceFormat

/// A queue between loop tasks, as asyncio's `Queue`, `LifoQueue` and `PriorityQueue`.
///
/// With a ``maxSize`` above 0 the queue is bounded: ``put(_:file:line:)`` waits while it is full
/// (backpressure on producers). ``get(file:line:)`` waits while it is empty. Each put counts an
/// unfinished task, each ``taskDone()`` one finished; ``join(file:line:)`` waits until none is
/// left. Waiting getters and putters are woken in the order they started waiting; one cancelled
/// after it was woken passes the wakeup on to the next. A woken task's wakeup names the task or
/// callback whose `put` or `get` made room, and its step ends suspended at
/// `File.swift:40:Queue.get` (or `Queue.put`, `Queue.join`).
///
/// Traced depth: every put and get records `queueDepth` with its site and the number of
/// elements left, so that `looptrace lints` finds a queue that only grows.
///
/// Loop thread only; bound to the loop that first uses it.
public final class LoopQueue<Element>: @unchecked Sendable {
    /// The queue's id in traces, unique in the process.
    let id = LoopQueueIDs.next.loadThenWrappingIncrement(ordering: .relaxed) + 1
    /// Which element ``get(file:line:)`` takes.
    public enum Order {
        /// The oldest (asyncio's `Queue`).
        case fifo
        /// The newest (asyncio's `LifoQueue`).
        case lifo
        /// The smallest by `areInIncreasingOrder`, the oldest of equals (asyncio's
        /// `PriorityQueue`, which is not stable).
        case priority(areInIncreasingOrder: (Element, Element) -> Bool)
    }

    /// The most elements the queue holds; 0 or less means unbounded.
    public let maxSize: Int
    // Loop thread only, so every access is exclusive: unchecked, so that a put or a get pays no
    // dynamic exclusivity check (about 900 instructions per put/get pair, callgrind). This class
    // runs unspecialized (its clients' element types are not known here), where any use of a
    // generic type bound to `Element` (a `Deque<Element>`, a switch over `Order`) asks the
    // runtime for that type's metadata, a cache lookup of ~300 instructions, each time: so the
    // order is kept as plain values and the FIFO/LIFO elements in a ring of raw slots.
    @exclusivity(unchecked) private var binding = LoopBinding()
    /// Taken by `get`: the newest first (LIFO), else the oldest (FIFO) unless `less` is set.
    private let lifo: Bool
    /// The priority order (a heap) instead of FIFO or LIFO.
    private let less: ((Element, Element) -> Bool)?
    /// FIFO and LIFO elements: `elementCount` of them from slot `ringHead` of `ringCapacity` (a
    /// power of two, or 0 before the first put).
    @exclusivity(unchecked) private var ring: UnsafeMutablePointer<Element>? = nil
    @exclusivity(unchecked) private var ringCapacity = 0
    @exclusivity(unchecked) private var ringHead = 0
    /// Priority elements: a binary min-heap, each with its insertion number (ties go oldest
    /// first).
    @exclusivity(unchecked) private var heap: [(element: Element, sequence: UInt64)] = []
    @exclusivity(unchecked) private var sequence: UInt64 = 0
    @exclusivity(unchecked) private var getters = Deque<LoopWaiter>()
    @exclusivity(unchecked) private var putters = Deque<LoopWaiter>()
    /// The number of elements, in the ring or `heap`.
    @exclusivity(unchecked) private var elementCount = 0
    /// Puts not yet matched by `taskDone()`.
    @exclusivity(unchecked) public private(set) var unfinishedTasks = 0
    /// Set while no put is unfinished.
    private let finished = LoopEvent(isSet: true)

    /// A queue of at most `maxSize` elements (unbounded by default), taken in `order`.
    public init(maxSize: Int = 0, order: Order = .fifo) {
        self.maxSize = maxSize
        switch order {
        case .fifo: (lifo, less) = (false, nil)
        case .lifo: (lifo, less) = (true, nil)
        case .priority(let areInIncreasingOrder): (lifo, less) = (false, areInIncreasingOrder)
        }
    }

    /// The number of elements in the queue.
    public var count: Int { elementCount }

    /// Whether the queue holds no element.
    public var isEmpty: Bool { count == 0 }

    /// Whether the queue holds `maxSize` elements (never, when unbounded).
    public var isFull: Bool { maxSize > 0 && count >= maxSize }

    /// Puts `element` in the queue, waiting while it is full.
    /// - Throws: `CancellationError` when the task is cancelled while it waits; `element` is
    ///   then not in the queue.
    nonisolated(nonsending) public func put(_ element: Element, file: StaticString = #fileID, line: UInt = #line) async throws {
        let loop = binding.get("LoopQueue.put")
        while isFull {
            let putter = LoopWaiter()
            putters.append(putter)
            let cancelled = await putter.wait(on: loop, site: SourceSite(file: file, line: line, function: "Queue.put"))
            if cancelled {
                putters.remove(putter)
                // Woken by a get, but leaving: the room goes to the next putter.
                if !isFull, putter.state == .woken { wakeUpNext(&putters) }
                throw CancellationError()
            }
        }
        try! putNowait(element, file: file, line: line)
    }

    /// Puts `element` in the queue without waiting.
    /// - Throws: ``LoopQueueError/full`` when the queue is full.
    public func putNowait(_ element: Element, file: StaticString = #fileID, line: UInt = #line) throws(LoopQueueError) {
        binding.check("LoopQueue.putNowait")
        if isFull { throw .full }
        if let less { heapPush(element, less) } else { ringAppend(element) }
        elementCount += 1
        binding.tracer?.queueDepth(queue: id, depth: elementCount, site: SourceSite(file: file, line: line, function: "Queue.put"))
        unfinishedTasks += 1
        finished.clear()
        wakeUpNext(&getters)
    }

    /// Takes an element, waiting while the queue is empty.
    /// - Throws: `CancellationError` when the task is cancelled while it waits; no element is
    ///   taken then.
    nonisolated(nonsending) public func get(file: StaticString = #fileID, line: UInt = #line) async throws -> Element {
        let loop = binding.get("LoopQueue.get")
        while isEmpty {
            let getter = LoopWaiter()
            getters.append(getter)
            let cancelled = await getter.wait(on: loop, site: SourceSite(file: file, line: line, function: "Queue.get"))
            if cancelled {
                getters.remove(getter)
                // Woken by a put, but leaving: the element goes to the next getter.
                if !isEmpty, getter.state == .woken { wakeUpNext(&getters) }
                throw CancellationError()
            }
        }
        return try! getNowait(file: file, line: line)
    }

    /// Takes an element without waiting.
    /// - Throws: ``LoopQueueError/empty`` when the queue is empty.
    public func getNowait(file: StaticString = #fileID, line: UInt = #line) throws(LoopQueueError) -> Element {
        binding.check("LoopQueue.getNowait")
        if isEmpty { throw .empty }
        let element: Element
        if let less {
            element = heapPop(less)
        } else {
            element = lifo ? ringRemoveLast() : ringRemoveFirst()
        }
        elementCount -= 1
        binding.tracer?.queueDepth(queue: id, depth: elementCount, site: SourceSite(file: file, line: line, function: "Queue.get"))
        wakeUpNext(&putters)
        return element
    }

    /// Marks one element taken earlier as processed; when every put is matched, ``join(file:line:)``
    /// returns.
    /// - Throws: ``LoopQueueError/taskDoneTooManyTimes`` when called more often than elements
    ///   were put.
    public func taskDone() throws(LoopQueueError) {
        binding.check("LoopQueue.taskDone")
        guard unfinishedTasks > 0 else { throw .taskDoneTooManyTimes }
        unfinishedTasks -= 1
        if unfinishedTasks == 0 { finished.set() }
    }

    /// Waits until every element put has been marked done with ``taskDone()``.
    /// - Throws: `CancellationError` when the task is cancelled while it waits.
    nonisolated(nonsending) public func join(file: StaticString = #fileID, line: UInt = #line) async throws {
        let loop = binding.get("LoopQueue.join")
        if unfinishedTasks > 0 {
            try await finished.waitUnset(loop, site: SourceSite(file: file, line: line, function: "Queue.join"))
        }
    }

    /// Wakes the first waiter of `waiters` not cancelled yet, taking it off the list.
    private func wakeUpNext(_ waiters: inout Deque<LoopWaiter>) {
        while let waiter = waiters.popFirst() {
            if waiter.wake() { return }
        }
    }

    deinit {
        if let ring {
            for i in 0..<(less == nil ? elementCount : 0) { (ring + ((ringHead + i) & (ringCapacity - 1))).deinitialize(count: 1) }
            ring.deallocate()
        }
    }

    // MARK: Ring (FIFO and LIFO)

    /// Appends at the back. Before `elementCount` counts it.
    private func ringAppend(_ element: Element) {
        if elementCount == ringCapacity { growRing() }
        (ring.unsafelyUnwrapped + ((ringHead + elementCount) & (ringCapacity - 1))).initialize(to: element)
    }

    /// Takes the front element. Before `elementCount` stops counting it.
    private func ringRemoveFirst() -> Element {
        let element = (ring.unsafelyUnwrapped + ringHead).move()
        ringHead = (ringHead + 1) & (ringCapacity - 1)
        return element
    }

    /// Takes the back element. Before `elementCount` stops counting it.
    private func ringRemoveLast() -> Element {
        (ring.unsafelyUnwrapped + ((ringHead + elementCount - 1) & (ringCapacity - 1))).move()
    }

    /// Doubles the ring (16 slots at first), its elements moved to the front in order.
    private func growRing() {
        let capacity = Swift.max(16, ringCapacity * 2)
        let grown = UnsafeMutablePointer<Element>.allocate(capacity: capacity)
        if let ring {
            for i in 0..<elementCount { (grown + i).moveInitialize(from: ring + ((ringHead + i) & (ringCapacity - 1)), count: 1) }
            ring.deallocate()
        }
        ring = grown
        ringCapacity = capacity
        ringHead = 0
    }

    // MARK: Priority heap

    private func heapLess(_ a: (element: Element, sequence: UInt64), _ b: (element: Element, sequence: UInt64),
                          _ less: (Element, Element) -> Bool) -> Bool {
        if less(a.element, b.element) { return true }
        if less(b.element, a.element) { return false }
        return a.sequence < b.sequence
    }

    private func heapPush(_ element: Element, _ less: (Element, Element) -> Bool) {
        sequence &+= 1
        heap.append((element, sequence))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heapLess(heap[child], heap[parent], less) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private func heapPop(_ less: (Element, Element) -> Bool) -> Element {
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast().element
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, heapLess(heap[left], heap[smallest], less) { smallest = left }
            if right < heap.count, heapLess(heap[right], heap[smallest], less) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}

/// Ids of queues in traces (a generic class cannot have stored static properties).
enum LoopQueueIDs {
    static let next = ManagedAtomic<UInt64>(0)
}

extension LoopQueue where Element: Comparable {
    /// A priority queue (asyncio's `PriorityQueue`): ``get(file:line:)`` takes the smallest
    /// element, the oldest of equals.
    public static func priority(maxSize: Int = 0) -> LoopQueue<Element> {
        LoopQueue(maxSize: maxSize, order: .priority(areInIncreasingOrder: <))
    }
}
