import TraceFormat

/// The type-independent part of a ``LoopFuture``: its state and who is waiting for it.
///
/// Loop thread only (every method that changes or awaits it checks), like asyncio's `Future`. Awaiting tasks are resumed
/// directly when the future completes (they become ready at once, as asyncio's task wakeup
/// callbacks do); done callbacks are scheduled with `callSoon`, never called inline.
public class AnyLoopFuture: @unchecked Sendable {
    /// The loop the future belongs to.
    public let loop: EventLoop

    /// A future's state.
    public enum State: Sendable, Equatable {
        case pending, succeeded, failed, cancelled
    }

    // Loop thread only. The thread discipline is what makes access exclusive, so these skip
    // the runtime's dynamic exclusivity checks (~40 ns per step on class properties).
    /// The current state.
    @exclusivity(unchecked) public internal(set) var state = State.pending
    @exclusivity(unchecked) var listeners: [Listener] = []
    /// The first task to await the future, when it started listening before anyone else: the
    /// common case (one awaiting task) then allocates no listener array.
    @exclusivity(unchecked) var firstWaiter: UnsafeContinuation<Void, Never>?
    /// The raw storage of a succeeded future's result, which `LoopFuture<Value>` initializes,
    /// reads and destroys: the value itself when it fits in these three words, else the address
    /// of a heap copy in the first word. Not a `Value?` in the generic subclass: unspecialized
    /// generic code that sets, reads or destroys a `Value?` looks up `Optional<Value>`'s metadata
    /// in the runtime's cache each time (~1,000 instructions per ping-pong step in all), and an
    /// `Any` costs a dynamic cast (~400 instructions) per read.
    @usableFromInline @exclusivity(unchecked) final var valueStorage: (UInt, UInt, UInt) = (0, 0, 0)
    /// The error of a future that failed.
    @usableFromInline @exclusivity(unchecked) var error_: (any Error)?
    @exclusivity(unchecked) var nextCallbackToken: UInt64 = 0
    /// Called synchronously by `cancel()` of a pending future (a gather cancels its children).
    var cancelHook: (() -> Void)?

    enum Listener {
        case callback(DoneCallbackToken, SourceSite, () -> Void)
        case waiter(UnsafeContinuation<Void, Never>)
    }

    @usableFromInline
    init(loop: EventLoop) {
        self.loop = loop
    }

    /// Whether the future has a result, an error, or was cancelled.
    public var isDone: Bool { state != .pending }

    /// Whether the future was cancelled.
    public var isCancelled: Bool { state == .cancelled }

    /// Cancels a pending future: it becomes done with `CancellationError`, awaiting tasks wake and
    /// done callbacks are scheduled.
    /// - Returns: false if the future was already done.
    @discardableResult
    public func cancel() -> Bool {
        loop.preconditionOnLoopThread("LoopFuture.cancel()")
        guard state == .pending else { return false }
        complete(.cancelled)
        if let hook = cancelHook {
            cancelHook = nil
            hook()
        }
        return true
    }

    /// The error the future failed with (`CancellationError` when cancelled), nil if it succeeded.
    /// - Throws: ``LoopError/invalidState(_:)`` when the future is not done.
    public func error() throws -> (any Error)? {
        loop.preconditionOnLoopThread("LoopFuture.error()")
        noteObserved(.result)
        switch state {
        case .pending: throw LoopError.invalidState("the future is not done yet")
        case .cancelled: return CancellationError()
        case .failed: return storedError
        case .succeeded: return nil
        }
    }

    var storedError: (any Error)? { error_ }

    /// Something took an interest in this future's outcome. Tasks record the first such interest
    /// as a `taskObserved` event, which lets the analysis find tasks nobody ever awaited; plain
    /// futures have no id in the trace and ignore it.
    @usableFromInline func noteObserved(_ how: TaskObservation) {}

