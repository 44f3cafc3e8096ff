#if canImport(Glibc)
import Glibc
#endif

/// Where an export goes, and how it fails.
public enum ExportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The output (or its temporary sibling) cannot be created or opened: a missing or read-only
    /// directory, a directory as the output, a symbolic link loop (the CLI's exit 73).
    case cannotCreate(path: String, reason: String)
    /// A write or the close failed once the output was open: a full disk, `/dev/full`, an I/O
    /// error (the CLI's exit 74).
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotCreate(let path, let reason): "cannot create \(path): \(reason)"
        case .cannotWrite(let path, let reason): "cannot write \(path): \(reason)"
        }
    }
}

/// A buffered output that never destroys what it was not asked to write.
///
/// Where the bytes go depends on what the path names:
/// - `-`, `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`: the process's own file
///   descriptor, written in place (a duplicate of it, so a pipe, a terminal or an appending
///   redirection behave as the shell set them up).
/// - An existing non-regular file (a device such as `/dev/null` or `/dev/full`, a FIFO), reached
///   directly or through symbolic links: opened and written in place. It is never replaced:
///   renaming over `/dev/stdout` turned the device symlink into a regular file.
/// - A regular file or nothing: bytes go to a new temporary file (`.NAME.partial-PID`) beside the
///   final file, which ``commit()`` renames over it, so a crash, a full disk or a cut-off run
///   never leaves a half-written export posing as complete. Symbolic links are followed first:
///   the temporary file goes beside the link's target, the target is replaced and the link kept.
///   A replaced file keeps its permission bits.
///
/// ``discard()`` (also run by `deinit` when neither was called) removes the temporary file; an
/// output written in place keeps what reached it.
///
/// The bytes come from an ``ExportBuffer`` the writer owns (a struct in the writer, never a class
/// property: the JSON writer emits ~100 bytes per event, and a dynamic exclusivity check or an
/// `Array.append` per byte run costs several times more than a raw store at that rate).
public final class ExportOutput {
    /// The path as given.
    public let path: String
    /// The file the temporary file is renamed to (`path` with its symbolic links followed), or
    /// nil when the output is written in place.
    public let finalPath: String?
    /// The temporary path written until ``commit()``, or nil when the output is written in place.
    public let temporaryPath: String?
    /// Whether the bytes go straight to `path` (a descriptor, a device, a FIFO) rather than to a
    /// temporary file renamed on ``commit()``; then a failed export leaves what was written.
    public var writesInPlace: Bool { temporaryPath == nil }
    /// Bytes written so far.
    public var bytesWritten: Int64 { flushed }

    private let name: String
    private var fd: Int32
    private var flushed: Int64 = 0
    private var failure: ExportError?
    private var finished = false

