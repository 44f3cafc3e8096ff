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
}
