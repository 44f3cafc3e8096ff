import Foundation
import Testing
import TraceTestSupport

/// Runs the built `looptrace` with its stdout sent to `stdout` (a file handle, e.g. /dev/full)
/// and returns the exit status and stderr.
func looptrace(_ arguments: [String], stdout: FileHandle) throws -> (status: Int32, stderr: String) {
    let process = Process()
    process.executableURL = builtProduct("looptrace")
    process.arguments = arguments
    process.standardOutput = stdout
    let err = Pipe()
    process.standardError = err
    try process.run()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stderr, as: UTF8.self))
}

/// Runs a shell pipeline (the binary's path is `$LOOPTRACE`) and returns its stdout as bytes.
func shell(_ script: String) throws -> (status: Int32, stdout: Data, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script]
    process.environment = ProcessInfo.processInfo.environment.merging(["LOOPTRACE": builtProduct("looptrace").path]) { $1 }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, stdout, String(decoding: stderr, as: UTF8.self))
}

/// The kind of file at `path` without following a last symbolic link (`S_IFLNK`, `S_IFCHR`, …),
/// or nil when nothing is there.
func fileKind(_ path: String) -> mode_t? {
    var st = stat()
    return lstat(path, &st) == 0 ? st.st_mode & S_IFMT : nil
}

/// Where output goes: stdout, devices, FIFOs and symbolic links are written, never replaced, and
/// every write error, on stdout too, is exit 74 with one line (exit codes in `looptrace --help`).
@Suite("looptrace outputs")
struct OutputCLITests {
    static let sample = root + "/traces/loop-shaped.trace"

    /// `export -o -` as the reference bytes the other targets must receive.
    static func exportBytes() throws -> Data {
        let run = try shell("\"$LOOPTRACE\" export '\(sample)' -o -")
        #expect(run.status == 0, "\(run.stderr)")
        return run.stdout
    }

