/// Decodes one chunk's uncompressed payload into events, validating every varint, string
/// reference and timestamp against the chunk header. Driven by the file's schema, so it skips
/// event types newer than this reader.
///
/// The decode loop is the reader's hot path: the layouts are plain values in a fixed table (no
/// reference counting per event), varints are read through a raw pointer with an end check, and
/// string definitions are tracked in a bitset.
struct ChunkDecoder: Sendable {
    /// One event type's layout, packed: the argument kinds 4 bits each.
    struct Layout: Sendable {
        var present = false
        var timed = false
        var known = false
        var count: UInt8 = 0
        var kinds: UInt64 = 0

        @inline(__always) func kind(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: kinds >> (UInt64(i) * 4)) & 0xF }
    }

    private let layouts: [Layout]
    private let clock: ClockCalibration
    /// Whether this file lays out the hottest event types exactly as this reader's spec does, so
    /// that the decode loop can take their hand-written paths instead of the schema-driven one:
    /// steps and wakeups (`stepFastPaths`), and polls, callbacks and timers (`loopFastPaths`).
    private let stepFastPaths: Bool
    private let loopFastPaths: Bool
    /// How many events one record may stand for in this file: 2 when its schema has `stepYield`
    /// (format 1.3), else 1. Bounds the event array of a chunk (its header counts records).
    let eventsPerRecord: Int

    /// String ids are dense per stream; a million distinct sites is far more than any program has.
    static let maxStringID: UInt64 = 1 << 20
    /// The longest text argument (task names are at most 255 bytes; the limit leaves room).
    static let maxTextLength: UInt64 = 64 << 10
    /// The longest task name (`taskCreate`'s `name`), in bytes.
    static let maxTaskNameLength: UInt64 = 255

    /// - Parameter fastPaths: false decodes every record through the schema-driven path (tests
    ///   compare the two).
    init(header: TraceHeader, fastPaths: Bool = true) {
        clock = header.clock
        func asSpecified(_ types: [EventType]) -> Bool {
            fastPaths && types.allSatisfy { type in
                header.schema[Int(type.rawValue)] == TraceHeader.currentSchema[Int(type.rawValue)]
            }
        }
        stepFastPaths = asSpecified([.stepBegin, .stepEnd, .wakeup])
        loopFastPaths = asSpecified([.pollBegin, .pollEnd, .callbackScheduled, .callbackBegin, .callbackEnd, .timerFired])
        eventsPerRecord = header.schema[Int(EventType.stepYield.rawValue)] != nil ? 2 : 1
        layouts = header.schema.map { entry in
            guard let entry else { return Layout() }
            var layout = Layout(present: true, timed: entry.timed, known: TraceSpec.byType[Int(entry.type.rawValue)] != nil,
                                count: UInt8(entry.args.count))
            for (i, arg) in entry.args.enumerated() { layout.kinds |= UInt64(arg.kind.rawValue) << (UInt64(i) * 4) }
            return layout
        }
    }

    func decode(_ payload: UnsafeRawBufferPointer, header: ChunkHeader, offset: Int64) throws(DecodeFailure) -> DecodedChunk {
        var strings: [UInt64: String] = [:]
        var texts: [String] = []
        var skipped = 0
        var failure: DecodeFailure?
        // Events are written straight into the array's storage (`append` costs a uniqueness and a
        // capacity check per event). The header's count, checked against U ÷ 2, bounds it.
        let events = [TraceEvent](unsafeUninitializedCapacity: Int(header.eventCount) * eventsPerRecord) { out, n in
            do throws(DecodeFailure) {
                n = try decodeRecords(payload, header: header, into: out, strings: &strings, texts: &texts, skipped: &skipped)
            } catch {
                failure = error
                n = 0
            }
        }
        if let failure { throw failure }
        return DecodedChunk(header: header, offset: offset, events: events, strings: strings, texts: texts,
                            skippedUnknown: skipped)
    }

    private func decodeRecords(_ payload: UnsafeRawBufferPointer, header: ChunkHeader,
                               into out: UnsafeMutableBufferPointer<TraceEvent>, strings: inout [UInt64: String],
                               texts: inout [String], skipped: inout Int) throws(DecodeFailure) -> Int {
        var n = 0
        let capacity = out.count
        let slots = out.baseAddress
        var defined = [UInt64](repeating: 0, count: 16)  // bitset of defined string ids
        guard let base = payload.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            guard header.eventCount == 0 else { throw DecodeFailure("holds 0 events but its header declares \(header.eventCount)") }
            return 0
        }
        let end = base + payload.count
        var tick = header.firstTick
        var lastTask: UInt64 = 0
        var lastHandle: UInt64 = 0
        var running = header.runningTask
        var count: UInt32 = 0
        let stream = header.stream
        let lastTick = header.lastTick
        let converter = TickConverter(clock)
        @inline(__always) func nanos(_ tick: UInt64) -> Int64 { converter.nanos(tick) }

        @inline(__always)
        func varint(_ p: inout UnsafePointer<UInt8>) throws(DecodeFailure) -> UInt64 {
            guard p < end else { throw DecodeFailure("payload byte \(p - base): varint runs past the end") }
            let b0 = p.pointee
            p += 1
            if b0 < 0x80 { return UInt64(b0) }
            var result = UInt64(b0 & 0x7F)
            var shift: UInt64 = 7
            while true {
                guard p < end else { throw DecodeFailure("payload byte \(p - base): varint runs past the end") }
                let b = p.pointee
                p += 1
                if shift == 63 && b > 1 { throw DecodeFailure("payload byte \(p - base - 1): varint overflows 64 bits") }
                result |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return result }
                shift += 7
                if shift > 63 { throw DecodeFailure("payload byte \(p - base): varint longer than 10 bytes") }
            }
        }

        func text(_ p: inout UnsafePointer<UInt8>, limit: UInt64 = Self.maxTextLength) throws(DecodeFailure) -> String {
            let at = p - base
            let length = try varint(&p)
            guard length <= limit else { throw DecodeFailure("payload byte \(at): text length \(length) exceeds limit \(limit)") }
            guard length <= UInt64(end - p) else { throw DecodeFailure("payload byte \(at): text of \(length) bytes runs past the end") }
            let s = String(decoding: UnsafeBufferPointer(start: p, count: Int(length)), as: UTF8.self)
            p += Int(length)
            return s
        }

        func skipText(_ p: inout UnsafePointer<UInt8>) throws(DecodeFailure) {
            let at = p - base
            let length = try varint(&p)
            guard length <= Self.maxTextLength else { throw DecodeFailure("payload byte \(at): text length \(length) exceeds limit \(Self.maxTextLength)") }
            guard length <= UInt64(end - p) else { throw DecodeFailure("payload byte \(at): text of \(length) bytes runs past the end") }
            p += Int(length)
        }

        /// A timed record's timestamp delta: moves the running tick, which must neither overflow nor
        /// pass the chunk's last tick.
        @inline(__always)
        func advanceTick(_ p: inout UnsafePointer<UInt8>, at: Int) throws(DecodeFailure) {
            let (next, overflow) = tick.addingReportingOverflow(try varint(&p))
            guard !overflow, next <= lastTick else {
                throw DecodeFailure("payload byte \(at): timestamp runs past the chunk's last tick")
            }
            tick = next
        }

        /// A `string` argument: 0, or an id defined earlier in the chunk.
        @inline(__always)
        func stringID(_ p: inout UnsafePointer<UInt8>, at: Int) throws(DecodeFailure) -> UInt64 {
            let value = try varint(&p)
            if value != 0 {
                let word = Int(truncatingIfNeeded: value >> 6)
                guard value < Self.maxStringID, word < defined.count, defined[word] & (1 << (value & 63)) != 0 else {
                    throw DecodeFailure("payload byte \(at): string id \(value) is used before it is defined")
                }
            }
            return value
        }

        /// A `time` argument: the event's time plus a zigzag delta, clamped like timestamps, so
        /// that any two decoded times subtract safely.
        @inline(__always)
        func time(_ p: inout UnsafePointer<UInt8>, after timestamp: Int64) throws(DecodeFailure) -> UInt64 {
            let (sum, overflow) = timestamp.addingReportingOverflow(zigzagDecode(try varint(&p)))
            let limit = TickConverter.limitNanos
            return UInt64(bitPattern: overflow ? (timestamp < 0 ? -limit : limit) : min(max(sum, -limit), limit))
        }

        @inline(__always)
        func put(_ e: TraceEvent) throws(DecodeFailure) {
            guard n < capacity, let slots else {
                throw DecodeFailure("holds more events than its header declares (\(header.eventCount))")
            }
            (slots + n).initialize(to: e)
            n += 1
        }

        var q = UnsafePointer(base)
        while q < end {
            let at = q - base
            let typeByte = q.pointee
            q += 1
            if typeByte == EventType.stringDef.rawValue {
                let id = try varint(&q)
                guard id != 0, id < Self.maxStringID else { throw DecodeFailure("payload byte \(at): string id \(id) is out of range") }
                let word = Int(id >> 6)
                if word >= defined.count { defined += [UInt64](repeating: 0, count: word + 1 - defined.count) }
                defined[word] |= 1 << (id & 63)
                strings[id] = try text(&q)
                continue
            }
            if loopFastPaths && (typeByte >= EventType.pollBegin.rawValue && typeByte <= EventType.pollEnd.rawValue
                                 || typeByte >= EventType.callbackScheduled.rawValue && typeByte <= EventType.timerFired.rawValue) {
                // pollBegin(timeoutNanos), pollEnd(readyCount), callbackScheduled(handle, kind,
                // due, site), callbackBegin(handle), callbackEnd(handle), timerFired(handle, due):
                // the loop's own records, most of the rest of a loop trace.
                try advanceTick(&q, at: at)
                let timestamp = nanos(tick)
                count += 1
                let args: EventArgs
                switch typeByte {
                case EventType.pollBegin.rawValue:
                    args = EventArgs(UInt64(bitPattern: zigzagDecode(try varint(&q))))
                case EventType.pollEnd.rawValue:
                    args = EventArgs(try varint(&q))
                case EventType.callbackScheduled.rawValue:
                    lastHandle &+= UInt64(bitPattern: zigzagDecode(try varint(&q)))
                    let kind = try varint(&q)
                    let due = try time(&q, after: timestamp)
                    args = EventArgs(lastHandle, kind, due, try stringID(&q, at: at))
                case EventType.timerFired.rawValue:
                    lastHandle &+= UInt64(bitPattern: zigzagDecode(try varint(&q)))
                    args = EventArgs(lastHandle, try time(&q, after: timestamp))
                default:  // callbackBegin, callbackEnd
                    lastHandle &+= UInt64(bitPattern: zigzagDecode(try varint(&q)))
                    args = EventArgs(lastHandle)
                }
                try put(TraceEvent(type: EventType(typeByte), stream: stream, timestamp: timestamp, task: running, args: args))
                continue
            }
            if stepFastPaths && typeByte >= EventType.stepBegin.rawValue && typeByte <= EventType.wakeup.rawValue {
                // stepBegin(task), stepEnd(outcome, site), wakeup(task, waker, wakerID): most of
                // every loop trace.
                try advanceTick(&q, at: at)
                let timestamp = nanos(tick)
                count += 1
                if typeByte == EventType.stepBegin.rawValue {
                    lastTask &+= UInt64(bitPattern: zigzagDecode(try varint(&q)))
                    running = lastTask
                    try put(TraceEvent(type: .stepBegin, stream: stream, timestamp: timestamp, task: running,
                                             args: EventArgs(lastTask)))
                } else if typeByte == EventType.stepEnd.rawValue {
                    let outcome = try varint(&q)
                    let site = try stringID(&q, at: at)
                    try put(TraceEvent(type: .stepEnd, stream: stream, timestamp: timestamp, task: running,
                                             args: EventArgs(outcome, site)))
                    running = 0
                } else {
                    lastTask &+= UInt64(bitPattern: zigzagDecode(try varint(&q)))
                    let waker = try varint(&q)
                    let wakerID = try varint(&q)
                    try put(TraceEvent(type: .wakeup, stream: stream, timestamp: timestamp, task: running,
                                             args: EventArgs(lastTask, waker, wakerID)))
                }
                continue
            }
            let layout = layouts[Int(typeByte)]
            guard layout.present else {
                throw DecodeFailure("payload byte \(at): event type \(typeByte) is not in the file's schema")
            }
            if layout.timed { try advanceTick(&q, at: at) }
            let timestamp = nanos(tick)
            var a0: UInt64 = 0, a1: UInt64 = 0, a2: UInt64 = 0, a3: UInt64 = 0
            for i in 0..<Int(layout.count) {
                var value: UInt64
                switch layout.kind(i) {
                case WireKind.uvarint.rawValue:
                    value = try varint(&q)
                case WireKind.svarint.rawValue:
                    value = UInt64(bitPattern: zigzagDecode(try varint(&q)))
                case WireKind.task.rawValue:
                    lastTask &+= UInt64(bitPattern: zigzagDecode(try varint(&q)))
                    value = lastTask
                case WireKind.handle.rawValue:
                    lastHandle &+= UInt64(bitPattern: zigzagDecode(try varint(&q)))
                    value = lastHandle
                case WireKind.string.rawValue:
                    value = try stringID(&q, at: at)
                case WireKind.time.rawValue:
                    value = try time(&q, after: timestamp)
                default:  // text
                    if layout.known && i < TraceSpec.maxArgs {
                        value = UInt64(texts.count)
                        let isTaskName = typeByte == EventType.taskCreate.rawValue && i == 2
                        texts.append(try text(&q, limit: isTaskName ? Self.maxTaskNameLength : Self.maxTextLength))
                    } else {
                        // Never delivered: checked and skipped without a copy, so that texts
                        // nobody reads cannot take memory.
                        try skipText(&q)
                        value = 0
                    }
                }
                switch i {
                case 0: a0 = value
                case 1: a1 = value
                case 2: a2 = value
                case 3: a3 = value
                default: break  // arguments appended by a newer minor version
                }
            }
            count += 1
            guard layout.known else {
                skipped += 1
                continue
            }
            if typeByte == EventType.stepYield.rawValue {
                // One record, two events (1.3): the step ends yielded, and the task that ran it
                // is ready again, woken by itself. The wakeup's task joins no delta chain.
                let task = running
                try put(TraceEvent(type: .stepEnd, stream: stream, timestamp: timestamp, task: task,
                                   args: EventArgs(UInt64(StepOutcome.yielded.rawValue), a0)))
                running = 0
                try put(TraceEvent(type: .wakeup, stream: stream, timestamp: timestamp, task: 0,
                                   args: EventArgs(task, UInt64(WakerKind.task.rawValue), task)))
                continue
            }
            if typeByte == EventType.stepBegin.rawValue { running = a0 }
            try put(TraceEvent(type: EventType(typeByte), stream: stream, timestamp: timestamp, task: running,
                                     args: EventArgs(a0, a1, a2, a3)))
            if typeByte == EventType.stepEnd.rawValue { running = 0 }
        }
        guard count == header.eventCount else {
            throw DecodeFailure("holds \(count) events but its header declares \(header.eventCount)")
        }
        guard tick == lastTick || count == 0 else {
            throw DecodeFailure("last event is at tick \(tick) but the header says \(lastTick)")
        }
        return n
    }
}
