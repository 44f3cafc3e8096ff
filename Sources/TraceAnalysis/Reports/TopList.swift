/// The `capacity` largest items seen, by key, largest first. Ties keep the earlier item.
///
/// Rejecting an item below the current minimum costs one comparison, so feeding every step
/// through it is cheap.
public struct TopList<Element> {
    public let capacity: Int
    public private(set) var items: [(key: Int64, element: Element)] = []

    public init(capacity: Int) { self.capacity = Swift.max(0, capacity) }

    /// The smallest key that would still enter the list.
    @inline(__always)
    public var floor: Int64 { items.count < capacity ? .min : items[items.count - 1].key }

    @inline(__always)
    public mutating func offer(_ key: Int64, _ element: Element) {
        guard capacity > 0, items.count < capacity || key > items[items.count - 1].key else { return }
        var i = items.count
        while i > 0 && items[i - 1].key < key { i -= 1 }
        items.insert((key, element), at: i)
        if items.count > capacity { items.removeLast() }
    }

    public var elements: [Element] { items.map(\.element) }
}
