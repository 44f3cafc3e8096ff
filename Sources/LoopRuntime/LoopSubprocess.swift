import Glibc
import TraceFormat

/// A child process started by ``EventLoop/subprocessExec(_:_:stdin:stdout:stderr:)`` or
/// ``EventLoop/subprocessShell(_:stdin:stdout:stderr:)``, as asyncio's `Process`.
///
/// Its piped standard streams are a ``LoopStreamWriter`` (stdin) and ``LoopStreamReader``s
/// (stdout, stderr) on the loop. ``wait(file:line:)`` waits in epoll on a pidfd for the exit (on
/// kernels without pidfds, in a pool thread's `waitpid`). Traced: marks `subprocess spawn pid`
/// (value: the pid) when it starts, `subprocess exit pid` and `subprocess exit status` (value:
/// the exit code, or minus the signal number) when it is reaped; the waiting task's wakeup
/// names the pidfd. Loop thread only.
public final class LoopSubprocess: @unchecked Sendable {
    /// What a child's standard stream is connected to.
    public enum Redirection: Sendable {
        /// The parent's own stream.
        case inherit
        /// A pipe to the parent, as a loop stream.
        case pipe
        /// `/dev/null`.
        case null
    }

    /// How a child ended.
    public enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
        /// It exited with this code.
        case exited(Int32)
        /// A signal ended it.
        case signaled(Int32)

        /// asyncio's `returncode`: the exit code, or minus the signal number.
        public var returnCode: Int32 {
            switch self {
            case .exited(let code): return code
            case .signaled(let signal): return -signal
            }
        }

        /// "exit code 3" or "signal 9".
        public var description: String {
            switch self {
            case .exited(let code): return "exit code \(code)"
            case .signaled(let signal): return "signal \(signal)"
            }
        }
    }

    let loop: EventLoop
    /// The child's process id.
    public let pid: pid_t
    /// The child's standard input, when piped.
    public let stdin: LoopStreamWriter?
    /// The child's standard output, when piped.
    public let stdout: LoopStreamReader?
    /// The child's standard error, when piped.
    public let stderr: LoopStreamReader?
    /// The pidfd that becomes readable when the child exits (-1 without pidfd support or once
    /// reaped).
    private var pidfd: Int32
    // loop thread only
    private var status: ExitStatus?
    private var waiters: [LoopWaiter] = []
    private var watching = false

    init(loop: EventLoop, pid: pid_t, pidfd: Int32, stdin: LoopStreamWriter?, stdout: LoopStreamReader?, stderr: LoopStreamReader?) {
        self.loop = loop
        self.pid = pid
        self.pidfd = pidfd
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
    }

    /// How the child ended; nil while it runs (or before ``wait(file:line:)`` reaped it).
    public var exitStatus: ExitStatus? { status }

    /// Waits for the child to exit and reaps it.
    /// - Returns: how it ended.
    /// - Throws: `CancellationError` (the child goes on running).
    @discardableResult
    nonisolated(nonsending) public func wait(file: StaticString = #fileID, line: UInt = #line) async throws -> ExitStatus {
        loop.preconditionOnLoopThread("LoopSubprocess.wait")
        if let status { return status }
        if tryReap() { return status! }
        let site = SourceSite(file: file, line: line, function: "Subprocess.wait")
        if pidfd < 0 {
            // No pidfd: a pool thread blocks in waitpid instead.
            let pid = self.pid
            let raw = try await loop.runInExecutor(file: file, line: line) { () -> Int32 in
                var raw: Int32 = 0
                while waitpid(pid, &raw, 0) < 0, errno == EINTR {}
                return raw
            }
            if status == nil { record(raw) }
            return status!
        }
        if !watching {
            watching = true
            let fd = pidfd
            // Held strongly until the child exits: the pidfd's registration must not outlive it.
            try loop.addReader(fd) {
                self.loop.removeReader(fd)
                self.watching = false
                _ = self.tryReap()
            }
        }
        let waiter = LoopWaiter()
        waiters.append(waiter)
        let cancelled = await waiter.wait(on: loop, site: site)
        if let index = waiters.firstIndex(where: { $0 === waiter }) { waiters.remove(at: index) }
        if cancelled { throw CancellationError() }
        return status!
    }

    /// Sends `signal` to the child; does nothing once it has been reaped.
    public func sendSignal(_ signal: Int32) {
        loop.preconditionOnLoopThread("LoopSubprocess.sendSignal")
        guard status == nil else { return }
        _ = Glibc.kill(pid, signal)
    }

    /// Asks the child to stop (`SIGTERM`).
    public func terminate() { sendSignal(SIGTERM) }

    /// Stops the child (`SIGKILL`).
    public func kill() { sendSignal(SIGKILL) }

    /// Reaps the child if it has exited.
    /// - Returns: whether it has.
    private func tryReap() -> Bool {
        if status != nil { return true }
        var raw: Int32 = 0
        let rc = waitpid(pid, &raw, WNOHANG)
        guard rc == pid else { return false }
        record(raw)
        return true
    }

    private func record(_ raw: Int32) {
        // WIFEXITED/WEXITSTATUS/WTERMSIG are macros Swift does not import.
        let signal = raw & 0x7F
        status = signal == 0 ? .exited((raw >> 8) & 0xFF) : .signaled(signal)
        if let tracer = loop.state.pointee.tracer {
            tracer.mark("subprocess exit pid", value: Int64(pid))
            tracer.mark("subprocess exit status", value: Int64(status!.returnCode))
        }
        if pidfd >= 0 {
            if watching { loop.removeReader(pidfd) }
            watching = false
            _ = Glibc.close(pidfd)
            pidfd = -1
        }
        for waiter in waiters { waiter.wake() }
        waiters.removeAll()
    }

    deinit {
        if pidfd >= 0 { _ = Glibc.close(pidfd) }
    }
}
