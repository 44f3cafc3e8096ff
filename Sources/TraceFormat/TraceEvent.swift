/// One decoded event: its type, the stream (thread) that recorded it, its time, the task that
/// was running on that stream, and its arguments in spec order.
///
/// A fixed-size value with no references, so chunks decode into flat arrays. Argument values are
/// raw: signed ones are stored as bit patterns, `time` arguments are absolute nanoseconds since
/// the trace start (as `Int64` bit patterns), `string` arguments are string ids to resolve with
/// ``DecodedChunk/string(_:)``, and `text` arguments are indexes for ``DecodedChunk/text(_:)``.
public struct TraceEvent: Sendable, Equatable {
    /// Nanoseconds since the trace start.
    public var timestamp: Int64
    /// The stream's running task when the event happened (0 = none). For `stepBegin` it is the
    /// task starting; for `stepEnd`, the task whose step ends.
    public var task: UInt64
    /// The arguments in spec order; unused slots are 0.
    public var args: EventArgs
    /// The stream that recorded it.
    public var stream: UInt32
    /// The event type.
    public var type: EventType

    /// Creates an event.
    public init(type: EventType, stream: UInt32, timestamp: Int64, task: UInt64, args: EventArgs = .zero) {
        self.type = type
        self.stream = stream
        self.timestamp = timestamp
        self.task = task
        self.args = args
    }

    /// Argument `index` as a signed value.
    @inlinable public func signed(_ index: Int) -> Int64 { Int64(bitPattern: args[index]) }

    /// The step outcome of a `stepEnd`.
    @inlinable public var outcome: StepOutcome? {
        type == .stepEnd ? StepOutcome(rawValue: UInt8(truncatingIfNeeded: args[0])) : nil
    }

    /// The waker kind of a `wakeup`.
    @inlinable public var wakerKind: WakerKind? {
        type == .wakeup ? WakerKind(rawValue: UInt8(truncatingIfNeeded: args[1])) : nil
    }

    /// The callback kind of a `callbackScheduled`.
    @inlinable public var callbackKind: CallbackKind? {
        type == .callbackScheduled ? CallbackKind(rawValue: UInt8(truncatingIfNeeded: args[1])) : nil
    }
}

/// An event's arguments: four raw 64-bit slots (the most any v1 event has), indexed from 0.
/// Plain fields rather than a SIMD vector: its 16-byte alignment would pad every event to 64
/// bytes, and decoding writes and analysis reads hundreds of millions of them.
public struct EventArgs: Sendable, Equatable {
    public var a0: UInt64
    public var a1: UInt64
    public var a2: UInt64
    public var a3: UInt64

    /// All zero.
    public static let zero = EventArgs(0, 0, 0, 0)

    /// Creates arguments from up to four values.
    @inlinable public init(_ a0: UInt64 = 0, _ a1: UInt64 = 0, _ a2: UInt64 = 0, _ a3: UInt64 = 0) {
        self.a0 = a0
        self.a1 = a1
        self.a2 = a2
        self.a3 = a3
    }

    /// Argument `index` (0 to 3).
    @inlinable public subscript(index: Int) -> UInt64 {
        get {
            switch index {
            case 0: return a0
            case 1: return a1
            case 2: return a2
            default: return a3
            }
        }
        set {
            switch index {
            case 0: a0 = newValue
            case 1: a1 = newValue
            case 2: a2 = newValue
            default: a3 = newValue
            }
        }
    }
}

/// The events of one chunk with the strings they refer to.
public struct DecodedChunk: Sendable {
    /// The chunk's header.
    public let header: ChunkHeader
    /// The file offset of the chunk header.
    public let offset: Int64
    /// The events, in recorded order.
    public let events: [TraceEvent]
    /// The chunk's string definitions. String ids are stable for a stream across all its
    /// chunks, so `(stream, id)` is a key that outlives the chunk.
    public let strings: [UInt64: String]
    /// The chunk's inline texts (task names), indexed by `text` arguments.
    public let texts: [String]
    /// Events of types this reader does not know (from a newer minor version), skipped.
    public let skippedUnknown: Int

    /// The string with this id; "" for id 0 (none).
    public func string(_ id: UInt64) -> String { strings[id] ?? "" }

    /// The inline text at this index.
    public func text(_ index: UInt64) -> String { index < UInt64(texts.count) ? texts[Int(index)] : "" }
}
