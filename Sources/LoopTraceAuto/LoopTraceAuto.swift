import CLoopTraceAuto
import Glibc
import LoopRuntime

// LoopTraceAuto: traces an unmodified async-main Swift program on LoopRuntime's loop.
//
// Loaded by `looptrace record` (LD_PRELOAD) or linked into the program, its C constructor runs
// before `main`. Only when the handshake variable LOOPTRACE names a trace file, the main
// executable is async-main, and the runtime's layout is the one LoopRuntime knows, does it act:
// it installs a loop as the program's main and default executor (factory mode), clears the
// variables so that the program's children are not traced, and finishes the trace at `exit()`
// and on SIGINT/SIGTERM. Otherwise it does nothing at all.

/// The process loop, once attached.
nonisolated(unsafe) private var attachedLoop: EventLoop?

/// Called by the constructor once the handshake and the executable were checked.
@_cdecl("looptrace_auto_attach")
func looptraceAutoAttach(_ pathPointer: UnsafePointer<CChar>) {
    let path = String(cString: pathPointer)
    if let reason = EventLoop.factoryModeUnavailableReason {
        lt_auto_report("not-attached runtime: \(reason)")
        return
    }
    // The program's children (a shell, a compiler, another Swift program) must not load the
    // library nor write into the same trace.
    // LOOPTRACE_AUTO_TRACE=off: factory mode without recording (the overhead benchmark's middle
    // configuration).
    let traced = getenv("LOOPTRACE_AUTO_TRACE").map { String(cString: $0) } != "off"
    unsetenv("LOOPTRACE")
    unsetenv("LOOPTRACE_AUTO_TRACE")
    removeSelfFromPreload()
    do {
        attachedLoop = try EventLoop.installAsProcessExecutors(trace: traced ? .file(path) : .off)
    } catch {
        lt_auto_report("not-attached error: \(error)")
        return
    }
    atexit { attachedLoop?.finishProcessTrace() }
    lt_auto_install_signal_relay()
    lt_auto_report("attached")
}

/// Called by the signal relay thread: the loop finishes the trace and re-raises the signal.
@_cdecl("looptrace_auto_finish_for_signal")
func looptraceAutoFinishForSignal(_ signal: Int32) {
    guard let loop = attachedLoop else { return }
    _ = loop.callSoonThreadsafe {
        loop.finishProcessTrace()
        lt_auto_reraise(signal)
    }
}

/// Removes this library from LD_PRELOAD (unsets it when nothing else is left).
private func removeSelfFromPreload() {
    guard let preload = getenv("LD_PRELOAD").map({ String(cString: $0) }) else { return }
    let kept = preload.split(whereSeparator: { $0 == ":" || $0 == " " })
        .filter { !$0.hasSuffix("libLoopTraceAuto.so") }
    if kept.isEmpty {
        unsetenv("LD_PRELOAD")
    } else {
        setenv("LD_PRELOAD", kept.joined(separator: ":"), 1)
    }
}
