import Foundation
import Glibc
import LoopRuntime
import Testing
import TraceAnalysis
import TraceFormat

/// A LoopRuntime program that saturates a two-thread pool and measures, with the monotonic clock,
/// when each job was submitted, began and ended: `latency`'s executor queue delay, run time and
/// pool utilization must match.
@Suite("Executor queue delay and pool utilization", .serialized)
struct ExecutorAnalysisTests {
    /// Per job: submitted, began, ended (ns, CLOCK_MONOTONIC). Written by one thread each.
    final class Truth: @unchecked Sendable {
        let lock = NSLock()
        var submitted: [Int: Int64] = [:]
        var began: [Int: Int64] = [:]
        var ended: [Int: Int64] = [:]
        func note(_ slot: ReferenceWritableKeyPath<Truth, [Int: Int64]>, _ job: Int) {
            let now = Self.now()
            lock.lock()
            self[keyPath: slot][job] = now
            lock.unlock()
        }
        static func now() -> Int64 {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
        }
    }

    static let jobs = 6

    static func record(_ dir: TemporaryDirectory) throws -> (String, Truth) {
        let path = dir.file("executor.trace")
        let truth = Truth()
        try EventLoop.run(trace: .file(path)) {
            let loop = EventLoop.current!
            let pool = LoopThreadPool(maxThreads: 2)
            let workers = (0..<jobs).map { job in
                loop.createTask(name: "job\(job)") { () async throws -> Void in
                    truth.note(\.submitted, job)
                    try await loop.runInExecutor(pool) {
                        truth.note(\.began, job)
                        usleep(20_000)
                        truth.note(\.ended, job)
                    }
                }
            }
            // Submitted while both threads are busy and four jobs queue: withdrawn, never run.
            let withdrawn = loop.createTask(name: "withdrawn") { () async throws -> Void in
                _ = try await loop.runInExecutor(pool) { usleep(1) }
            }
            try await loop.sleep(for: .milliseconds(5))
            withdrawn.cancel()
            _ = try await loop.gather(workers)
            _ = try? await withdrawn.value()
            pool.shutdown()
        }
        return (path, truth)
    }

    @Test("Queue delay, run time, busy time and utilization of a saturated pool match what the jobs measured")
    func aSaturatedPoolShowsItsQueueDelayAndUtilization() throws {
        let dir = TemporaryDirectory()
        let (path, truth) = try Self.record(dir)
        var options = AnalysisOptions()
        options.threads = 1
        let result = try TraceAnalysis.analyze(path: path, options: options)
        let e = try #require(result.executor)
        #expect(e.jobs == UInt64(Self.jobs))
        #expect(e.workers == 2)
        #expect(e.unfinishedJobs == 1)
        let delays = (0..<Self.jobs).map { truth.began[$0]! - truth.submitted[$0]! }.sorted()
        let runs = (0..<Self.jobs).map { truth.ended[$0]! - truth.began[$0]! }
        let tolerance: Int64 = 500_000
        // Four of six jobs waited for a thread, at least one for two jobs' time.
        #expect(e.queueDelay.count == UInt64(Self.jobs))
        #expect(abs(e.queueDelay.maxNanos - delays.last!) <= tolerance, "max delay \(e.queueDelay.maxNanos), measured \(delays)")
        #expect(e.queueDelay.maxNanos >= 35_000_000)
        #expect(abs(e.runTime.minNanos - runs.min()!) <= tolerance && abs(e.runTime.maxNanos - runs.max()!) <= tolerance)
        let busy = runs.reduce(0, +)
        #expect(abs(e.busyNanos - busy) <= tolerance * Int64(Self.jobs), "busy \(e.busyNanos), measured \(busy)")
        let expected = Double(e.busyNanos) / (2 * Double(result.trace.spanNanos))
        #expect(abs(e.utilization - expected) < 1e-9)
        #expect(e.utilization > 0.5, "two threads kept busy most of the run: \(e.utilization)")
        let text = ReportRenderer(result).latency()
        #expect(text.contains("executor queue delay"))
        #expect(text.contains("\(Self.jobs) jobs on 2 worker thread(s)"))
        #expect(text.contains("1 job(s) never finished"))
    }

    @Test("A trace without thread-pool jobs has no executor figures")
    func noJobsNoExecutorFigures() throws {
        let t = try SyntheticTrace()
        t.at(1 * ms) { $0.taskCreate(task: 1, parent: 0, name: "solo", site: nil) }
        t.at(2 * ms) { $0.wakeup(task: 1, waker: .task, wakerID: 0) }
        let (result, _) = try t.analyze()
        #expect(result.executor == nil)
        #expect(!ReportRenderer(result).latency().contains("thread pool"))
    }

    @Test("A job whose worker's events are read before its submit is still matched")
    func workerEventsBeforeTheSubmitStillMatch() throws {
        let t = try SyntheticTrace()
        let worker = t.recorder.makeStream()
        worker.setSyntheticTime(nanos: 3 * ms)
        worker.executorBegin(job: 7)
        worker.setSyntheticTime(nanos: 5 * ms)
        worker.executorEnd(job: 7)
        worker.flush()
        t.at(1 * ms) { $0.executorSubmit(job: 7, site: siteA) }
        let (result, _) = try t.analyze()
        let e = try #require(result.executor)
        #expect(e.jobs == 1 && e.workers == 1 && e.unfinishedJobs == 0)
        #expect(e.queueDelay.maxNanos == 2_000_000)
        #expect(e.runTime.maxNanos == 2_000_000)
    }
}
