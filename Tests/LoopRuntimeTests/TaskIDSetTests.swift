import Testing
@testable import LoopRuntime
import TraceTestSupport

@Suite("TaskIDSet: the loop's task-membership table")
struct TaskIDSetTests {
    @Test("Random inserts and removes agree with Set at every step, through growth and long probe runs")
    func agreesWithSet() {
        var rng = SplitMix64(seed: 7)
        var ours = TaskIDSet()
        var reference = Set<UInt64>()
        for round in 0..<200_000 {
            // Ids from a small range (collisions, long runs, re-inserts), and sequential runs as the
            // runtime hands them out.
            let id = round % 3 == 0 ? UInt64(round / 3 + 1) : rng.next() % 4_096 + 1
            if rng.next() % 3 == 0 {
                ours.remove(id)
                reference.remove(id)
            } else {
                ours.insert(id)
                reference.insert(id)
            }
            let probe = rng.next() % 70_000 + 1
            if ours.contains(probe) != reference.contains(probe) {
                Issue.record("round \(round): contains(\(probe)) is \(ours.contains(probe)), Set says \(reference.contains(probe))")
                return
            }
        }
        #expect(ours.count == reference.count)
        for id in reference { #expect(ours.contains(id)) }
    }
}
