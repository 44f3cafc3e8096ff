import Atomics
import Foundation
import Testing
import TraceFormat
@testable import LoopRuntime

/// Counts its deinits: proves that what a job captured was released.
final class Released: Sendable {
    let counter: ManagedAtomic<Int>
    init(_ counter: ManagedAtomic<Int>) { self.counter = counter }
    deinit { counter.wrappingIncrement(ordering: .relaxed) }
}

@Suite("Thread-pool executor (run_in_executor, to_thread)")
struct ThreadPoolTests {
    @Test func aBlockingCallRunsOffTheLoopWhileOtherTasksGoOn() throws {
        try onLoop {
            let loop = EventLoop.current!
            let loopThread = pthread_self()
            let ticks = Box(0)
            let ticker = loop.createTask {
                for _ in 0..<5 {
                    try await loop.sleep(for: .milliseconds(2))
                    ticks.value += 1
                }
            }
            let (value, sameThread) = try await loop.toThread { () -> (Int, Bool) in
                usleep(30_000)
                return (42, pthread_equal(pthread_self(), loopThread) != 0)
            }
            #expect(value == 42)
            #expect(!sameThread)
            #expect(ticks.value == 5)  // the loop ticked while the call blocked
            try await finished(ticker)
        }
    }

    @Test func anErrorThrownOnTheWorkerReachesTheAwaitingTask() throws {
        try onLoop {
            let loop = EventLoop.current!
            await #expect(throws: Boom(tag: 7)) {
                try await loop.runInExecutor { () throws -> Int in throw Boom(tag: 7) }
            }
        }
    }

    @Test func aPoolRunsAtMostItsSizeAtOnce() throws {
        try onLoop {
            let loop = EventLoop.current!
            let pool = LoopThreadPool(maxThreads: 3)
            defer { pool.shutdown() }
            let concurrent = ManagedAtomic(0), peak = ManagedAtomic(0)
            let tasks = (0..<12).map { i in
                loop.createTask { () async throws -> Int in
                    try await loop.runInExecutor(pool) {
                        let now = concurrent.wrappingIncrementThenLoad(ordering: .relaxed)
                        var seen = peak.load(ordering: .relaxed)
                        while now > seen, !peak.compareExchange(expected: seen, desired: now, ordering: .relaxed).exchanged {
                            seen = peak.load(ordering: .relaxed)
                        }
                        usleep(2_000)
                        concurrent.wrappingDecrement(ordering: .relaxed)
                        return i * i
                    }
                }
            }
            let results = try await loop.waitFor(timeout: .seconds(10)) { try await loop.gather(tasks) }
            #expect(results == (0..<12).map { $0 * $0 })
            #expect(peak.load(ordering: .relaxed) <= 3)
            #expect(pool.statistics.threads == 3)
            #expect(LoopThreadPool.defaultMaxThreads == min(32, ProcessInfo.processInfo.activeProcessorCount + 4))
        }
    }

    @Test func aThousandJobsWithCancellationsLeakNothing() throws {
        let released = ManagedAtomic(0)
        let ranCount = ManagedAtomic(0)
        let pool = LoopThreadPool(maxThreads: 4)
        defer { pool.shutdown() }
        let outcome = try EventLoop.run(trace: .off) { () async throws -> (ok: Int, cancelled: Int, wrong: Int) in
            let loop = EventLoop.current!
            let tasks = (0..<1_000).map { i in
                loop.createTask { () async throws -> Int in
                    let token = Released(released)
                    return try await loop.runInExecutor(pool) {
                        withExtendedLifetime(token) {
                            ranCount.wrappingIncrement(ordering: .relaxed)
                            if i % 10 == 0 { usleep(200) }
                            return i &* 3
                        }
                    }
                }
            }
            try await yieldOnce()
            // Cancel every third task: some jobs are queued still, some running, some done.
            for (i, task) in tasks.enumerated() where i % 3 == 1 {
                task.cancel()
                if i % 99 == 1 { try await yieldOnce() }
            }
            var ok = 0, cancelled = 0, wrong = 0
            for (i, task) in tasks.enumerated() {
                _ = try? await loop.wait([task], timeout: .seconds(10))
                if task.isCancelled { cancelled += 1 } else if (try? task.result()) == i * 3 { ok += 1 } else { wrong += 1 }
            }
            return (ok, cancelled, wrong)
        }
        #expect(outcome.wrong == 0)
        #expect(outcome.ok + outcome.cancelled == 1_000)
        #expect(outcome.cancelled >= 1)
        #expect(outcome.cancelled <= 334)
        // Jobs still running when their task was cancelled finish on their threads: wait for
        // the pool to go idle, then every capture must be gone, run or withdrawn.
        var waited = 0
        while pool.statistics.running + pool.statistics.queued > 0, waited < 5_000 {
            usleep(1_000)
            waited += 1
        }
        #expect(pool.statistics.running == 0)
        #expect(pool.statistics.ran == ranCount.load(ordering: .relaxed))
        #expect(ranCount.load(ordering: .relaxed) >= outcome.ok)
        #expect(released.load(ordering: .relaxed) == 1_000)
    }

    @Test func theJobIsTracedOnTheWorkerAndNamedAsTheTasksWaker() throws {
        let path = temporaryTracePath()
        defer { unlink(path) }
        let submitLine = #line + 4
        try EventLoop.run(trace: .file(path)) {
            let loop = EventLoop.current!
            let worker = loop.createTask(name: "offload") { () async throws -> Int in
                try await loop.runInExecutor { usleep(1_000); return 1 }
            }
            _ = try await worker.value
        }
        let reader = try TraceReader(path: path)
        var submits: [(job: UInt64, stream: UInt32, site: String)] = []
        var begins: [(job: UInt64, stream: UInt32)] = [], ends: [UInt64] = []
        var wakers: [(WakerKind, UInt64)] = []
        try reader.forEachEvent { event, chunk in
            switch event.type {
            case .executorSubmit: submits.append((event.args[0], event.stream, chunk.string(event.args[1])))
            case .executorBegin: begins.append((event.args[0], event.stream))
            case .executorEnd: ends.append(event.args[0])
            case .wakeup: wakers.append((event.wakerKind!, event.args[2]))
            default: break
            }
        }
        #expect(submits.count == 1)
        let job = submits.first?.job ?? 0
        #expect(submits.first?.site == "LoopRuntimeTests/ThreadPoolTests.swift:\(submitLine):runInExecutor")
        #expect(begins.map(\.job) == [job])
        #expect(ends == [job])
        #expect(begins.first?.stream != submits.first?.stream)  // the worker's own stream
        #expect(wakers.contains { $0.0 == .executor && $0.1 == job })
    }
}
