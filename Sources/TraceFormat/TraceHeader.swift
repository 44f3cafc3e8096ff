/// The file header: what was traced, where, when, with which clock, and the event schema that
/// lets a reader skip event types newer than itself.
///
/// Layout (little-endian), documented byte by byte in the DocC article "FileFormat":
/// ```
///  0  8  magic "LTRC\r\n\u{1A}\n"
///  8  2  major version (1)
/// 10  2  minor version
/// 12  4  header length H in bytes, from offset 0 (bounded by `maxLength`)
/// 16  4  CRC-32 of bytes [8, 16) then [20, H) (before 1.2: of [20, H) only)
/// 20  1  clock kind (0 monotonic, 1 tsc)
/// 21  1  flags (1.2): bit 0 = the recording closed cleanly     22  2  zero
/// 24  8  base ticks          32  8  monotonic base ns     40  8  wall-clock base ns
/// 48  8  calibration window ns                            56  8  calibration window ticks
/// 64  …  variable part: pid, hostname, program, arguments, schema, (1.2) flush interval
/// ```
public struct TraceHeader: Sendable, Equatable {
    /// The 8 bytes every trace starts with. `\r\n` and `\u{1A}` catch text-mode mangling.
    public static let magic: [UInt8] = [0x4C, 0x54, 0x52, 0x43, 0x0D, 0x0A, 0x1A, 0x0A]
    /// The offset of the fixed-width calibration fields, which `close()` rewrites in place.
    static let fixedLength = 64
    /// The largest header a reader accepts.
    public static let maxLength = 1 << 20
    /// The longest text field a reader accepts in the header.
    public static let maxTextLength = 64 << 10
    /// The most program arguments a reader accepts.
    public static let maxArguments = 4096
    /// The most schema entries a reader accepts.
    public static let maxSchemaEntries = 256
    /// The most arguments one schema entry may declare.
    public static let maxSchemaArguments = 16
    /// The longest event type or argument name in the schema, in bytes.
    public static let maxNameLength = 255
    /// The first minor version whose header CRC covers the version and length, whose header has
    /// flags and a flush interval, and whose chunks carry sequence numbers and end with a
    /// closing chunk.
    public static let selfCheckingMinor: UInt16 = 2
    /// Header flag bit 0 (byte 21, 1.2): the recording closed cleanly and its file ends with a
    /// closing chunk.
    public static let closedFlag: UInt8 = 1
    /// Schema entry flag bit 0: records of the type carry a timestamp.
    public static let timedFlag: UInt8 = 1

    /// The layout of one event type as the writer of this file declared it.
    public struct SchemaEntry: Sendable, Equatable {
        public var type: EventType
        public var name: String
        public var timed: Bool
        public var sinceMinor: UInt16
        public var args: [(name: String, kind: WireKind)]

        public init(type: EventType, name: String, timed: Bool, sinceMinor: UInt16, args: [(name: String, kind: WireKind)]) {
            self.type = type
            self.name = name
            self.timed = timed
            self.sinceMinor = sinceMinor
            self.args = args
        }

        public static func == (a: SchemaEntry, b: SchemaEntry) -> Bool {
            a.type == b.type && a.name == b.name && a.timed == b.timed && a.sinceMinor == b.sinceMinor
                && a.args.map(\.name) == b.args.map(\.name) && a.args.map(\.kind) == b.args.map(\.kind)
        }
    }

    public var majorVersion: UInt16 = TraceSpec.majorVersion
    public var minorVersion: UInt16 = TraceSpec.minorVersion
    public var clock: ClockCalibration
    public var pid: UInt32
    public var hostname: String
    public var program: String
    public var arguments: [String]
    /// The event layouts in this file, indexed by wire id.
    public var schema: [SchemaEntry?]
    /// Whether the header says the recording closed cleanly (1.2; header flag bit 0). Written
    /// false at start and true by the recorder's close, after the closing chunk.
    public var closedCleanly = false
    /// The recorder's flush interval: the most time recorded events waited in memory, so the
    /// most a recording that ended abruptly may have lost (1.2; nil before).
    public var flushIntervalNanos: UInt64?

    /// The schema this code writes: straight from ``TraceSpec/events``.
    public static let currentSchema: [SchemaEntry?] = {
        var table = [SchemaEntry?](repeating: nil, count: 256)
        for spec in TraceSpec.events {
            table[Int(spec.type.rawValue)] = SchemaEntry(
                type: spec.type, name: spec.name, timed: spec.timed, sinceMinor: spec.sinceMinor,
                args: spec.args.map { ($0.name, $0.kind) })
        }
        return table
    }()

    public init(clock: ClockCalibration, pid: UInt32, hostname: String, program: String, arguments: [String],
                schema: [SchemaEntry?] = TraceHeader.currentSchema, flushIntervalNanos: UInt64? = nil) {
        self.flushIntervalNanos = flushIntervalNanos
        self.clock = clock
        self.pid = pid
        self.hostname = hostname
        self.program = program
        self.arguments = arguments
        self.schema = schema
    }

    /// The start time as wall-clock nanoseconds since the Unix epoch.
    public var startWallNanos: UInt64 { clock.wallBaseNanos }

