import Glibc

extension EventLoop {
    /// Runs `main` as a task on a new loop until it completes, as `asyncio.run` does, and returns
    /// its result.
    ///
    /// Tasks still unfinished when `main` returns are cancelled, run until they finish, and
    /// reported through the exception handler. The loop is closed on return. With
    /// `LOOPTRACE=path` in the environment (the default destination) the run is recorded.
    /// - Parameters:
    ///   - trace: where to record a trace. A second `run` in the same process appends to the
    ///     `LOOPTRACE` trace of the first; a file that cannot be created means an untraced run
    ///     and one warning line, never an error.
    ///   - traceMemoryCapBytes: the recorder's memory cap; by default `LOOPTRACE_MAX_MEMORY`,
    ///     else 64 MiB.
    ///   - main: the program's main task, named "main".
    /// - Throws: what `main` throws, or the loop's setup error.
    public static func run<Value>(trace: TraceDestination = .environment, traceMemoryCapBytes: Int? = nil,
                                  _ main: sending @escaping () async throws -> Value) throws -> Value {
        let loop = try EventLoop(trace: trace, traceMemoryCapBytes: traceMemoryCapBytes)
        defer { loop.close() }
        let task = loop.createTask(name: "main", main)
        do {
            let value = try loop.runUntilComplete(task)
            try loop.cancelLeftoverTasks()
            return value
        } catch {
            try? loop.cancelLeftoverTasks()
            throw error
        }
    }

    /// Cancels every unfinished task and runs the loop until they are done; reports them.
    func cancelLeftoverTasks() throws {
        let leftovers = allTasks
        guard !leftovers.isEmpty else { return }
        reportError("run(): \(leftovers.count) task(s) still pending when main returned were cancelled: "
                        + leftovers.map(\.name).joined(separator: ", "), CancellationError())
        let all = createFuture(of: Void.self)
        var remaining = leftovers.count
        for task in leftovers {
            task.cancel()
            _ = task.addDoneCallbackToken(observes: false) {
                remaining -= 1
                if remaining == 0 { try? all.setResult(()) }
            }
        }
        try runUntilComplete(all)
    }
}
