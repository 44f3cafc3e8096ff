import CLoopTraceShims
import CZlib

/// Compresses chunk payloads in the zlib format: with libdeflate when the machine has
/// libdeflate.so.0 (bound at run time, about twice as fast), otherwise with zlib. Both write the
/// same format, so readers need neither in particular. One instance per thread.
final class ChunkCompressor {
    private let level: Int32
    private let libdeflate: UnsafeMutableRawPointer?
    private var stream = z_stream()
    private var zlibReady = false

    /// Which implementation compresses.
    let implementation: String

    init(level: Int, preferLibdeflate: Bool = true) {
        self.level = Int32(level)
        libdeflate = preferLibdeflate ? lt_deflate_alloc_compressor(Int32(level)) : nil
        implementation = libdeflate == nil ? "zlib" : "libdeflate"
    }

    deinit {
        lt_deflate_free_compressor(libdeflate)
        if zlibReady { deflateEnd(&stream) }
    }

    /// The most bytes `compress` can produce for `length` input bytes.
    static func bound(_ length: Int) -> Int { Int(compressBound(uLong(length))) + 64 }

    /// Compresses `input` into `output` (at least `bound(input.count)` bytes) and returns the
    /// compressed size, or nil when it failed.
    func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        if let libdeflate {
            let n = lt_deflate_zlib_compress(libdeflate, input.baseAddress, input.count, output.baseAddress, output.count)
            return n == 0 ? nil : n
        }
        if !zlibReady {
            guard deflateInit_(&stream, level, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
            zlibReady = true
        } else {
            deflateReset(&stream)
        }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        stream.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(output.count)
        guard deflate(&stream, Z_FINISH) == Z_STREAM_END else { return nil }
        return Int(stream.total_out)
    }
}

/// Inflates zlib-format payloads into a buffer of exactly the declared size: with libdeflate when
/// present, otherwise zlib. One instance per thread.
final class ChunkDecompressor {
    private let libdeflate: UnsafeMutableRawPointer?
    private var stream = z_stream()
    private var zlibReady = false

    init(preferLibdeflate: Bool = true) {
        libdeflate = preferLibdeflate ? lt_deflate_alloc_decompressor() : nil
    }

    deinit {
        lt_deflate_free_decompressor(libdeflate)
        if zlibReady { inflateEnd(&stream) }
    }

    /// Inflates `input` into all of `output`; throws unless the stream is valid, complete and
    /// exactly `output.count` bytes long.
    func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(DecodeFailure) {
        if output.isEmpty && input.isEmpty { return }
        if let libdeflate {
            let rc = lt_deflate_zlib_decompress(libdeflate, input.baseAddress, input.count, output.baseAddress, output.count)
            guard rc == 0 else { throw DecodeFailure("zlib payload does not inflate to its declared length") }
            return
        }
        if !zlibReady {
            guard inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw DecodeFailure("zlib could not start")
            }
            zlibReady = true
        } else {
            inflateReset(&stream)
        }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        stream.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(output.count)
        let rc = inflate(&stream, Z_FINISH)
        guard rc == Z_STREAM_END, stream.total_out == uLong(output.count) else {
            throw DecodeFailure(rc == Z_STREAM_END || rc == Z_BUF_ERROR
                ? "zlib payload does not inflate to its declared length \(output.count)"
                : "zlib payload is corrupt (inflate returned \(rc))")
        }
    }
}
