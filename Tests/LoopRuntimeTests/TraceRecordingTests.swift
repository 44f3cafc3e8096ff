import Foundation
import Testing
import TraceFormat
@testable import LoopRuntime

/// Runs `tasks` tasks of `yields` `sleep(.zero)` each on `loop` (named `<prefix>-w<i>`) and closes it.
func runYieldingWorkers(on loop: EventLoop, prefix: String, tasks: Int, yields: Int) throws {
    let main = loop.createTask(name: "\(prefix)-main") {
        var workers: [LoopTask<Void>] = []
        for i in 0..<tasks {
            workers.append(loop.createTask(name: "\(prefix)-w\(i)") {
                for _ in 0..<yields { try await loop.sleep(for: .zero) }
            })
        }
        for worker in workers { try await worker.value() }
    }
    try loop.runUntilComplete(main)
    loop.close()
}

/// Per stream, each task name's step outcomes in order; and the streams' loop starts.
func stepsByStream(_ path: String) throws -> (steps: [UInt32: [String: [StepOutcome]]], loopStarts: [UInt32: Int], damage: Int) {
    let reader = try TraceReader(path: path)
    var names: [UInt64: String] = [:]
    var steps: [UInt32: [String: [StepOutcome]]] = [:]
    var starts: [UInt32: Int] = [:]
    try reader.forEachEvent { e, chunk in
        switch e.type {
        case .taskCreate: names[e.args[0]] = chunk.text(e.args[2])
        case .stepEnd: steps[e.stream, default: [:]][names[e.task] ?? "?", default: []].append(e.outcome!)
        case .loopStart: starts[e.stream, default: 0] += 1
        default: break
        }
    }
    return (steps, starts, reader.damage.count)
}

@Suite("Trace recording: the recorder in a program")
struct TraceRecordingTests {
    /// Two loops on two threads recording into one path each opened the file themselves and
    /// overwrote each other: 675 of 1,349 events lost, and the trace did not validate.
    @Test("Two loops on two threads recording into one file share its recorder, each on its own stream, and lose nothing")
    func twoLoopsOnTwoThreadsShareOneTrace() throws {
        let path = temporaryTracePath()
        defer { unlink(path) }
        let group = DispatchGroup()
        // Both loops are open before either runs: a loop that closed before the other opened
        // would have been the file's only user, and the next opener starts a new file (CI saw
        // that under load: one stream).
        let opened = DispatchGroup()
        let failures = ManagedCounter()
        for prefix in ["A", "B"] {
            group.enter()
            opened.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                do {
                    let loop: EventLoop
                    do {
                        defer { opened.leave() }
                        loop = try EventLoop(trace: .file(path))
                    }
                    opened.wait()
                    try runYieldingWorkers(on: loop, prefix: prefix, tasks: 40, yields: 25)
                } catch {
                    failures.add()
                }
            }
        }
        group.wait()
        #expect(failures.value == 0)
        let (steps, starts, damage) = try stepsByStream(path)
        #expect(damage == 0)
        #expect(steps.count == 2, "two streams")
        #expect(starts.values.sorted() == [1, 1])
        for (stream, tasks) in steps {
            let prefix = tasks.keys.first { $0.hasSuffix("-main") }.map { String($0.prefix(1)) } ?? "?"
            for i in 0..<40 {
                let outcomes = tasks["\(prefix)-w\(i)"] ?? []
                #expect(outcomes == Array(repeating: .yielded, count: 25) + [.completed], "stream \(stream) \(prefix)-w\(i)")
            }
            #expect(tasks.keys.allSatisfy { $0.hasPrefix(prefix) }, "stream \(stream) holds only its own loop's tasks")
        }
    }

    /// A second `EventLoop.run` with `LOOPTRACE` truncated the trace of the first.
    @Test("A second loop recording into LOOPTRACE appends to the same trace")
    func secondRunAppends() throws {
        let path = temporaryTracePath()
        defer { unlink(path) }
        let environment: (String) -> String? = { $0 == "LOOPTRACE" ? path : nil }
        for prefix in ["first", "second"] {
            let loop = try EventLoop(trace: .environment, environment: environment)
            try runYieldingWorkers(on: loop, prefix: prefix, tasks: 3, yields: 2)
        }
        // Both loops are closed: their events are in the file, although the recorder stays open
        // for the rest of the process.
        let (steps, starts, damage) = try stepsByStream(path)
        #expect(damage == 0)
        #expect(starts.count == 2)
        let names = Set(steps.values.flatMap(\.keys))
        #expect(names.isSuperset(of: ["first-w0", "first-w2", "second-w0", "second-w2"]), "\(names)")
    }

    @Test("A trace file that cannot be created leaves the loop running untraced, with the error in its statistics")
    func unusablePathRunsUntraced() throws {
        let loop = try EventLoop(trace: .file("/nonexistent/dir/x.trace"))
        try runYieldingWorkers(on: loop, prefix: "u", tasks: 2, yields: 2)
        #expect(loop.recorder == nil)
        let error = loop.traceStatistics?.lastError ?? ""
        #expect(error == "cannot create /nonexistent/dir/x.trace: No such file or directory; running untraced")
    }

    @Test("The loop exposes the recording's statistics: events, drops, bytes and the last error")
    func statisticsAreExposed() throws {
        let path = temporaryTracePath()
        defer { unlink(path) }
        let loop = try EventLoop(trace: .file(path))
        try runYieldingWorkers(on: loop, prefix: "s", tasks: 5, yields: 4)
        let stats = try #require(loop.traceStatistics)
        let (steps, _, _) = try stepsByStream(path)
        #expect(steps.values.flatMap(\.values).map(\.count).reduce(0, +) >= 25)
        #expect(stats.events > 25)
        #expect(stats.droppedEvents == 0)
        #expect(stats.lastError == nil)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
        #expect(stats.fileBytes == UInt64(size ?? -1))
        #expect(try EventLoop(trace: .off).traceStatistics == nil)
    }

    @Test("The memory cap comes from EventLoop(trace:traceMemoryCapBytes:), else LOOPTRACE_MAX_MEMORY, else 64 MiB")
    func memoryCapIsSettable() throws {
        let dir = temporaryTracePath()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func cap(_ argument: Int?, _ variable: String?, _ name: String) throws -> Int? {
            let environment: (String) -> String? = { key in
                key == "LOOPTRACE" ? "\(dir)/\(name).trace" : (key == "LOOPTRACE_MAX_MEMORY" ? variable : nil)
            }
            let loop = try EventLoop(trace: .environment, traceMemoryCapBytes: argument, environment: environment)
            defer { loop.close() }
            return loop.recorder?.configuration.memoryCapBytes
        }
        #expect(try cap(8 << 20, "32MiB", "argument") == 8 << 20)
        #expect(try cap(nil, "32MiB", "variable") == 32 << 20)
        #expect(try cap(nil, nil, "default") == 64 << 20)
        #expect(try cap(nil, "lots", "invalid") == 64 << 20)
    }

    @Test("%p in LOOPTRACE names a file per process")
    func percentPNamesAFilePerProcess() throws {
        let dir = temporaryTracePath()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop(trace: .environment, environment: { $0 == "LOOPTRACE" ? "\(dir)/run-%p.trace" : nil })
        try runYieldingWorkers(on: loop, prefix: "p", tasks: 1, yields: 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["run-\(getpid()).trace"])
    }
}