    @Test("export -o - writes the export to stdout and its summary to stderr")
    func exportToDash() throws {
        let run = try shell("\"$LOOPTRACE\" export '\(Self.sample)' -o -")
        #expect(run.status == 0, "\(run.stderr)")
        let object = try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any]
        #expect((object?["traceEvents"] as? [Any])?.isEmpty == false)
        #expect(run.stderr.hasPrefix("wrote standard output: 890 steps"), "\(run.stderr)")
        let perfetto = try shell("\"$LOOPTRACE\" export '\(Self.sample)' --format perfetto -o - | wc -c")
        #expect((Int(String(decoding: perfetto.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 1000)
    }

    /// `export -o /dev/stdout` renamed a temporary file over /dev/stdout (as root: the device
    /// symlink became a regular file) and left the pipe empty.
    @Test("export -o /dev/stdout | head -c 100 gets the export's first 100 bytes, and /dev/stdout stays a symlink")
    func exportToDevStdoutThroughHead() throws {
        let run = try shell("\"$LOOPTRACE\" export '\(Self.sample)' -o /dev/stdout | head -c 100")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.count == 100)
        #expect(run.stdout == (try Self.exportBytes()).prefix(100))
        #expect(fileKind("/dev/stdout") == S_IFLNK)
        let whole = try shell("\"$LOOPTRACE\" export '\(Self.sample)' -o /dev/stdout")
        #expect(whole.status == 0, "\(whole.stderr)")
        #expect(whole.stdout == (try Self.exportBytes()))
        #expect(whole.stderr.hasPrefix("wrote /dev/stdout:"), "the summary went into the export: \(whole.stderr)")
    }

    @Test("export -o /dev/stdout appends to an appending redirection instead of truncating it")
    func exportToDevStdoutAppends() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let out = scratch.path + "/log"
        try "before\n".write(toFile: out, atomically: false, encoding: .utf8)
        let run = try shell("\"$LOOPTRACE\" export '\(Self.sample)' -o /dev/stdout >> '\(out)'")
        #expect(run.status == 0, "\(run.stderr)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: out))
        #expect(bytes == Data("before\n".utf8) + (try Self.exportBytes()))
    }

    /// A symbolic link was replaced by a regular file: the link was lost and its target kept
    /// the old content.
    @Test("An export through a symbolic link replaces the link's target and keeps the link")
    func exportThroughSymlink() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        try FileManager.default.createDirectory(atPath: scratch.path + "/real", withIntermediateDirectories: true)
        let target = scratch.path + "/real/target.json"
        try "old".write(toFile: target, atomically: false, encoding: .utf8)
        chmod(target, 0o600)
        let link = scratch.path + "/link.json"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "real/target.json")

        let run = try looptrace(["export", Self.sample, "-o", link])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(fileKind(link) == S_IFLNK)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "real/target.json")
        #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == (try Self.exportBytes()))
        let mode = (try FileManager.default.attributesOfItem(atPath: target)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600, "the replaced file lost its permissions")
        for dir in [scratch.path, scratch.path + "/real"] {
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("partial") }
            #expect(leftovers.isEmpty, "\(leftovers)")
        }

        // A dangling link: its target is created, the link kept.
        let dangling = scratch.path + "/dangling.json"
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: "real/new.json")
        #expect(try looptrace(["export", Self.sample, "-o", dangling]).status == 0)
        #expect(fileKind(dangling) == S_IFLNK)
        #expect(fileKind(scratch.path + "/real/new.json") == S_IFREG)
    }

    /// The temporary file was opened with O_TRUNC and no O_EXCL: a link planted at its name
    /// (predictable: the pid) had the export truncate and fill the link's target.
    @Test("A link planted at the temporary file's name is not written through")
    func plantedTemporaryLink() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let victim = scratch.path + "/victim.txt"
        try "keep me".write(toFile: victim, atomically: false, encoding: .utf8)
        // `exec` keeps the shell's pid, so $$ is the pid looptrace will have.
        let run = try shell("cd '\(scratch.path)' && ln -s victim.txt .out.json.partial-$$ && exec \"$LOOPTRACE\" export '\(Self.sample)' -o out.json")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me")
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.path + "/out.json")) == (try Self.exportBytes()))
    }

    @Test("A symbolic link loop is exit 73 with one line")
    func symlinkLoop() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        try FileManager.default.createSymbolicLink(atPath: scratch.path + "/a", withDestinationPath: "b")
        try FileManager.default.createSymbolicLink(atPath: scratch.path + "/b", withDestinationPath: "a")
        let run = try looptrace(["export", Self.sample, "-o", scratch.path + "/a"])
        #expect(run.status == 73, "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
    }

    @Test("An export to a FIFO is written into it, and the FIFO stays")
    func exportToFIFO() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let fifo = scratch.path + "/out.fifo"
        #expect(mkfifo(fifo, 0o644) == 0)
        // The reader copies into a file, not a pipe this test would read only afterwards: a
        // full pipe would stop it reading the FIFO and block the export.
        let copy = scratch.path + "/received"
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/sh")
        reader.arguments = ["-c", "cat \"$0\" > \"$1\"", fifo, copy]
        try reader.run()
        let run = try looptrace(["export", Self.sample, "-o", fifo])
        reader.waitUntilExit()
        let received = try Data(contentsOf: URL(fileURLWithPath: copy))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(received == (try Self.exportBytes()))
        #expect(fileKind(fifo) == S_IFIFO)
    }

    /// As root, `-o /dev/full` replaced the device node with a regular file and exited 0.
    @Test("export -o /dev/full exits 74 with one line and leaves the device; -o /dev/null succeeds")
    func exportToDevices() throws {
        let full = try looptrace(["export", Self.sample, "-o", "/dev/full"])
        #expect(full.status == 74, "\(full.stderr)")
        let lines = full.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("/dev/full") && lines[0].contains("No space left"), "\(full.stderr)")
        #expect(fileKind("/dev/full") == S_IFCHR)
        let null = try looptrace(["export", Self.sample, "-o", "/dev/null"])
        #expect(null.status == 0, "\(null.stderr)")
        #expect(fileKind("/dev/null") == S_IFCHR)
    }

    @Test("An output in a missing directory is exit 73 and leaves nothing")
    func missingDirectory() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let run = try looptrace(["export", Self.sample, "-o", scratch.path + "/no/such/dir/x.json"])
        #expect(run.status == 73, "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1)
        #expect(run.stdout.isEmpty)
    }

    @Test("-o naming the trace through a link is refused")
    func outputIsTheTraceThroughALink() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let copy = scratch.path + "/t.trace"
        try FileManager.default.copyItem(atPath: Self.sample, toPath: copy)
        try FileManager.default.createSymbolicLink(atPath: scratch.path + "/alias.json", withDestinationPath: copy)
        let run = try looptrace(["export", copy, "-o", scratch.path + "/alias.json"])
        #expect(run.status == 64, "\(run.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == Data(contentsOf: URL(fileURLWithPath: Self.sample)))
    }

    /// `dump`, `report`, `report --json` and `info` > /dev/full exited 0: stdout write errors
    /// were ignored.
    @Test("Any command whose stdout cannot be written exits 74 with one line",
          arguments: [["report"], ["report", "--json"], ["dump"], ["dump", "--json"], ["info"], ["info", "--json"], ["validate"],
                      ["validate", "--json"], ["latency"], ["blocking", "--json"], ["steps"], ["tasks"], ["lints"]])
    func stdoutToDevFull(arguments: [String]) throws {
        let full = try #require(FileHandle(forWritingAtPath: "/dev/full"))
        let run = try looptrace(arguments + [Self.sample], stdout: full)
        #expect(run.status == 74, "\(arguments): \(run.stderr)")
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(arguments): \(run.stderr)")
        #expect(lines.first == "looptrace: cannot write to standard output: No space left on device")
    }

    @Test("Help text that cannot be written exits 74 too, and a damaged trace's output error is the one line")
    func helpAndDamageToDevFull() throws {
        let full = try #require(FileHandle(forWritingAtPath: "/dev/full"))
        let help = try looptrace(["--help"], stdout: full)
        #expect(help.status == 74, "\(help.stderr)")
        let scratch = TemporaryDirectory(prefix: "cli")
        let cut = try AnalysisCLITests.halfSample(in: scratch)
        for command in ["report", "dump"] {
            let run = try looptrace([command, cut], stdout: full)
            #expect(run.status == 74, "\(command): \(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == 1, "\(command): \(run.stderr)")
        }
    }

    @Test("A closed pipe ends dump quietly, as it ends cat")
    func closedPipe() throws {
        let run = try shell("\"$LOOPTRACE\" dump '\(Self.sample)' | head -n 1")
        #expect(run.status == 0)
        #expect(String(decoding: run.stdout, as: UTF8.self).split(separator: "\n").count == 1)
        #expect(run.stderr.isEmpty, "\(run.stderr)")
    }

    /// A crashing CLI started a `swift-backtrace` helper per crash, and a fuzz run left 189 of
    /// them behind.
    @Test("A crash ends the CLI by its signal at once, without starting the backtracer helper")
    func crashStartsNoBacktracer() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let fifo = scratch.path + "/blocked.fifo"
        #expect(mkfifo(fifo, 0o644) == 0)
        // Opening a FIFO with no reader blocks: the CLI sits in openat(2) until the signal.
        let process = Process()
        process.executableURL = builtProduct("looptrace")
        process.arguments = ["export", Self.sample, "-o", fifo]
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = nil
        process.environment = environment
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        var blockedPolls = 0
        for _ in 0..<200 where blockedPolls < 2 {
            let syscall = (try? String(contentsOfFile: "/proc/\(pid)/syscall", encoding: .utf8)) ?? ""
            blockedPolls = syscall.hasPrefix("257 ") ? blockedPolls + 1 : 0  // openat
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(blockedPolls == 2, "the CLI never blocked opening the FIFO")
        kill(pid, SIGSEGV)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(process.terminationStatus == SIGSEGV)
        #expect(!stderr.contains("Backtracing") && !stderr.contains("Program crashed"), "the backtracer ran: \(stderr)")
    }

    @Test("A FIFO as the trace is refused with exit 66 instead of hanging")
    func fifoInput() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let fifo = scratch.path + "/in.fifo"
        #expect(mkfifo(fifo, 0o644) == 0)
        let run = try looptrace(["info", fifo])
        #expect(run.status == 66, "\(run.stderr)")
        #expect(run.stderr.contains("in.fifo") && run.stderr.contains("FIFO"))
    }
}
