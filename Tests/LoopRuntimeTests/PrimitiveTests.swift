import Foundation
import Testing
@testable import LoopRuntime

struct Boom: Error, Equatable {
    var tag = 0
}

@Suite("Primitives")
struct PrimitiveTests {
    @Test func gatherReturnsResultsInOrder() throws {
        let results = try EventLoop.run(trace: .off) { () async throws -> [Int] in
            let loop = EventLoop.current!
            let tasks = [30, 10, 20].map { ms in
                loop.createTask { () async throws -> Int in
                    try await loop.sleep(for: .milliseconds(ms))
                    return ms
                }
            }
            return try await loop.gather(tasks)
        }
        #expect(results == [30, 10, 20])
    }

    @Test func gatherThrowsTheFirstErrorAndLeavesTheOthersRunning() throws {
        let log = Log()
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let slow = loop.createTask { () async throws -> Int in
                try await loop.sleep(for: .milliseconds(20))
                log("slow finished")
                return 1
            }
            let failing = loop.createTask { () async throws -> Int in
                try await loop.sleep(for: .milliseconds(1))
                throw Boom(tag: 2)
            }
            do {
                _ = try await loop.gather([slow, failing])
                log("no error")
            } catch let error as Boom {
                log("caught \(error.tag)")
            }
            _ = try await slow.value
        }
        #expect(log.entries == ["caught 2", "slow finished"])
    }

    @Test func gatherWithReturnExceptionsCollectsEveryOutcome() throws {
        let outcomes = try EventLoop.run(trace: .off) { () async throws -> [String] in
            let loop = EventLoop.current!
            let ok = loop.createTask { () async throws -> Int in 1 }
            let bad = loop.createTask { () async throws -> Int in throw Boom(tag: 3) }
            let cancelled = loop.createTask { () async throws -> Int in
                try await loop.sleep(for: .seconds(5))
                return 0
            }
            loop.callSoon { cancelled.cancel() }
            return try await loop.gather([ok, bad, cancelled], returnExceptions: true).map {
                switch $0 {
                case .success(let v): return "ok \(v)"
                case .failure(let e as Boom): return "boom \(e.tag)"
                case .failure(let e): return "\(type(of: e))"
                }
            }
        }
        #expect(outcomes == ["ok 1", "boom 3", "CancellationError"])
    }

    @Test func cancellingAGatherCancelsItsChildren() throws {
        let log = Log()
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let children = (0..<3).map { i in
                loop.createTask {
                    do { try await loop.sleep(for: .seconds(10)) } catch { log("child \(i) cancelled"); throw error }
                }
            }
            let gatherer = loop.createTask { _ = try await loop.gather(children) }
            try await loop.sleep(for: .milliseconds(2))
            gatherer.cancel()
            _ = try? await gatherer.value
            _ = try await loop.gather(children, returnExceptions: true)
            let allCancelled = children.allSatisfy { $0.isCancelled }
            #expect(allCancelled)
        }
        #expect(Set(log.entries) == ["child 0 cancelled", "child 1 cancelled", "child 2 cancelled"])
    }

    @Test func waitForTimeoutCancelsTheTaskAndThrowsTimedOut() throws {
        let log = Log()
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let slow = loop.createTask { () async throws -> Int in
                do {
                    try await loop.sleep(for: .seconds(10))
                } catch {
                    log("slow cancelled")
                    throw error
                }
                return 1
            }
            await #expect(throws: LoopError.timedOut) { try await loop.waitFor(slow, timeout: .milliseconds(5)) }
            #expect(slow.isCancelled)
            let fast = try await loop.waitFor(timeout: .seconds(5)) { () async throws -> Int in
                try await loop.sleep(for: .milliseconds(1))
                return 2
            }
            #expect(fast == 2)
        }
        #expect(log.entries == ["slow cancelled"])
    }

    @Test func timeoutScopeThrowsTimedOutAndCancelsTheWorkInside() throws {
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            await #expect(throws: LoopError.timedOut) {
                try await loop.timeout(.milliseconds(3)) { try await loop.sleep(for: .seconds(10)) }
            }
            // The caller itself is not cancelled and goes on awaiting.
            try await loop.sleep(for: .milliseconds(1))
            let v = try await loop.timeout(.seconds(5)) { 7 }
            #expect(v == 7)
        }
    }

    @Test func shieldKeepsCancellationFromReachingTheInnerTask() throws {
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let inner = loop.createTask { () async throws -> Int in
                try await loop.sleep(for: .milliseconds(10))
                return 9
            }
            let outer = loop.createTask { try await loop.shield(inner).value }
            try await loop.sleep(for: .milliseconds(1))
            outer.cancel()
            await #expect(throws: CancellationError.self) { try await outer.value }
            let innerValue = try await inner.value
            #expect(innerValue == 9)
        }
    }

    /// The order in which the tasks finish is set by events the test sets, not by sleeps: with
    /// 1, 10 and 30 ms sleeps, a loaded machine that paused the process for 30 ms finished all
    /// three before the first `wait` looked (seen in a full run at load average 16).
    @Test func waitReturnsWhenFirstCompletedOrFirstExceptionOrAll() throws {
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            func after(_ event: LoopEvent, _ value: Int, fail: Bool = false) -> LoopTask<Int> {
                loop.createTask {
                    try await event.wait()
                    if fail { throw Boom() }
                    return value
                }
            }
            let first = LoopEvent(), second = LoopEvent(), last = LoopEvent()
            let tasks = [after(last, 30), after(first, 1), after(second, 10, fail: true)]
            first.set()
            let firstDone = try await loop.wait(tasks, returnWhen: .firstCompleted)
            #expect(firstDone.done.count == 1 && firstDone.done[0] === tasks[1])
            second.set()
            let exception = try await loop.wait(tasks, returnWhen: .firstException)
            #expect(exception.done.count == 2 && exception.pending.count == 1)
            let timedOut = try await loop.wait(tasks, timeout: .milliseconds(1))
            #expect(timedOut.pending.count == 1 && timedOut.pending[0] === tasks[0])
            last.set()
            let all = try await loop.wait(tasks)
            #expect(all.done.count == 3 && all.pending.isEmpty)
        }
    }

    @Test func asCompletedYieldsInCompletionOrder() throws {
        let order = try EventLoop.run(trace: .off) { () async throws -> [Int] in
            let loop = EventLoop.current!
            let tasks = [20, 5, 10].map { ms in
                loop.createTask { () async throws -> Int in
                    try await loop.sleep(for: .milliseconds(ms))
                    return ms
                }
            }
            var order: [Int] = []
            for try await done in loop.asCompleted(tasks) { order.append(try done.result()) }
            return order
        }
        #expect(order == [5, 10, 20])
    }

    @Test func asCompletedTimesOut() throws {
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let never = loop.createFuture(of: Int.self)
            await #expect(throws: LoopError.timedOut) {
                for try await _ in loop.asCompleted([never], timeout: .milliseconds(2)) {}
            }
            never.cancel()
        }
    }
}

