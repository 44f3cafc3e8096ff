/// The fixed 64-byte header in front of every chunk. A chunk is one emitting thread's buffer,
/// compressed on its own: it decodes without any other chunk.
///
/// ```
///  0  4  magic "LTCK"
///  4  4  CRC-32 of header bytes [8, 64)
///  8  4  stream id (from 1; 0 = the closing chunk, 1.2)   12  4  kernel thread id of the stream
/// 16  1  codec (0 stored, 1 zlib)   17  1  flags (0)   18  2  zero
/// 20  4  compressed length    24  4  uncompressed length
/// 28  4  event count          32  4  CRC-32 of the compressed bytes
/// 36  4  the chunk's sequence number within its stream, from 0 (1.2; zero before)
/// 40  8  first tick           48  8  last tick
/// 56  8  the stream's running task when the chunk starts (0 = none)
/// ```
public struct ChunkHeader: Sendable, Equatable {
    /// "LTCK" read as a little-endian UInt32.
    public static let magic: UInt32 = 0x4B43_544C
    /// The header's size in bytes.
    public static let size = 64
    /// The largest uncompressed or compressed payload a reader accepts: 4 MiB, the size of the
    /// recorder's largest buffer.
    public static let maxPayload = 4 << 20

    /// How a payload is stored.
    public enum Codec: UInt8, Sendable, CustomStringConvertible {
        /// Uncompressed (used when compression would not shrink the buffer).
        case stored = 0
        /// The zlib format (RFC 1950): zlib or libdeflate write it.
        case zlib = 1

        public var description: String { self == .zlib ? "zlib" : "stored" }
    }

    public var stream: UInt32
    public var threadID: UInt32
    public var codec: Codec
    public var compressedLength: UInt32
    public var uncompressedLength: UInt32
    public var eventCount: UInt32
    public var payloadCRC: UInt32
    public var firstTick: UInt64
    public var lastTick: UInt64
    public var runningTask: UInt64
    /// The chunk's number within its stream: 0, 1, 2, … in file order (1.2; 0 before). A gap
    /// is a missing chunk.
    public var sequence: UInt32

    /// The stream id of the closing chunk that ends a cleanly closed 1.2 recording.
    public static let closingStream: UInt32 = 0

    public init(stream: UInt32, threadID: UInt32, codec: Codec, compressedLength: UInt32, uncompressedLength: UInt32,
                eventCount: UInt32, payloadCRC: UInt32, firstTick: UInt64, lastTick: UInt64, runningTask: UInt64,
                sequence: UInt32 = 0) {
        self.sequence = sequence
        self.stream = stream
        self.threadID = threadID
        self.codec = codec
        self.compressedLength = compressedLength
        self.uncompressedLength = uncompressedLength
        self.eventCount = eventCount
        self.payloadCRC = payloadCRC
        self.firstTick = firstTick
        self.lastTick = lastTick
        self.runningTask = runningTask
    }

