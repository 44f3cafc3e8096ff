import CLoopTraceShims

/// CRC-32 (the zlib/IEEE polynomial): libdeflate's carry-less-multiply code when the machine has
/// libdeflate, otherwise zlib's. Both compute the same value.
public enum CRC32 {
    /// The CRC-32 of `bytes`.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return 0 }
        return lt_crc32(base, bytes.count)
    }
}
