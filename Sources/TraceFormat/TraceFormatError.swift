/// Everything that can be wrong with a trace file. Each case reads as a sentence and carries the
/// byte offset where the problem was found.
public enum TraceFormatError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened or read.
    case cannotRead(path: String, reason: String)
    /// The file does not start with the looptrace magic.
    case notATrace(path: String, reason: String)
    /// The major version is not one this reader understands.
    case unsupportedVersion(major: UInt16, minor: UInt16)
    /// The file header is damaged.
    case badHeader(offset: Int64, reason: String)
    /// A chunk is damaged: a bad header, a length over its limit, a CRC mismatch or a payload that
    /// does not decode.
    case badChunk(offset: Int64, reason: String)
    /// The file ends inside a chunk.
    case truncated(offset: Int64, reason: String)

    /// The offset of the damage, when there is one.
    public var offset: Int64? {
        switch self {
        case .cannotRead, .notATrace, .unsupportedVersion: return nil
        case .badHeader(let offset, _), .badChunk(let offset, _), .truncated(let offset, _): return offset
        }
    }

    public var description: String {
        switch self {
        case .cannotRead(let path, let reason): return "cannot read \(path): \(reason)"
        case .notATrace(let path, let reason): return "\(path) is not a looptrace trace: \(reason)"
        case .unsupportedVersion(let major, let minor):
            return "trace format \(major).\(minor) is not supported (this reader reads \(TraceSpec.majorVersion).x)"
        case .badHeader(let offset, let reason): return "file header at offset \(offset): \(reason)"
        case .badChunk(let offset, let reason): return "chunk at offset \(offset): \(reason)"
        case .truncated(let offset, let reason): return "chunk at offset \(offset): \(reason)"
        }
    }
}
