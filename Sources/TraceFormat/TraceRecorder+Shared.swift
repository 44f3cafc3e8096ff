#if canImport(Glibc)
import Glibc
#endif

extension TraceRecorder {
    /// The recorder for `configuration.path` that every user in this process shares, opened on
    /// first use: several event loops (one per thread) record into one file, each on its own
    /// stream, instead of overwriting each other.
    ///
    /// Each successful call is one use; give it back with ``releaseShared()``. A recorder opened
    /// with `untilExit` stays open after its last use and is closed at process exit, so that a
    /// later user appends to the same trace (a second `EventLoop.run` with `LOOPTRACE`).
    /// Otherwise the last release closes it, and a later call starts a new file. The first
    /// opener's configuration is the one in use.
    ///
    /// Never throws to take a program down: when the file cannot be created, it prints
    /// `looptrace: cannot create PATH: REASON; running untraced` on standard error, once per
    /// path in the process, and returns the error; the caller runs untraced.
    public static func shared(_ configuration: Configuration, untilExit: Bool) -> Result<TraceRecorder, TraceRecorderError> {
        SharedRecorders.instance.acquire(configuration, untilExit: untilExit)
    }

    /// Gives back one use of a recorder from ``shared(_:untilExit:)``; the last one closes it
    /// unless it stays open until exit. Call ``finishStream(_:)`` on the user's stream first.
    public func releaseShared() {
        SharedRecorders.instance.release(self)
    }

    /// `path` with each `%p` replaced by this process's id (`LOOPTRACE=trace-%p.trace` names a
    /// file per process), and `%%` by `%`.
    public static func expandPath(_ path: String, pid: Int32 = getpid()) -> String {
        guard path.contains("%") else { return path }
        var out = ""
        var percent = false
        for c in path {
            if percent {
                switch c {
                case "p": out += String(pid)
                case "%": out.append("%")
                default: out.append("%"); out.append(c)
                }
                percent = false
            } else if c == "%" {
                percent = true
            } else {
                out.append(c)
            }
        }
        if percent { out.append("%") }
        return out
    }

    /// Parses a memory size: a whole number of bytes with an optional unit, `KiB`, `MiB`, `GiB`
    /// (also `K`, `M`, `G`, `KB`, `MB`, `GB`, all powers of 1024; case-insensitive), e.g.
    /// `64MiB` or `512k`. Nil when it is not one, or is zero or negative.
    public static func parseMemorySize(_ text: String) -> Int? {
        let trimmed = text.trimmingSpaces()
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let number = Int(digits), number > 0 else { return nil }
        let shift: Int
        switch trimmed.dropFirst(digits.count).trimmingSpaces().lowercased() {
        case "", "b": shift = 0
        case "k", "kb", "kib": shift = 10
        case "m", "mb", "mib": shift = 20
        case "g", "gb", "gib": shift = 30
        default: return nil
        }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? nil : bytes
    }
}

private extension StringProtocol {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

/// The process's shared recorders, by path.
final class SharedRecorders: @unchecked Sendable {
    static let instance = SharedRecorders()

    private struct Entry {
        var recorder: TraceRecorder
        var uses: Int
        var untilExit: Bool
    }

    private let lock = PthreadMutex()
    private var entries: [String: Entry] = [:]  // guarded by lock
    /// Paths that could not be opened, so that the warning is printed once. Guarded by lock.
    private var failures: [String: TraceRecorderError] = [:]

    func acquire(_ configuration: TraceRecorder.Configuration, untilExit: Bool) -> Result<TraceRecorder, TraceRecorderError> {
        // Opening under the lock: a second loop asking for the same path waits for the first
        // to finish opening it (a cold path, once per loop).
        lock.withLock {
            let path = configuration.path
            if var entry = entries[path] {
                entry.uses += 1
                entry.untilExit = entry.untilExit || untilExit
                entries[path] = entry
                return .success(entry.recorder)
            }
            if let failure = failures[path] { return .failure(failure) }
            do {
                let recorder = try TraceRecorder(configuration)
                entries[path] = Entry(recorder: recorder, uses: 1, untilExit: untilExit)
                return .success(recorder)
            } catch let error as TraceRecorderError {
                failures[path] = error
                TraceRecorder.warn("\(error); running untraced")
                return .failure(error)
            } catch {
                let wrapped = TraceRecorderError.cannotCreate(path: path, reason: "\(error)")
                failures[path] = wrapped
                TraceRecorder.warn("\(wrapped); running untraced")
                return .failure(wrapped)
            }
        }
    }

    func release(_ recorder: TraceRecorder) {
        // Closing under the lock: a new recorder for the same path must not truncate the file
        // while this one still writes its last chunks and header.
        lock.withLock {
            let path = recorder.configuration.path
            guard var entry = entries[path], entry.recorder === recorder else { return }
            entry.uses -= 1
            if entry.uses > 0 || entry.untilExit {
                entries[path] = entry
                return
            }
            entries[path] = nil
            recorder.close()
        }
    }
}
