import TraceFormat

extension EventLoop {
    /// Suspends the calling task for `duration` (never less), as `asyncio.sleep`.
    ///
    /// `sleep(for: .zero)` yields exactly like `asyncio.sleep(0)`: the task goes to the back of
    /// the ready queue, so everything already ready runs first.
    /// The caller's `#fileID` and `#line` are recorded in the trace as the suspend site.
    /// - Throws: `CancellationError` if the task is cancelled before or during the sleep.
    nonisolated(nonsending) public func sleep(for duration: Duration, file: StaticString = #fileID, line: UInt = #line) async throws {
        preconditionOnLoopThread("EventLoop.sleep(for:)")
        // Compared before converting: `Duration.nanoseconds` (128-bit arithmetic) costs ~190
        // instructions, a tenth of a `sleep(.zero)` step.
        guard duration > .zero, case let nanos = duration.nanoseconds, nanos > 0 else {
            // Out of line, as everything that this function does not need while it sleeps: a
            // sleeping task keeps its frames in its own allocator, and a loop task whose frames
            // outgrow the allocator's first slab costs a second one (~1 KB per idle task).
            try await yield(site: SourceSite(file: file, line: line, function: ""))
            return
        }
        let sleeper = Sleeper()
        let site = SourceSite(file: file, line: line, function: "")
        // The timer is set before suspending (it cannot fire before the task suspends: one
        // thread), so that the closure below captures one reference: its context is allocated
        // in the task's allocator too. A cancellation delivered at the suspend cancels it.
        let handle = addTimer(deadline: time().addingClamped(nanos), kind: .later, site: site) { sleeper.wake() }
        handle.runsWhenDue = true
        sleeper.handle = handle
        await suspend(cancelling: sleeper, site: site) { sleeper.continuation = $0 }
        if sleeper.cancelled { throw CancellationError() }
    }

