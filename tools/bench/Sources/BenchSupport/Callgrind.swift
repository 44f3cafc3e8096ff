import Foundation

/// Instruction counts from valgrind's callgrind tool.
///
/// Timings on this project's shared 2-vCPU machines drift 2–3× with other tenants' load; the
/// number of instructions a workload executes under callgrind does not, so a benchmark that
/// claims a speed-up per step or per event prints it beside its timings. The measured workload
/// runs in a child process (usually the benchmark itself in a child mode); with `toggle`, only
/// instructions executed while that function is on the stack count, which leaves out process
/// start-up, the runtime's initialisation and the benchmark's own set-up. Name the function with
/// `@inline(never) @_silgen_name("…")` so the pattern does not depend on Swift's mangling (a
/// `@_cdecl` name is only a thunk for C callers: Swift callers never enter it).
///
/// valgrind 3.19 (Debian 12) cannot read the DWARF 5 debug info Swift 6.3 writes and gives up
/// on the executable, so the child runs from a copy without debug info (`strip --strip-debug`);
/// the symbol table stays, so function names and the toggle still work.
public enum Callgrind {
    /// What a benchmark prints instead of its instruction counts when valgrind is missing.
    public static let notInstalledNotice = "valgrind not installed: instruction counts skipped"

    /// Whether `valgrind` is on `PATH`.
    public static let isInstalled: Bool = shell("command -v valgrind").0 == 0

    /// Runs `executable` with `arguments` under `valgrind --tool=callgrind` and returns the
    /// instructions it executed (Ir).
    /// - Parameters:
    ///   - executable: the program; by default this benchmark itself.
    ///   - arguments: its arguments (typically a child mode and a small fixed size).
    ///   - toggle: a function name (callgrind pattern, `*` allowed): count only while it runs.
    ///     `nil` counts the whole run, start-up included.
    /// - Returns: the count, or `nil` when valgrind is missing or the run failed.
    public static func instructions(executable: String = CommandLine.arguments[0], arguments: [String],
                                    toggle: String? = nil) -> UInt64? {
        guard isInstalled else { return nil }
        let executable = withoutDebugInfo(executable)
        let out = NSTemporaryDirectory() + "looptrace-callgrind-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
        defer { try? FileManager.default.removeItem(atPath: out) }
        var command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=\(out)"]
        if let toggle { command += ["--collect-atstart=no", "--toggle-collect=\(toggle)"] }
        command += [executable] + arguments
        let (status, _) = shell(command.map(quoted).joined(separator: " ") + " 2>/dev/null")
        guard status == 0, let text = try? String(contentsOfFile: out, encoding: .utf8) else { return nil }
        // "totals:" holds the collected events (what the toggle let through); older files have
        // "summary:" only.
        for key in ["totals:", "summary:"] {
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }),
               let value = line.dropFirst(key.count).split(separator: " ").first.flatMap({ UInt64($0) }) {
                return value
            }
        }
        return nil
    }

    /// Instructions per unit of work, without the fixed costs: runs the workload at two sizes
    /// and divides the difference of the counts by the difference of the sizes.
    /// - Parameters:
    ///   - arguments: the child's arguments for a workload of the given size.
    ///   - units: how many units (steps, events) a workload of that size performs.
    ///   - sizes: the small and the large size.
    ///   - toggle: as in ``instructions(executable:arguments:toggle:)``.
    /// - Returns: the count per unit, or `nil` when either run gave none.
    public static func instructionsPerUnit(executable: String = CommandLine.arguments[0],
                                           arguments: (Int) -> [String], units: (Int) -> Int,
                                           sizes: (small: Int, large: Int), toggle: String? = nil) -> Double? {
        guard let small = instructions(executable: executable, arguments: arguments(sizes.small), toggle: toggle),
              let large = instructions(executable: executable, arguments: arguments(sizes.large), toggle: toggle),
              units(sizes.large) > units(sizes.small) else { return nil }
        return (Double(large) - Double(small)) / Double(units(sizes.large) - units(sizes.small))
    }
}

/// Copies of executables without their debug info, made once per process.
nonisolated(unsafe) private var strippedCopies: [String: String] = [:]  // main thread only

/// A copy of `executable` without debug info (removed when this process exits), or
/// `executable` itself when `strip` fails.
private func withoutDebugInfo(_ executable: String) -> String {
    if let copy = strippedCopies[executable] { return copy }
    let copy = NSTemporaryDirectory() + "looptrace-callgrind-\(getpid())-\(strippedCopies.count)"
    let result = shell("strip --strip-debug -o \(quoted(copy)) \(quoted(executable))").0 == 0 ? copy : executable
    if result == copy {
        if strippedCopies.isEmpty { atexit { for copy in strippedCopies.values { unlink(copy) } } }
    }
    strippedCopies[executable] = result
    return result
}

/// `text` quoted for bash.
func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
