import Testing
@testable import LoopRuntime

@Suite("Swift runtime internals")
struct RuntimeInternalsTests {
    @Test("The running Swift runtime has the task layout whose private offsets LoopRuntime reads")
    func layoutIsKnown() {
        // If this fails, a new toolchain changed `_swift_concurrency_debug_internal_layout_version`:
        // recheck every offset in RuntimeInternals.swift against its include/swift/ABI/Task.h
        // before raising knownLayoutVersion. Until then factory mode refuses to install.
        #expect(RuntimeInternals.layoutVersion == RuntimeInternals.knownLayoutVersion,
                "Swift runtime layout version \(RuntimeInternals.layoutVersion) is unknown to LoopRuntime (knows \(RuntimeInternals.knownLayoutVersion))")
        #expect(RuntimeInternals.layoutIsKnown)
        #expect(EventLoop.factoryModeUnavailableReason?.contains("layout") != true)
    }

    @Test("Task names from entry symbols drop the runtime's thunk wording")
    func entrySymbolNames() {
        #expect(EventLoop.taskName(fromEntrySymbol: "partial apply for closure #1 () async -> () in App.main()")
                == "closure #1 in App.main()")
        #expect(EventLoop.taskName(fromEntrySymbol: "App.work(_:)") == "App.work(_:)")
    }

    @Test("Reading the loop-task context straight from task-local storage agrees with TaskLocal.get")
    func taskContextReadAgreesWithTaskLocal() throws {
        // The await path reads `currentLoopTaskContext` through swift_task_localValueGet and a
        // one-word load; a runtime that stored the value differently would make every loop await
        // take the slow path or, worse, read garbage.
        #expect(currentLoopTaskContextFast() == nil)
        let loop = try EventLoop(trace: .off)
        defer { loop.close() }
        let task = loop.createTask { () -> Bool in
            let fast = currentLoopTaskContextFast()?.toOpaque()
            let slow = currentLoopTaskContext?.toOpaque()
            async let child: Bool = currentLoopTaskContextFast()?.toOpaque() == slow
            let childAgrees = await child
            return fast != nil && fast == slow && childAgrees
        }
        #expect(try loop.runUntilComplete(task))
    }
}