    /// Opens the output: in place for descriptors, devices and FIFOs, else a temporary file
    /// beside the (link-resolved) destination.
    /// - Throws: ``ExportError/cannotCreate(path:reason:)`` when the directory does not exist or
    ///   is not writable, `path` is a directory, its links loop, or a descriptor is not open.
    public init(path: String) throws(ExportError) {
        self.path = path
        name = path == "-" ? "standard output" : path
        if let descriptor = Self.descriptor(named: path) {
            let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 3)
            guard copy >= 0 else { throw .cannotCreate(path: name, reason: String(cString: strerror(errno))) }
            fd = copy
            finalPath = nil
            temporaryPath = nil
            return
        }
        var st = stat()
        let exists = stat(path, &st) == 0
        if exists, (st.st_mode & S_IFMT) == S_IFDIR {
            throw .cannotCreate(path: path, reason: "it is a directory")
        }
        if exists, (st.st_mode & S_IFMT) != S_IFREG {
            // O_NOCTTY: a terminal named as the output must not become our controlling one.
            fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY)
            guard fd >= 0 else { throw .cannotCreate(path: path, reason: String(cString: strerror(errno))) }
            finalPath = nil
            temporaryPath = nil
            return
        }
        let target = try Self.followLinks(path)
        let slash = target.lastIndex(of: "/")
        let dir = slash.map { String(target[..<$0]) } ?? "."
        let base = slash.map { String(target[target.index(after: $0)...]) } ?? target
        // O_EXCL: never open through something already there. In a shared directory a link
        // planted at the temporary name would otherwise have the export truncate its target; a
        // leftover of a crashed run with the same pid is stepped around, not reused.
        let stem = (slash == nil ? "" : dir + "/") + "." + base + ".partial-\(getpid())"
        var temporary = stem
        var opened: Int32 = -1
        for attempt in 0..<100 {
            temporary = attempt == 0 ? stem : stem + "-\(attempt)"
            opened = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if opened >= 0 || errno != EEXIST { break }
        }
        guard opened >= 0 else { throw .cannotCreate(path: path, reason: String(cString: strerror(errno))) }
        fd = opened
        if exists { _ = fchmod(fd, st.st_mode & 0o7777) }
        finalPath = target
        temporaryPath = temporary
    }

    deinit {
        if !finished { discard() }
    }

    /// Whether an output at `path` would be written in place (a descriptor, a device, a FIFO)
    /// rather than through a temporary file.
    public static func writesInPlace(_ path: String) -> Bool {
        if descriptor(named: path) != nil { return true }
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG && (st.st_mode & S_IFMT) != S_IFDIR
    }

    /// The descriptor a path names by itself (`-`, `/dev/stdout`, `/dev/fd/3`), or nil.
    static func descriptor(named path: String) -> Int32? {
        switch path {
        case "-", "/dev/stdout": return 1
        case "/dev/stderr": return 2
        default:
            for prefix in ["/dev/fd/", "/proc/self/fd/"] where path.hasPrefix(prefix) {
                if let n = Int32(path.dropFirst(prefix.count)), n >= 0 { return n }
            }
            return nil
        }
    }

    /// `path` with every symbolic link along its last component followed; the result is not a
    /// link (it may not exist yet: a dangling link's target is created).
    static func followLinks(_ path: String) throws(ExportError) -> String {
        var current = path
        for _ in 0..<40 {
            var st = stat()
            guard lstat(current, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK else { return current }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink(current, &buffer, Int(PATH_MAX))
            guard n > 0 else { throw .cannotCreate(path: path, reason: String(cString: strerror(errno))) }
            let target = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if target.hasPrefix("/") {
                current = target
            } else if let slash = current.lastIndex(of: "/") {
                current = String(current[...slash]) + target
            } else {
                current = target
            }
        }
        throw .cannotCreate(path: path, reason: String(cString: strerror(ELOOP)))
    }

    /// Writes out and empties `buffer`; remembers the first failure for ``commit()``.
    public func write(_ buffer: inout ExportBuffer) {
        guard buffer.count > 0 else { return }
        if failure == nil {
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.base + offset, buffer.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    failure = .cannotWrite(path: name, reason: n < 0 ? String(cString: strerror(errno)) : "short write")
                    break
                }
                offset += n
            }
        }
        flushed += Int64(buffer.count)
        buffer.count = 0
    }

    /// Whether a write failed (the export can stop early).
    public var failed: Bool { failure != nil }

    /// Closes the output and, unless it is written in place, renames the temporary file over
    /// the destination.
    /// - Throws: ``ExportError/cannotWrite(path:reason:)`` for any write or close that failed on
    ///   the way (the temporary file is removed then); ``ExportError/cannotCreate(path:reason:)``
    ///   when the rename fails or the destination turned into something other than a regular file
    ///   meanwhile (it is left alone).
    public func commit() throws(ExportError) {
        if let failure {
            discard()
            throw failure
        }
        let closed = close(fd)
        fd = -1
        guard closed == 0 else {
            let reason = String(cString: strerror(errno))
            discard()
            throw .cannotWrite(path: name, reason: reason)
        }
        guard let temporaryPath, let finalPath else {
            finished = true
            return
        }
        var st = stat()
        if lstat(finalPath, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
            discard()
            throw .cannotCreate(path: path, reason: "\(finalPath) is no longer a regular file; left as it is")
        }
        guard rename(temporaryPath, finalPath) == 0 else {
            let reason = String(cString: strerror(errno))
            discard()
            throw .cannotCreate(path: path, reason: reason)
        }
        finished = true
    }

    /// Closes the output; removes the temporary file, so the destination is left as it was. An
    /// output written in place keeps what was written.
    public func discard() {
        if fd >= 0 { close(fd) }
        fd = -1
        if let temporaryPath { unlink(temporaryPath) }
        finished = true
    }
}

/// A growable-free byte buffer over raw memory: the writers check room once per event with
/// ``ensure(_:)`` (a flush happens between events, so an event needs at most a few KiB) and then
/// store bytes without bounds checks.
public struct ExportBuffer {
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @usableFromInline var count: Int
    @usableFromInline var capacity: Int

    /// Bytes a writer may add after checking ``isFull`` without growing the buffer.
    static let slack = 64 << 10

