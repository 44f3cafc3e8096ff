@_spi(ExperimentalCustomExecutors) import _Concurrency
import CLoopTraceShims
import Glibc

/// The Swift runtime internals LoopRuntime relies on, in one place.
///
/// Swift on Linux gives an executor no public way to tell a finished task from a suspended one,
/// to see where an unmodified task was created, or to become the executor of a whole program.
/// Each item below fills one of those holes; each is private to the runtime, so each is checked
/// against the layout it was written for, and anything that reads private memory does so only
/// when ``layoutIsKnown`` (a test fails loudly on any other layout).
///
/// Checked against Swift 6.3.1 (`_swift_concurrency_debug_internal_layout_version` 1), using
/// swiftlang/swift `include/swift/ABI/Task.h`, `include/swift/ABI/MetadataValues.h` (JobKind),
/// `stdlib/public/Concurrency/Executor.swift`, `ExecutorImpl.swift` and `GlobalExecutor.cpp`:
/// - `_createExecutors(factory:)` (SPI `ExperimentalCustomExecutors`): makes the loop the
///   program's main and default executor (factory mode). It takes effect only before the
///   runtime's first use of `MainActor.executor` or `Task.defaultExecutor`, hence a load-time
///   constructor (LoopTraceAuto).
/// - `swift_task_enqueueGlobal_hook`: consulted before the factory's default executor. A
///   pass-through hook installed first makes a later takeover by compare-and-exchange (SwiftNIO's
///   `unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()`) fail the
///   documented way, returning false, so jobs keep reaching the loop.
/// - `_dispatch_get_main_queue_handle_4CF` / `_dispatch_main_queue_callback_4CF` (libdispatch):
///   the main queue's eventfd and its drain, as Foundation's RunLoop uses them; without them
///   `DispatchQueue.main` blocks never run while the loop owns the main thread.
/// - Job kinds (the byte at offset 32 of a job, read through `ExecutorJob.kind`): 192–194 are
///   default-actor drains, 195 a `Task.yield` continuation, 196 an isolated deinit.
/// - Offsets into an `AsyncTask`: the resume function of a job at 56 (`ResumeTask`: for a task
///   that never ran, its entry point, which names where it was created), the status flags at 96
///   (`IsComplete` = 0x2000, `IsRunning` = 0x800), and `ResumeContext` at 64: the innermost async
///   context, whose `Parent` (offset 0) and `ResumeParent` (offset 8) link the task's async
///   frames. Walked from a suspended task, they give where it waits and who called it, innermost
///   first (``resumeChain(of:into:)``). `LoopTask.swift` and `EventLoop+Run.swift` read the status flags
///   too; they are to move here (issue 10).
enum RuntimeInternals {
    /// The only runtime layout version whose private offsets LoopRuntime knows.
    static let knownLayoutVersion: UInt32 = 1

    /// The running runtime's layout version.
    static var layoutVersion: UInt32 { UInt32(_swift_concurrency_debug_internal_layout_version) }

    /// Whether private task memory may be read.
    static let layoutIsKnown = layoutVersion == knownLayoutVersion

    /// Offset of `ResumeTask` (the next partial function to run) in a job.
    static let jobResumeFunctionOffset = 56
    /// Offset of `ResumeContext` (the innermost async context) in an `AsyncTask`.
    static let taskResumeContextOffset = 64
    /// The most frames ``resumeChain(of:into:)`` reads: deeper async call chains are cut.
    static let maxResumeChain = 32
    /// Offset of the 32-bit status flags in an `AsyncTask`.
    static let taskStatusOffset = 96
    /// `IsComplete` in the status flags.
    static let taskStatusIsComplete: UInt32 = 0x2000
    /// `IsRunning` in the status flags: a thread runs the task now.
    static let taskStatusIsRunning: UInt32 = 0x800

