import Foundation
import Testing
@testable import LoopRuntime

@Suite("Futures and tasks")
struct TaskTests {
    @Test func runReturnsMainsResult() throws {
        let value = try EventLoop.run(trace: .off) { () async throws -> Int in
            let loop = EventLoop.current!
            try await loop.sleep(for: .milliseconds(1))
            return 42
        }
        #expect(value == 42)
    }

    @Test func doneCallbacksAreScheduledNotCalledInline() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let log = Log()
        let future = loop.createFuture(of: Int.self)
        future.addDoneCallback { f in log("done \((try? f.result()) ?? -1)") }
        loop.callSoon {
            try future.setResult(7)
            log("after setResult")
        }
        try loop.runUntilComplete(future)
        loop.callSoon { loop.stop() }
        try loop.runForever()
        #expect(log.entries == ["after setResult", "done 7"])
    }

    @Test func removedDoneCallbackNeverRuns() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let log = Log()
        let future = loop.createFuture(of: Int.self)
        let token = future.addDoneCallback { _ in log("removed") }
        future.addDoneCallback { _ in log("kept") }
        #expect(future.removeDoneCallback(token))
        loop.callSoon { try future.setResult(1) }
        try loop.runUntilComplete(future)
        #expect(log.entries == ["kept"])
    }

    @Test func resultBeforeDoneIsAnInvalidStateAndAfterCancelIsCancellation() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let future = loop.createFuture(of: Int.self)
        #expect(throws: LoopError.self) { try future.result() }
        #expect(future.cancel())
        #expect(future.isCancelled && future.isDone)
        #expect(throws: CancellationError.self) { try future.result() }
        #expect(throws: LoopError.self) { try future.setResult(1) }
        #expect(!future.cancel())
    }

    @Test func runUntilCompleteDrainsCallbacksReadyInTheFinalIteration() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let log = Log()
        let future = loop.createFuture(of: Int.self)
        loop.callSoon {
            try future.setResult(1)
            loop.callSoon { log("scheduled with the result") }
        }
        try loop.runUntilComplete(future)
        #expect(log.entries == ["scheduled with the result"])
    }

    @Test func taskStartsOnALaterIterationNeverInline() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let log = Log()
        loop.callSoon {
            loop.createTask { log("task body") }
            log("after createTask")
        }
        loop.callSoon { log("second callback") }
        loop.callSoon { loop.callSoon { loop.stop() } }
        try loop.runForever()
        #expect(log.entries == ["after createTask", "second callback", "task body"])
    }

    @Test func awaitingAFutureResumesWhenAnotherTaskSetsIt() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let future = loop.createFuture(of: String.self)
        let waiter = loop.createTask { try await "got " + future.value }
        loop.createTask {
            try await loop.sleep(for: .milliseconds(2))
            try future.setResult("it")
        }
        #expect(try loop.runUntilComplete(waiter) == "got it")
    }

    @Test func taskCancelledBeforeItsFirstStepNeverRunsItsBody() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let log = Log()
        let task = loop.createTask { log("body ran") }
        task.cancel()
        #expect(throws: CancellationError.self) { try loop.runUntilComplete(task) }
        #expect(task.isCancelled)
        #expect(log.entries.isEmpty)
    }

    @Test func cancellingDuringASleepDeliversCancellationErrorAndSetsIsCancelled() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let log = Log()
        let task = loop.createTask {
            do {
                try await loop.sleep(for: .seconds(10))
                log("slept")
            } catch {
                log("caught \(error is CancellationError) isCancelled=\(Task.isCancelled)")
                throw error
            }
        }
        loop.callLater(.milliseconds(5)) { task.cancel() }
        let start = loop.time()
        #expect(throws: CancellationError.self) { try loop.runUntilComplete(task) }
        #expect(loop.time() - start < 5_000_000_000)
        #expect(log.entries == ["caught true isCancelled=true"])
        #expect(task.isCancelled)
    }

    @Test func taskMayCatchCancellationCleanUpAndRethrow() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let log = Log()
        let task = loop.createTask {
            do {
                try await loop.sleep(for: .seconds(10))
            } catch is CancellationError {
                log("cleanup")
                // As in asyncio, the cancellation was delivered once: cleanup can await again.
                try await loop.sleep(for: .milliseconds(1))
                log("cleaned isCancelled=\(Task.isCancelled)")
                throw CancellationError()
            }
        }
        loop.callSoon { task.cancel() }
        #expect(throws: CancellationError.self) { try loop.runUntilComplete(task) }
        #expect(log.entries == ["cleanup", "cleaned isCancelled=true"])
        #expect(task.isCancelled)
    }

    @Test func cancelWhileRunningIsDeliveredAtTheNextLoopAwait() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let log = Log()
        let task = loop.createTask {
            LoopTask.current!.cancel()  // cancels itself while running: nothing awaited yet
            log("still running")
            do {
                try await loop.sleep(for: .zero)
                log("not delivered")
            } catch {
                log("delivered")
            }
            try await loop.sleep(for: .milliseconds(1))
            log("awaits again after delivery")
        }
        try loop.runUntilComplete(task)
        #expect(log.entries == ["still running", "delivered", "awaits again after delivery"])
    }

    @Test func cancellingATaskCancelsTheFutureItAwaits() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let future = loop.createFuture(of: Int.self)
        let task = loop.createTask { try await future.value }
        loop.callLater(.milliseconds(2)) { task.cancel() }
        #expect(throws: CancellationError.self) { try loop.runUntilComplete(task) }
        #expect(future.isCancelled)
    }

    @Test func failingTaskStoresItsError() throws {
        struct Boom: Error {}
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let task = loop.createTask { () async throws -> Int in throw Boom() }
        #expect(throws: Boom.self) { try loop.runUntilComplete(task) }
        #expect(try task.error() is Boom)
        #expect(!task.isCancelled)
    }

    @Test func sleepZeroInterleavesTwoCountersLikeAsyncio() throws {
        let log = Log()
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            func counter(_ name: String) async throws {
                for i in 0..<3 {
                    log("\(name)\(i)")
                    try await loop.sleep(for: .zero)
                }
            }
            let a = loop.createTask { try await counter("a") }
            let b = loop.createTask { try await counter("b") }
            loop.callSoon { log("cb") }
            _ = try await loop.gather([a, b])
        }
        #expect(log.entries == ["a0", "b0", "cb", "a1", "b1", "a2", "b2"])
    }

    @Test func taskSleepAndClockSleepAreServedByTheLoop() throws {
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let start = loop.time()
            try await Task.sleep(for: .milliseconds(3))
            #expect(EventLoop.current === loop)
            try await ContinuousClock().sleep(for: .milliseconds(2))
            #expect(EventLoop.current === loop)
            #expect(loop.time() - start >= 5_000_000)
        }
    }

    @Test func asyncLetAndTaskGroupChildrenRunOnTheLoop() throws {
        let total = try EventLoop.run(trace: .off) { () async throws -> Int in
            let loop = EventLoop.current!
            async let x: Int = {
                try await loop.sleep(for: .milliseconds(1))
                return EventLoop.current === loop ? 1 : -100
            }()
            let grouped = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<4 {
                    group.addTask {
                        try await loop.sleep(for: .milliseconds(1))
                        return EventLoop.current === loop ? i : -100
                    }
                }
                return try await group.reduce(0, +)
            }
            return try await x + grouped
        }
        #expect(total == 1 + 0 + 1 + 2 + 3)
    }

    @Test func continuationResumedFromAnotherThreadComesBackToTheLoop() throws {
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let value = await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
                DispatchQueue.global().asyncAfter(deadline: .now() + 0.01) { continuation.resume(returning: 5) }
            }
            #expect(value == 5)
            #expect(EventLoop.current === loop)
        }
    }

    @Test func actorOnTheLoopRunsOnTheLoopThread() throws {
        actor Counter {
            let loop: EventLoop
            var count = 0
            init(loop: EventLoop) { self.loop = loop }
            nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }
            func increment() -> Bool {
                count += 1
                return EventLoop.current === loop
            }
        }
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let counter = Counter(loop: loop)
            for _ in 0..<3 { #expect(await counter.increment()) }
            #expect(await counter.count == 3)
        }
    }

    @Test func leftoverTasksAreCancelledWhenRunReturns() throws {
        let log = Log()
        let reported = Log()
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            loop.exceptionHandler = { reported($0.message) }
            loop.createTask(name: "straggler") {
                do { try await loop.sleep(for: .seconds(30)) } catch { log("straggler cancelled") }
            }
            try await loop.sleep(for: .milliseconds(1))
        }
        #expect(log.entries == ["straggler cancelled"])
        #expect(reported.entries.count == 1 && reported.entries[0].contains("straggler"))
    }

    @Test func currentTaskAndAllTasks() throws {
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            #expect(LoopTask.current?.name == "main")
            let child = loop.createTask(name: "child") { LoopTask.current?.name }
            #expect(loop.allTasks.map(\.name) == ["main", "child"])
            let childName = try await child.value
            #expect(childName == "child")
        }
    }
}

