/// The recorder's first stage: raw fixed-width records, as the emitting thread stores them.
///
/// An emit on the loop thread is a handful of 8-byte stores, with no varint, no delta and no
/// branch on the values: the encoding work moves to the writer thread, which transcodes a full
/// buffer into the wire format of `FileFormat.md` (timestamp deltas, task and handle delta
/// chains, zigzag varints) and compresses it. The file format does not change.
///
/// A buffer holds 8-byte-aligned records:
/// - **Head word**: the event type in bits 0–7 and the tick in bits 8–63 (the tick's low 56 bits;
///   the writer restores the rest from the chunk's first tick, which every event of the buffer
///   is within one flush interval of).
/// - **One word per argument**, in the spec table's order, as the plain value: an id, a count, a
///   signed quantity as its bit pattern. A text argument is a word with its byte length followed
///   by the bytes, padded to a whole word.
/// - **Verbatim records** (type 0, never a wire type): bits 8–23 hold how many events they count
///   for in the chunk header, bits 24–63 a byte count, and that many bytes of ready wire records
///   follow, padded to a whole word. Interned definitions (`stringDef`, `imageDef`, `imageText`,
///   `stackDef`) are written this way by the cold paths that make them; they carry no timestamp
///   and no id delta.
///
/// The emitting thread keeps no count: the writer counts the events as it transcodes.
public enum RawRecords {
    /// The type byte of a verbatim record.
    @usableFromInline static let verbatim: UInt8 = 0

    static func verbatimHead(byteCount: Int, events: UInt16) -> UInt64 {
        UInt64(byteCount) &<< 24 | UInt64(events) &<< 8
    }

    /// The per-type layout the writer transcodes by: made once from the spec table.
    struct Layout {
        /// Per type: the first index of its kinds in `kinds`, or -1 for a type this recorder
        /// never writes.
        var start = [Int32](repeating: -1, count: 256)
        var count = [UInt8](repeating: 0, count: 256)
        var timed = [Bool](repeating: false, count: 256)
        var kinds: [WireKind] = []

        init() {
            for spec in TraceSpec.events {
                let type = Int(spec.type.rawValue)
                start[type] = Int32(kinds.count)
                count[type] = UInt8(spec.args.count)
                timed[type] = spec.timed
                kinds += spec.args.map(\.kind)
            }
        }

        static let shared = Layout()
    }

    /// What one transcoded buffer holds.
    struct Transcoded {
        /// Wire bytes written.
        var length: Int
        /// The last (clamped) tick of the chunk.
        var lastTick: UInt64
        /// Events, as the chunk header counts them: records, `stepYield`s counting once.
        var eventCount: UInt32 = 0
        /// `stepYield` records, which readers deliver as two events each.
        var pairedRecords: UInt32 = 0
        /// The task in a step at the end of the buffer (0: none), the next chunk's running task.
        var runningTask: UInt64 = 0
    }

    /// The events a buffer of raw records holds, `stepYield`s counting twice (for the drop
    /// count of a buffer that will not be written).
    static func eventCount(_ raw: UnsafeRawBufferPointer) -> UInt64 {
        let words = raw.bindMemory(to: UInt64.self)
        guard let base = words.baseAddress else { return 0 }
        let layout = Layout.shared
        var i = 0
        var events: UInt64 = 0
        while i < words.count {
            let head = base[i]
            i += 1
            let type = UInt8(truncatingIfNeeded: head)
            if type == verbatim {
                events += (head >> 8) & 0xFFFF
                i += Int((head >> 24) + 7) >> 3
                continue
            }
            let start = Int(layout.start[Int(type)])
            guard start >= 0 else { break }
            events += type == EventType.stepYield.rawValue ? 2 : 1
            for k in start..<(start + Int(layout.count[Int(type)])) where i < words.count {
                let word = base[i]
                i += 1
                if layout.kinds[k] == .text { i += Int(truncatingIfNeeded: (word &+ 7) >> 3) }
            }
        }
        return events
    }

    /// The most wire bytes `rawBytes` of raw records can become: a word becomes at most a
    /// 10-byte varint, and a head word a type byte and one.
    static func wireBound(rawBytes: Int) -> Int { rawBytes / 8 * 11 + 16 }

