import Foundation
import Testing
@testable import LoopRuntime

/// Collects what callbacks and tasks observed, in order. Loop thread only.
final class Log: @unchecked Sendable {
    var entries: [String] = []
    func callAsFunction(_ entry: String) { entries.append(entry) }
}

@Suite("Event loop scheduling")
struct EventLoopTests {
    @Test func callSoonRunsInFIFOOrder() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let log = Log()
        for i in 0..<5 { loop.callSoon { log("cb\(i)") } }
        loop.callSoon { loop.stop() }
        try loop.runForever()
        #expect(log.entries == ["cb0", "cb1", "cb2", "cb3", "cb4"])
    }

    @Test func callbacksScheduledDuringAnIterationRunOnTheNext() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let log = Log()
        loop.callSoon {
            log("a")
            loop.callSoon { log("c") }
        }
        loop.callSoon { log("b") }
        loop.callSoon { loop.callSoon { loop.stop() } }
        try loop.runForever()
        #expect(log.entries == ["a", "b", "c"])
    }

    @Test func timersRunByDeadlineThenByInsertion() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let log = Log()
        let now = loop.time()
        loop.callAt(now + 30_000_000) { log("t30") }
        loop.callAt(now + 10_000_000) { log("t10a") }
        loop.callAt(now + 20_000_000) { log("t20") }
        loop.callAt(now + 10_000_000) { log("t10b") }
        loop.callLater(.milliseconds(40)) { loop.stop() }
        try loop.runForever()
        #expect(log.entries == ["t10a", "t10b", "t20", "t30"])
    }

    @Test func timersNeverFireEarly() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        var lateness: [Int64] = []
        var remaining = 50
        for i in 0..<50 {
            let due = loop.time() + Int64(i % 7) * 300_000 + 50_000
            loop.callAt(due) {
                lateness.append(loop.time() - due)
                remaining -= 1
                if remaining == 0 { loop.stop() }
            }
        }
        try loop.runForever()
        #expect(lateness.count == 50)
        #expect(lateness.allSatisfy { $0 >= 0 })
    }

    @Test func cancelledTimerNeverFires() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let log = Log()
        let handle = loop.callLater(.milliseconds(5)) { log("fired") }
        loop.callSoon { handle.cancel() }
        loop.callLater(.milliseconds(20)) { loop.stop() }
        try loop.runForever()
        #expect(log.entries.isEmpty)
        #expect(handle.isCancelled)
    }

    @Test func cancelledCallSoonNeverRuns() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let log = Log()
        let handle = loop.callSoon { log("ran") }
        handle.cancel()
        loop.callSoon { loop.stop() }
        try loop.runForever()
        #expect(log.entries.isEmpty)
    }

    @Test func throwingCallbackGoesToTheExceptionHandlerAndTheLoopCarriesOn() throws {
        struct Boom: Error {}
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let reported = Log()
        loop.exceptionHandler = { context in reported("\(context.error is Boom)") }
        let log = Log()
        loop.callSoon { throw Boom() }
        loop.callSoon { log("after") }
        loop.callSoon { loop.stop() }
        try loop.runForever()
        #expect(reported.entries == ["true"])
        #expect(log.entries == ["after"])
    }

    @Test func stopBeforeRunForeverRunsOneIteration() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let log = Log()
        loop.callSoon { log("a"); loop.callSoon { log("b") } }
        loop.stop()
        try loop.runForever()
        #expect(log.entries == ["a"])
        #expect(!loop.isRunning)
    }

    @Test func lifecycleFlags() throws {
        let loop = try EventLoop(trace: .off)
        #expect(!loop.isRunning && !loop.isClosed)
        var sawRunning = false
        loop.callSoon {
            sawRunning = loop.isRunning && EventLoop.current === loop
            loop.stop()
        }
        try loop.runForever()
        #expect(sawRunning)
        #expect(EventLoop.current == nil)
        loop.close()
        #expect(loop.isClosed)
        #expect(throws: LoopError.closed("runForever()")) { try loop.runForever() }
    }

    @Test func callSoonThreadsafeFromFourThreadsLosesAndDuplicatesNothing() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let threads = 4, perThread = 100_000
        /// Loop-thread-only tallies, touched by the callbacks.
        final class Tally: @unchecked Sendable {
            var seen: [Int]
            var lastPerThread: [Int]
            var inOrder = true
            var count = 0
            init(_ n: Int, _ threads: Int) {
                seen = [Int](repeating: 0, count: n)
                lastPerThread = [Int](repeating: -1, count: threads)
            }
        }
        let tally = Tally(threads * perThread, threads)
        let group = DispatchGroup()
        // Started from a loop callback so that the loop is already sleeping in its poll at times.
        loop.callSoon {
            for t in 0..<threads {
                DispatchQueue.global().async(group: group) {
                    for i in 0..<perThread {
                        loop.callSoonThreadsafe {
                            tally.seen[t * perThread + i] += 1
                            if tally.lastPerThread[t] >= i { tally.inOrder = false }
                            tally.lastPerThread[t] = i
                            tally.count += 1
                            if tally.count == threads * perThread { loop.stop() }
                        }
                    }
                }
            }
        }
        try loop.runForever()
        group.wait()
        #expect(tally.count == threads * perThread)
        #expect(tally.seen.allSatisfy { $0 == 1 })
        #expect(tally.inOrder)
    }

    @Test func readerCallbackRunsWhenTheDescriptorIsReadable() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        var got: [UInt8] = []
        try loop.addReader(fds[0]) {
            var byte: UInt8 = 0
            _ = read(fds[0], &byte, 1)
            got.append(byte)
            if got.count == 2 {
                loop.removeReader(fds[0])
                loop.stop()
            }
        }
        try loop.addWriter(fds[1]) {
            var byte: UInt8 = 7
            _ = write(fds[1], &byte, 1)
            byte = 9
            _ = write(fds[1], &byte, 1)
            loop.removeWriter(fds[1])
        }
        try loop.runForever()
        #expect(got == [7, 9])
    }
}

@Suite("Event loop lifecycle")
struct EventLoopLifecycleTests {
    @Test func stopWhileIdleIsNotRunning() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        loop.stop()
        #expect(!loop.isRunning)
    }

    @Test func runUntilCompleteThrowsWhenTheLoopStopsFirst() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let never = loop.createFuture(of: Int.self)
        loop.callSoon { loop.stop() }
        #expect(throws: LoopError.invalidState("the event loop stopped before the future completed")) {
            try loop.runUntilComplete(never)
        }
    }

    @Test func replacedReaderNeverRunsAgain() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        var byte: UInt8 = 1
        _ = write(fds[1], &byte, 1)
        let log = Log()
        try loop.addReader(fds[0]) { log("old") }
        try loop.addReader(fds[0]) {
            log("new")
            loop.removeReader(fds[0])
            loop.stop()
        }
        try loop.runForever()
        #expect(log.entries == ["new"])
    }
}
