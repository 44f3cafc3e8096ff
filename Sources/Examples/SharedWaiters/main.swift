// Three waiters share one expensive task: the work runs once, every waiter awaits the same
// LoopTask, and all of them wake when it completes.
//
//   LOOPTRACE=shared.trace swift run shared-waiters
import LoopRuntime

try EventLoop.run {
    let loop = EventLoop.current!
    let expensive = loop.createTask(name: "expensive") { () async throws -> Int in
        print("expensive: computing")
        try await loop.sleep(for: .milliseconds(200))
        print("expensive: done")
        return 42
    }
    let waiters = (1...3).map { i in
        loop.createTask(name: "waiter\(i)") { () async throws -> String in
            try await loop.sleep(for: .milliseconds(20 * i))
            print("waiter\(i): waiting")
            let value = try await expensive.value()
            return "waiter\(i) got \(value)"
        }
    }
    for line in try await loop.gather(waiters) { print(line) }
}