    /// Transcodes one buffer's raw records into wire records at `out` (room for
    /// ``wireBound(rawBytes:)`` bytes). Timestamps are clamped so that they never go back: not
    /// before `notBefore` (the stream's previous chunk), nor before the previous event.
    /// - Parameters:
    ///   - firstTick: the tick the buffer began at (its chunk's first tick).
    ///   - runningTask: the task in a step when the buffer began (the previous buffer's
    ///     ``Transcoded/runningTask``): the writer keeps the chunk header's running task, so that
    ///     the emitting thread need not.
    /// - Returns: nil if the records are malformed (a recorder bug).
    static func transcode(_ raw: UnsafeRawBufferPointer, firstTick: UInt64, notBefore: UInt64, runningTask: UInt64,
                          into out: UnsafeMutablePointer<UInt8>) -> Transcoded? {
        let layout = Layout.shared
        let words = raw.bindMemory(to: UInt64.self)
        guard let base = words.baseAddress else {
            return Transcoded(length: 0, lastTick: Swift.max(firstTick, notBefore), runningTask: runningTask)
        }
        let end = words.count
        var i = 0
        var p = out
        var lastTick = Swift.max(firstTick, notBefore)
        var lastTask: UInt64 = 0
        var lastHandle: UInt64 = 0
        var eventCount: UInt32 = 0
        var pairedRecords: UInt32 = 0
        var running = runningTask
        let stepBegin = EventType.stepBegin.rawValue
        let stepEnd = EventType.stepEnd.rawValue
        let stepYield = EventType.stepYield.rawValue
        let low56: UInt64 = (1 << 56) - 1
        return layout.kinds.withUnsafeBufferPointer { kinds -> Transcoded? in
            while i < end {
                let head = base[i]
                i += 1
                let type = UInt8(truncatingIfNeeded: head)
                if type == verbatim {
                    eventCount &+= UInt32((head >> 8) & 0xFFFF)
                    let count = Int(head >> 24)
                    let wordsUsed = (count + 7) >> 3
                    guard wordsUsed <= end - i else { return nil }
                    p.update(from: UnsafeRawPointer(base + i).assumingMemoryBound(to: UInt8.self), count: count)
                    p += count
                    i += wordsUsed
                    continue
                }
                let start = Int(layout.start[Int(type)])
                guard start >= 0 else { return nil }
                eventCount &+= 1
                if type == stepYield {
                    pairedRecords &+= 1
                    running = 0
                } else if type == stepEnd {
                    running = 0
                } else if type == stepBegin, i < end {
                    running = base[i]
                }
                p.putByte(type)
                if layout.timed[Int(type)] {
                    // The low 56 bits' distance from the first tick, as a signed 56-bit number.
                    let distance = Int64(bitPattern: (((head >> 8) &- firstTick) & low56) &<< 8) >> 8
                    var tick = firstTick &+ UInt64(bitPattern: distance)
                    if distance < 0 && tick > firstTick { tick = 0 }  // before the epoch: clamped below
                    if tick < lastTick { tick = lastTick }
                    p.putVarint(tick &- lastTick)
                    lastTick = tick
                }
                let argCount = Int(layout.count[Int(type)])
                guard argCount <= end - i else { return nil }
                for k in start..<(start + argCount) {
                    let word = base[i]
                    i += 1
                    switch kinds[k] {
                    case .uvarint, .string:
                        p.putVarint(word)
                    case .svarint, .time:
                        p.putVarint(zigzagEncode(Int64(bitPattern: word)))
                    case .task:
                        p.putVarint(zigzagEncode(Int64(bitPattern: word &- lastTask)))
                        lastTask = word
                    case .handle:
                        p.putVarint(zigzagEncode(Int64(bitPattern: word &- lastHandle)))
                        lastHandle = word
                    case .text:
                        let count = Int(truncatingIfNeeded: word)
                        let wordsUsed = (count + 7) >> 3
                        guard count >= 0, wordsUsed <= end - i else { return nil }
                        p.putVarint(word)
                        p.update(from: UnsafeRawPointer(base + i).assumingMemoryBound(to: UInt8.self), count: count)
                        p += count
                        i += wordsUsed
                    }
                }
            }
            return Transcoded(length: p - out, lastTick: lastTick, eventCount: eventCount, pairedRecords: pairedRecords,
                              runningTask: running)
        }
    }
}

extension UnsafeMutablePointer where Pointee == UInt64 {
    /// Stores a raw record's head word (type and tick) and advances past it.
    @inlinable @inline(__always)
    mutating func putHead(_ type: EventType, _ tick: UInt64) {
        pointee = tick &<< 8 | UInt64(type.rawValue)
        self += 1
    }

    /// Stores one argument word and advances past it.
    @inlinable @inline(__always)
    mutating func putWord(_ value: UInt64) {
        pointee = value
        self += 1
    }

    /// Stores a signed argument as its bit pattern.
    @inlinable @inline(__always)
    mutating func putWord(_ value: Int64) {
        pointee = UInt64(bitPattern: value)
        self += 1
    }

    /// Stores a text argument: its byte length, then the bytes padded to a whole word.
    @inlinable @inline(__always)
    mutating func putText(_ bytes: UnsafePointer<UInt8>?, count: Int) {
        pointee = UInt64(count)
        self += 1
        if let bytes, count > 0 { UnsafeMutableRawPointer(self).copyMemory(from: bytes, byteCount: count) }
        self += (count + 7) >> 3
    }
}
