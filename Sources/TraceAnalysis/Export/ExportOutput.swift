#if canImport(Glibc)
import Glibc
#endif

/// Where an export goes, and how it fails.
public enum ExportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The output file (or its temporary sibling) cannot be created or written.
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotWrite(let path, let reason): "cannot write \(path): \(reason)"
        }
    }
}

/// A buffered output file that only appears under its final name once it is complete.
///
/// Bytes go to a temporary file in the same directory (`.NAME.partial-PID`), which ``commit()``
/// renames over the destination: a crash, a full disk or a cut-off run never leaves a
/// half-written export posing as complete. ``discard()`` (also run by `deinit` when neither was
/// called) removes the temporary file.
///
/// The bytes come from an ``ExportBuffer`` the writer owns (a struct in the writer, never a class
/// property: the JSON writer emits ~100 bytes per event, and a dynamic exclusivity check or an
/// `Array.append` per byte run costs several times more than a raw store at that rate).
public final class ExportOutput {
    /// The final path.
    public let path: String
    /// The temporary path written until ``commit()``.
    public let temporaryPath: String
    /// Bytes written so far.
    public var bytesWritten: Int64 { flushed }

    private var fd: Int32
    private var flushed: Int64 = 0
    private var failure: ExportError?
    private var finished = false

    /// Creates the temporary file next to `path`.
    /// - Throws: ``ExportError/cannotWrite(path:reason:)`` when the directory does not exist or
    ///   is not writable, or `path` is a directory.
    public init(path: String) throws(ExportError) {
        self.path = path
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            throw .cannotWrite(path: path, reason: "it is a directory")
        }
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        temporaryPath = (dir.isEmpty ? "" : dir + "/") + "." + base + ".partial-\(getpid())"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
    }

    deinit {
        if !finished { discard() }
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
                    failure = .cannotWrite(path: path, reason: n < 0 ? String(cString: strerror(errno)) : "short write")
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

    /// Closes and renames the temporary file to ``path``.
    /// - Throws: ``ExportError/cannotWrite(path:reason:)`` for any write that failed on the way;
    ///   the temporary file is removed then.
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
            throw .cannotWrite(path: path, reason: reason)
        }
        guard rename(temporaryPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            discard()
            throw .cannotWrite(path: path, reason: reason)
        }
        finished = true
    }

    /// Closes and removes the temporary file; the destination is left as it was.
    public func discard() {
        if fd >= 0 { close(fd) }
        fd = -1
        unlink(temporaryPath)
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

    /// Starts a length-delimited field whose length is patched by ``endLength(_:)``: four bytes
    /// of redundant varint, as Perfetto's own protozero writes nested messages, so that nothing
    /// needs to be built twice. Parsers accept non-minimal varints.
    @inline(__always)
    mutating func beginLength() -> Int {
        let at = count
        count += 4
        return at
    }

    @inline(__always)
    mutating func endLength(_ at: Int) {
        let length = UInt32(count - at - 4)
        base[at] = UInt8(truncatingIfNeeded: length) | 0x80
        base[at + 1] = UInt8(truncatingIfNeeded: length >> 7) | 0x80
        base[at + 2] = UInt8(truncatingIfNeeded: length >> 14) | 0x80
        base[at + 3] = UInt8(truncatingIfNeeded: length >> 21) & 0x7F
    }
}
