/// One stream's interned stacks: each distinct (kind, frames) gets an id for the stream's whole
/// life, and its `stackDef` (with the `imageDef`/`imageText` of the images it uses) is written
/// again in every chunk that refers to it, as strings are.
///
/// Emitting thread only, like the rest of ``StreamState``. A stack seen before costs a hash of
/// its frames and one dictionary probe; a new one allocates its encoded text once.
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
    /// Entry indexes by hash of (kind, frames); collisions chain through `next`.
    var byHash: [UInt64: Int] = [:]
    var next: [Int] = []
    /// The generation whose chunk holds each image's definition, by image id.
    var imageGenerations: [UInt32] = []

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

    /// The entry index of (kind, frames), interning it first if new.
    mutating func entry(_ frames: UnsafeBufferPointer<UInt>, _ kind: StackKind) -> Int {
        let h = Self.hash(frames, kind)
        var index = byHash[h]
        while let i = index {
            if entries[i].kind == kind && entries[i].frames.elementsEqual(frames) { return i }
            index = next[i] >= 0 ? next[i] : nil
        }
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
        next.append(byHash[h] ?? -1)
        byHash[h] = i
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
        let entry = table.pointee.entries[index]
        if entry.generation == generation && buffer != nil && cursor + need <= limit { return UInt64(entry.id) }
        // Room for every image's definition, whether or not this chunk has it: a refill starts a
        // chunk that has none.
        var images: [ImageTable.Image] = []
        var size = 1 + 5 + 2 + 3 + entry.text.count
        for id in entry.images {
            guard let image = ImageTable.shared.image(id) else { continue }
            images.append(image)
            size += 1 + 5 + 3 + min(image.path.utf8.count, StackInterner.maxPathBytes) + 1 + image.buildID.utf8.count + 10
            size += 1 + 5 + 10 + 10
        }
        if buffer == nil || cursor + (size + need) > limit {
            guard refill(now: now, need: size + need) else { return nil }
        }
        if entry.generation == generation { return UInt64(entry.id) }
        var p = cursor
        for image in images {
            let id = Int(image.id)
            if id >= table.pointee.imageGenerations.count {
                table.pointee.imageGenerations += [UInt32](repeating: 0, count: id + 1 - table.pointee.imageGenerations.count)
            }
            guard table.pointee.imageGenerations[id] != generation else { continue }
            table.pointee.imageGenerations[id] = generation
            p.putByte(EventType.imageDef.rawValue)
            p.putVarint(UInt64(id))
            let path = Array(image.path.utf8.prefix(StackInterner.maxPathBytes))
            p.putText(path)
            p.putText(Array(image.buildID.utf8))
            p.putVarint(image.loadBase)
            p.putByte(EventType.imageText.rawValue)
            p.putVarint(UInt64(id))
            p.putVarint(image.textStart)
            p.putVarint(image.textSize)
            eventCount += 2
        }
        p.putByte(EventType.stackDef.rawValue)
        p.putVarint(UInt64(entry.id))
        p.putVarint(UInt64(entry.kind.rawValue))
        p.putText(entry.text)
        eventCount += 1
        cursor = p
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