    /// Runtime job kinds (`JobKind` in MetadataValues.h).
    enum JobKind {
        static let task: UInt8 = 0
        static let defaultActorInline: UInt8 = 192
        static let defaultActorSeparate: UInt8 = 193
        static let defaultActorOverride: UInt8 = 194
        static let nullaryContinuation: UInt8 = 195
        static let isolatedDeinit: UInt8 = 196
    }

    /// Offset of the job flags, whose low byte is the job kind (public ABI on Darwin).
    static let jobFlagsOffset = 32

    /// The kind of a job, for a job handed over as an `UnownedJob`.
    static func jobKind(of job: UnsafeRawPointer) -> UInt8 {
        job.load(fromByteOffset: jobFlagsOffset, as: UInt8.self)
    }

    /// Whether a task job has completed (its memory is kept alive by the caller). False when the
    /// layout is unknown.
    @inline(__always)
    static func taskIsComplete(_ task: UnsafeRawPointer) -> Bool {
        layoutIsKnown && task.load(fromByteOffset: taskStatusOffset, as: UInt32.self) & taskStatusIsComplete != 0
    }

    /// The code address a job will run next: for a task that has not run yet, its entry point.
    /// 0 when the layout is unknown.
    static func resumeFunction(of job: UnsafeRawPointer) -> UInt {
        layoutIsKnown ? job.load(fromByteOffset: jobResumeFunctionOffset, as: UInt.self) : 0
    }

    /// The resume chain of a suspended task: the partial function it resumes in (`ResumeTask`),
    /// then, walking its async contexts (`ResumeContext`, then each `Parent`), each one's
    /// `ResumeParent`: where its caller resumes. Innermost first; cut at `frames.count`.
    ///
    /// Call it on the thread that just ran the task's step, with the task kept alive: while it
    /// stays suspended nothing else touches its contexts. A task some other executor runs
    /// meanwhile (`IsRunning`, a custom executor's thread) or that completed gives no chain.
    /// Context pointers are checked for plausibility (non-null, aligned) before each load.
    /// - Returns: the number of frames written; 0 when the layout is unknown.
    @inline(never)  // measured on its own under callgrind (a call costs a few instructions)
    static func resumeChain(of task: UnsafeRawPointer, into frames: UnsafeMutableBufferPointer<UInt>) -> Int {
        guard layoutIsKnown, let base = frames.baseAddress, !frames.isEmpty else { return 0 }
        let status = task.load(fromByteOffset: taskStatusOffset, as: UInt32.self)
        guard status & (taskStatusIsRunning | taskStatusIsComplete) == 0 else { return 0 }
        let resume = task.load(fromByteOffset: jobResumeFunctionOffset, as: UInt.self)
        guard resume != 0 else { return 0 }
        base[0] = resume
        var count = 1
        var context = task.load(fromByteOffset: taskResumeContextOffset, as: UInt.self)
        while count < frames.count, context >= 4096, context & 7 == 0,
              let pointer = UnsafeRawPointer(bitPattern: context) {
            let resumeParent = pointer.load(fromByteOffset: 8, as: UInt.self)
            guard resumeParent != 0 else { break }
            base[count] = resumeParent
            count += 1
            context = pointer.load(as: UInt.self)
        }
        return count
    }

    /// The strong reference count of a heap object (a task): `swift_retainCount`, public in the
    /// runtime's ABI, not in the language.
    static func retainCount(of object: UnsafeMutableRawPointer) -> Int {
        _swiftRetainCount(object)
    }

    /// Where a task that has not run yet starts: its resume function (for a task made from a
    /// closure, the runtime's adapter) and the closure's entry point, which the runtime keeps in
    /// the prefix of the task's initial context (`AsyncContextPrefix` /
    /// `FutureAsyncContextPrefix` in Task.h: `asyncEntryPoint` 24 bytes before the context, in
    /// both). Call it before the task's first step only.
    /// - Returns: the number of frames written (0 to 2); 0 when the layout is unknown.
    static func entryFrames(of task: UnsafeRawPointer, into frames: UnsafeMutableBufferPointer<UInt>) -> Int {
        guard layoutIsKnown, frames.count >= 2, let base = frames.baseAddress else { return 0 }
        let resume = task.load(fromByteOffset: jobResumeFunctionOffset, as: UInt.self)
        guard resume != 0 else { return 0 }
        base[0] = resume
        let context = task.load(fromByteOffset: taskResumeContextOffset, as: UInt.self)
        guard context >= 4096 + 24, context & 7 == 0, let pointer = UnsafeRawPointer(bitPattern: context - 24) else { return 1 }
        let entry = pointer.load(as: UInt.self)
        guard entry != 0, entry != resume else { return 1 }
        base[1] = entry
        return 2
    }