    /// Whether the writer should hand the buffer to its output now.
    @inline(__always) var isFull: Bool { count >= capacity - Self.slack }

    init(capacity: Int = 1 << 20) {
        base = .allocate(capacity: capacity)
        count = 0
        self.capacity = capacity
    }

    func deallocate() { base.deallocate() }

    /// Makes room for `n` more bytes; grows only for an event larger than the flush slack (a
    /// huge name).
    @inline(__always)
    mutating func ensure(_ n: Int) {
        if _slowPath(count + n > capacity) { grow(count + n) }
    }

    mutating func grow(_ needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        bigger.update(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = newCapacity
    }

    @inline(__always)
    mutating func byte(_ b: UInt8) {
        base[count] = b
        count += 1
    }

    /// Appends an ASCII literal (the JSON keys and punctuation).
    @inline(__always)
    mutating func literal(_ s: StaticString) {
        let n = s.utf8CodeUnitCount
        (base + count).update(from: s.utf8Start, count: n)
        count += n
    }

    @inline(__always)
    mutating func bytes(_ b: UnsafeBufferPointer<UInt8>) {
        if let p = b.baseAddress { (base + count).update(from: p, count: b.count) }
        count += b.count
    }

    mutating func bytes(_ b: [UInt8]) {
        ensure(b.count)
        b.withUnsafeBufferPointer { bytes($0) }
    }

    /// Appends a decimal integer.
    @inline(__always)
    mutating func int(_ value: Int64) {
        if value < 0 {
            byte(UInt8(ascii: "-"))
            uint(UInt64(0 &- value))
        } else {
            uint(UInt64(value))
        }
    }

    /// Appends an unsigned decimal integer: digits written backwards into a scratch area, then
    /// copied (no division per byte beyond one per digit).
    @inline(__always)
    mutating func uint(_ value: UInt64) {
        if value < 10 {
            byte(UInt8(truncatingIfNeeded: value) &+ 48)
            return
        }
        var digits = 0
        var v = value
        while v > 0 { digits += 1; v /= 10 }
        var p = base + count + digits
        v = value
        while v > 0 {
            p -= 1
            p.pointee = UInt8(truncatingIfNeeded: v % 10) &+ 48
            v /= 10
        }
        count += digits
    }

    /// Appends ns as µs with exactly three decimals (`1234567` → `1234.567`): integer arithmetic,
    /// so no precision is lost to a double (see the notes on epoch-based µs).
    @inline(__always)
    mutating func micros(_ nanos: Int64) {
        var n = nanos
        if n < 0 {
            byte(UInt8(ascii: "-"))
            n = 0 &- n
        }
        uint(UInt64(n / 1000))
        let frac = Int(n % 1000)
        base[count] = UInt8(ascii: ".")
        base[count + 1] = UInt8(truncatingIfNeeded: frac / 100) &+ 48
        base[count + 2] = UInt8(truncatingIfNeeded: (frac / 10) % 10) &+ 48
        base[count + 3] = UInt8(truncatingIfNeeded: frac % 10) &+ 48
        count += 4
    }

    // MARK: - Protobuf

    @inline(__always)
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            byte(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        byte(UInt8(truncatingIfNeeded: v))
    }

    @inline(__always)
    mutating func fixed64(_ value: UInt64) {
        var v = value
        for _ in 0..<8 {
            byte(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
    }

    /// Starts a length-delimited field whose length is patched by ``endLength(_:)``: one byte is
    /// reserved, which holds the length of nearly every message the exporter writes (< 128
    /// bytes), so that nothing needs to be built twice.
    @inline(__always)
    mutating func beginLength() -> Int {
        let at = count
        count += 1
        return at
    }

    /// Writes the length of the field begun at `at` as a minimal varint; a body of 128 bytes or
    /// more moves up by the extra length bytes (rare: long names, the first packet of a sequence).
    @inline(__always)
    mutating func endLength(_ at: Int) {
        let length = count - at - 1
        if _fastPath(length < 128) {
            base[at] = UInt8(truncatingIfNeeded: length)
            return
        }
        moveForLength(at, length)
    }

    mutating func moveForLength(_ at: Int, _ length: Int) {
        var size = 1
        var v = length >> 7
        while v > 0 { size += 1; v >>= 7 }
        ensure(size - 1)
        memmove(base + at + size, base + at + 1, length)
        let end = count + size - 1
        count = at
        varint(UInt64(length))
        count = end
    }
}