@Suite("Cancellation, continued")
struct MoreCancellationTests {
    /// A pending cancel() used to end the await of a still-running task at once, so `value`
    /// threw an invalid-state error instead of waiting for the awaited task to be cancelled.
    @Test func pendingCancelCancelsTheAwaitedTaskAndWaitsForIt() throws {
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let log = Log()
        let inner = loop.createTask(name: "inner") {
            do {
                try await loop.sleep(for: .seconds(10))
            } catch {
                try? await loop.sleep(for: .milliseconds(2))  // slow cleanup
                log("inner cleaned up")
                throw error
            }
        }
        let outer = loop.createTask(name: "outer") {
            LoopTask.current!.cancel()
            do {
                try await inner.value()
            } catch {
                log("outer got \(type(of: error))")
                throw error
            }
        }
        #expect(throws: CancellationError.self) { try loop.runUntilComplete(outer) }
        #expect(log.entries == ["inner cleaned up", "outer got CancellationError"])
        #expect(inner.isCancelled)
    }

    @Test func cancelledChildWaitsForTheTaskItCancels() throws {
        let log = Log()
        try EventLoop.run(trace: .off) {
            let loop = EventLoop.current!
            let inner = loop.createTask(name: "inner") {
                do { try await loop.sleep(for: .seconds(10)) } catch {
                    try? await loop.sleep(for: .milliseconds(2))
                    log("inner cleaned up")
                    throw error
                }
            }
            try await loop.sleep(for: .milliseconds(1))
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    do { try await inner.value() } catch { log("child got \(type(of: error))") }
                }
                group.cancelAll()
            }
        }
        #expect(log.entries == ["inner cleaned up", "child got CancellationError"])
    }
}
