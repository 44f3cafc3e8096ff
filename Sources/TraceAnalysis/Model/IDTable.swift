/// An open-addressing hash map from 64-bit ids (task ids, handles) to slot indexes.
///
/// The model looks a task up on almost every event; `Dictionary` costs ~20 ns a probe with its
/// hashing and resilience, this costs a multiply and usually one cache line. Linear probing with
/// backward-shift deletion, so there are no tombstones and lookups stay short after churn.
struct IDTable {
    private var keys: [UInt64]
    private var values: [Int32]
    private var used: [Bool]
    private(set) var count = 0
    private var mask: Int

    init(capacity: Int = 64) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: 0, count: size)
        values = [Int32](repeating: -1, count: size)
        used = [Bool](repeating: false, count: size)
        mask = size - 1
    }

    @inline(__always)
    private func home(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// The slot stored for `key`, or nil.
    @inline(__always)
    func find(_ key: UInt64) -> Int32? {
        var i = home(key)
        while used[i] {
            if keys[i] == key { return values[i] }
            i = (i + 1) & mask
        }
        return nil
    }

    /// Stores `value` for `key`, replacing any previous value.
    mutating func insert(_ key: UInt64, _ value: Int32) {
        if (count + 1) * 4 > keys.count * 3 { grow() }
        var i = home(key)
        while used[i] {
            if keys[i] == key { values[i] = value; return }
            i = (i + 1) & mask
        }
        used[i] = true
        keys[i] = key
        values[i] = value
        count += 1
    }

    /// Removes `key`; returns its value if it was present.
    @discardableResult
    mutating func remove(_ key: UInt64) -> Int32? {
        var i = home(key)
        while used[i] {
            if keys[i] == key { break }
            i = (i + 1) & mask
        }
        guard used[i] else { return nil }
        let removed = values[i]
        // Backward-shift: move later members of the probe run into the hole.
        var hole = i
        var j = (i + 1) & mask
        while used[j] {
            let h = home(keys[j])
            // j's home lies cyclically outside (hole, j]: it may move into the hole.
            let movable = hole <= j ? (h <= hole || h > j) : (h <= hole && h > j)
            if movable {
                keys[hole] = keys[j]
                values[hole] = values[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        used[hole] = false
        count -= 1
        return removed
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values, oldUsed = used
        let size = keys.count * 2
        keys = [UInt64](repeating: 0, count: size)
        values = [Int32](repeating: -1, count: size)
        used = [Bool](repeating: false, count: size)
        mask = size - 1
        count = 0
        for i in 0..<oldKeys.count where oldUsed[i] { insert(oldKeys[i], oldValues[i]) }
    }

    /// Every (key, value) pair, in no particular order.
    func forEach(_ body: (UInt64, Int32) -> Void) {
        for i in 0..<keys.count where used[i] { body(keys[i], values[i]) }
    }
}

/// A pool of trivially copyable records addressed by slot, with a free list, so finished
/// records are reused and memory follows the live population, not the trace length.
///
/// The records live in manually managed memory so that the model updates them in place through
/// ``pointer(_:)``: copying a ~200-byte task record out of an `Array` and back, with the array's
/// uniqueness check, cost more than the rest of a step's work. Copies of the struct share the
/// storage; exactly one owner calls ``deallocate()``. A pointer is valid until the next
/// ``allocate(_:)`` (which may move the storage).
struct SlotPool<Element> {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var capacity: Int
    /// Slots handed out so far (live or free).
    private(set) var count = 0
    private var free: [Int32] = []

    init() {
        precondition(_isPOD(Element.self), "SlotPool holds trivially copyable records only")
        capacity = 64
        base = .allocate(capacity: capacity)
    }

    /// Frees the storage; the pool must not be used afterwards.
    func deallocate() { base.deallocate() }

    var liveCount: Int { count - free.count }

    mutating func allocate(_ element: Element) -> Int32 {
        if let slot = free.popLast() {
            base[Int(slot)] = element
            return slot
        }
        if count == capacity {
            let grown = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
            grown.moveInitialize(from: base, count: count)
            base.deallocate()
            base = grown
            capacity *= 2
        }
        (base + count).initialize(to: element)
        count += 1
        return Int32(count - 1)
    }

    mutating func release(_ slot: Int32) { free.append(slot) }

    /// The record in `slot`, to read or update in place.
    @inline(__always)
    func pointer(_ slot: Int32) -> UnsafeMutablePointer<Element> { base + Int(slot) }

    subscript(slot: Int32) -> Element {
        @inline(__always) get { base[Int(slot)] }
        @inline(__always) nonmutating _modify { yield &base[Int(slot)] }
    }
}

/// A task-id → slot index with a direct-mapped front for small ids.
///
/// Runtimes number tasks from 1 upwards, so nearly every lookup is an id below ``denseLimit``:
/// one load from a flat table instead of a hash probe. Larger ids fall back to an ``IDTable``.
/// The dense part is a fixed 256 KiB, so memory still follows the live population.
struct TaskIndex {
    static let denseLimit: UInt64 = 1 << 16
    /// Slot by id for ids below `denseLimit`; -1 when absent.
    private let dense: UnsafeMutablePointer<Int32>
    private var sparse = IDTable(capacity: 64)
    private(set) var count = 0

    init() {
        dense = .allocate(capacity: Int(Self.denseLimit))
        dense.initialize(repeating: -1, count: Int(Self.denseLimit))
    }

    /// Frees the storage; the index must not be used afterwards.
    func deallocate() { dense.deallocate() }

    @inline(__always)
    func find(_ id: UInt64) -> Int32? {
        if id < Self.denseLimit {
            let slot = dense[Int(id)]
            return slot >= 0 ? slot : nil
        }
        return sparse.find(id)
    }

    mutating func insert(_ id: UInt64, _ slot: Int32) {
        if id < Self.denseLimit {
            if dense[Int(id)] < 0 { count += 1 }
            dense[Int(id)] = slot
        } else {
            let before = sparse.count
            sparse.insert(id, slot)
            count += sparse.count - before
        }
    }

    mutating func remove(_ id: UInt64) {
        if id < Self.denseLimit {
            if dense[Int(id)] >= 0 { count -= 1 }
            dense[Int(id)] = -1
        } else if sparse.remove(id) != nil {
            count -= 1
        }
    }
}
