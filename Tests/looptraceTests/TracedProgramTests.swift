import Foundation
import Testing
import TraceTestSupport

/// Runs a built program with `environment` added, optionally through `sh -c` with a prefix
/// (`ulimit …;`), and returns its status and output.
func runBuiltProgram(_ name: String, _ arguments: [String], environment: [String: String], in directory: String? = nil,
                shellPrefix: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let binary = builtProduct(name)
    if let shellPrefix {
        return try runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", shellPrefix + " exec \"$0\" \"$@\"", binary.path] + arguments,
                              in: directory, environment: environment)
    }
    return try runProcess(binary, arguments, in: directory, environment: environment)
}

/// The lines of `text`, without the empty last one.
func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

/// Whether this process may mount a tmpfs (root in a namespace that allows it).
let canMountTmpfs: Bool = {
    guard getuid() == 0 else { return false }
    let dir = NSTemporaryDirectory() + "looptrace-mount-probe-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { rmdir(dir) }
    guard mount("tmpfs", dir, "tmpfs", 0, "size=64k") == 0 else { return false }
    umount(dir)
    return true
}()

/// Whether the programs run under ThreadSanitizer (`swift test --sanitize=thread` builds them
/// so), whose runtime itself dies of a file size limit.
let underThreadSanitizer = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_init") != nil

@Suite("Traced programs: the tracer never harms the program")
struct TracedProgramTests {
    /// A bad `LOOPTRACE` path was a fatal error (exit 132) whose message said "cannot read".
    @Test("LOOPTRACE=/nonexistent/x.trace: the example runs to its normal end, exit 0, with one warning line")
    func unusableTracePathRunsUntraced() throws {
        let traced = try runBuiltProgram("interleave", [], environment: ["LOOPTRACE": "/nonexistent/x.trace"])
        let untraced = try runBuiltProgram("interleave", [], environment: ["LOOPTRACE": ""])
        #expect(traced.status == 0)
        #expect(lines(traced.stderr) == ["looptrace: cannot create /nonexistent/x.trace: No such file or directory; running untraced"])
        #expect(traced.stdout == untraced.stdout, "the program's own output is unchanged")
    }

