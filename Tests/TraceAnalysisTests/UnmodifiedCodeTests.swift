import Foundation
import Testing
import TraceAnalysis
import TraceFormat
import TraceTestSupport

@Suite("Unmodified code: suspend sites, task names and wakeups from other threads")
struct UnmodifiedCodeTests {
    /// A stand-in for llvm-symbolizer: every address is the resume function of `waiter()`, at
    /// Waiter.swift:12.
    static func fakeSymbolizer(in dir: TemporaryDirectory) throws -> String {
        let path = dir.file("fake-symbolizer")
        let script = """
            #!/bin/sh
            for a in "$@"; do
              case "$a" in
                --*) ;;
                *) printf '(1) await resume partial function for waiter()\\n/src/Waiter.swift:12:3\\n\\n' ;;
              esac
            done

            """
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    /// Runs the model over a trace with a resolver that uses `symbolizer`.
    static func model(_ t: SyntheticTrace, symbolizer: String) throws -> (TraceModel, Collector) {
        t.recorder.close()
        let resolver = SuspendSiteResolver(symbolizer: Symbolizer(environment: ["LOOPTRACE_SYMBOLIZER": symbolizer,
                                                                                 "PATH": "/nonexistent"]))
        let model = TraceModel(suspendSiteResolver: resolver)
        let reader = try TraceReader(path: t.path, options: .init(threads: 1))
        var collector = Collector()
        try reader.forEachChunk { model.consume($0, into: &collector) }
        model.finish(into: &collector)
        return (model, collector)
    }

    /// A code address in this test binary, so that its image is in the trace and still on disk.
    static let codeAddress: UInt = {
        let marker: @convention(c) () -> Void = {}
        return UInt(bitPattern: unsafeBitCast(marker, to: Int.self))
    }()

    @Test("A suspend chain stands for its step's suspend site, named as function and file:line")
    func suspendChainNamesTheSite() throws {
        let t = try SyntheticTrace()
        let frames = [Self.codeAddress, Self.codeAddress + 8]
        t.at(0) { $0.taskCreate(task: 1, parent: 0, name: "main.1", site: nil) }
        t.at(1_000) { $0.wakeup(task: 1, waker: .task, wakerID: 0) }
        t.at(2_000) { $0.stepBegin(task: 1) }
        t.at(3_000) { s in frames.withUnsafeBufferPointer { s.suspendStack(frames: $0) } }
        t.at(3_000) { $0.stepEnd(.suspended, site: nil) }
        // A step with a site of its own keeps it; a chain's site is not carried over.
        t.at(4_000) { $0.wakeup(task: 1, waker: .task, wakerID: 0) }
        t.at(5_000) { $0.stepBegin(task: 1) }
        t.at(6_000) { $0.stepEnd(.suspended, site: siteA) }
        let symbolizer = try Self.fakeSymbolizer(in: t.dir)
        let (model, c) = try Self.model(t, symbolizer: symbolizer)
        #expect(c.steps.map { model.site($0.suspendSite) } == ["waiter() Waiter.swift:12", siteA.description])
    }

    @Test("Without a symbolizer a suspend chain's site is its innermost frame as image+offset")
    func suspendChainWithoutSymbolizer() throws {
        let t = try SyntheticTrace()
        t.at(0) { $0.taskCreate(task: 1, parent: 0, name: "main.1", site: nil) }
        t.at(2_000) { $0.stepBegin(task: 1) }
        t.at(3_000) { s in [Self.codeAddress].withUnsafeBufferPointer { s.suspendStack(frames: $0) } }
        t.at(3_000) { $0.stepEnd(.suspended, site: nil) }
        let (model, c) = try Self.model(t, symbolizer: "/nonexistent/llvm-symbolizer")
        let site = c.steps.first.map { model.site($0.suspendSite) } ?? ""
        #expect(site.contains("+0x"), "\(site)")
    }

    @Test("A task the recorder could not name is named after the closure its entry runs")
    func taskEntryNamesTheTask() throws {
        let t = try SyntheticTrace()
        t.at(0) { $0.taskCreate(task: 7, parent: 1, name: "main.3", site: nil) }
        t.at(0) { s in [Self.codeAddress].withUnsafeBufferPointer { s.taskEntry(task: 7, frames: $0) } }
        t.at(1_000) { $0.stepBegin(task: 7) }
        t.at(2_000) { $0.stepEnd(.completed, site: nil) }
        let symbolizer = try Self.fakeSymbolizer(in: t.dir)
        let (_, c) = try Self.model(t, symbolizer: symbolizer)
        #expect(c.summaries[7]?.name == "waiter()")
    }

    @Test("A blocking step's impact counts the tasks other threads woke while it ran")
    func inboxWakeupsCountInTheImpact() throws {
        // Regression: a request woken by a SwiftNIO thread while a Hummingbird handler blocked the
        // loop sat in the loop's inbox, not its ready queue, so the blocking step showed no
        // impact (0 ready tasks) although the request waited for all of it.
        let t = try SyntheticTrace()
        t.at(0) { $0.taskCreate(task: 1, parent: 0, name: "handler", site: siteA) }
        t.at(0) { $0.taskCreate(task: 2, parent: 0, name: "request", site: siteA) }
        t.at(1_000) { $0.wakeup(task: 1, waker: .task, wakerID: 0) }
        t.at(1_000) { $0.wakeup(task: 2, waker: .task, wakerID: 0) }
        t.at(2_000) { $0.stepBegin(task: 2) }
        t.at(3_000) { $0.stepEnd(.suspended, site: siteB) }
        t.at(10_000) { $0.stepBegin(task: 1) }
        t.at(150_010_000) { $0.stepEnd(.suspended, site: siteB) }
        // Sent at 50.02 ms, during the step; taken from the inbox after it.
        t.at(150_020_000) { $0.wakeupSent(task: 2, sentInNanos: -100_000_000) }
        t.at(150_020_000) { $0.wakeup(task: 2, waker: .thread, wakerID: 99) }
        // Sent after the step: not its doing.
        t.at(150_030_000) { $0.wakeupSent(task: 1, sentInNanos: -5_000) }
        t.at(150_030_000) { $0.wakeup(task: 1, waker: .thread, wakerID: 99) }
        t.at(150_100_000) { $0.stepBegin(task: 2) }
        t.at(150_200_000) { $0.stepEnd(.completed, site: nil) }
        t.at(150_300_000) { $0.stepBegin(task: 1) }
        t.at(150_400_000) { $0.stepEnd(.completed, site: nil) }
        let (result, _) = try t.analyze()
        let finding = try #require(result.blocking.findings.first)
        #expect(finding.task == 1)
        #expect(finding.impact.readyTasks == 1)
        #expect(finding.impact.maxDelayCausedNanos == 99_990_000)
    }
}
