import CZlib

/// CRC-32 (the zlib/IEEE polynomial), from zlib: hardware-assisted where zlib is.
public enum CRC32 {
    /// The CRC-32 of `bytes`.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return 0 }
        return UInt32(crc32(0, base.assumingMemoryBound(to: UInt8.self), UInt32(bytes.count)))
    }
}
