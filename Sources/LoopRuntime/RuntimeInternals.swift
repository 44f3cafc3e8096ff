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
///   (`IsComplete` = 0x2000). `LoopTask.swift` and `EventLoop+Run.swift` read the status flags
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
    /// Offset of the 32-bit status flags in an `AsyncTask`.
    static let taskStatusOffset = 96
    /// `IsComplete` in the status flags.
    static let taskStatusIsComplete: UInt32 = 0x2000

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
    static func taskIsComplete(_ task: UnsafeRawPointer) -> Bool {
        layoutIsKnown && task.load(fromByteOffset: taskStatusOffset, as: UInt32.self) & taskStatusIsComplete != 0
    }

    /// The code address a job will run next: for a task that has not run yet, its entry point.
    /// 0 when the layout is unknown.
    static func resumeFunction(of job: UnsafeRawPointer) -> UInt {
        layoutIsKnown ? job.load(fromByteOffset: jobResumeFunctionOffset, as: UInt.self) : 0
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