    /// `sleep(for: .zero)`.
    @inline(never)
    nonisolated(nonsending) func yield(site: SourceSite) async throws {
        if takeCancellation() { throw CancellationError() }
        let st = state
        st.pointee.suspendSite = site
        if st.pointee.runningJob != nil {
            // A task step of this loop: go to the back of the ready queue (see
            // `ReadyItem.yield`).
            await _unsafeInheritExecutor_withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                st.pointee.runningTaskRequeued = true
                st.pointee.runningTaskYielded = true
                st.pointee.ready.append(.yield(continuation, task: st.pointee.runningTask))
            }
        } else {
            await Task.yield()
        }
        if takeCancellation() { throw CancellationError() }
    }

    /// Waits for `future` with a deadline, as `asyncio.wait_for`: on timeout `future` is
    /// cancelled (a task gets to handle its cancellation first) and ``LoopError/timedOut`` is
    /// thrown. Cancelling the waiting task cancels `future` too.
    /// - Throws: ``LoopError/timedOut``, `CancellationError`, or what `future` throws.
    nonisolated(nonsending) public func waitFor<Value>(_ future: LoopFuture<Value>, timeout: Duration,
                               file: StaticString = #fileID, line: UInt = #line) async throws -> Value {
        preconditionOnLoopThread("EventLoop.waitFor(_:timeout:)")
        if future.isDone { return try future.result() }
        var timedOut = false
        let timer = addTimer(deadline: time().addingClamped(timeout.nanoseconds), kind: .later,
                             site: SourceSite(file: file, line: line, function: "")) {
            timedOut = true
            future.cancel()
        }
        defer { timer.cancel() }
        // A cancelled task (rather than future) still runs until it has handled its
        // cancellation; wait for that before reporting the timeout, as asyncio does.
        await future.waitDone(file: file, line: line)
        if timedOut, future.isCancelled { throw LoopError.timedOut }
        return try future.result()
    }

    /// Runs `body` as a task with a deadline; see ``waitFor(_:timeout:file:line:)``.
    nonisolated(nonsending) public func waitFor<Value>(timeout: Duration, file: StaticString = #fileID, line: UInt = #line,
                               _ body: sending @escaping () async throws -> Value) async throws -> Value {
        let task = createTask(name: childName("waitFor"), file: file, line: line, body)
        return try await waitFor(task, timeout: timeout, file: file, line: line)
    }

    /// Runs `body` in a scope with a deadline, as `asyncio.timeout`: when the time is up, the
    /// work inside is cancelled and the scope throws ``LoopError/timedOut``.
    ///
    /// The body runs as a child loop task (Swift cancellation cannot be undone, so the caller's
    /// own task is not the one cancelled).
    nonisolated(nonsending) public func timeout<Value>(_ duration: Duration, file: StaticString = #fileID, line: UInt = #line,
                               _ body: sending @escaping () async throws -> Value) async throws -> Value {
        let task = createTask(name: childName("timeout"), file: file, line: line, body)
        return try await waitFor(task, timeout: duration, file: file, line: line)
    }

    /// Waits for every future and returns their results in order, as `asyncio.gather`.
    ///
    /// The first error (or cancellation of a child) is thrown at once; the other children keep
    /// running. Cancelling the awaiting task cancels every child.
    /// - Throws: the first child error, or `CancellationError`.
    nonisolated(nonsending) public func gather<Value>(_ futures: [LoopFuture<Value>], file: StaticString = #fileID,
                                                      line: UInt = #line) async throws -> [Value] {
        try await gathering(futures, returnExceptions: false).value(file: file, line: line)
        return try futures.map { try $0.result() }
    }

    /// Like `gather(_:)`, but with `returnExceptions`: every child's outcome comes
    /// back as a `Result`, in order, and only cancelling the gather itself throws.
    nonisolated(nonsending) public func gather<Value>(_ futures: [LoopFuture<Value>], returnExceptions: Bool,
                                                      file: StaticString = #fileID,
                                                      line: UInt = #line) async throws -> [Result<Value, any Error>] {
        try await gathering(futures, returnExceptions: returnExceptions).value(file: file, line: line)
        return futures.map { future in Result { try future.result() } }
    }

    /// Waits for futures of different types and returns their results as a tuple, in order:
    /// `let (user, posts) = try await loop.gather(userTask, postsTask)`. Semantics as for an
    /// array of futures.
    nonisolated(nonsending) public func gather<each Value>(_ futures: repeat LoopFuture<each Value>,
                                                           file: StaticString = #fileID,
                                                           line: UInt = #line) async throws -> (repeat each Value) {
        var all: [AnyLoopFuture] = []
        for future in repeat each futures { all.append(future) }
        try await gathering(all, returnExceptions: false).value(file: file, line: line)
        return (repeat try (each futures).result())
    }

    /// A future done when every child is (or, without `returnExceptions`, at the first child
    /// that fails or is cancelled, with that outcome); cancelling it cancels the children.
    func gathering(_ futures: [AnyLoopFuture], returnExceptions: Bool) -> LoopFuture<Void> {
        preconditionOnLoopThread("EventLoop.gather")
        let outer = createFuture(of: Void.self)
        outer.cancelHook = { for child in futures { child.cancel() } }
        var remaining = futures.count
        if remaining == 0 { try? outer.setResult(()) }
        for child in futures {
            _ = child.addDoneCallbackToken {
                remaining -= 1
                guard !outer.isDone else { return }
                if !returnExceptions, child.state != .succeeded {
                    outer.cancelHook = nil
                    if child.isCancelled { outer.cancel() } else { try? outer.setError(child.storedError!) }
                } else if remaining == 0 {
                    outer.cancelHook = nil
                    try? outer.setResult(())
                }
            }
        }
        return outer
    }

    /// Returns a future that follows `future` but whose cancellation does not reach it, as
    /// `asyncio.shield`.
    public func shield<Value>(_ future: LoopFuture<Value>) -> LoopFuture<Value> {
        preconditionOnLoopThread("EventLoop.shield(_:)")
        if future.isDone { return future }
        let outer = createFuture(of: Value.self)
        _ = future.addDoneCallbackToken { outer.copyOutcome(from: future) }
        return outer
    }

    /// When ``wait(_:timeout:returnWhen:file:line:)`` returns.
    public enum ReturnWhen: Sendable {
        case firstCompleted, firstException, allCompleted
    }

    /// Waits until some or all futures are done, as `asyncio.wait`; never cancels them.
    /// - Returns: the futures that are done and those still pending, each in input order.
    nonisolated(nonsending) public func wait<Value>(_ futures: [LoopFuture<Value>], timeout: Duration? = nil,
                            returnWhen: ReturnWhen = .allCompleted, file: StaticString = #fileID,
                            line: UInt = #line) async throws -> (done: [LoopFuture<Value>], pending: [LoopFuture<Value>]) {
        preconditionOnLoopThread("EventLoop.wait")
        func satisfied() -> Bool {
            switch returnWhen {
            case .allCompleted: return futures.allSatisfy(\.isDone)
            case .firstCompleted: return futures.isEmpty || futures.contains(where: \.isDone)
            case .firstException:
                return futures.allSatisfy(\.isDone) || futures.contains { $0.isDone && $0.state != .succeeded }
            }
        }
        if !satisfied() {
            let waiter = createFuture(of: Void.self)
            var tokens: [DoneCallbackToken] = []
            for future in futures {
                tokens.append(future.addDoneCallbackToken {
                    if !waiter.isDone, satisfied() { try? waiter.setResult(()) }
                })
            }
            let timer = timeout.map { timeout in
                addTimer(deadline: time().addingClamped(timeout.nanoseconds), kind: .later,
                         site: SourceSite(file: file, line: line, function: "")) {
                    if !waiter.isDone { try? waiter.setResult(()) }
                }
            }
            defer {
                timer?.cancel()
                for (future, token) in zip(futures, tokens) { future.removeDoneCallback(token) }
            }
            try await waiter.waitDoneUnlessCancelled(file: file, line: line)
        }
        return (futures.filter(\.isDone), futures.filter { !$0.isDone })
    }

    /// The futures in the order they complete, as `asyncio.as_completed`.
    /// - Parameters:
    ///   - futures: the futures to watch; each is yielded once, when it is done.
    ///   - timeout: after this, iteration throws ``LoopError/timedOut``.
    public func asCompleted<Value>(_ futures: [LoopFuture<Value>], timeout: Duration? = nil) -> AsCompleted<Value> {
        preconditionOnLoopThread("EventLoop.asCompleted")
        return AsCompleted(loop: self, futures: futures, timeout: timeout)
    }

    func childName(_ what: String) -> String {
        if let current = currentLoopTask?.task { return "\(current.name).\(what)" }
        return what
    }
}

