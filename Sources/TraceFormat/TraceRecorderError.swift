/// Why a ``TraceRecorder`` could not start recording.
public enum TraceRecorderError: Error, Equatable, CustomStringConvertible {
    /// The trace file could not be created (a missing directory, no permission).
    case cannotCreate(path: String, reason: String)
    /// The trace file was created, but its header could not be written (a full disk).
    case cannotWrite(path: String, reason: String)

    /// "cannot create /nonexistent/x.trace: No such file or directory".
    public var description: String {
        switch self {
        case .cannotCreate(let path, let reason): return "cannot create \(path): \(reason)"
        case .cannotWrite(let path, let reason): return "cannot write \(path): \(reason)"
        }
    }
}
