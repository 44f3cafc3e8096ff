import CLoopTraceShims
import CZlib

/// CRC-32 (the zlib/IEEE polynomial): libdeflate's carry-less-multiply code when the machine has
/// libdeflate, otherwise zlib's. Both compute the same value.
public enum CRC32 {
    /// The CRC-32 of `bytes`.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return 0 }
        return lt_crc32(base, bytes.count)
    }

    /// The CRC-32 of the bytes already summed into `crc` followed by `bytes` (zlib's; used
    /// off the hot path, for buffers under 4 GiB).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
        return UInt32(truncatingIfNeeded: crc32(uLong(crc), base.assumingMemoryBound(to: Bytef.self), uInt(bytes.count)))
    }
}
