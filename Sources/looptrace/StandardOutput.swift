#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser

/// The command's standard output, and whether every byte of it reached its destination.
///
/// Reports go out through `print` (C stdio) and ``writeAll(fd:_:)`` (raw writes for `dump`). A
/// failed write must not pass for success: `looptrace report > /dev/full` used to exit 0 with
/// nothing written. So the raw writes record their first failure here, and ``check()`` flushes
/// stdio and turns any failure into one line on stderr and exit 74 (`EX_IOERR`). Commands call it
/// right after their output, before reporting damage or gates, so that the I/O error is the one
/// line the user sees; `Looptrace.main` calls it once more for anything printed later.
///
/// A closed pipe (`looptrace dump … | head`) is not an error here: SIGPIPE keeps its default
/// action and ends the process quietly, as it does for `cat`.
enum StandardOutput {
    /// errno of the first raw write to fd 1 that failed. Main thread only.
    nonisolated(unsafe) static var rawWriteFailure: Int32?

    /// Flushes stdout; on any write failure so far prints one line and throws exit 74.
    /// - Throws: `ExitCodes.ioError`.
    static func check() throws {
        if let reason = failure() {
            printError("cannot write to standard output: \(reason)")
            throw ExitCodes.ioError
        }
    }

    /// Why writing to stdout failed, or nil. Flushing retries what stdio still holds after an
    /// earlier failed write (glibc keeps unwritten bytes buffered), so a failure shows here again
    /// with its errno. (`fflush(nil)`: Swift 6 won't let us name the global `stdout`; stderr,
    /// the only other stream, is unbuffered.)
    static func failure() -> String? {
        errno = 0
        let flushed = fflush(nil)
        let flushErrno = errno
        if let rawWriteFailure { return String(cString: strerror(rawWriteFailure)) }
        if flushed != 0 { return String(cString: strerror(flushErrno == 0 ? EIO : flushErrno)) }
        return nil
    }
}
