import ArgumentParser
import Foundation
import TraceAnalysis

#if canImport(Glibc)
import Glibc
#endif

/// `looptrace record [-o FILE] [--] PROGRAM [ARGS…]`: runs an unmodified async-main Swift
/// program with LoopTraceAuto preloaded, so that all its Swift concurrency runs on one traced loop.
struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Run an unmodified async-main Swift program and record a trace of all its tasks.",
        discussion: """
            The program runs with libLoopTraceAuto.so (found beside this binary) preloaded: a loop \
            on the main thread becomes its MainActor and default executor, so every Task {}, \
            Task.detached, async let, task-group child, actor call and Task.sleep runs as a traced \
            step on one thread. Its children are not traced. Signals sent to looptrace are passed \
            on to the program; the program's exit status is looptrace's (killed by a signal: the \
            same signal). At the end, the trace's path and the report's first screen go to stderr.

            When the library cannot attach (a sync-main program, a statically linked Swift \
            runtime, a runtime from another toolchain, a setuid binary, not a Swift program), \
            one line says why and the program runs untraced.

            Limits: one thread runs all Swift concurrency (no parallelism; a blocking call \
            stalls every task); sync-over-async waits can deadlock; Dispatch queues other than \
            main, plain threads and NIO's event-loop threads are not traced.

            Examples:
              looptrace record -- .build/release/plain-concurrency
              looptrace record -o server.trace -- .build/release/App --port 8080
            """
    )

    @Option(name: [.short, .customLong("output")],
            help: ArgumentHelp("Where to write the trace (default: PROGRAM.trace, or PROGRAM-N.trace if taken).", valueName: "file"))
    var output: String?

    @Flag(help: "Overwrite the output file if it exists.")
    var force = false

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The program and its arguments.", valueName: "program"))
    var command: [String] = []

    func validate() throws {
        var arguments = command
        if arguments.first == "--" { arguments.removeFirst() }
        if arguments.isEmpty { throw ValidationError("missing PROGRAM: looptrace record [-o FILE] [--] PROGRAM [ARGS…]") }
        if let output, !force, FileManager.default.fileExists(atPath: output) {
            throw ValidationError("\(output) exists; choose another -o or pass --force to overwrite it")
        }
    }

    func run() throws {
        var arguments = command
        if arguments.first == "--" { arguments.removeFirst() }
        guard let program = Self.resolve(arguments[0]) else {
            printError("record: \(arguments[0]): no such program")
            throw ExitCode(127)
        }
        let library = Self.libraryPath()
        var obstacle: String?
        if !FileManager.default.fileExists(atPath: library) {
            obstacle = "\(library) is missing (build the LoopTraceAuto product: swift build)"
        } else if let found = ProgramInspection(path: program, ourRuntime: ProgramInspection.loadedSwiftRuntime()).obstacle {
            obstacle = found.line
        }
        let tracePath = output ?? Self.freshTracePath(for: program)
        if let obstacle {
            printError("record: not tracing \(arguments[0]): \(obstacle); running it untraced")
            let status = try ChildProcess.run(program: program, arguments: arguments, environment: [:], statusPipe: false)
            Self.exit(with: status.status)
        }
        if force { try? FileManager.default.removeItem(atPath: tracePath) }
        let preload = ProcessInfo.processInfo.environment["LD_PRELOAD"].map { "\(library):\($0)" } ?? library
        let child = try ChildProcess.run(program: program, arguments: arguments,
                                         environment: ["LD_PRELOAD": preload, "LOOPTRACE": tracePath], statusPipe: true)
        switch child.statusLine {
        case "attached":
            printError("record: trace written to \(tracePath)")
            Self.printFirstScreen(of: tracePath)
        case let line?:
            let reason = line.hasPrefix("not-attached ") ? String(line.dropFirst("not-attached ".count)) : line
            printError("record: not traced: \(reason)")
        case nil:
            printError("record: not traced: the library never reported (the program ended before it loaded, or the loader refused the preload)")
        }
        Self.exit(with: child.status)
    }

    /// PROGRAM as given (with a slash) or found on PATH.
    static func resolve(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// libLoopTraceAuto.so beside this binary.
    static func libraryPath() -> String {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return me.deletingLastPathComponent().appendingPathComponent("libLoopTraceAuto.so").path
    }

    /// PROGRAM.trace in the current directory, or PROGRAM-2.trace, … : never an existing file.
    static func freshTracePath(for program: String) -> String {
        let name = URL(fileURLWithPath: program).lastPathComponent
        var candidate = "\(name).trace"
        var n = 2
        while FileManager.default.fileExists(atPath: candidate) {
            candidate = "\(name)-\(n).trace"
            n += 1
        }
        return candidate
    }

    /// The report's first screen (24 lines), on stderr.
    static func printFirstScreen(of path: String) {
        do {
            let options = try AnalysisCommandOptions.parse(["--no-color", path])
            let (result, _) = try options.analyze()
            let lines = ReportRenderer(result, style: options.style, file: path).report().split(separator: "\n", omittingEmptySubsequences: false)
            var screen = lines.prefix(24).joined(separator: "\n")
            if lines.count > 24 { screen += "\n… (looptrace report \(path) for the rest)" }
            writeAll(fd: 2, Array((screen + "\n").utf8))
        } catch {
            printError("record: the trace could not be analysed (looptrace validate \(path) says why)")
        }
    }

    /// Ends looptrace the way the program ended: its exit code, or its signal.
    static func exit(with status: Int32) -> Never {
        if status & 0x7f == 0 { Foundation.exit((status >> 8) & 0xff) }
        let signal = status & 0x7f
        // Die of the same signal (without a core file of our own), so that a shell sees it.
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
        Glibc.signal(signal, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        sigprocmask(SIG_UNBLOCK, &set, nil)
        raise(signal)
        Foundation.exit(128 + signal)
    }
}

/// The traced program as a child process, with signal forwarding.
enum ChildProcess {
    /// The child's pid while it runs (read by the signal handler).
    nonisolated(unsafe) static var pid: pid_t = 0

    /// Runs `program` with `environment` added, forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT sent
    /// to looptrace (not the terminal's, which reach the child anyway), and waits for it.
    /// - Returns: the wait status, and the status line the library wrote.
    static func run(program: String, arguments: [String], environment: [String: String],
                    statusPipe: Bool) throws -> (status: Int32, statusLine: String?) {
        var fds: [Int32] = [-1, -1]
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        env["LOOPTRACE_AUTO_STATUS_FD"] = nil
        if statusPipe {
            guard pipe(&fds) == 0 else {
                printError("record: pipe failed: \(String(cString: strerror(errno)))")
                throw ExitCode(71)
            }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            env["LOOPTRACE_AUTO_STATUS_FD"] = String(fds[1])
        }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        // Signals looptrace was started with ignored (a script's background job ignores SIGINT
        // and SIGQUIT, nohup SIGHUP) stay ignored in the program, as they would without looptrace:
        // the program inherits SIG_IGN through the spawn. Once it runs, looptrace forwards them too,
        // so that `kill -INT` sent to looptrace reaches a program that handles the signal itself
        // (a server's graceful shutdown) exactly as sent to the program directly.
        let forwarded = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]
        let ignored = forwarded.filter { signal in
            var current = sigaction()
            return sigaction(signal, nil, &current) == 0
                && unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == 1  // SIG_IGN
        }
        for signal in forwarded where !ignored.contains(signal) { forward(signal) }
        // The program starts with no signal blocked, whatever looptrace inherited (a test
        // harness may block SIGTERM): its own signals, and those record forwards, must arrive.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        sigprocmask(SIG_SETMASK, &empty, nil)
        var child: pid_t = 0
        let rc = posix_spawn(&child, program, nil, &attributes, argv, envp)
        if statusPipe { close(fds[1]) }
        guard rc == 0 else {
            printError("record: cannot run \(program): \(String(cString: strerror(rc)))")
            throw ExitCode(126)
        }
        pid = child
        for signal in ignored { forward(signal) }
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 {
            if errno != EINTR { break }
        }
        pid = 0
        var line: String?
        if statusPipe {
            // The library writes its line and closes its end long before the program exits;
            // read without blocking in case a grandchild kept the end open.
            _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 512)
            while true {
                let n = read(fds[0], &buffer, buffer.count)
                if n > 0 { bytes += buffer[0..<n]; continue }
                if n < 0 && errno == EINTR { continue }
                break
            }
            close(fds[0])
            let text = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first.map(String.init)
            line = text
        }
        return (status, line)
    }

    /// Passes `signal` on to the child when it was sent to looptrace itself; the terminal's
    /// signals (SI_KERNEL) already went to the whole foreground process group, the child included.
    private static func forward(_ signal: Int32) {
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = { signal, info, _ in
            if let info, info.pointee.si_code <= 0, ChildProcess.pid > 0 { kill(ChildProcess.pid, signal) }
        }
        action.sa_flags = SA_SIGINFO | SA_RESTART
        sigemptyset(&action.sa_mask)
        sigaction(signal, &action, nil)
    }
}
