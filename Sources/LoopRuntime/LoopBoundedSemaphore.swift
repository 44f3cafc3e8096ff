/// A ``LoopSemaphore`` that refuses to be released more often than acquired, as asyncio's
/// `BoundedSemaphore`.
public final class LoopBoundedSemaphore: @unchecked Sendable {
    /// The semaphore's own units.
    private let semaphore: LoopSemaphore
    /// The initial value, which ``release()`` may not exceed.
    public let bound: Int

    /// A bounded semaphore with `value` units, at most.
    public init(value: Int = 1) {
        semaphore = LoopSemaphore(value: value)
        bound = value
    }

    /// The units free now.
    public var value: Int { semaphore.value }

    /// Whether ``acquire(file:line:)`` would wait.
    public var isLocked: Bool { semaphore.isLocked }

    /// Takes a unit; see ``LoopSemaphore/acquire(file:line:)``.
    nonisolated(nonsending) public func acquire(file: StaticString = #fileID, line: UInt = #line) async throws {
        try await semaphore.acquire(file: file, line: line)
    }

    /// Returns a unit.
    /// - Throws: ``LoopError/invalidState(_:)`` when that would exceed the initial value (more
    ///   releases than acquires); the semaphore is unchanged then.
    public func release() throws(LoopError) {
        guard semaphore.value < bound else {
            throw .invalidState("LoopBoundedSemaphore released too many times (bound \(bound))")
        }
        semaphore.release()
    }

    /// Runs `body` holding a unit.
    nonisolated(nonsending) public func withUnit<Result>(file: StaticString = #fileID, line: UInt = #line,
                                                         _ body: nonisolated(nonsending) () async throws -> Result) async throws -> Result {
        try await semaphore.withUnit(file: file, line: line, body)
    }
}
