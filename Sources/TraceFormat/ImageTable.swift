import CLoopTraceShims
#if canImport(Glibc)
import Glibc
#endif

/// The process's loaded ELF images (the executable and its shared libraries), numbered for the
/// trace's image table: the writer's half of `imageDef`/`imageText`.
///
/// Taken from `dl_iterate_phdr` with each image's `NT_GNU_BUILD_ID` note, and refreshed when an
/// address falls outside every known image (a library `dlopen`ed later). Image ids are
/// process-wide and never reused, so the same id names the same image in every stream.
/// Thread-safe: every call takes one lock; callers use it on cold paths only (a stack seen for
/// the first time), never per event.
public final class ImageTable: @unchecked Sendable {
    /// The table of this process.
    public static let shared = ImageTable()

    /// One loaded image.
    public struct Image: Sendable, Equatable {
        /// The id in traces, from 1.
        public var id: UInt32
        /// The file it was loaded from.
        public var path: String
        /// The GNU build-id in lowercase hex; "" when the image has none.
        public var buildID: String
        /// The load bias: offset = address − loadBase (the ELF virtual address for symbolizers).
        public var loadBase: UInt64
        /// The executable segment, as an offset from `loadBase`, and its size.
        public var textStart: UInt64
        public var textSize: UInt64
    }

    private let lock = PthreadMutex()
    private var images: [Image] = []  // guarded by lock; images[id - 1]
    /// Executable ranges sorted by start: (start address, end address, image id). Guarded by lock.
    private var ranges: [(start: UInt, end: UInt, id: UInt32)] = []
    private var lastRefreshNanos: UInt64 = 0  // guarded by lock

    init() {}

    /// The image with this id, if any.
    public func image(_ id: UInt32) -> Image? {
        lock.withLock { id >= 1 && Int(id) <= images.count ? images[Int(id) - 1] : nil }
    }

    /// Maps code addresses to (image id, offset). An address outside every image maps to image
    /// 0 with the address itself as offset (JIT code, or an image unloaded since).
    public func resolve(_ addresses: UnsafeBufferPointer<UInt>) -> [(image: UInt32, offset: UInt64)] {
        lock.withLock {
            if ranges.isEmpty { refreshLocked() }
            var out: [(image: UInt32, offset: UInt64)] = []
            out.reserveCapacity(addresses.count)
            var refreshed = false
            for address in addresses {
                var found = lookupLocked(address)
                // A library loaded after the last snapshot: refresh, at most every 100 ms so that
                // addresses in no image at all cannot make every call walk the loader's list.
                if found == nil, !refreshed, lt_monotonic_ns() &- lastRefreshNanos > 100_000_000 {
                    refreshLocked()
                    refreshed = true
                    found = lookupLocked(address)
                }
                if let image = found {
                    out.append((image.id, UInt64(address) &- image.loadBase))
                } else {
                    out.append((0, UInt64(address)))
                }
            }
            return out
        }
    }

    /// The executable ranges as sorted (start, end) address pairs, for `lt_scan_stack`.
    public func executableRanges() -> [UInt] {
        lock.withLock {
            if ranges.isEmpty { refreshLocked() }
            return ranges.flatMap { [$0.start, $0.end] }
        }
    }

    private func lookupLocked(_ address: UInt) -> Image? {
        var lo = 0, hi = ranges.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if address < ranges[mid].start {
                hi = mid - 1
            } else if address >= ranges[mid].end {
                lo = mid + 1
            } else {
                return images[Int(ranges[mid].id) - 1]
            }
        }
        return nil
    }

    private func refreshLocked() {
        lastRefreshNanos = lt_monotonic_ns()
        var capacity = 64
        var snapshot: [lt_image] = []
        while true {
            snapshot = [lt_image](repeating: lt_image(), count: capacity)
            let total = Int(lt_images_snapshot(&snapshot, Int32(capacity)))
            if total <= capacity {
                snapshot.removeLast(capacity - total)
                break
            }
            capacity = total + 16
        }
        var known: [String: UInt32] = [:]
        for image in images { known["\(image.path)@\(image.loadBase)"] = image.id }
        ranges.removeAll(keepingCapacity: true)
        for var raw in snapshot {
            let path = withUnsafeBytes(of: &raw.path) { bytes in
                String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            let buildID = withUnsafeBytes(of: &raw.build_id) { bytes in
                bytes.prefix(Int(raw.build_id_length)).map { byte in
                    let digits = Array("0123456789abcdef".utf8)
                    return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 15)]], as: UTF8.self)
                }.joined()
            }
            let base = UInt64(raw.load_base)
            let key = "\(path)@\(base)"
            let id: UInt32
            if let existing = known[key] {
                id = existing
            } else {
                id = UInt32(images.count + 1)
                images.append(Image(id: id, path: path, buildID: buildID, loadBase: base,
                                    textStart: UInt64(raw.text_start), textSize: UInt64(raw.text_size)))
                known[key] = id
            }
            let start = UInt(raw.load_base) &+ UInt(raw.text_start)
            ranges.append((start, start &+ UInt(raw.text_size), id))
        }
        ranges.sort { $0.start < $1.start }
    }
}
