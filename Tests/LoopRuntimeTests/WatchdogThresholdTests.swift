import Foundation
import Testing
@testable import LoopRuntime

@Suite("Watchdog configuration")
struct WatchdogThresholdTests {
    @Test("LOOPTRACE_WATCHDOG takes a duration with a unit, or off; unset means 50 ms")
    func thresholdParsing() {
        #expect(Watchdog.threshold(from: nil) == 50_000_000)
        #expect(Watchdog.threshold(from: "") == 50_000_000)
        #expect(Watchdog.threshold(from: "20ms") == 20_000_000)
        #expect(Watchdog.threshold(from: " 1s ") == 1_000_000_000)
        #expect(Watchdog.threshold(from: "2500us") == 2_500_000)
        #expect(Watchdog.threshold(from: "off") == nil)
        #expect(Watchdog.threshold(from: "0") == nil)
    }

    @Test("A threshold below 1 ms is raised to 1 ms; one it cannot read falls back to 50 ms")
    func thresholdBounds() {
        #expect(Watchdog.threshold(from: "10us") == 1_000_000)
        #expect(Watchdog.threshold(from: "fast") == 50_000_000)
        #expect(Watchdog.threshold(from: "-5ms") == 50_000_000)
    }

    @Test("A traced loop has a watchdog whose beacon is zero between steps; an untraced one has none")
    func tracedLoopsHaveAWatchdog() throws {
        let paths = [temporaryTracePath("watchdog-on"), temporaryTracePath("watchdog-off")]
        defer { for p in paths { try? FileManager.default.removeItem(atPath: p) } }
        let traced = try EventLoop(trace: .file(paths[0]), environment: { _ in nil })
        #expect(traced.watchdog != nil)
        try traced.runUntilComplete(traced.createTask(name: "t") { 1 })
        #expect(traced.state.pointee.beacon?.start.load(ordering: .relaxed) == 0)
        traced.close()
        #expect(traced.watchdog == nil)
        let off = try EventLoop(trace: .file(paths[1]), environment: { $0 == "LOOPTRACE_WATCHDOG" ? "off" : nil })
        #expect(off.watchdog == nil)
        off.close()
        let untraced = try EventLoop(trace: .off)
        #expect(untraced.watchdog == nil)
        untraced.close()
    }
}