/// State shared by a sleeping task and its timer. Loop thread only.
final class Sleeper: LoopWait, @unchecked Sendable {
    @exclusivity(unchecked) var continuation: UnsafeContinuation<Void, Never>?
    @exclusivity(unchecked) var handle: CallbackHandle?
    /// Whether the sleep ended by cancellation.
    @exclusivity(unchecked) var cancelled = false
    /// Whether the sleep is over (woken, or cancelled before it began).
    @exclusivity(unchecked) var finished = false

    func wake() {
        finished = true
        guard let continuation else { return }
        self.continuation = nil
        handle = nil
        continuation.resume()
    }

    func cancelWait() -> Bool {
        guard !finished else { return false }
        cancelled = true
        handle?.cancel()
        wake()
        return true
    }

    var waitIsOver: Bool { finished }
}

/// The futures of ``EventLoop/asCompleted(_:timeout:)`` in completion order.
public struct AsCompleted<Value>: AsyncSequence {
    /// Each future, once it is done.
    public typealias Element = LoopFuture<Value>
    /// ``LoopError/timedOut`` or `CancellationError`.
    public typealias Failure = any Error
    let loop: EventLoop
    let futures: [LoopFuture<Value>]
    let timeout: Duration?

    /// Starts listening for the futures' completions.
    public func makeAsyncIterator() -> Iterator {
        Iterator(source: Source(loop: loop, futures: futures, timeout: timeout))
    }

    /// Yields each future once it is done.
    public struct Iterator: AsyncIteratorProtocol {
        let source: Source

        /// The next future to complete, or nil when all have been returned.
        /// - Throws: ``LoopError/timedOut`` after the timeout, `CancellationError`.
        public mutating func next() async throws -> LoopFuture<Value>? {
            try await source.next()
        }
    }

    final class Source: @unchecked Sendable {
        let loop: EventLoop
        var done: [LoopFuture<Value>] = []
        var outstanding: Int
        var signal: LoopFuture<Void>?
        var deadline: Int64?
        var timedOut = false
        var timer: CallbackHandle?

        init(loop: EventLoop, futures: [LoopFuture<Value>], timeout: Duration?) {
            self.loop = loop
            outstanding = futures.count
            for future in futures {
                _ = future.addDoneCallbackToken { [self] in
                    done.append(future)
                    outstanding -= 1
                    if let signal, !signal.isDone { try? signal.setResult(()) }
                }
            }
            if let timeout {
                timer = loop.addTimer(deadline: loop.time().addingClamped(timeout.nanoseconds), kind: .later,
                                      site: unknownSite) { [self] in
                    timedOut = true
                    timer = nil
                    if let signal, !signal.isDone { try? signal.setResult(()) }
                }
            }
        }

        func next() async throws -> LoopFuture<Value>? {
            while done.isEmpty {
                if outstanding == 0 {
                    timer?.cancel()
                    timer = nil
                    return nil
                }
                if timedOut { throw LoopError.timedOut }
                let signal = loop.createFuture(of: Void.self)
                self.signal = signal
                defer { self.signal = nil }
                try await signal.waitDoneUnlessCancelled(file: #fileID, line: #line)
            }
            return done.removeFirst()
        }
    }
}