/// A counter any thread may bump.
final class ManagedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

@Suite("Trace recording: one clock read between consecutive items")
struct ChainedTickTests {
    /// The events of `path` in order.
    func events(_ path: String) throws -> [TraceEvent] {
        var out: [TraceEvent] = []
        try TraceReader(path: path).forEachEvent { e, _ in out.append(e) }
        return out
    }

    @Test("A callback run straight after another begins at the tick the other ended; the first of a pass reads the clock")
    func callbacksChain() throws {
        let path = temporaryTracePath()
        defer { unlink(path) }
        let loop = try EventLoop(trace: .file(path))
        let remaining = ManagedCounter()
        @Sendable func again() {
            remaining.add()
            // A callback that takes a measurable while, so that a fresh clock read would differ.
            let start = DispatchTime.now().uptimeNanoseconds
            while DispatchTime.now().uptimeNanoseconds - start < 20_000 {}
            if remaining.value < 50 { loop.callSoon(again) } else { loop.stop() }
        }
        loop.callSoon(again)
        try loop.runForever()
        loop.close()
        let all = try events(path)
        var chained = 0
        for (previous, next) in zip(all, all.dropFirst()) where next.type == .callbackBegin {
            if previous.type == .callbackEnd {
                // Nothing ran between them but the loop's dispatch: the same tick.
                #expect(next.timestamp == previous.timestamp)
                chained += 1
            } else {
                // After the loop's start, a poll or the inbox: its own clock read.
                #expect(next.timestamp > previous.timestamp, "\(previous.type) then \(next.type)")
            }
        }
        #expect(chained > 0)
        // Each callback still lasts what it ran: at least its 20 µs of spinning.
        var begin: Int64 = 0
        for e in all {
            if e.type == .callbackBegin { begin = e.timestamp }
            if e.type == .callbackEnd { #expect(e.timestamp - begin >= 20_000) }
        }
    }

    @Test("A step after a sleep(0) resume reads the clock: the resume is the runtime's work, not dispatch")
    func yieldResumeDoesNotChain() throws {
        let path = temporaryTracePath()
        defer { unlink(path) }
        let loop = try EventLoop(trace: .file(path))
        // Several tasks, so that a resume follows another task's step in the same pass.
        try runYieldingWorkers(on: loop, prefix: "y", tasks: 3, yields: 100)
        let all = try events(path)
        var resumed = 0
        var yielded: Set<UInt64> = []
        for (previous, next) in zip(all, all.dropFirst()) {
            // A yielded step's end is its stepYield record, delivered as stepEnd then its wakeup.
            if next.type == .wakeup, case let w = WakeupEvent(next), w.waker == .task, w.wakerID == w.task, previous.type == .stepEnd {
                yielded.insert(w.task)
            }
            guard next.type == .stepBegin, yielded.remove(next.task) != nil else { continue }
            // Resumed from its `.yield` item: the loop resumed the continuation first.
            #expect(next.timestamp > previous.timestamp, "\(previous.type) then \(next.type)")
            resumed += 1
        }
        #expect(resumed >= 250)
    }
}
