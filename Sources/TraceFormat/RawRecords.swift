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
    ///
    /// The types a loop emits most (steps, wakeups, callbacks, polls) have their own straight-line
    /// cases; every other type goes by its spec row's argument kinds. `RawRecordsTests` checks
    /// both against the spec table.
    /// - Parameters:
    ///   - firstTick: the tick the buffer began at (its chunk's first tick).
    ///   - runningTask: the task in a step when the buffer began (the previous buffer's
    ///     ``Transcoded/runningTask``): the writer keeps the chunk header's running task, so that
    ///     the emitting thread need not.
    /// - Returns: nil if the records are malformed (a recorder bug).
    static func transcode(_ raw: UnsafeRawBufferPointer, firstTick: UInt64, notBefore: UInt64, runningTask: UInt64,
                          into out: UnsafeMutablePointer<UInt8>) -> Transcoded? {
        var t = Transcoder(firstTick: firstTick, lastTick: Swift.max(firstTick, notBefore), running: runningTask, out: out)
        let words = raw.bindMemory(to: UInt64.self)
        guard let base = words.baseAddress else {
            return Transcoded(length: 0, lastTick: t.lastTick, runningTask: runningTask)
        }
        let layout = Layout.shared
        let ok = layout.start.withUnsafeBufferPointer { start in
            layout.count.withUnsafeBufferPointer { count in
                layout.timed.withUnsafeBufferPointer { timed in
                    layout.kinds.withUnsafeBufferPointer { kinds in
                        t.run(base, end: base + words.count, start: start, count: count, timed: timed, kinds: kinds)
                    }
                }
            }
        }
        guard ok else { return nil }
        return Transcoded(length: t.p - out, lastTick: t.lastTick, eventCount: t.eventCount,
                          pairedRecords: t.pairedRecords, runningTask: t.running)
    }

    /// The state of one buffer's transcoding.
    struct Transcoder {
        let firstTick: UInt64
        var lastTick: UInt64
        var running: UInt64
        var p: UnsafeMutablePointer<UInt8>
        var lastTask: UInt64 = 0
        var lastHandle: UInt64 = 0
        var eventCount: UInt32 = 0
        var pairedRecords: UInt32 = 0

        init(firstTick: UInt64, lastTick: UInt64, running: UInt64, out: UnsafeMutablePointer<UInt8>) {
            self.firstTick = firstTick
            self.lastTick = lastTick
            self.running = running
            p = out
        }

        @inline(__always)
        mutating func varint(_ value: UInt64) {
            if _fastPath(value < 0x80) {
                p.pointee = UInt8(truncatingIfNeeded: value)
                p += 1
            } else if value < 0x4000 {  // most timestamp deltas
                p[0] = UInt8(truncatingIfNeeded: value) | 0x80
                p[1] = UInt8(truncatingIfNeeded: value >> 7)
                p += 2
            } else {
                p = Self.longVarint(p, value)
            }
        }

        /// A varint of three bytes or more; returns the position after it. (A value in and out, not
        /// an `inout` pointer, so that the transcoder's state stays in registers.)
        @inline(never)
        static func longVarint(_ at: UnsafeMutablePointer<UInt8>, _ value: UInt64) -> UnsafeMutablePointer<UInt8> {
            var p = at
            p.putVarint(value)
            return p
        }

        /// The type byte and the timestamp delta of a timed record.
        @inline(__always)
        mutating func head(_ type: UInt8, _ word: UInt64) {
            p.pointee = type
            p += 1
            // The low 56 bits' distance from the first tick, as a signed 56-bit number, then from
            // the last tick (never behind the first), clamped at 0: timestamps never go back.
            let distance = Int64(bitPattern: (((word >> 8) &- firstTick) & ((1 << 56) - 1)) &<< 8) >> 8
            let delta = Swift.max(0, distance &- Int64(bitPattern: lastTick &- firstTick))
            varint(UInt64(bitPattern: delta))
            lastTick &+= UInt64(bitPattern: delta)
        }

        @inline(__always)
        mutating func task(_ word: UInt64) {
            varint(zigzagEncode(Int64(bitPattern: word &- lastTask)))
            lastTask = word
        }

        @inline(__always)
        mutating func handle(_ word: UInt64) {
            varint(zigzagEncode(Int64(bitPattern: word &- lastHandle)))
            lastHandle = word
        }

        /// Transcodes the records in [base, end). False if they are malformed.
        mutating func run(_ base: UnsafePointer<UInt64>, end: UnsafePointer<UInt64>,
                          start: UnsafeBufferPointer<Int32>, count: UnsafeBufferPointer<UInt8>,
                          timed: UnsafeBufferPointer<Bool>, kinds: UnsafeBufferPointer<WireKind>) -> Bool {
            // A local copy the optimizer keeps in registers, written back once.
            var t = self
            defer { self = t }
            var r = base
            while r < end {
                let word = r.pointee
                let type = UInt8(truncatingIfNeeded: word)
                let room = end - r - 1
                // The hot types: straight-line, their sizes known (a jump table on the type).
                switch type {
                case 7:  // stepBegin: task
                    guard room >= 1 else { return false }
                    t.head(type, word)
                    t.task(r[1])
                    t.running = r[1]
                    r += 2
                case 8:  // stepEnd: outcome, site
                    guard room >= 2 else { return false }
                    t.head(type, word)
                    t.varint(r[1])
                    t.varint(r[2])
                    t.running = 0
                    r += 3
                case 58:  // stepYield: site
                    guard room >= 1 else { return false }
                    t.head(type, word)
                    t.varint(r[1])
                    t.running = 0
                    t.pairedRecords &+= 1
                    r += 2
                case 9:  // wakeup: task, waker, wakerID
                    guard room >= 3 else { return false }
                    t.head(type, word)
                    t.task(r[1])
                    t.varint(r[2])
                    t.varint(r[3])
                    r += 4
                case 10:  // callbackScheduled: handle, kind, due, site
                    guard room >= 4 else { return false }
                    t.head(type, word)
                    t.handle(r[1])
                    t.varint(r[2])
                    t.varint(zigzagEncode(Int64(bitPattern: r[3])))
                    t.varint(r[4])
                    r += 5
                case 11, 12:  // callbackBegin, callbackEnd: handle
                    guard room >= 1 else { return false }
                    t.head(type, word)
                    t.handle(r[1])
                    r += 2
                case 4:  // pollBegin: timeout (signed)
                    guard room >= 1 else { return false }
                    t.head(type, word)
                    t.varint(zigzagEncode(Int64(bitPattern: r[1])))
                    r += 2
                case 5:  // pollEnd: ready count
                    guard room >= 1 else { return false }
                    t.head(type, word)
                    t.varint(r[1])
                    r += 2
                case RawRecords.verbatim:
                    t.eventCount &+= UInt32((word >> 8) & 0xFFFF)
                    let bytes = Int(word >> 24)
                    let wordsUsed = (bytes + 7) >> 3
                    guard wordsUsed <= room else { return false }
                    t.p.update(from: UnsafeRawPointer(r + 1).assumingMemoryBound(to: UInt8.self), count: bytes)
                    t.p += bytes
                    r += 1 + wordsUsed
                    continue
                default:
                    guard let next = t.generic(r, end: end, type: type, start: start, count: count, timed: timed, kinds: kinds) else {
                        return false
                    }
                    r = next
                }
                t.eventCount &+= 1
            }
            return true
        }

        /// Any other type, by its spec row. Returns the next record, or nil if malformed.
        mutating func generic(_ record: UnsafePointer<UInt64>, end: UnsafePointer<UInt64>, type: UInt8,
                              start: UnsafeBufferPointer<Int32>, count: UnsafeBufferPointer<UInt8>,
                              timed: UnsafeBufferPointer<Bool>, kinds: UnsafeBufferPointer<WireKind>) -> UnsafePointer<UInt64>? {
            let first = Int(start[Int(type)])
            guard first >= 0 else { return nil }
            let argCount = Int(count[Int(type)])
            var r = record + 1
            guard argCount <= end - r else { return nil }
            if timed[Int(type)] {
                head(type, record.pointee)
            } else {
                p.pointee = type
                p += 1
            }
            for k in first..<(first + argCount) {
                let word = r.pointee
                r += 1
                switch kinds[k] {
                case .uvarint, .string:
                    varint(word)
                case .svarint, .time:
                    varint(zigzagEncode(Int64(bitPattern: word)))
                case .task:
                    task(word)
                case .handle:
                    handle(word)
                case .text:
                    let bytes = Int(truncatingIfNeeded: word)
                    guard bytes >= 0, (bytes + 7) >> 3 <= end - r else { return nil }
                    varint(word)
                    p.update(from: UnsafeRawPointer(r).assumingMemoryBound(to: UInt8.self), count: bytes)
                    p += bytes
                    r += (bytes + 7) >> 3
                }
            }
            // (Step records never come here: `run` takes them, and rejects a cut-off one.)
            return r
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