    /// The demangled name of the function at `address`, from the dynamic symbol table; nil when
    /// none covers it (executables export their symbols only when linked with
    /// `--export-dynamic`, which SwiftPM does for executables on Linux).
    static func functionName(at address: UInt) -> String? {
        guard address != 0, let pointer = UnsafeRawPointer(bitPattern: address) else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 512) { buffer in
            let length = lt_symbol_name(pointer, buffer.baseAddress, 512)
            guard length > 0 else { return nil }
            return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: length), as: UTF8.self)
        }
    }

    /// Makes `Factory` the source of the main and default executors.
    static func createExecutors<Factory: ExecutorFactory>(_ factory: Factory.Type) {
        _createExecutors(factory: factory)
    }

    /// What happened to `swift_task_enqueueGlobal_hook` when factory mode was installed.
    enum GlobalHookState: UInt8 {
        case preinstalled = 0, foreign = 1, unavailable = 2
    }

    /// Installs the pass-through `swift_task_enqueueGlobal_hook` (see the type's comment).
    static func preinstallGlobalHook() -> GlobalHookState {
        GlobalHookState(rawValue: UInt8(lt_preinstall_enqueue_global_hook())) ?? .unavailable
    }

    /// libdispatch's main-queue eventfd, or nil.
    static func dispatchMainQueueDescriptor() -> Int32? {
        let fd = lt_dispatch_main_queue_handle()
        return fd >= 0 ? fd : nil
    }

    /// Runs the blocks queued on `DispatchQueue.main`. Main thread only.
    static func drainDispatchMainQueue() {
        lt_dispatch_main_queue_drain()
    }
}

@_silgen_name("swift_retainCount")
private func _swiftRetainCount(_ object: UnsafeMutableRawPointer) -> Int

/// `JobFlags::Task_IsChildTask` of the Swift runtime's ABI (`swift/ABI/MetadataValues.h`): set
/// on `async let` and task-group children, never on unstructured tasks.
let jobFlagIsChildTask: UInt32 = 1 << 24

/// The generic executor ("no particular executor"): the `(0, 0)` executor reference.
let genericExecutor: UnownedSerialExecutor = unsafeBitCast((0, 0) as (Int, Int), to: UnownedSerialExecutor.self)

/// The key of `currentLoopTaskContext` in the runtime's task-local storage: the `TaskLocal`
/// object's address, as `TaskLocal.withValue` and `get()` use it.
nonisolated(unsafe) let taskContextKey = UnsafeRawPointer(Unmanaged.passUnretained($currentLoopTaskContext).toOpaque())
/// The type metadata of `currentLoopTaskContext`'s value.
nonisolated(unsafe) let taskContextMetadata = unsafeBitCast(Unmanaged<LoopTaskContext>?.self as Any.Type, to: UnsafeRawPointer.self)

/// `currentLoopTaskContext`, read straight from the runtime's task-local storage. `TaskLocal.get()`
/// does the same lookup and then copies the value out through its type's generic metadata (~30
/// instructions per await); the value here is one word, `Unmanaged<LoopTaskContext>?`, nil = 0.
@inline(__always)
func currentLoopTaskContextFast(key: UnsafeRawPointer = taskContextKey) -> Unmanaged<LoopTaskContext>? {
    guard let storage = swift_task_localValueGet(key) else { return nil }
    return storage.load(as: Unmanaged<LoopTaskContext>?.self)
}
