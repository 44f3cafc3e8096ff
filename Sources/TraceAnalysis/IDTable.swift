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

/// A pool of records addressed by slot, with a free list, so finished records are reused and
/// memory follows the live population, not the trace length.
struct SlotPool<Element> {
    private(set) var slots: [Element] = []
    private var free: [Int32] = []

    var liveCount: Int { slots.count - free.count }

    mutating func allocate(_ element: Element) -> Int32 {
        if let slot = free.popLast() {
            slots[Int(slot)] = element
            return slot
        }
        slots.append(element)
        return Int32(slots.count - 1)
    }

    mutating func release(_ slot: Int32) { free.append(slot) }

    subscript(slot: Int32) -> Element {
        get { slots[Int(slot)] }
        _modify { yield &slots[Int(slot)] }
    }
}

/// A min-heap of (key, value) pairs.
struct MinHeap {
    private(set) var items: [(key: Int64, value: UInt64)] = []

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var min: (key: Int64, value: UInt64)? { items.first }

    mutating func push(_ key: Int64, _ value: UInt64) {
        items.append((key, value))
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if items[p].key <= items[i].key { break }
            items.swapAt(p, i)
            i = p
        }
    }

    @discardableResult
    mutating func pop() -> (key: Int64, value: UInt64)? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && items[l].key < items[m].key { m = l }
                if r < items.count && items[r].key < items[m].key { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
