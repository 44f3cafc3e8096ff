import Foundation
import Glibc
import LoopRuntime
import Testing
import TraceAnalysis
import TraceFormat

/// A LoopRuntime program whose tasks each wait for one kind of thing, measuring each wait with
/// the loop's clock: the analysis must put each task's suspended time under that reason, and the
/// time must fit the wait the program measured.
@Suite("Suspend reasons of LoopRuntime traces", .serialized)
struct SuspendReasonTests {
    /// Each task's measured wait, ns, by task name (loop thread only).
    final class Truth: @unchecked Sendable {
        var waits: [String: Int64] = [:]
        var ids: [String: UInt64] = [:]
        var lockSiteLine = 0
    }

    static func record(_ dir: TemporaryDirectory) throws -> (String, Truth) {
        let path = dir.file("reasons.trace")
        let truth = Truth()
        try EventLoop.run(trace: .file(path)) {
            let loop = EventLoop.current!
            func measured(_ name: String, _ body: () async throws -> Void) async throws {
                let begin = loop.time()
                try await body()
                truth.waits[name] = loop.time() - begin
            }
            let server = try loop.startServer(host: "127.0.0.1", port: 0) { reader, writer in
                let line = try await reader.readLine()
                try await loop.sleep(for: .milliseconds(15))
                try writer.write(line)
                try await writer.drain()
                writer.close()
            }
            let lock = LoopLock()
            let event = LoopEvent()
            let holder = loop.createTask(name: "holder") { () async throws -> Void in
                try await lock.acquire()
                try await loop.sleep(for: .milliseconds(40))
                try lock.release()
            }
            let tasks: [LoopTask<Void>] = [
                holder,
                loop.createTask(name: "sleeper") { () async throws -> Void in
                    try await measured("sleeper") { try await loop.sleep(for: .milliseconds(30)) }
                },
                loop.createTask(name: "waiter") { () async throws -> Void in
                    try await measured("waiter") {
                        truth.lockSiteLine = #line + 1
                        try await lock.acquire()
                    }
                    try lock.release()
                },
                loop.createTask(name: "eventWaiter") { () async throws -> Void in
                    loop.callLater(.milliseconds(10)) { event.set() }
                    try await measured("eventWaiter") { try await event.wait() }
                },
                loop.createTask(name: "reader") { () async throws -> Void in
                    try await measured("reader") {
                        let (reader, writer) = try await loop.openConnection(host: "127.0.0.1", port: server.port)
                        try writer.write("ping\n")
                        _ = try await reader.readLine()
                        writer.close()
                    }
                },
                loop.createTask(name: "offloader") { () async throws -> Void in
                    try await measured("offloader") { _ = try await loop.runInExecutor { usleep(20_000) } }
                },
                loop.createTask(name: "joiner") { () async throws -> Void in
                    let child = loop.createTask(name: "child") { () async throws -> Void in
                        try await loop.sleep(for: .milliseconds(25))
                    }
                    try await measured("joiner") { try await child.value() }
                },
            ]
            for task in tasks { truth.ids[task.name] = task.taskID }
            _ = try await loop.gather(tasks)
            server.close()
            try await server.waitClosed()
        }
        return (path, truth)
    }

    @Test("Each task's suspended time goes to what it waited for, as long as the program measured")
    func suspendedTimeIsSplitByWhatEachTaskWaitedFor() throws {
        let dir = TemporaryDirectory()
        let (path, truth) = try Self.record(dir)
        var options = AnalysisOptions()
        options.threads = 1
        let result = try TraceAnalysis.analyze(path: path, options: options)
        #expect(result.trace.damage.isEmpty)
        let expected: [(String, SuspendReason)] = [
            ("sleeper", .sleep), ("waiter", .lockOrQueue), ("eventWaiter", .lockOrQueue), ("reader", .io),
            ("offloader", .executor), ("joiner", .otherTask),
        ]
        for (name, reason) in expected {
            let row = try #require(result.tasks.rows.first { $0.name == name }, "no row for \(name)")
            let split = try #require(row.suspendedByReason, "\(name) has no split")
            let time = split[reason.key] ?? 0
            let want = try #require(truth.waits[name])
            // The whole suspended time is accounted for by reasons, and this task's by its own.
            #expect(split.values.reduce(0, +) == row.suspendedNanos, "\(name): \(split) ≠ \(row.suspendedNanos)")
            #expect(time * 100 >= row.suspendedNanos * 95, "\(name) waited for \(reason): \(split)")
            // Inside the measured wait, and with the task's ready waits and steps it covers it.
            let tolerance = max(want / 100, 200_000)
            #expect(time <= want + tolerance, "\(name): \(reason) \(time) ns, measured \(want) ns")
            #expect(time + row.readyWaitNanos + row.busyNanos >= want - tolerance,
                    "\(name): \(reason) \(time) ns + ready \(row.readyWaitNanos) + busy \(row.busyNanos), measured \(want) ns")
        }
        // The totals add every task's split.
        let totals = try #require(result.tasks.suspendedByReason)
        for reason in SuspendReason.allCases {
            let sum = result.tasks.rows.compactMap { $0.suspendedByReason?[reason.key] }.reduce(0, +)
            #expect((totals[reason.key] ?? 0) == sum)
        }
    }

    @Test("A task woken by a release names the releasing task and the lock's site; one woken by set names the callback")
    func aWaitNamesWhatItWaitedOnAndWhoEndedIt() throws {
        let dir = TemporaryDirectory()
        let (path, truth) = try Self.record(dir)
        let result = try TraceAnalysis.analyze(path: path)
        let waiter = try #require(result.tasks.rows.first { $0.name == "waiter" })
        let wait = try #require(waiter.longestWait)
        #expect(wait.reason == "lockOrQueue")
        #expect(wait.on == "Lock.acquire at TraceAnalysisTests/SuspendReasonTests.swift:\(truth.lockSiteLine)")
        let holderID = try #require(truth.ids["holder"])
        #expect(wait.waker?.hasPrefix("task holder #\(holderID)") == true, "\(wait)")
        let eventWaiter = try #require(result.tasks.rows.first { $0.name == "eventWaiter" })
        #expect(eventWaiter.longestWait?.on.hasPrefix("Event.wait at TraceAnalysisTests/SuspendReasonTests.swift:") == true)
        #expect(eventWaiter.longestWait?.waker?.hasPrefix("callback ") == true, "\(String(describing: eventWaiter.longestWait))")
        let offloader = try #require(result.tasks.rows.first { $0.name == "offloader" })
        #expect(offloader.longestWait?.waker?.hasPrefix("executor job ") == true)
        // The tasks table shows the split and the wait.
        let text = ReportRenderer(result).tasks(tree: false)
        #expect(text.contains("lock or queue"))
        #expect(text.contains("Lock.acquire at TraceAnalysisTests/SuspendReasonTests.swift:\(truth.lockSiteLine) ← task holder #\(holderID)"))
        #expect(ReportRenderer(result).report().contains("suspended "))
    }
}
