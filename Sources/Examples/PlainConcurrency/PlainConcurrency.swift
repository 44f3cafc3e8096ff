// An ordinary async-main Swift program: plain Swift concurrency and Dispatch, nothing of
// looptrace. `looptrace record -- plain-concurrency` traces it unmodified; its output is the
// same with and without the recorder.
//
// PLAIN_CONCURRENCY_ROUNDS=N repeats the workload (tools/bench), PLAIN_CONCURRENCY_BLOCK_MS sets
// the blocking call's length (150 by default), PLAIN_CONCURRENCY_THREADS=1 also prints whether
// every part ran on the main thread (the tests' check that the executors are the ones expected),
// PLAIN_CONCURRENCY_SPAWN_CHILD=1 ends by running itself once more as a child process whose lines
// start with "child" (the tests' check that a recorded program's children are not traced),
// PLAIN_CONCURRENCY_FIRE_AND_FORGET=1 also starts a task and drops its handle.
import Dispatch
import Glibc
import Synchronization

/// Which threads ran the program's parts.
let threadLog = Mutex<(onMain: Int, elsewhere: Int)>((0, 0))
/// Set first thing in `main`, read-only afterwards.
nonisolated(unsafe) var mainThread = pthread_self()

func noteThread() {
    let onMain = pthread_equal(pthread_self(), mainThread) != 0
    threadLog.withLock { onMain ? ($0.onMain += 1) : ($0.elsewhere += 1) }
}

/// A warehouse: a default actor with one slow method.
actor Inventory {
    private var stock: [String: Int] = [:]

    func add(_ item: String, _ count: Int) {
        noteThread()
        stock[item, default: 0] += count
    }

    func total() -> Int { stock.values.reduce(0, +) }

    /// Blocks the calling thread (a synchronous lookup done wrong), then restocks.
    func slowRestock(blockingMillis: Int) {
        noteThread()
        if blockingMillis > 0 { usleep(UInt32(blockingMillis) * 1000) }
        stock["restocked", default: 0] += 1
    }
}

func weigh(_ item: Int) async throws -> Int {
    try await Task.sleep(for: .milliseconds(2))
    noteThread()
    return item * 3
}

func round(_ inventory: Inventory, blockingMillis: Int) async throws -> Int {
    // Task {} and Task.detached
    let fetch = Task { () -> Int in
        try await Task.sleep(for: .milliseconds(5))
        noteThread()
        await inventory.add("apples", 4)
        return 4
    }
    let audit = Task.detached { () -> Int in
        noteThread()
        await inventory.add("pears", 2)
        return 2
    }
    // async let
    async let first = weigh(1)
    async let second = weigh(2)
    // a task group
    let weights = try await withThrowingTaskGroup(of: Int.self) { group in
        for item in 1...4 { group.addTask { try await weigh(item) } }
        var sum = 0
        for try await weight in group { sum += weight }
        return sum
    }
    // DispatchQueue.main
    let fromMain = await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
        DispatchQueue.main.async {
            noteThread()
            continuation.resume(returning: 7)
        }
    }
    await inventory.slowRestock(blockingMillis: blockingMillis)
    return try await fetch.value + audit.value + first + second + weights + fromMain
}

@main
struct PlainConcurrency {
    static func main() async throws {
        mainThread = pthread_self()
        let environment = { (name: String) in getenv(name).flatMap { Int(String(cString: $0)) } }
        let rounds = max(1, environment("PLAIN_CONCURRENCY_ROUNDS") ?? 1)
        let blockingMillis = environment("PLAIN_CONCURRENCY_BLOCK_MS") ?? 150
        let inventory = Inventory()
        var result = 0
        for _ in 0..<rounds {
            result += try await round(inventory, blockingMillis: blockingMillis)
        }
        if environment("PLAIN_CONCURRENCY_FIRE_AND_FORGET") == 1 {
            // A task whose handle is dropped at once: nothing can ever read its result (the
            // never-awaited lint's exact case; the tests' check).
            Task { noteThread() }
            try await Task.sleep(for: .milliseconds(5))
        }
        print("rounds: \(rounds), result: \(result), stock: \(await inventory.total())")
        let prefix = environment("PLAIN_CONCURRENCY_CHILD") == 1 ? "child " : ""
        if environment("PLAIN_CONCURRENCY_THREADS") == 1 {
            let log = threadLog.withLock { $0 }
            print(prefix + (log.elsewhere == 0 ? "threads: main only" : "threads: several (\(log.elsewhere) of \(log.onMain + log.elsewhere) parts off the main thread)"))
        }
        if !prefix.isEmpty {
            let traced = getenv("LOOPTRACE") != nil || (getenv("LD_PRELOAD").map { String(cString: $0).contains("LoopTraceAuto") } ?? false)
            print(prefix + (traced ? "environment: traced" : "environment: untraced"))
        }
        if environment("PLAIN_CONCURRENCY_SPAWN_CHILD") == 1 {
            fflush(nil)
            runChild()
        }
    }

    /// Runs this program again with the child settings and waits for it.
    static func runChild() {
        let arguments = [CommandLine.arguments[0]]
        var environment = ["PLAIN_CONCURRENCY_CHILD=1", "PLAIN_CONCURRENCY_THREADS=1", "PLAIN_CONCURRENCY_BLOCK_MS=0"]
        var entry = environ
        while let variable = entry.pointee {
            let text = String(cString: variable)
            if !text.hasPrefix("PLAIN_CONCURRENCY_") { environment.append(text) }
            entry += 1
        }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        var child: pid_t = 0
        if posix_spawn(&child, "/proc/self/exe", nil, nil, argv, envp) == 0 {
            var status: Int32 = 0
            waitpid(child, &status, 0)
        }
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
}
