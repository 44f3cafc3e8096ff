/// One stream's interned stacks: each distinct (kind, frames) gets an id for the stream's whole
/// life, and its `stackDef` (with the `imageDef`/`imageText` of the images it uses) is written
/// again in every chunk that refers to it, as strings are.
///
/// Emitting thread only, like the rest of ``StreamState``. A stack seen before costs a hash of
/// its frames, a probe of an open-addressing table and a compare; a new one allocates its
/// encoded text once.
@usableFromInline
struct StackInterner {
    struct Entry {
        var kind: StackKind
        var frames: [UInt]
        /// The `frames` text of its `stackDef`, ASCII.
        var text: [UInt8]
        /// The images its frames fall in (0 excluded), each once.
        var images: [UInt32]
        var id: UInt32
        /// The buffer generation whose chunk already holds its definition.
        var generation: UInt32
    }

    var entries: [Entry] = []
    /// The hash of each entry's (kind, frames).
    var hashes: [UInt64] = []
    /// An open-addressing table over `entries`: entry index + 1 per slot, 0 for empty; linear
    /// probing, a power of two in size, at most half full. (A `Dictionary` probe hashes its key
    /// again with SipHash: most of a known stack's cost.)
    var slots = [Int32](repeating: 0, count: 64)
    /// The generation whose chunk holds each image's definition, by image id.
    var imageGenerations: [UInt32] = []
    /// Each image's `imageDef` and `imageText` records, encoded once (by image id; empty: not
    /// yet): every chunk that uses the image copies them, with no lock and no string work.
    var imageRecords: [[UInt8]] = []

    /// The encoded definition records of image `id`; empty when the image table lacks it.
    mutating func imageRecord(_ id: UInt32) -> [UInt8] {
        let i = Int(id)
        if i < imageRecords.count, !imageRecords[i].isEmpty { return imageRecords[i] }
        guard let image = ImageTable.shared.image(id) else { return [] }
        var bytes: [UInt8] = []
        func varint(_ value: UInt64) {
            var v = value
            while v >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
                v >>= 7
            }
            bytes.append(UInt8(v))
        }
        func text(_ utf8: [UInt8]) {
            varint(UInt64(utf8.count))
            bytes += utf8
        }
        bytes.append(EventType.imageDef.rawValue)
        varint(UInt64(id))
        text(Array(image.path.utf8.prefix(Self.maxPathBytes)))
        text(Array(image.buildID.utf8))
        varint(image.loadBase)
        bytes.append(EventType.imageText.rawValue)
        varint(UInt64(id))
        varint(image.textStart)
        varint(image.textSize)
        if i >= imageRecords.count { imageRecords += [[UInt8]](repeating: [], count: i + 1 - imageRecords.count) }
        imageRecords[i] = bytes
        return bytes
    }

    /// Paths longer than this are cut in `imageDef`.
    static let maxPathBytes = 1024

    static func hash(_ frames: UnsafeBufferPointer<UInt>, _ kind: StackKind) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ UInt64(kind.rawValue)
        for f in frames {
            h ^= UInt64(f)
            h = (h &* 0x1000_0000_01B3) ^ (h >> 29)
        }
        return h
    }

    /// The entry index of (kind, frames), interning it first if new. A known stack costs its
    /// hash, a probe or two and a compare of its frames.
    mutating func entry(_ frames: UnsafeBufferPointer<UInt>, _ kind: StackKind) -> Int {
        let h = Self.hash(frames, kind)
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: h >> 7) & mask
        while slots[slot] != 0 {
            let i = Int(slots[slot]) - 1
            if hashes[i] == h && entries[i].kind == kind
                && entries[i].frames.withUnsafeBufferPointer({ Self.same($0, frames) }) {
                return i
            }
            slot = (slot + 1) & mask
        }
        let i = intern(frames, kind)
        hashes.append(h)
        slots[slot] = Int32(i + 1)
        if entries.count * 2 > slots.count { grow() }
        return i
    }

    static func same(_ a: UnsafeBufferPointer<UInt>, _ b: UnsafeBufferPointer<UInt>) -> Bool {
        guard a.count == b.count else { return false }
        for k in 0..<a.count where a[k] != b[k] { return false }
        return true
    }

    /// Doubles the slot table.
    mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        for (i, h) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: h >> 7) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(i + 1)
        }
    }

    /// Appends a new entry for (kind, frames): its images resolved, its text encoded.
    mutating func intern(_ frames: UnsafeBufferPointer<UInt>, _ kind: StackKind) -> Int {
        let resolved = ImageTable.shared.resolve(frames)
        var text: [UInt8] = []
        var images: [UInt32] = []
        for (i, frame) in resolved.enumerated() {
            if i > 0 { text.append(0x20) }
            text += Array(String(frame.image, radix: 16).utf8)
            text.append(0x3A)
            text += Array(String(frame.offset, radix: 16).utf8)
            if frame.image != 0 && !images.contains(frame.image) { images.append(frame.image) }
        }
        let i = entries.count
        entries.append(Entry(kind: kind, frames: Array(frames), text: text, images: images,
                             id: UInt32(i + 1), generation: 0))
        return i
    }
}

