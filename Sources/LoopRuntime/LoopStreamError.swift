import Glibc

/// Why a stream operation failed.
public enum LoopStreamError: Error, Equatable, CustomStringConvertible {
    /// Nobody listens at the address (`ECONNREFUSED`).
    case connectionRefused(String)
    /// The peer reset the connection (`ECONNRESET`, or `EPIPE` on a write).
    case connectionReset
    /// EOF came before `expected` bytes (or the separator) arrived; `partial` holds what did.
    case incompleteRead(partial: [UInt8], expected: Int?)
    /// The separator was not found within the reader's limit; the data stays in the buffer.
    case limitOverrun(limit: Int)
    /// The host name did not resolve.
    case addressResolution(String)
    /// The stream was closed.
    case closed
    /// Another failing system call.
    case system(SyscallError)

    /// The error as a sentence.
    public var description: String {
        switch self {
        case .connectionRefused(let address): return "connection to \(address) refused"
        case .connectionReset: return "connection reset by peer"
        case .incompleteRead(let partial, let expected):
            return "EOF after \(partial.count) bytes" + (expected.map { " of \($0) expected" } ?? " without the separator")
        case .limitOverrun(let limit): return "separator not found within the \(limit)-byte limit"
        case .addressResolution(let why): return "address resolution failed: \(why)"
        case .closed: return "the stream is closed"
        case .system(let error): return error.description
        }
    }

    /// The error for a failed socket call.
    static func from(errno code: Int32, _ call: @autoclosure () -> String) -> LoopStreamError {
        switch code {
        case ECONNRESET, EPIPE: return .connectionReset
        case ECONNREFUSED: return .connectionRefused(call())
        default: return .system(SyscallError(errno: code, call: call()))
        }
    }
}