    /// Encodes the header.
    public func encode() -> [UInt8] {
        var b = ByteBuilder()
        b.bytes.append(contentsOf: Self.magic)
        b.fixed(majorVersion)
        b.fixed(minorVersion)
        b.fixed(UInt32(0))  // length, patched below
        b.fixed(UInt32(0))  // CRC, patched below
        b.bytes.append(contentsOf: Self.encodeFixed(clock, flags: closedCleanly ? Self.closedFlag : 0))
        b.varint(UInt64(pid))
        b.text(String(hostname.utf8.prefix(255))!)
        b.text(String(program.utf8.prefix(4096)) ?? "")
        let args = arguments.prefix(256)
        b.varint(UInt64(args.count))
        for a in args { b.text(String(a.utf8.prefix(4096)) ?? "") }
        let entries = schema.compactMap { $0 }
        b.varint(UInt64(entries.count))
        for e in entries {
            b.byte(e.type.rawValue)
            b.byte(e.timed ? Self.timedFlag : 0)
            b.varint(UInt64(e.sinceMinor))
            b.text(e.name)
            b.varint(UInt64(e.args.count))
            for a in e.args {
                b.byte(a.kind.rawValue)
                b.text(a.name)
            }
        }
        if minorVersion >= Self.selfCheckingMinor { b.varint(flushIntervalNanos ?? 0) }
        var bytes = b.bytes
        Self.patchLengthAndCRC(&bytes)
        return bytes
    }

    /// The 44 bytes at offsets [20, 64): clock kind, header flags and calibration.
    static func encodeFixed(_ clock: ClockCalibration, flags: UInt8) -> [UInt8] {
        var b = ByteBuilder()
        b.byte(clock.kind.rawValue)
        b.bytes.append(contentsOf: [flags, 0, 0])
        b.fixed(clock.baseTicks)
        b.fixed(clock.monotonicBaseNanos)
        b.fixed(clock.wallBaseNanos)
        b.fixed(clock.windowNanos)
        b.fixed(clock.windowTicks)
        return b.bytes
    }

