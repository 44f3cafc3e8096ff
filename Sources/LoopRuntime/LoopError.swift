import Glibc

/// An error from the loop or one of its primitives.
public enum LoopError: Error, Equatable, CustomStringConvertible {
    /// `result()` of a future that is not done yet, or a second `setResult`.
    case invalidState(String)
    /// `waitFor` or a `timeout` scope ran out of time; the awaited work was cancelled.
    case timedOut
    /// The loop is closed (or closing) and cannot accept work.
    case closed(String)
    /// `runForever`/`runUntilComplete` while the loop is already running.
    case alreadyRunning(String)

    /// The error as a sentence.
    public var description: String {
        switch self {
        case .invalidState(let why): return "invalid state: \(why)"
        case .timedOut: return "timed out"
        case .closed(let api): return "\(api): the event loop is closed"
        case .alreadyRunning(let api): return "\(api): the event loop is already running"
        }
    }
}

/// A system call failed.
public struct SyscallError: Error, Equatable, CustomStringConvertible {
    /// The `errno` value.
    public let errno: Int32
    /// The call that failed, e.g. `"epoll_ctl(ADD, 7)"`.
    public let call: String

    /// An error for `call` failing with `errno`.
    public init(errno: Int32, call: String) {
        self.errno = errno
        self.call = call
    }

    /// `call failed: reason (errno N)`.
    public var description: String { "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))" }

    /// Returns `result` when it is non-negative; throws for a `-errno` result.
    @discardableResult
    static func check(_ result: Int32, _ call: @autoclosure () -> String) throws(SyscallError) -> Int32 {
        if result < 0 { throw SyscallError(errno: -result, call: call()) }
        return result
    }
}