    /// Writes the 64 header bytes at `p`.
    public func encode(into p: UnsafeMutableRawPointer) {
        p.initializeMemory(as: UInt8.self, repeating: 0, count: Self.size)
        p.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: stream.littleEndian, toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: threadID.littleEndian, toByteOffset: 12, as: UInt32.self)
        p.storeBytes(of: codec.rawValue, toByteOffset: 16, as: UInt8.self)
        p.storeBytes(of: compressedLength.littleEndian, toByteOffset: 20, as: UInt32.self)
        p.storeBytes(of: uncompressedLength.littleEndian, toByteOffset: 24, as: UInt32.self)
        p.storeBytes(of: eventCount.littleEndian, toByteOffset: 28, as: UInt32.self)
        p.storeBytes(of: payloadCRC.littleEndian, toByteOffset: 32, as: UInt32.self)
        p.storeBytes(of: sequence.littleEndian, toByteOffset: 36, as: UInt32.self)
        p.storeBytes(of: firstTick.littleEndian, toByteOffset: 40, as: UInt64.self)
        p.storeBytes(of: lastTick.littleEndian, toByteOffset: 48, as: UInt64.self)
        p.storeBytes(of: runningTask.littleEndian, toByteOffset: 56, as: UInt64.self)
        let crc = CRC32.checksum(UnsafeRawBufferPointer(start: p + 8, count: Self.size - 8))
        p.storeBytes(of: crc.littleEndian, toByteOffset: 4, as: UInt32.self)
    }

    /// Whether the 4 bytes at `p` are the chunk magic.
    static func hasMagic(_ p: UnsafeRawPointer) -> Bool {
        UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)) == magic
    }

    /// Decodes and validates the 64 bytes at `p`, found at file offset `offset` of a file of
    /// minor version `minor`. Checks the magic, the header CRC, the codec, the reserved bytes,
    /// the stream id and every length against its limit, so that nothing is allocated from an
    /// unchecked length.
    public static func decode(_ p: UnsafeRawPointer, offset: Int64, minor: UInt16 = TraceSpec.minorVersion) throws(TraceFormatError) -> ChunkHeader {
        func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: p.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: p.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        guard hasMagic(p) else { throw .badChunk(offset: offset, reason: "bad chunk magic \(hex(u32(0)))") }
        let crc = CRC32.checksum(UnsafeRawBufferPointer(start: p + 8, count: size - 8))
        guard crc == u32(4) else {
            throw .badChunk(offset: offset, reason: "header CRC mismatch (stored \(hex(u32(4))), computed \(hex(crc)))")
        }
        let codecByte = p.load(fromByteOffset: 16, as: UInt8.self)
        guard let codec = Codec(rawValue: codecByte) else {
            throw .badChunk(offset: offset, reason: "unknown codec \(codecByte)")
        }
        let selfChecking = minor >= TraceHeader.selfCheckingMinor
        // Reserved bytes are checked in files of this reader's minor version or older; a newer
        // minor may give them a meaning.
        if minor <= TraceSpec.minorVersion {
            let reserved = UInt32(p.load(fromByteOffset: 17, as: UInt8.self)) | UInt32(p.load(fromByteOffset: 18, as: UInt8.self))
                | UInt32(p.load(fromByteOffset: 19, as: UInt8.self)) | (selfChecking ? 0 : u32(36))
            guard reserved == 0 else {
                throw .badChunk(offset: offset, reason: "reserved header bytes are not zero")
            }
        }
        let header = ChunkHeader(stream: u32(8), threadID: u32(12), codec: codec, compressedLength: u32(20),
                                 uncompressedLength: u32(24), eventCount: u32(28), payloadCRC: u32(32),
                                 firstTick: u64(40), lastTick: u64(48), runningTask: u64(56),
                                 sequence: selfChecking ? u32(36) : 0)
        guard header.stream != closingStream || selfChecking else {
            throw .badChunk(offset: offset, reason: "stream id 0 is reserved")
        }
        for (name, value) in [("compressed length", header.compressedLength), ("uncompressed length", header.uncompressedLength)]
        where value > UInt32(maxPayload) {
            throw .badChunk(offset: offset, reason: "declared \(name) \(value) exceeds limit \(maxPayload)")
        }
        if codec == .stored && header.compressedLength != header.uncompressedLength {
            throw .badChunk(offset: offset, reason: "stored chunk declares \(header.compressedLength) bytes but \(header.uncompressedLength) uncompressed")
        }
        // Every event takes at least 2 bytes (type and timestamp delta).
        guard header.eventCount <= header.uncompressedLength / 2 else {
            throw .badChunk(offset: offset, reason: "declared event count \(header.eventCount) cannot fit in \(header.uncompressedLength) bytes")
        }
        guard header.firstTick <= header.lastTick else {
            throw .badChunk(offset: offset, reason: "first tick \(header.firstTick) is after last tick \(header.lastTick)")
        }
        return header
    }
}

extension ChunkHeader {
    /// The closing chunk (1.2) that ends a cleanly closed recording, header and payload: one
    /// `recordingEnd` record, then a `streamEnd` record per stream with its chunk count, all at
    /// `tick`, stored uncompressed.
    /// - Parameters:
    ///   - streams: each stream that wrote chunks, with how many, in the order to write them.
    ///   - totalChunks: the chunks written before this one.
    ///   - tick: the closing time.
    public static func closingChunk(streams: [(stream: UInt32, chunks: UInt32)], totalChunks: UInt64, tick: UInt64) -> [UInt8] {
        var payload = ByteBuilder()
        payload.byte(EventType.recordingEnd.rawValue)
        payload.varint(0)  // timestamp delta from the chunk's first tick
        payload.varint(UInt64(streams.count))
        payload.varint(totalChunks)
        for (stream, chunks) in streams {
            payload.byte(EventType.streamEnd.rawValue)
            payload.varint(0)
            payload.varint(UInt64(stream))
            payload.varint(UInt64(chunks))
        }
        let body = payload.bytes
        let header = ChunkHeader(stream: closingStream, threadID: 0, codec: .stored,
                                 compressedLength: UInt32(body.count), uncompressedLength: UInt32(body.count),
                                 eventCount: UInt32(1 + streams.count), payloadCRC: body.withUnsafeBytes { CRC32.checksum($0) },
                                 firstTick: tick, lastTick: tick, runningTask: 0, sequence: 0)
        var bytes = [UInt8](repeating: 0, count: size)
        bytes.withUnsafeMutableBytes { header.encode(into: $0.baseAddress!) }
        return bytes + body
    }
}
