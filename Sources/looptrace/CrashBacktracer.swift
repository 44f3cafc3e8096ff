#if canImport(Glibc)
import Glibc
#endif

/// Keeps Swift's crash backtracer out of the CLI.
///
/// On Linux the Swift runtime installs handlers for the crash signals before `main` runs, and on
/// a crash spawns a `swift-backtrace` helper process to symbolicate the stack. A fuzz run of the
/// CLI found 189 of those helpers left behind, one per crash: the crashed process waits for its
/// helper while the helper writes to a pipe nobody reads any more, and a harness that kills the
/// stuck CLI orphans the helper for good. The CLI is a short-lived tool over untrusted input; its
/// crashes should end it at once, with the runtime's one-line "Fatal error: …" and the signal's
/// exit status, and leave nothing running.
///
/// The runtime reads `SWIFT_BACKTRACE` while the process starts, so setting it from `main` is too
/// late. The options were a linker flag (none exists: swift/docs/Backtracing.rst documents the
/// environment variable as the only setting), re-executing the CLI once with
/// `SWIFT_BACKTRACE=enable=no` (a second process start on every run, and an environment the
/// CLI's own children would inherit), or giving the crash signals back their default action
/// first thing in `main`. This does the last, which the same document names as the way a
/// program opts out ("If you replace the handlers for any of these signals, your program will no
/// longer produce backtraces"): the helper is only ever started from those handlers, so without
/// them no helper can exist. Crashes before `main` (static initialisers of the libraries) still
/// get the backtracer; there is no code of ours there.
///
/// A user who sets `SWIFT_BACKTRACE` explicitly (to debug a crash of the CLI) keeps the runtime's
/// behaviour.
enum CrashBacktracer {
    /// The signals the runtime's Linux crash handler takes (`CrashHandlerLinux.cpp`).
    static let signals: [Int32] = [SIGQUIT, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGTRAP]

    /// Restores the default action of every crash signal, unless `SWIFT_BACKTRACE` is set.
    static func disable() {
        guard getenv("SWIFT_BACKTRACE") == nil else { return }
        for signal in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = SIG_DFL
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(signal, &action, nil)
        }
    }
}