    /// Waits until the future is done, without throwing; a cancellation of the waiting task
    /// cancels the future (as awaiting it in asyncio does).
    ///
    /// The caller's `#fileID` and `#line` are recorded in the trace as the suspend site.
    @inlinable @inline(__always)  // see EventLoop.suspend: inlined, the wait costs the caller one hop, not two
    nonisolated(nonsending) public final func waitDone(file: StaticString = #fileID, line: UInt = #line) async {
        await waitDone(site: SourceSite(file: file, line: line, function: ""))
    }

    @inlinable @inline(__always)
    nonisolated(nonsending) final func waitDone(site: SourceSite?) async {
        guard beginAwait() else { return }
        await loop.suspend(cancelling: self, site: site) { self.addWaiter($0) }
    }

    /// The synchronous start of an await: checks the thread and notes the interest; whether the
    /// future is still pending (the awaiting task must suspend).
    @usableFromInline
    func beginAwait() -> Bool {
        loop.preconditionOnLoopThread("awaiting a LoopFuture")
        noteObserved(.awaited)
        return state == .pending
    }

    /// Makes an awaiting task's continuation a listener, resumed when the future completes.
    @usableFromInline
    func addWaiter(_ continuation: UnsafeContinuation<Void, Never>) {
        if firstWaiter == nil, listeners.isEmpty {
            firstWaiter = continuation
        } else {
            listeners.append(.waiter(continuation))
        }
    }

    /// Like ``waitDone(file:line:)`` but leaves the future alone when the waiting task is
    /// cancelled: the wait just ends early (what `wait` and `asCompleted` need).
    /// - Throws: `CancellationError` when the waiting task was cancelled.
    nonisolated(nonsending) func waitDoneUnlessCancelled(file: StaticString, line: UInt) async throws {
        loop.preconditionOnLoopThread("awaiting a LoopFuture")
        noteObserved(.awaited)
        if state != .pending { return }
        let registration = WaiterRegistration(future: self)
        await loop.suspend(cancelling: registration, site: SourceSite(file: file, line: line, function: "")) { continuation in
            registration.continuation = continuation
            registration.token = self.addDoneCallbackToken {
                guard !registration.finished else { return }
                registration.finished = true
                registration.continuation = nil
                continuation.resume()
            }
        }
        if registration.cancelled { throw CancellationError() }
    }

    /// - Parameter observes: false for the loop's own bookkeeping (cancelling leftover tasks),
    ///   which is no interest of the program's in the outcome.
    func addDoneCallbackToken(site: SourceSite = unknownSite, observes: Bool = true,
                              _ callback: @escaping () -> Void) -> DoneCallbackToken {
        if observes { noteObserved(.doneCallback) }
        nextCallbackToken += 1
        let token = DoneCallbackToken(rawValue: nextCallbackToken)
        if state != .pending {
            loop.scheduleSoon(site: site, callback)
        } else {
            listeners.append(.callback(token, site, callback))
        }
        return token
    }

    /// Removes a done callback that has not been scheduled yet.
    /// - Returns: whether it was removed.
    @discardableResult
    public func removeDoneCallback(_ token: DoneCallbackToken) -> Bool {
        loop.preconditionOnLoopThread("LoopFuture.removeDoneCallback(_:)")
        guard let index = listeners.firstIndex(where: {
            if case .callback(let t, _, _) = $0 { return t == token }
            return false
        }) else { return false }
        listeners.remove(at: index)
        return true
    }

    /// Marks the future done and wakes everyone listening, in the order they started listening.
    @usableFromInline func complete(_ newState: State) {
        state = newState
        // The first waiter started listening before every entry of `listeners`.
        if let waiter = firstWaiter {
            firstWaiter = nil
            waiter.resume()
        }
        guard !listeners.isEmpty else { return }
        let current = listeners
        listeners = []
        for listener in current {
            switch listener {
            case .waiter(let continuation): continuation.resume()
            case .callback(_, let site, let callback): loop.scheduleSoon(site: site, callback)
            }
        }
    }
}

