/// LEB128 varints and zigzag coding: the only integer encodings inside a chunk payload.

/// Maps signed integers to unsigned so that small magnitudes get short varints.
@inlinable @inline(__always)
public func zigzagEncode(_ value: Int64) -> UInt64 {
    UInt64(bitPattern: (value &<< 1) ^ (value >> 63))
}

/// The inverse of ``zigzagEncode(_:)``.
@inlinable @inline(__always)
public func zigzagDecode(_ value: UInt64) -> Int64 {
    Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
}

extension UnsafeMutablePointer where Pointee == UInt8 {
    /// Stores `value` as an unsigned LEB128 varint and advances past it (at most 10 bytes).
    @inlinable @inline(__always)
    mutating func putVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            pointee = UInt8(truncatingIfNeeded: v) | 0x80
            self += 1
            v &>>= 7
        }
        pointee = UInt8(truncatingIfNeeded: v)
        self += 1
    }

    /// Stores one byte and advances past it.
    @inlinable @inline(__always)
    mutating func putByte(_ value: UInt8) {
        pointee = value
        self += 1
    }
}

/// Appends varints, fixed-width little-endian integers and text to a growable byte array.
/// Used off the hot path: headers, chunk headers, tests and tools.
public struct ByteBuilder: Sendable {
    /// The bytes written so far.
    public var bytes: [UInt8] = []

    /// Creates an empty builder.
    public init() {}

    /// Appends an unsigned LEB128 varint.
    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Appends a zigzag signed varint.
    public mutating func svarint(_ value: Int64) { varint(zigzagEncode(value)) }

    /// Appends one byte.
    public mutating func byte(_ value: UInt8) { bytes.append(value) }

    /// Appends a fixed-width little-endian integer.
    public mutating func fixed<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends a varint byte length and the UTF-8 bytes of `text`.
    public mutating func text(_ text: String) {
        varint(UInt64(text.utf8.count))
        bytes.append(contentsOf: text.utf8)
    }
}

/// Reads varints, fixed-width integers and text from a byte range with bounds checks on every
/// step. Every failure names what was being read; offsets are relative to the start of the range.
public struct ByteCursor {
    @usableFromInline let base: UnsafeRawBufferPointer
    /// The offset of the next byte to read.
    public var offset: Int

    /// Creates a cursor over `base` starting at `offset`.
    public init(_ base: UnsafeRawBufferPointer, offset: Int = 0) {
        self.base = base
        self.offset = offset
    }

    /// Whether every byte has been read.
    @inlinable public var atEnd: Bool { offset >= base.count }

    /// How many bytes are left.
    @inlinable public var remaining: Int { base.count - offset }

    /// Reads an unsigned LEB128 varint of at most 10 bytes.
    @inlinable
    public mutating func varint() throws(DecodeFailure) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < base.count else { throw DecodeFailure("varint runs past the end") }
            let byte = base[offset]
            offset += 1
            if shift == 63 && byte > 1 { throw DecodeFailure("varint overflows 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
            if shift > 63 { throw DecodeFailure("varint longer than 10 bytes") }
        }
    }

    /// Reads one byte.
    @inlinable
    public mutating func byte() throws(DecodeFailure) -> UInt8 {
        guard offset < base.count else { throw DecodeFailure("byte runs past the end") }
        defer { offset += 1 }
        return base[offset]
    }

    /// Reads a fixed-width little-endian integer.
    public mutating func fixed<T: FixedWidthInteger>(_: T.Type) throws(DecodeFailure) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw DecodeFailure("\(size)-byte integer runs past the end") }
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: base[offset..<offset + size])) }
        offset += size
        return T(littleEndian: value)
    }

    /// Reads a varint length (bounded by `limit` and by the bytes left) and that many UTF-8
    /// bytes. Invalid UTF-8 is repaired with U+FFFD rather than rejected.
    public mutating func text(limit: Int) throws(DecodeFailure) -> String {
        let length = try varint()
        guard length <= UInt64(limit) else { throw DecodeFailure("text length \(length) exceeds limit \(limit)") }
        guard length <= UInt64(remaining) else { throw DecodeFailure("text of \(length) bytes runs past the end") }
        let start = offset
        offset += Int(length)
        return String(decoding: UnsafeRawBufferPointer(rebasing: base[start..<offset]), as: UTF8.self)
    }
}

/// Why a byte range did not decode; the caller adds the offset.
public struct DecodeFailure: Error, CustomStringConvertible {
    /// The reason, as a sentence fragment.
    public let reason: String
    @inlinable public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