@Suite("Primitives, continued")
struct MorePrimitiveTests {
    @Test func gatherOfDifferentTypesReturnsATuple() throws {
        let (number, text) = try EventLoop.run(trace: .off) { () async throws -> (Int, String) in
            let loop = EventLoop.current!
            let number = loop.createTask { () async throws -> Int in
                try await loop.sleep(for: .milliseconds(2))
                return 1
            }
            let text = loop.createTask { () async throws -> String in "one" }
            return try await loop.gather(number, text)
        }
        #expect(number == 1 && text == "one")
    }

    @Test func gatherOfNothingReturnsAtOnce() throws {
        let none = try EventLoop.run(trace: .off) { () async throws -> [Int] in
            try await EventLoop.current!.gather([LoopFuture<Int>]())
        }
        #expect(none.isEmpty)
    }

    @Test func loopOnlyAPIFromAnotherThreadFailsAPreconditionNamingIt() async throws {
        let result = try await #require(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let loop = try EventLoop(trace: .off)
            let thread = Thread { loop.callSoon {} }
            thread.start()
            while true { sleep(1) }
        }
        let message = String(decoding: result.standardErrorContent, as: UTF8.self)
        #expect(message.contains("EventLoop.callSoon must be called on the event loop's thread"), "\(message)")
    }
}
