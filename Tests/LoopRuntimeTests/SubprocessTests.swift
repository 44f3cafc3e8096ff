import Foundation
import Testing
import TraceFormat
@testable import LoopRuntime

@Suite("Subprocesses (create_subprocess_exec, create_subprocess_shell)")
struct SubprocessTests {
    @Test func catEchoesItsInputThroughPipes() throws {
        try onLoop {
            let loop = EventLoop.current!
            let process = try loop.subprocessExec("cat", stdin: .pipe, stdout: .pipe)
            let payload = (0..<20_000).map { "line \($0)\n" }.joined()
            // Bigger than a pipe's buffer: the writer must wait for cat to read.
            let writer = loop.createTask {
                let stdin = process.stdin!
                try stdin.write(payload)
                try await stdin.drain()
                stdin.writeEOF()
            }
            let output = try await process.stdout!.readToEOF()
            try await finished(writer)
            #expect(String(decoding: output, as: UTF8.self) == payload)
            #expect(try await process.wait() == .exited(0))
            #expect(process.exitStatus?.returnCode == 0)
        }
    }

    @Test func theExitStatusAndStderrComeBackFromAShellCommand() throws {
        try onLoop {
            let loop = EventLoop.current!
            let process = try loop.subprocessShell("echo out; echo err >&2; exit 3", stdout: .pipe, stderr: .pipe)
            var lines: [String] = []
            for try await line in process.stdout!.lines { lines.append(line) }
            #expect(lines == ["out"])
            #expect(try await process.stderr!.readToEOF() == Array("err\n".utf8))
            #expect(try await process.wait() == .exited(3))
        }
    }

    @Test func killEndsAChildWithSIGKILL() throws {
        try onLoop {
            let loop = EventLoop.current!
            let process = try loop.subprocessExec("sleep", ["30"], stdin: .null, stdout: .null)
            let waiter = loop.createTask { () async throws -> LoopSubprocess.ExitStatus in try await process.wait() }
            try await yieldOnce()
            #expect(!waiter.isDone)
            process.kill()
            #expect(try await finished(waiter) == .signaled(SIGKILL))
            #expect(process.exitStatus?.returnCode == -SIGKILL)
            process.terminate()  // reaped already: nothing to signal
        }
    }

    @Test func terminateSendsSIGTERM() throws {
        try onLoop {
            let loop = EventLoop.current!
            let process = try loop.subprocessExec("sleep", ["30"])
            process.terminate()
            #expect(try await loop.waitFor(timeout: .seconds(5)) { try await process.wait() } == .signaled(SIGTERM))
        }
    }

    @Test func aMissingProgramIsAnError() throws {
        try onLoop {
            let loop = EventLoop.current!
            #expect(throws: LoopStreamError.system(SyscallError(errno: ENOENT, call: "posix_spawnp(no-such-program-looptrace)"))) {
                _ = try loop.subprocessExec("no-such-program-looptrace", stdout: .pipe)
            }
        }
    }

    @Test func spawnAndExitAreTracedAndTheWaitIsWokenByThePidfd() throws {
        let path = temporaryTracePath()
        defer { unlink(path) }
        let pid = Box<Int64>(0)
        try EventLoop.run(trace: .file(path)) {
            let loop = EventLoop.current!
            let process = try loop.subprocessShell("sleep 0.05; exit 5")
            pid.value = Int64(process.pid)
            _ = try await process.wait()
        }
        let reader = try TraceReader(path: path)
        var marks: [String: Int64] = [:]
        try reader.forEachEvent { event, chunk in
            if event.type == .userMark { marks[chunk.string(event.args[0])] = Int64(bitPattern: event.args[1]) }
        }
        #expect(marks["subprocess spawn pid"] == pid.value)
        #expect(marks["subprocess exit pid"] == pid.value)
        #expect(marks["subprocess exit status"] == 5)
        let trace = try RecordedTrace(path: path)
        #expect(trace.story.contains("wakeup main by io"), "\(trace.story.joined(separator: "\n"))")
    }
}