    /// A full disk stopped the recording silently, the trace ended 300 ms into a 3 s run.
    @Test("A recording onto a full filesystem: exit 0, one warning line, and the trace written so far reads intact",
          .enabled(if: canMountTmpfs, "needs to mount a tmpfs (root)"))
    func fullFilesystemWarnsOnce() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let mountPoint = scratch.path + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        #expect(mount("tmpfs", mountPoint, "tmpfs", 0, "size=128k") == 0)
        defer { umount(mountPoint) }
        let trace = mountPoint + "/full.trace"
        let run = try runBuiltProgram("trace-probe", ["flood", "1500"], environment: ["LOOPTRACE": trace])
        #expect(run.status == 0)
        let warnings = lines(run.stderr)
        #expect(warnings.count == 1, "\(warnings)")
        #expect(warnings.first?.hasPrefix("looptrace: disk full after ") == true, "\(warnings)")
        #expect(warnings.first?.hasSuffix(" ms writing \(trace): trace incomplete") == true, "\(warnings)")
        #expect(run.stdout.contains("error=disk full after "), "the statistics keep the error: \(run.stdout)")
        let validate = try looptrace(["validate", trace])
        #expect(validate.status == 0, "\(validate.stderr)")
    }

    @Test("A write error while recording (a file size limit): exit 0, one warning line",
          .disabled(if: underThreadSanitizer, "ThreadSanitizer's runtime dies of the file size limit"))
    func writeErrorWarnsOnce() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/limited.trace"
        // 64 KiB of file, then every write fails with EFBIG; SIGXFSZ ignored, as a server would.
        let run = try runBuiltProgram("trace-probe", ["flood", "1000"], environment: ["LOOPTRACE": trace],
                                 shellPrefix: "ulimit -f 64; trap '' XFSZ;")
        #expect(run.status == 0)
        let warnings = lines(run.stderr)
        #expect(warnings.count == 1, "\(warnings)")
        #expect(warnings.first?.hasPrefix("looptrace: cannot write \(trace) after ") == true, "\(warnings)")
        #expect(warnings.first?.hasSuffix(": File too large; trace incomplete") == true, "\(warnings)")
        let validate = try looptrace(["validate", trace])
        #expect(validate.status == 0, "\(validate.stderr)")
    }

    /// Two loops on two threads under one LOOPTRACE corrupted the trace: 675 of 1,349 events
    /// lost, validate exited 65.
    @Test("Two loops on two threads in one traced process: the trace validates and every event of both streams is there")
    func twoLoopsOnTwoThreads() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/two.trace"
        let run = try runBuiltProgram("trace-probe", ["two-loops", "50", "20"], environment: ["LOOPTRACE": trace])
        #expect(run.status == 0)
        #expect(run.stderr.isEmpty, "\(run.stderr)")
        let validate = try looptrace(["validate", trace])
        #expect(validate.status == 0, "\(validate.stderr)")
        let dump = try looptrace(["dump", "--json", trace])
        var names: [Int: String] = [:]
        var steps: [Int: [String: [String]]] = [:]
        var loops: [Int: Int] = [:]
        for line in lines(dump.stdout) {
            let e = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let stream = e["stream"] as? Int ?? 0
            switch e["type"] as? String {
            case "taskCreate": names[e["task"] as? Int ?? 0] = e["name"] as? String
            case "stepEnd": steps[stream, default: [:]][names[e["task"] as? Int ?? 0] ?? "?", default: []].append(e["outcome"] as? String ?? "")
            case "loopStart", "loopStop": loops[stream, default: 0] += 1
            case "lostEvents": Issue.record("events were dropped: \(line)")
            default: break
            }
        }
        #expect(loops.count == 2 && loops.values.allSatisfy { $0 == 2 }, "each stream has its loop's start and stop: \(loops)")
        let runs = Set(steps.values.compactMap { $0.keys.first { $0.hasSuffix("-main") }?.prefix(2) })
        #expect(runs == ["L1", "L2"])
        for (stream, tasks) in steps {
            let run = tasks.keys.first { $0.hasSuffix("-main") }.map { String($0.prefix(2)) } ?? "?"
            #expect(tasks.keys.allSatisfy { $0.hasPrefix(run) }, "stream \(stream) holds one loop's tasks")
            for i in 0..<50 {
                #expect(tasks["\(run)-w\(i)"] == Array(repeating: "yielded", count: 20) + ["completed"], "stream \(stream) \(run)-w\(i)")
            }
        }
        // The trace holds what the recorder says it wrote: the loop that closed last saw both
        // streams finished (each loop's events are written before its close returns).
        let info = try looptrace(["info", "--json", trace])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])
        let written = lines(run.stdout).filter { $0.hasPrefix("stats") }.compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("events=") }.flatMap { Int($0.dropFirst(7)) }
        }
        #expect(written.count == 2 && written.max() == object["events"] as? Int, "\(run.stdout)")
        #expect(object["droppedEvents"] as? Int == 0)
    }

    /// A second `EventLoop.run` in the same process truncated the first run's trace.
    @Test("A second EventLoop.run in a traced process appends to the trace")
    func secondRunAppends() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/seq.trace"
        let run = try runBuiltProgram("trace-probe", ["sequential", "5", "3"], environment: ["LOOPTRACE": trace])
        #expect(run.status == 0)
        let validate = try looptrace(["validate", trace])
        #expect(validate.status == 0, "\(validate.stderr)")
        let dump = try looptrace(["dump", trace]).stdout
        #expect(lines(dump).filter { $0.contains("loopStart") }.count == 2)
        #expect(dump.contains("\"L1-w4\"") && dump.contains("\"L2-w4\""), "both runs' tasks are in the trace")
    }

    @Test("LOOPTRACE with %p names a file per process")
    func percentPNamesAFilePerProcess() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let run = try runBuiltProgram("trace-probe", ["steps", "2", "2"], environment: ["LOOPTRACE": "run-%p.trace"], in: scratch.path)
        #expect(run.status == 0)
        let pid = try #require(lines(run.stdout).first { $0.hasPrefix("pid ") }?.dropFirst(4))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["run-\(pid).trace"])
        #expect(try looptrace(["validate", scratch.path + "/run-\(pid).trace"]).status == 0)
    }

    @Test("LOOPTRACE_MAX_MEMORY that is not a size: one warning line, the default cap, and the run is traced")
    func invalidMaxMemoryWarns() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let trace = scratch.path + "/capped.trace"
        let run = try runBuiltProgram("trace-probe", ["steps", "2", "2"],
                                 environment: ["LOOPTRACE": trace, "LOOPTRACE_MAX_MEMORY": "lots"])
        #expect(run.status == 0)
        #expect(lines(run.stderr) == ["looptrace: LOOPTRACE_MAX_MEMORY=lots is not a size (e.g. 64MiB); using 64 MiB"])
        #expect(try looptrace(["validate", trace]).status == 0)
    }
}
