/// The file header: what was traced, where, when, with which clock, and the event schema that
/// lets a reader skip event types newer than itself.
///
/// Layout (little-endian), documented byte by byte in the DocC article "FileFormat":
/// ```
///  0  8  magic "LTRC\r\n\u{1A}\n"
///  8  2  major version (1)
/// 10  2  minor version
/// 12  4  header length H in bytes, from offset 0 (bounded by `maxLength`)
/// 16  4  CRC-32 of bytes [20, H)
/// 20  1  clock kind (0 monotonic, 1 tsc)
/// 21  3  zero
/// 24  8  base ticks          32  8  monotonic base ns     40  8  wall-clock base ns
/// 48  8  calibration window ns                            56  8  calibration window ticks
/// 64  …  variable part: pid, hostname, program, arguments, schema (varints and texts)
/// ```
public struct TraceHeader: Sendable, Equatable {
    /// The 8 bytes every trace starts with. `\r\n` and `\u{1A}` catch text-mode mangling.
    public static let magic: [UInt8] = [0x4C, 0x54, 0x52, 0x43, 0x0D, 0x0A, 0x1A, 0x0A]
    /// The offset of the fixed-width calibration fields, which `close()` rewrites in place.
    static let fixedLength = 64
    /// The largest header a reader accepts.
    public static let maxLength = 1 << 20
    /// The longest text field a reader accepts in the header.
    static let maxTextLength = 64 << 10

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
                schema: [SchemaEntry?] = TraceHeader.currentSchema) {
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
        b.bytes.append(contentsOf: Self.encodeFixed(clock))
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
            b.byte(e.timed ? 1 : 0)
            b.varint(UInt64(e.sinceMinor))
            b.text(e.name)
            b.varint(UInt64(e.args.count))
            for a in e.args {
                b.byte(a.kind.rawValue)
                b.text(a.name)
            }
        }
        var bytes = b.bytes
        Self.patchLengthAndCRC(&bytes)
        return bytes
    }

    /// The 44 bytes at offsets [20, 64): clock kind and calibration.
    static func encodeFixed(_ clock: ClockCalibration) -> [UInt8] {
        var b = ByteBuilder()
        b.byte(clock.kind.rawValue)
        b.bytes.append(contentsOf: [0, 0, 0])
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
        let crc = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[20...])) }
        withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { bytes[16 + i] = $0[i] } }
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
            let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[20..<Int(length)]))
            guard crc == storedCRC else {
                throw TraceFormatError.badHeader(offset: 16, reason: "CRC mismatch (stored \(hex(storedCRC)), computed \(hex(crc)))")
            }
            let body = UnsafeRawBufferPointer(rebasing: bytes[0..<Int(length)])
            var h = ByteCursor(body, offset: 20)
            let kindByte = try h.byte()
            guard let kind = ClockKind(rawValue: kindByte) else {
                throw TraceFormatError.badHeader(offset: 20, reason: "unknown clock kind \(kindByte)")
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
            guard argc <= 4096 else { throw TraceFormatError.badHeader(offset: Int64(h.offset), reason: "\(argc) program arguments exceed limit 4096") }
            var arguments: [String] = []
            for _ in 0..<argc { arguments.append(try h.text(limit: maxTextLength)) }
            let count = try h.varint()
            guard count <= 256 else { throw TraceFormatError.badHeader(offset: Int64(h.offset), reason: "\(count) schema entries exceed limit 256") }
            var schema = [SchemaEntry?](repeating: nil, count: 256)
            for _ in 0..<count {
                let at = Int64(h.offset)
                let type = EventType(try h.byte())
                let timed = try h.byte() != 0
                let since = try h.varint()
                let name = try h.text(limit: 256)
                let argc = try h.varint()
                guard argc <= 16 else { throw TraceFormatError.badHeader(offset: at, reason: "event type \(type.rawValue) declares \(argc) arguments, limit 16") }
                var args: [(String, WireKind)] = []
                for _ in 0..<argc {
                    let k = try h.byte()
                    guard let kind = WireKind(rawValue: k) else {
                        throw TraceFormatError.badHeader(offset: at, reason: "event type \(type.rawValue) uses unknown argument kind \(k)")
                    }
                    args.append((try h.text(limit: 256), kind))
                }
                guard type != EventType(0) else { throw TraceFormatError.badHeader(offset: at, reason: "event type 0 is reserved") }
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
            var header = TraceHeader(clock: clock, pid: UInt32(clamping: pid), hostname: hostname, program: program,
                                     arguments: arguments, schema: schema)
            header.majorVersion = major
            header.minorVersion = minor
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
