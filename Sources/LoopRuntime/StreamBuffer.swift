import Glibc

/// The bytes a stream reader or writer holds: one growable allocation with a read and a write
/// index, copied in and out with `memcpy`. (Plain `[UInt8]` appends and slices are element
/// loops in unoptimized builds, which made a debug-built echo a hundred times slower.)
/// Loop thread only.
final class StreamBuffer {
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private var readIndex = 0
    private var writeIndex = 0

    init(capacity: Int = 4_096) {
        self.capacity = capacity
        storage = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { storage.deallocate() }

    /// Bytes held.
    var count: Int { writeIndex - readIndex }

    /// The bytes held, valid until the next mutation.
    var readable: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage + readIndex, count: count) }

    /// Room for at least `n` more bytes at the write index (compacting or growing).
    func reserve(_ n: Int) -> UnsafeMutableRawPointer {
        if capacity - writeIndex < n {
            if readIndex > 0 {
                memmove(storage, storage + readIndex, count)
                writeIndex -= readIndex
                readIndex = 0
            }
            if capacity - writeIndex < n {
                var newCapacity = capacity * 2
                while newCapacity - writeIndex < n { newCapacity *= 2 }
                let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
                grown.copyMemory(from: storage, byteCount: writeIndex)
                storage.deallocate()
                storage = grown
                capacity = newCapacity
            }
        }
        return storage + writeIndex
    }

    /// Counts `n` bytes written into the room `reserve` gave.
    func commit(_ n: Int) { writeIndex += n }

    /// Appends a copy of `bytes`.
    func append(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count).copyMemory(from: base, byteCount: bytes.count)
        writeIndex += bytes.count
    }

    /// Removes and returns the first `n` bytes.
    func take(_ n: Int) -> [UInt8] {
        precondition(n <= count)
        let out = [UInt8](unsafeUninitializedCapacity: n) { buffer, initialized in
            if n > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: storage + readIndex, byteCount: n) }
            initialized = n
        }
        skip(n)
        return out
    }

    /// Drops the first `n` bytes.
    func skip(_ n: Int) {
        readIndex += n
        if readIndex == writeIndex {
            readIndex = 0
            writeIndex = 0
            // A burst may have grown the buffer: give large allocations back once it is empty.
            if capacity > 1 << 20 {
                storage.deallocate()
                capacity = 65_536
                storage = .allocate(byteCount: capacity, alignment: 16)
            }
        }
    }

    /// The index just past the first occurrence of `separator` at or after `from` (an offset
    /// into the held bytes), or nil.
    func find(_ separator: [UInt8], from: Int) -> Int? {
        let held = readable
        guard let base = held.baseAddress, held.count - from >= separator.count else { return nil }
        var i = from
        let last = held.count - separator.count
        return separator.withUnsafeBytes { sep -> Int? in
            while i <= last {
                guard let hit = memchr(base + i, Int32(sep[0]), last - i + 1) else { return nil }
                let at = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(base + at, sep.baseAddress!, sep.count) == 0 { return at + sep.count }
                i = at + 1
            }
            return nil
        }
    }
}