/// Identifies a done callback for ``AnyLoopFuture/removeDoneCallback(_:)``.
public struct DoneCallbackToken: Hashable, Sendable {
    let rawValue: UInt64
}

/// A task waiting for a future's done callback. Loop thread only.
final class WaiterRegistration: LoopWait, @unchecked Sendable {
    let future: AnyLoopFuture
    var continuation: UnsafeContinuation<Void, Never>?
    var token: DoneCallbackToken?

    init(future: AnyLoopFuture) { self.future = future }

    /// Whether the wait ended by cancellation.
    var cancelled = false

    /// Whether the wait is over (the future is done, or cancelled before the wait began).
    var finished = false

    var waitIsOver: Bool { finished }

    func cancelWait() -> Bool {
        guard !finished else { return false }
        finished = true
        cancelled = true
        if let token { future.removeDoneCallback(token) }
        if let continuation {
            self.continuation = nil
            continuation.resume()
        }
        return true
    }
}

extension AnyLoopFuture: LoopWait {
    /// Awaiting a future and being cancelled cancels the future, as in asyncio.
    @usableFromInline func cancelWait() -> Bool { cancel() }

    @usableFromInline var waitIsOver: Bool { state != .pending }
}

/// A value that will be set later on the loop, as asyncio's `Future`.
///
/// Create one with ``EventLoop/createFuture(of:)``; complete it with ``setResult(_:)``,
/// ``setError(_:)`` or ``AnyLoopFuture/cancel()``; await it with `try await future.value`.
/// Loop thread only.
public class LoopFuture<Value>: AnyLoopFuture, @unchecked Sendable {
    // The result's storage and `setResult`/`result()` are inlinable: specialized in the caller
    // for its `Value`, storing and reading the result is a few moves (for `Void`, nothing), where
    // the unspecialized generic code went through closures, `withUnsafeMutableBytes` and value
    // witnesses (ping-pong: ~240 instructions per step).

    /// Whether a `Value` fits in `valueStorage`'s three words.
    @inlinable @inline(__always)
    static var valueIsInline: Bool { MemoryLayout<Value>.size <= 24 && MemoryLayout<Value>.alignment <= 8 }

    /// Initializes the result storage with `value` (once, before completing as succeeded).
    @inlinable
    final func storeValue(_ value: Value) {
        if Self.valueIsInline {
            // (Closures here return `Void` or `Value`, never a type built on `Value` such as
            // `UnsafeMutablePointer<Value>`, whose metadata would be looked up at run time.)
            withUnsafeMutableBytes(of: &valueStorage) { _ = $0.baseAddress!.initializeMemory(as: Value.self, to: value) }
        } else {
            let box = UnsafeMutablePointer<Value>.allocate(capacity: 1)
            box.initialize(to: value)
            valueStorage.0 = UInt(bitPattern: box)
        }
    }

    /// The result of a succeeded future.
    @inlinable
    final var value_: Value {
        if Self.valueIsInline {
            return withUnsafeMutableBytes(of: &valueStorage) { $0.baseAddress!.assumingMemoryBound(to: Value.self).pointee }
        }
        return UnsafeMutablePointer<Value>(bitPattern: valueStorage.0)!.pointee
    }

    deinit {
        // A trivial result (`Void`, integers) needs no deinitialization: skip the generic walk.
        guard state == .succeeded, !_isPOD(Value.self) || !Self.valueIsInline else { return }
        if Self.valueIsInline {
            withUnsafeMutableBytes(of: &valueStorage) { _ = $0.baseAddress!.assumingMemoryBound(to: Value.self).deinitialize(count: 1) }
        } else {
            let box = UnsafeMutablePointer<Value>(bitPattern: valueStorage.0)!
            box.deinitialize(count: 1)
            box.deallocate()
        }
    }

