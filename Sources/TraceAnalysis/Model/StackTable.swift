import TraceFormat

/// The trace's image table, interned stacks and watchdog records, collected during the model's
/// pass (`imageDef`, `imageText`, `stackDef`, `stallSample`, `stallEnd`, `watchdogStart`).
///
/// Images are trace-wide (one id, one image, in every stream); stacks are per stream, keyed by
/// (stream, id), like strings. Memory follows the distinct stacks and the samples, which the
/// watchdog takes only during long steps. Not thread-safe: filled by the pass, read after it.
public final class StackTable {
    /// One loaded image of the traced process.
    public struct Image: Sendable, Equatable {
        public var id: UInt32
        public var path: String
        /// Lowercase hex; "" when the image had no build-id.
        public var buildID: String
        public var loadBase: UInt64
        public var textStart: UInt64 = 0
        public var textSize: UInt64 = 0
    }

    /// One frame: an offset in an image (image 0: an absolute address in no known image).
    public struct Frame: Sendable, Hashable {
        public var image: UInt32
        public var offset: UInt64
    }

    /// One interned stack.
    public struct Stack: Sendable, Equatable {
        public var kind: StackKind?
        /// Innermost first: frame 0 is a PC, the others return addresses.
        public var frames: [Frame]
    }

    /// One `stallSample`.
    public struct Sample: Sendable, Equatable {
        /// The watchdog's stream.
        public var stream: UInt32
        public var time: Int64
        /// The running task; 0 for a callback.
        public var task: UInt64
        public var stepStart: Int64
        /// The syscall number, nil when the thread was running.
        public var syscall: Int64?
        /// The stack, nil when none was captured or its definition was lost.
        public var stack: Stack?
        public var elapsed: Int64 { time - stepStart }
    }

    /// Images by id.
    public private(set) var images: [UInt32: Image] = [:]
    /// Stacks by (stream, id).
    public private(set) var stacks: [StackKey: Stack] = [:]
    /// Every stall sample, in the order read.
    public private(set) var samples: [Sample] = []
    /// `stallEnd` records: (watchdog stream, step start).
    public private(set) var ends: [(stream: UInt32, stepStart: Int64)] = []
    /// The loop stream each watchdog stream watches, and its threshold.
    public private(set) var watchdogs: [UInt32: (loopStream: UInt32, thresholdNanos: Int64)] = [:]

    /// A stack's key: its stream and its id there.
    public struct StackKey: Hashable, Sendable {
        public var stream: UInt32
        public var id: UInt64
    }

    /// The most records of each kind kept (images, stacks, samples, ends, watchdogs), and
    /// frames over all stacks: a crafted file can define a million stacks of 64 KiB each.
    var maxRecords = Int.max
    var maxFrames = Int.max
    /// Bytes of image paths and build ids.
    var maxImageTextBytes = Int.max
    private var frameCount = 0
    private var imageTextBytes = 0
    /// Records past the limits, skipped.
    public private(set) var overflowed: UInt64 = 0

    public init() {}

    /// Whether the trace had anything for this table.
    public var isEmpty: Bool { samples.isEmpty && stacks.isEmpty }

    /// Takes one event of the table's types; other types are ignored.
    public func add(_ e: TraceEvent, chunk: DecodedChunk) {
        switch e.type {
        case .imageDef, .imageText:
            if (images.count >= maxRecords || imageTextBytes >= maxImageTextBytes)
                && images[UInt32(truncatingIfNeeded: e.type == .imageDef ? e.imageDef.image : e.imageText.image)] == nil {
                overflowed += 1
                return
            }
        case .stackDef:
            if stacks.count >= maxRecords || frameCount >= maxFrames { overflowed += 1; return }
        case .stallSample:
            if samples.count >= maxRecords { overflowed += 1; return }
        case .stallEnd:
            if ends.count >= maxRecords { overflowed += 1; return }
        case .watchdogStart:
            if watchdogs.count >= maxRecords && watchdogs[e.stream] == nil { overflowed += 1; return }
        default:
            break
        }
        switch e.type {
        case .imageDef:
            let v = e.imageDef
            let id = UInt32(truncatingIfNeeded: v.image)
            var image = images[id] ?? Image(id: id, path: "", buildID: "", loadBase: 0)
            image.path = chunk.text(v.path)
            image.buildID = chunk.text(v.buildID)
            imageTextBytes += image.path.utf8.count + image.buildID.utf8.count
            image.loadBase = v.loadBase
            images[id] = image
        case .imageText:
            let v = e.imageText
            let id = UInt32(truncatingIfNeeded: v.image)
            var image = images[id] ?? Image(id: id, path: "", buildID: "", loadBase: 0)
            image.textStart = v.textStart
            image.textSize = v.textSize
            images[id] = image
        case .stackDef:
            let v = e.stackDef
            let key = StackKey(stream: e.stream, id: v.stack)
            if stacks[key] == nil {
                let frames = Self.parseFrames(chunk.text(v.frames))
                frameCount += frames.count
                stacks[key] = Stack(kind: v.kind, frames: frames)
            }
        case .stallSample:
            let v = e.stallSample
            let syscall = v.syscall
            samples.append(Sample(stream: e.stream, time: e.timestamp, task: v.task, stepStart: v.stepStart,
                                  syscall: syscall >= 0 ? syscall : nil,
                                  stack: v.stack == 0 ? nil : stacks[StackKey(stream: e.stream, id: v.stack)]))
        case .stallEnd:
            ends.append((e.stream, e.stallEnd.stepStart))
        case .watchdogStart:
            watchdogs[e.stream] = (UInt32(truncatingIfNeeded: e.watchdogStart.loopStream), Int64(bitPattern: e.watchdogStart.thresholdNanos))
        default:
            break
        }
    }

    /// Parses a `stackDef`'s frames: `image:offset` pairs in lowercase hex, separated by one
    /// space. Malformed pairs are skipped.
    public static func parseFrames(_ text: String) -> [Frame] {
        text.split(separator: " ").compactMap { pair in
            let parts = pair.split(separator: ":")
            guard parts.count == 2, let image = UInt32(parts[0], radix: 16), let offset = UInt64(parts[1], radix: 16) else {
                return nil
            }
            return Frame(image: image, offset: offset)
        }
    }
}