extension StreamState {
    /// Returns the id of stack (kind, frames) in this stream, writing its definition (and its
    /// images' definitions) into the current buffer first when this chunk lacks them; nil when
    /// the event must be dropped. Leaves room for `need` more bytes after the definitions.
    mutating func defineStack(_ frames: UnsafeBufferPointer<UInt>, kind: StackKind, now: UInt64, need: Int) -> UInt64? {
        if stacks == nil {
            stacks = .allocate(capacity: 1)
            stacks!.initialize(to: StackInterner())
        }
        let table = stacks!
        let index = table.pointee.entry(frames, kind)
        // The common case, read without copying the entry (and retaining its arrays).
        if table.pointee.entries[index].generation == generation && buffer != nil
            && UnsafeMutableRawPointer(cursor) + need <= UnsafeMutableRawPointer(limit) {
            return UInt64(table.pointee.entries[index].id)
        }
        let entry = table.pointee.entries[index]
        // Room for every image's definition, whether or not this chunk has it: a refill starts a
        // chunk that has none.
        var size = 8 + 7 + 1 + 5 + 2 + 3 + entry.text.count
        for id in entry.images { size += table.pointee.imageRecord(id).count }
        if buffer == nil || UnsafeMutableRawPointer(cursor) + (size + need) > UnsafeMutableRawPointer(limit) {
            guard refill(now: now, need: size + need) else { return nil }
        }
        if entry.generation == generation { return UInt64(entry.id) }
        // One verbatim record: the image definitions this chunk lacks, then the stack's.
        var p = beginVerbatim()
        var events: UInt16 = 1
        for id in entry.images {
            let i = Int(id)
            if i >= table.pointee.imageGenerations.count {
                table.pointee.imageGenerations += [UInt32](repeating: 0, count: i + 1 - table.pointee.imageGenerations.count)
            }
            guard table.pointee.imageGenerations[i] != generation else { continue }
            let record = table.pointee.imageRecord(id)
            guard !record.isEmpty else { continue }
            table.pointee.imageGenerations[i] = generation
            record.withUnsafeBufferPointer { b in p.update(from: b.baseAddress!, count: b.count) }
            p += record.count
            events += 2
        }
        p.putByte(EventType.stackDef.rawValue)
        p.putVarint(UInt64(entry.id))
        p.putVarint(UInt64(entry.kind.rawValue))
        p.putText(entry.text)
        endVerbatim(p, events: events)
        table.pointee.entries[index].generation = generation
        return UInt64(entry.id)
    }

    /// Frees the stack table.
    func deallocateStacks() {
        guard let stacks else { return }
        stacks.deinitialize(count: 1)
        stacks.deallocate()
    }
}

extension UnsafeMutablePointer where Pointee == UInt8 {
    /// A `text` value: a uvarint length and the bytes.
    mutating func putText(_ bytes: [UInt8]) {
        putVarint(UInt64(bytes.count))
        bytes.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { self.update(from: base, count: b.count) }
        }
        self += bytes.count
    }
}
