import Glibc
import TraceFormat

extension EventLoop {
    /// Starts `program` (looked up in `PATH`) with `arguments`, as asyncio's
    /// `create_subprocess_exec`.
    ///
    /// Piped streams are non-blocking pipes on the loop. When stdin is piped, the process
    /// ignores `SIGPIPE` from then on (as Python does), so that writing to a child that has
    /// exited is a ``LoopStreamError/connectionReset`` error rather than the end of the program.
    /// - Throws: ``LoopStreamError/system(_:)`` when the pipes or the spawn fail (a program not
    ///   found is `ENOENT`).
    public func subprocessExec(_ program: String, _ arguments: [String] = [],
                               stdin: LoopSubprocess.Redirection = .inherit,
                               stdout: LoopSubprocess.Redirection = .inherit,
                               stderr: LoopSubprocess.Redirection = .inherit) throws -> LoopSubprocess {
        preconditionOnLoopThread("EventLoop.subprocessExec")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Parent ends (loop side) and child ends, per standard stream.
        var parentEnds: [Int32?] = [nil, nil, nil]
        var childEnds: [Int32] = []
        func closeAll() {
            for fd in parentEnds.compactMap({ $0 }) + childEnds { _ = Glibc.close(fd) }
        }
        for (target, redirection) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch redirection {
            case .inherit: break
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .pipe:
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else {
                    let code = errno
                    closeAll()
                    throw LoopStreamError.system(SyscallError(errno: code, call: "pipe"))
                }
                let (parent, child) = target == 0 ? (ends[1], ends[0]) : (ends[0], ends[1])
                // Close-on-exec for both ends (the child's copy on `target` is made by dup2,
                // which clears the flag); non-blocking for the loop's end.
                _ = fcntl(parent, F_SETFD, FD_CLOEXEC)
                _ = fcntl(child, F_SETFD, FD_CLOEXEC)
                _ = fcntl(parent, F_SETFL, fcntl(parent, F_GETFL) | O_NONBLOCK)
                parentEnds[Int(target)] = parent
                childEnds.append(child)
                posix_spawn_file_actions_adddup2(&actions, child, target)
            }
        }
        if stdin == .pipe { _ = signal(SIGPIPE, SIG_IGN) }
        var argv: [UnsafeMutablePointer<CChar>?] = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for arg in argv { free(arg) } }
        // The child starts with default signal dispositions and an empty mask, whatever this
        // process ignores or blocks (SIGPIPE above; test runners block others), as Python's
        // `restore_signals` does.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t(), mask = sigset_t()
        sigfillset(&defaults)
        sigemptyset(&mask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, program, &actions, &attributes, &argv, environ)
        for fd in childEnds { _ = Glibc.close(fd) }
        childEnds = []
        guard rc == 0 else {
            closeAll()
            throw LoopStreamError.system(SyscallError(errno: rc, call: "posix_spawnp(\(program))"))
        }
        state.pointee.tracer?.mark("subprocess spawn pid", value: Int64(pid))
        let pidfd = Self.pidfdOpen?(pid, 0) ?? -1
        if pidfd >= 0 { _ = fcntl(pidfd, F_SETFD, FD_CLOEXEC) }
        func reader(_ fd: Int32?) -> LoopStreamReader? {
            fd.map { LoopStreamReader(connection: StreamConnection(loop: self, fd: $0, isSocket: false), limit: 65_536) }
        }
        let input = parentEnds[0].map {
            LoopStreamWriter(connection: StreamConnection(loop: self, fd: $0, isSocket: false), highWaterMark: 65_536, lowWaterMark: 16_384)
        }
        return LoopSubprocess(loop: self, pid: pid, pidfd: pidfd, stdin: input, stdout: reader(parentEnds[1]),
                              stderr: reader(parentEnds[2]))
    }

    /// Runs `command` with `/bin/sh -c`, as asyncio's `create_subprocess_shell`; see
    /// ``subprocessExec(_:_:stdin:stdout:stderr:)``.
    public func subprocessShell(_ command: String, stdin: LoopSubprocess.Redirection = .inherit,
                                stdout: LoopSubprocess.Redirection = .inherit,
                                stderr: LoopSubprocess.Redirection = .inherit) throws -> LoopSubprocess {
        try subprocessExec("/bin/sh", ["-c", command], stdin: stdin, stdout: stdout, stderr: stderr)
    }

    /// glibc's `pidfd_open` (2.36+), looked up at run time: Swift's Glibc module does not
    /// export it, and older systems lack it (the subprocess then waits on a pool thread).
    static let pidfdOpen: (@convention(c) (pid_t, UInt32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pidfd_open") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (pid_t, UInt32) -> Int32).self)
    }()
}
