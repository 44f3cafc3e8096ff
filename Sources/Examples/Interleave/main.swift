// sleep(0) interleaving: two counters hand the loop back after every number, so their output
// alternates exactly as with asyncio.sleep(0).
//
//   LOOPTRACE=interleave.trace swift run interleave
import LoopRuntime

try EventLoop.run {
    let loop = EventLoop.current!
    func counter(_ name: String) async throws {
        for i in 1...5 {
            print("\(name) \(i)")
            try await loop.sleep(for: .zero)
        }
    }
    let a = loop.createTask(name: "a") { try await counter("a") }
    let b = loop.createTask(name: "b") { try await counter("b") }
    _ = try await loop.gather([a, b])
}
