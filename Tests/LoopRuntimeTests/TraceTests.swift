import Foundation
import Testing
import TraceFormat
@testable import LoopRuntime

@Suite("Trace recording")
struct TraceTests {
    /// Records `main` with `EventLoop.run` into a temporary file and decodes it.
    func record(_ main: sending @escaping () async throws -> Void) throws -> RecordedTrace {
        let path = temporaryTracePath()
        defer { unlink(path) }
        try EventLoop.run(trace: .file(path), main)
        return try RecordedTrace(path: path)
    }

    @Test func pingPongRecordsEveryStepSuspendSiteAndWaker() throws {
        let createLine = #line + 6
        let awaitLine = #line + 7
        let trace = try record {
            let loop = EventLoop.current!
            let ping = loop.createFuture(of: Int.self)
            let pong = loop.createFuture(of: Int.self)
            let a = loop.createTask(name: "a") {
                try ping.setResult(1)
                _ = try await pong.value()
            }
            let b = loop.createTask(name: "b") {
                _ = try await ping.value()  // ping is set already: no suspension
                try pong.setResult(2)
            }
            _ = try await loop.gather([a, b])
        }
        #expect(trace.story(of: ["a", "b"]) == [
            "create a", "wakeup a by task main",
            "create b", "wakeup b by task main",
            "step a suspended @LoopRuntimeTests/TraceTests.swift:\(awaitLine)",
            "wakeup a by task b", "step b completed",
            "step a completed",
        ], "\(trace.story.joined(separator: "\n"))")
        let a = trace.tasks.values.first { $0.name == "a" }
        #expect(a?.parent == trace.tasks.values.first { $0.name == "main" }?.id)
        #expect(a?.site.hasPrefix("LoopRuntimeTests/TraceTests.swift:\(createLine):") == true, "\(a?.site ?? "")")
    }

    @Test func sleepZeroStepsAreYieldsWokenByThemselves() throws {
        let sleepLine = #line + 4
        let trace = try record {
            let loop = EventLoop.current!
            let counter = loop.createTask(name: "counter") {
                for _ in 0..<2 { try await loop.sleep(for: .zero) }
            }
            _ = try await counter.value()
        }
        #expect(trace.story(of: ["counter"]) == [
            "create counter", "wakeup counter by task main",
            "step counter yielded @LoopRuntimeTests/TraceTests.swift:\(sleepLine)",
            "wakeup counter by task counter",
            "step counter yielded @LoopRuntimeTests/TraceTests.swift:\(sleepLine)",
            "wakeup counter by task counter",
            "step counter completed",
        ], "\(trace.story.joined(separator: "\n"))")
    }

    @Test func wakersNameTheCallbackTimerDescriptorAndThread() throws {
        let trace = try record {
            let loop = EventLoop.current!
            // A callback resolves a future.
            let fromCallback = loop.createFuture(of: Int.self)
            let byCallback = loop.createTask(name: "byCallback") { _ = try await fromCallback.value() }
            loop.callSoon { loop.callSoon { try fromCallback.setResult(1) } }
            // A timer ends a sleep.
            let byTimer = loop.createTask(name: "byTimer") { try await loop.sleep(for: .milliseconds(1)) }
            // A readable pipe resolves a future from its reader callback.
            var fds: [Int32] = [0, 0]
            _ = pipe(&fds)
            let readable = loop.createFuture(of: Int.self)
            try loop.addReader(fds[0]) {
                loop.removeReader(fds[0])
                try readable.setResult(0)
            }
            let byIO = loop.createTask(name: "byIO") { _ = try await readable.value() }
            var byte: UInt8 = 1
            _ = write(fds[1], &byte, 1)
            // Another thread resumes a continuation.
            let byThread = loop.createTask(name: "byThread") {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    // The thread resumes only once the step has ended, so the task really suspends.
                    let stepEnded = DispatchSemaphore(value: 0)
                    Thread.detachNewThread {
                        stepEnded.wait()
                        c.resume()
                    }
                    loop.callSoon { stepEnded.signal() }
                }
            }
            _ = try await loop.gather([byCallback, byTimer, byIO, byThread])
            close(fds[0])
            close(fds[1])
        }
        let wakeups = trace.story(of: ["byCallback", "byTimer", "byIO", "byThread"])
            .filter { $0.hasPrefix("wakeup") && !$0.contains("by task") }
        #expect(Set(wakeups) == [
            "wakeup byCallback by callback", "wakeup byTimer by timer", "wakeup byIO by io", "wakeup byThread by thread",
        ], "\(trace.story.joined(separator: "\n"))")
        #expect(trace.types.contains(.ioWait) && trace.types.contains(.ioReady) && trace.types.contains(.ioWaitRemoved))
    }

    /// Tasks awaited only after they finished used to look never-awaited; `taskObserved` records
    /// the first interest in a task's outcome, whenever it comes, once.
    @Test func theFirstInterestInATasksOutcomeIsRecordedOnce() throws {
        let trace = try record {
            let loop = EventLoop.current!
            let awaitedLater = loop.createTask(name: "awaitedLater") { }
            let withCallback = loop.createTask(name: "withCallback") { }
            withCallback.addDoneCallback { _ in }
            let neverAwaited = loop.createTask(name: "neverAwaited") { }
            try await loop.sleep(for: .milliseconds(2))
            #expect(awaitedLater.isDone && neverAwaited.isDone)
            try await awaitedLater.value()
            try await awaitedLater.value()
            _ = try awaitedLater.result()
        }
        let observed = trace.story.filter { $0.hasPrefix("observed") }
        #expect(observed.filter { $0.contains("awaitedLater") } == ["observed awaitedLater awaited"], "\(observed)")
        #expect(observed.filter { $0.contains("withCallback") } == ["observed withCallback doneCallback"], "\(observed)")
        #expect(!observed.contains { $0.contains("neverAwaited") }, "\(observed)")
    }

    /// An `async let` child that finished before its parent reached the `await` had no
    /// observation (the await did not suspend), so the analysis called it never awaited.
    @Test func structuredChildrenAreObservedByConstructionAndLoopTasksAreNot() throws {
        let trace = try record {
            let loop = EventLoop.current!
            let parent = loop.createTask(name: "parent") {
                async let early: Void = loop.sleep(for: .milliseconds(1))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await loop.sleep(for: .milliseconds(1)) }
                    try await group.waitForAll()
                }
                try await loop.sleep(for: .milliseconds(3))
                try await early
            }
            let orphan = loop.createTask(name: "orphan") { }
            _ = try await parent.value()
            try await loop.sleep(for: .milliseconds(1))
            #expect(orphan.isDone)
        }
        let observed = trace.story.filter { $0.hasPrefix("observed") }
        #expect(observed.contains("observed parent.1 structured") && observed.contains("observed parent.2 structured"), "\(observed)")
        #expect(!observed.contains { $0.contains("orphan") } && !observed.contains("observed parent structured"), "\(observed)")
    }

    /// An unstructured Swift task on the loop: the loop cannot see its awaiters, and says so.
    @Test func anUnstructuredTaskIsMarkedUntracked() throws {
        let path = temporaryTracePath()
        defer { unlink(path) }
        try EventLoop.run(trace: .file(path)) {
            let loop = EventLoop.current!
            async let child: Void = loop.sleep(for: .milliseconds(1))
            await Task(executorPreference: loop) { () async -> Void in }.value
            try await child
        }
        let trace = try RecordedTrace(path: path)
        var untracked: [String] = []
        let reader = try TraceReader(path: path)
        try reader.forEachEvent { event, _ in
            if event.type == .taskUntracked { untracked.append(trace.name(event.args[0])) }
        }
        #expect(untracked.count == 1 && untracked.allSatisfy { $0.hasPrefix("main.") }, "\(untracked)")
        let observed = trace.story.filter { $0.hasPrefix("observed") }
        #expect(observed.filter { $0.hasSuffix("structured") }.count == 1, "\(observed)")
    }

    /// A task woken from another thread carries the sender's time: its ready wait starts there,
    /// not when the loop takes the wakeup from its inbox.
    @Test func aWakeupFromAnotherThreadIsPrecededByItsSendTime() throws {
        let path = temporaryTracePath()
        defer { unlink(path) }
        let loop = try EventLoop(trace: .file(path))
        let woken = loop.createTask(name: "woken") {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let stepEnded = DispatchSemaphore(value: 0)
                Thread.detachNewThread {
                    stepEnded.wait()
                    c.resume()
                }
                loop.callSoon { stepEnded.signal() }
            }
        }
        loop.callSoonThreadsafe { }
        try loop.runUntilComplete(woken)
        loop.close()
        let reader = try TraceReader(path: path)
        var sent: [(task: UInt64, lag: Int64)] = []
        var threadWakes: [UInt64] = []
        var threadsafeDueLag: [Int64] = []
        try reader.forEachEvent { event, _ in
            switch event.type {
            case .wakeupSent: sent.append((event.args[0], event.timestamp - event.signed(1)))
            case .wakeup where event.wakerKind == .thread: threadWakes.append(event.args[0])
            case .callbackScheduled where event.callbackKind == .threadsafe: threadsafeDueLag.append(event.timestamp - event.signed(2))
            default: break
            }
        }
        #expect(sent.map(\.task) == [woken.taskID] && threadWakes == [woken.taskID])
        #expect(sent.allSatisfy { $0.lag >= 0 }, "a send after its pickup: \(sent)")
        #expect(threadsafeDueLag.count == 1 && threadsafeDueLag.allSatisfy { $0 >= 0 }, "\(threadsafeDueLag)")
    }

    @Test func unnamedChildrenAreNamedAfterTheirParent() throws {
        let trace = try record {
            let loop = EventLoop.current!
            let parent = loop.createTask(name: "parent") {
                async let one: Void = loop.sleep(for: .milliseconds(1))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await loop.sleep(for: .milliseconds(1)) }
                    try await group.waitForAll()
                }
                try await one
            }
            let unnamed = loop.createTask { }
            _ = try await parent.value()
            _ = try await unnamed.value()
        }
        let names = Set(trace.tasks.values.map(\.name))
        #expect(names.isSuperset(of: ["main", "parent", "parent.1", "parent.2"]), "\(names)")
        #expect(names.contains { $0.hasPrefix("Task-") })
        let parentID = trace.tasks.values.first { $0.name == "parent" }!.id
        #expect(trace.tasks.values.first { $0.name == "parent.1" }?.parent == parentID)
        #expect(trace.story(of: ["parent.1"]).last == "step parent.1 completed", "\(trace.story.joined(separator: "\n"))")
    }

    @Test func callbacksAndTimersAreRecordedWithKindSiteAndLateness() throws {
        let path = temporaryTracePath()
        defer { unlink(path) }
        let loop = try EventLoop(trace: .file(path))
        loop.callSoon { }
        loop.callLater(.milliseconds(1)) { }
        loop.callAt(loop.time() + 2_000_000) { }
        loop.callSoonThreadsafe { }
        loop.callLater(.milliseconds(3)) { loop.stop() }
        let cancelled = loop.callLater(.milliseconds(1)) {}
        cancelled.cancel()
        try loop.runForever()
        loop.close()
        let reader = try TraceReader(path: path)
        var kinds: [CallbackKind] = []
        var sites: [String] = []
        var firedDue: [Int64] = []
        var begins = 0, ends = 0
        var cancels: [UInt64] = []
        try reader.forEachEvent { event, chunk in
            switch event.type {
            case .callbackScheduled:
                kinds.append(event.callbackKind!)
                sites.append(chunk.string(event.args[3]))
            case .timerFired:
                // `due` is absolute: a timer never fires before it.
                firedDue.append(event.timestamp - event.signed(1))
            case .callbackBegin: begins += 1
            case .callbackEnd: ends += 1
            case .callbackCancelled: cancels.append(event.args[0])
            default: break
            }
        }
        #expect(kinds == [.soon, .later, .at, .later, .later, .threadsafe])
        #expect(cancels == [cancelled.id])
        #expect(sites.allSatisfy { $0.hasPrefix("LoopRuntimeTests/TraceTests.swift:") })
        #expect(firedDue.count == 3 && firedDue.allSatisfy { $0 >= 0 })
        #expect(begins == 5 && ends == 5)
    }

    @Test func lastStepsEndAsCompletedFailedOrCancelled() throws {
        struct Boom: Error {}
        let trace = try record {
            let loop = EventLoop.current!
            let ok = loop.createTask(name: "ok") { try await loop.sleep(for: .milliseconds(1)) }
            let bad = loop.createTask(name: "bad") {
                try await loop.sleep(for: .milliseconds(1))
                throw Boom()
            }
            let cancelled = loop.createTask(name: "cancelled") { try await loop.sleep(for: .seconds(10)) }
            let never = loop.createTask(name: "never") { try await loop.sleep(for: .seconds(10)) }
            never.cancel()
            loop.callLater(.milliseconds(2)) { cancelled.cancel() }
            _ = try await loop.gather([ok, bad, cancelled, never], returnExceptions: true)
        }
        #expect(trace.story(of: ["ok"]).last == "step ok completed")
        #expect(trace.story(of: ["bad"]).last == "step bad failed")
        #expect(trace.story(of: ["cancelled"]).suffix(2) == ["wakeup cancelled by callback", "step cancelled cancelled"],
                "\(trace.story.joined(separator: "\n"))")
        // Cancelled before its first step: one step, which never ran the body.
        #expect(trace.story(of: ["never"]) == ["create never", "wakeup never by task main", "step never cancelled"])
    }

    @Test func childrenThatAreFreedAsTheyCompleteAreStillTracedAsCompleted() throws {
        // Discarding-group children and hand-written unstructured tasks are freed by the runtime
        // when they complete, inside their last step: the loop must not read them afterwards.
        let trace = try record {
            let loop = EventLoop.current!
            await withDiscardingTaskGroup { group in
                for _ in 0..<3 { group.addTask { try? await loop.sleep(for: .milliseconds(1)) } }
            }
            let done = loop.createFuture(of: Void.self)
            Task(executorPreference: loop) {
                try? await Task.sleep(for: .milliseconds(1))
                loop.callSoon { try done.setResult(()) }
            }
            try await done.value()
        }
        let completed = trace.story.filter { $0.hasPrefix("step main.") && $0.hasSuffix(" completed") }
        #expect(completed.count == 4, "\(trace.story.joined(separator: "\n"))")
    }

    @Test func environmentVariableTurnsTracingOn() throws {
        let path = temporaryTracePath()
        defer { unlink(path) }
        // The process environment is shared by tests running in parallel: hand the loop its own.
        let loop = try EventLoop(trace: .environment, environment: { $0 == "LOOPTRACE" ? path : nil })
        loop.callSoon { loop.stop() }
        try loop.runForever()
        loop.close()
        let trace = try RecordedTrace(path: path)
        #expect(trace.types.contains(.loopStart) && trace.types.contains(.callbackBegin))
    }
}
