import Foundation

/// A process that keeps one core busy, for the "loaded" columns: the same workloads measured
/// while another tenant takes a core, as on the project's shared 2-vCPU machines.
///
/// It is a bash loop with no pinning (the scheduler places it as it would any tenant). It checks
/// every ~50 ms that the benchmark that started it is still alive and exits when it is not, so a
/// benchmark that crashes leaves no spinner behind. Main thread only.
public final class BusyProcess {
    private let process = Process()

    /// Starts the spinner. Throws when bash cannot be started.
    public init() throws {
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "while kill -0 \(getpid()) 2>/dev/null; do for ((i = 0; i < 100000; i++)); do :; done; done"]
        try process.run()
    }

    /// Kills the spinner and waits for it to end.
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit { stop() }
}