    /// Sets the result and wakes the future's waiters.
    /// - Throws: ``LoopError/invalidState(_:)`` when the future is already done.
    @inlinable
    public final func setResult(_ value: Value) throws(LoopError) {
        loop.preconditionOnLoopThread("LoopFuture.setResult(_:)")
        guard state == .pending else { throw .invalidState("setResult on a future that is already \(state)") }
        storeValue(value)
        complete(.succeeded)
    }

    /// Fails the future with `error` (a `CancellationError` cancels it).
    /// - Throws: ``LoopError/invalidState(_:)`` when the future is already done.
    public func setError(_ error: any Error) throws(LoopError) {
        loop.preconditionOnLoopThread("LoopFuture.setError(_:)")
        guard state == .pending else { throw .invalidState("setError on a future that is already \(state)") }
        if error is CancellationError {
            _ = cancel()
            return
        }
        error_ = error
        complete(.failed)
    }

    /// The result of a done future.
    /// - Throws: ``LoopError/invalidState(_:)`` if not done, `CancellationError` if cancelled, or
    ///   the error it failed with.
    @inlinable
    public final func result() throws -> Value {
        loop.preconditionOnLoopThread("LoopFuture.result()")
        noteObserved(.result)
        switch state {
        case .pending: throw LoopError.invalidState("result() of a future that is not done yet")
        case .cancelled: throw CancellationError()
        case .failed: throw error_!
        case .succeeded: return value_
        }
    }

    /// Waits for the result (without suspending when the future is done already).
    ///
    /// Cancelling the awaiting task cancels this future, as in asyncio.
    /// The caller's `#fileID` and `#line` are recorded in the trace as the suspend site.
    /// - Throws: `CancellationError` or the future's error.
    @inlinable @inline(__always)  // see EventLoop.suspend: inlined, the wait costs the caller one hop, not two
    nonisolated(nonsending) public final func value(file: StaticString = #fileID, line: UInt = #line) async throws -> Value {
        await waitDone(file: file, line: line)
        return try result()
    }

    /// Waits for the result; see ``value(file:line:)``, which also records where the task
    /// waited (a property cannot take the caller's `#fileID`/`#line`, so this records no site).
    @inlinable @inline(__always)  // see EventLoop.suspend: inlined, the wait costs the caller one hop, not two
    nonisolated(nonsending) public final var value: Value {
        get async throws {
            await waitDone(site: nil)
            return try result()
        }
    }

    /// Schedules `callback` (with `callSoon`, never inline) with this future once it is done; if
    /// it is done already, schedules it at once.
    /// - Returns: a token for ``AnyLoopFuture/removeDoneCallback(_:)``.
    @discardableResult
    public func addDoneCallback(file: StaticString = #fileID, line: UInt = #line, function: StaticString = #function,
                                _ callback: @escaping (LoopFuture<Value>) -> Void) -> DoneCallbackToken {
        loop.preconditionOnLoopThread("LoopFuture.addDoneCallback(_:)")
        return addDoneCallbackToken(site: SourceSite(file: file, line: line, function: function)) { callback(self) }
    }

    /// Copies the outcome of a done future into this pending one.
    func copyOutcome(from other: LoopFuture<Value>) {
        guard state == .pending else { return }
        switch other.state {
        case .pending: return
        case .succeeded: try? setResult(other.value_)
        case .failed: try? setError(other.error_!)
        case .cancelled: cancel()
        }
    }
}

extension EventLoop {
    /// Creates a pending future bound to this loop.
    @inlinable  // specialized in the caller: no generic metadata lookup per future
    public func createFuture<Value>(of type: Value.Type = Value.self) -> LoopFuture<Value> {
        preconditionOnLoopThread("EventLoop.createFuture()")
        return LoopFuture(loop: self)
    }

    /// Runs `body` now if on the loop thread, else schedules it thread-safely.
    func onLoopThread(_ body: @escaping @Sendable () -> Void) {
        if isOnLoopThread { body() } else { callSoonThreadsafe(body) }
    }
}
