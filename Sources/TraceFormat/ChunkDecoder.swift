/// Decodes one chunk's uncompressed payload into events, validating every varint, string
/// reference and timestamp against the chunk header. Driven by the file's schema, so it skips
/// event types newer than this reader.
struct ChunkDecoder {
    /// The file's layouts by wire id, flattened for speed.
    private let layouts: [Layout?]
    private let clock: ClockCalibration

    struct Layout {
        var timed: Bool
        var kinds: [WireKind]
        var known: Bool
    }

    static let maxStringID: UInt64 = 1 << 24

    init(header: TraceHeader) {
        clock = header.clock
        layouts = header.schema.map { entry in
            entry.map { Layout(timed: $0.timed, kinds: $0.args.map(\.kind), known: TraceSpec.byType[Int($0.type.rawValue)] != nil) }
        }
    }

    func decode(_ payload: UnsafeRawBufferPointer, header: ChunkHeader, offset: Int64) throws(DecodeFailure) -> DecodedChunk {
        var events: [TraceEvent] = []
        events.reserveCapacity(Int(header.eventCount))
        var strings: [UInt64: String] = [:]
        var texts: [String] = []
        var skipped = 0
        var c = ByteCursor(payload)
        var tick = header.firstTick
        var lastTask: UInt64 = 0
        var lastHandle: UInt64 = 0
        var running = header.runningTask
        var count: UInt32 = 0
        while !c.atEnd {
            let at = c.offset
            let typeByte = try c.byte()
            if typeByte == EventType.stringDef.rawValue {
                let id = try c.varint()
                guard id != 0, id < Self.maxStringID else { throw DecodeFailure("payload byte \(at): string id \(id) is out of range") }
                strings[id] = try c.text(limit: 64 << 10)
                continue
            }
            guard let layout = layouts[Int(typeByte)] else {
                throw DecodeFailure("payload byte \(at): event type \(typeByte) is not in the file's schema")
            }
            if layout.timed {
                let delta = try c.varint()
                let (next, overflow) = tick.addingReportingOverflow(delta)
                guard !overflow, next <= header.lastTick else {
                    throw DecodeFailure("payload byte \(at): timestamp runs past the chunk's last tick")
                }
                tick = next
            }
            let timestamp = clock.nanos(sinceStart: tick)
            var args = SIMD4<UInt64>.zero
            for (i, kind) in layout.kinds.enumerated() {
                var value: UInt64
                switch kind {
                case .uvarint:
                    value = try c.varint()
                case .svarint:
                    value = UInt64(bitPattern: zigzagDecode(try c.varint()))
                case .task:
                    lastTask &+= UInt64(bitPattern: zigzagDecode(try c.varint()))
                    value = lastTask
                case .handle:
                    lastHandle &+= UInt64(bitPattern: zigzagDecode(try c.varint()))
                    value = lastHandle
                case .string:
                    value = try c.varint()
                    guard value == 0 || strings[value] != nil else {
                        throw DecodeFailure("payload byte \(at): string id \(value) is used before it is defined")
                    }
                case .time:
                    value = UInt64(bitPattern: timestamp &+ zigzagDecode(try c.varint()))
                case .text:
                    value = UInt64(texts.count)
                    texts.append(try c.text(limit: 64 << 10))
                }
                if i < TraceSpec.maxArgs { args[i] = value }
            }
            count += 1
            guard layout.known else {
                skipped += 1
                continue
            }
            let type = EventType(typeByte)
            if type == .stepBegin { running = args[0] }
            events.append(TraceEvent(type: type, stream: header.stream, timestamp: timestamp, task: running, args: args))
            if type == .stepEnd { running = 0 }
        }
        guard count == header.eventCount else {
            throw DecodeFailure("holds \(count) events but its header declares \(header.eventCount)")
        }
        guard tick == header.lastTick || count == 0 else {
            throw DecodeFailure("last event is at tick \(tick) but the header says \(header.lastTick)")
        }
        return DecodedChunk(header: header, offset: offset, events: events, strings: strings, texts: texts,
                            skippedUnknown: skipped)
    }
}