    static func patchLengthAndCRC(_ bytes: inout [UInt8]) {
        let length = UInt32(bytes.count)
        withUnsafeBytes(of: length.littleEndian) { for i in 0..<4 { bytes[12 + i] = $0[i] } }
        let minor = UInt16(bytes[10]) | UInt16(bytes[11]) << 8
        let crc = bytes.withUnsafeBytes { headerCRC($0, minor: minor) }
        withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { bytes[16 + i] = $0[i] } }
    }

    /// The header CRC of `bytes` (the whole header): from 1.2 on, CRC-32 over bytes [8, 16)
    /// (versions and length) continued over [20, H); before, over [20, H) only.
    static func headerCRC(_ bytes: UnsafeRawBufferPointer, minor: UInt16) -> UInt32 {
        let body = UnsafeRawBufferPointer(rebasing: bytes[20...])
        guard minor >= selfCheckingMinor else { return CRC32.checksum(body) }
        return CRC32.checksum(body, continuing: CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[8..<16])))
    }

    /// Decodes and validates a header from the start of `bytes`, which must hold at least the
    /// whole header. Returns the header and its length.
    public static func decode(_ bytes: UnsafeRawBufferPointer, path: String) throws(TraceFormatError) -> (TraceHeader, Int) {
        guard bytes.count >= 8 else {
            throw .notATrace(path: path, reason: bytes.isEmpty ? "the file is empty" : "the file is only \(bytes.count) bytes")
        }
        guard bytes.prefix(8).elementsEqual(magic) else { throw .notATrace(path: path, reason: "bad magic bytes") }
        guard bytes.count >= fixedLength else {
            throw .badHeader(offset: Int64(bytes.count), reason: "the file ends inside the \(fixedLength)-byte fixed header")
        }
        var c = ByteCursor(bytes, offset: 8)
        do {
            let major = try c.fixed(UInt16.self)
            let minor = try c.fixed(UInt16.self)
            guard major == TraceSpec.majorVersion else { throw TraceFormatError.unsupportedVersion(major: major, minor: minor) }
            let length = try c.fixed(UInt32.self)
            let storedCRC = try c.fixed(UInt32.self)
            guard length >= UInt32(fixedLength), length <= UInt32(maxLength) else {
                throw TraceFormatError.badHeader(offset: 12, reason: "declared header length \(length) is outside [\(fixedLength), \(maxLength)]")
            }
            guard Int(length) <= bytes.count else {
                throw TraceFormatError.badHeader(offset: 12, reason: "declared header length \(length) runs past the end of the file (\(bytes.count) bytes)")
            }
            let crc = headerCRC(UnsafeRawBufferPointer(rebasing: bytes[0..<Int(length)]), minor: minor)
            guard crc == storedCRC else {
                throw TraceFormatError.badHeader(offset: 16, reason: "CRC mismatch (stored \(hex(storedCRC)), computed \(hex(crc)))")
            }
            let body = UnsafeRawBufferPointer(rebasing: bytes[0..<Int(length)])
            var h = ByteCursor(body, offset: 20)
            let kindByte = try h.byte()
            guard let kind = ClockKind(rawValue: kindByte) else {
                throw TraceFormatError.badHeader(offset: 20, reason: "unknown clock kind \(kindByte)")
            }
            // Reserved bytes are checked in files of this reader's minor version or older; a newer
            // minor may give them a meaning.
            let ownMinor = minor <= TraceSpec.minorVersion
            let flags = try h.byte()
            let reservedFlags = minor >= selfCheckingMinor ? ~closedFlag : 0xFF
            let reserved = (try h.byte(), try h.byte())
            guard !ownMinor || (flags & reservedFlags == 0 && reserved == (0, 0)) else {
                throw TraceFormatError.badHeader(offset: 21, reason: "reserved bytes [21, 24) are not zero")
            }
            h.offset = 24
            let clock = ClockCalibration(
                kind: kind, baseTicks: try h.fixed(UInt64.self), monotonicBaseNanos: try h.fixed(UInt64.self),
                wallBaseNanos: try h.fixed(UInt64.self), windowNanos: try h.fixed(UInt64.self),
                windowTicks: try h.fixed(UInt64.self))
            guard clock.windowNanos > 0, clock.windowTicks > 0 else {
                throw TraceFormatError.badHeader(offset: 48, reason: "clock calibration window is zero")
            }
            let pid = try h.varint()
            let hostname = try h.text(limit: maxTextLength)
            let program = try h.text(limit: maxTextLength)
            let argc = try h.varint()
            guard argc <= UInt64(maxArguments) else { throw TraceFormatError.badHeader(offset: Int64(h.offset), reason: "\(argc) program arguments exceed limit \(maxArguments)") }
            var arguments: [String] = []
            for _ in 0..<argc { arguments.append(try h.text(limit: maxTextLength)) }
            let count = try h.varint()
            guard count <= UInt64(maxSchemaEntries) else { throw TraceFormatError.badHeader(offset: Int64(h.offset), reason: "\(count) schema entries exceed limit \(maxSchemaEntries)") }
            var schema = [SchemaEntry?](repeating: nil, count: 256)
            for _ in 0..<count {
                let at = Int64(h.offset)
                let type = EventType(try h.byte())
                let entryFlags = try h.byte()
                guard !ownMinor || entryFlags & ~timedFlag == 0 else {
                    throw TraceFormatError.badHeader(offset: at, reason: "event type \(type.rawValue) has reserved flag bits set (\(entryFlags))")
                }
                let timed = entryFlags & timedFlag != 0
                let since = try h.varint()
                let name = try h.text(limit: maxNameLength)
                let argc = try h.varint()
                guard argc <= UInt64(maxSchemaArguments) else { throw TraceFormatError.badHeader(offset: at, reason: "event type \(type.rawValue) declares \(argc) arguments, limit \(maxSchemaArguments)") }
                var args: [(String, WireKind)] = []
                for _ in 0..<argc {
                    let k = try h.byte()
                    guard let kind = WireKind(rawValue: k) else {
                        throw TraceFormatError.badHeader(offset: at, reason: "event type \(type.rawValue) uses unknown argument kind \(k)")
                    }
                    args.append((try h.text(limit: maxNameLength), kind))
                }
                guard type != EventType(0) else { throw TraceFormatError.badHeader(offset: at, reason: "event type 0 is reserved") }
                guard schema[Int(type.rawValue)] == nil else {
                    throw TraceFormatError.badHeader(offset: at, reason: "event type \(type.rawValue) is declared twice")
                }
                schema[Int(type.rawValue)] = SchemaEntry(type: type, name: name, timed: timed,
                                                         sinceMinor: UInt16(clamping: since), args: args)
            }
            // Known types must keep their v1 layout as a prefix: newer minors may only append. A
            // file from an older minor lacks the types added after it.
            for spec in TraceSpec.events {
                guard let entry = schema[Int(spec.type.rawValue)] else {
                    if spec.sinceMinor > minor { continue }
                    throw TraceFormatError.badHeader(offset: 64, reason: "schema lacks the v1 event type \(spec.name)")
                }
                guard entry.timed == spec.timed, entry.args.count >= spec.args.count,
                      zip(entry.args, spec.args).allSatisfy({ $0.kind == $1.kind }) else {
                    throw TraceFormatError.badHeader(offset: 64, reason: "schema changes the layout of \(spec.name)")
                }
            }
            var flush: UInt64?
            if minor >= selfCheckingMinor { flush = try h.varint() }
            var header = TraceHeader(clock: clock, pid: UInt32(clamping: pid), hostname: hostname, program: program,
                                     arguments: arguments, schema: schema, flushIntervalNanos: flush)
            header.majorVersion = major
            header.minorVersion = minor
            header.closedCleanly = minor >= selfCheckingMinor && flags & closedFlag != 0
            return (header, Int(length))
        } catch let error as TraceFormatError {
            throw error
        } catch let failure as DecodeFailure {
            throw .badHeader(offset: Int64(c.offset), reason: failure.reason)
        } catch {
            throw .badHeader(offset: 0, reason: "\(error)")
        }
    }
}

func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
