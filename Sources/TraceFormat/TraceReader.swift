import Atomics
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A chunk the reader could not use, and what it cost.
public struct ChunkDamage: Error, Sendable, Equatable, CustomStringConvertible {
    /// The error, which carries the offset.
    public let error: TraceFormatError
    /// Events lost with it, when its header could still be read.
    public let eventsLost: UInt64?
    /// Bytes skipped over to reach the next readable chunk.
    public let bytesSkipped: Int64

    public var description: String {
        var s = error.description
        if let eventsLost { s += " (\(eventsLost) events lost)" }
        return s
    }
}

/// How a recording ended, and what is missing from it, as far as the file tells.
public struct RecordingSummary: Sendable, Equatable {
    /// How the file ends.
    public enum Ending: Sendable, Equatable {
        /// The file ends with the closing chunk the recorder writes when it closes.
        case clean
        /// No closing chunk and the header does not say the recording closed: the recording
        /// stopped abruptly (a crash or a kill); up to the flush interval before the last chunk
        /// may be missing.
        case abrupt
        /// No closing chunk although the header says the recording closed: the file was cut
        /// short at a chunk boundary (reported as damage too).
        case truncated
        /// The format (before 1.2) has no closing chunk: the file cannot tell.
        case unknown
    }

    /// How the file ends.
    public var ending: Ending = .unknown
    /// The time of the last event delivered, ns since the trace start (the latest chunk end).
    public var lastEventNanos: Int64?
    /// The recorder's flush interval (1.2): how much an abrupt end may have lost.
    public var flushIntervalNanos: UInt64?
    /// Chunks known to be missing, per stream: gaps in sequence numbers, and last chunks that
    /// the closing chunk counts but the file lacks (1.2).
    public var missingChunks: [UInt32: UInt64] = [:]

    /// Creates an empty summary.
    public init() {}
}

/// Reads a trace file as a stream of decoded chunks.
///
/// Memory does not depend on the trace's length: at most a small window of chunks is held, and
/// chunks inflate and decode in parallel on worker threads while the caller consumes them in
/// file order. Within a stream, events come out in timestamp order.
///
/// Lenient by default: a damaged chunk is skipped and reported in ``damage``, and reading goes
/// on with the next chunk that checks out (found by scanning for the chunk magic when a header is
/// unreadable). In strict mode the first damage throws.
public final class TraceReader {
    /// How to read.
    public struct Options: Sendable {
        /// Stop at the first damaged chunk instead of skipping it.
        public var strict: Bool
        /// Decoding threads; 1 decodes on the calling thread.
        public var threads: Int
        /// Use libdeflate to inflate when the machine has it.
        public var preferLibdeflate: Bool
        /// Tests only: false decodes every record through the schema-driven path, to compare it
        /// with the hand-written ones.
        var testsOnly_decodeFastPaths = true

        public init(strict: Bool = false, threads: Int = TraceReader.defaultThreads, preferLibdeflate: Bool = true) {
            self.strict = strict
            self.threads = max(1, threads)
            self.preferLibdeflate = preferLibdeflate
        }
    }

    /// The number of online CPUs.
    public static var defaultThreads: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// The file header.
    public let header: TraceHeader
    /// The path read.
    public let path: String
    /// The file's size in bytes.
    public let fileSize: Int64
    /// The size of the file header.
    public let headerLength: Int
    /// The options in use.
    public let options: Options
    /// Damaged chunks met so far, in file order: the first ``maxDamageKept`` of them (every
    /// region is counted in ``damageCount`` and the totals below).
    public private(set) var damage: [ChunkDamage] = []
    /// Damaged regions met so far, all of them.
    public private(set) var damageCount = 0
    /// Events lost in damaged chunks whose header could be read, over all damage.
    public private(set) var eventsLostToDamage: UInt64 = 0
    /// Bytes skipped to resynchronise, over all damage.
    public private(set) var bytesSkippedByDamage: Int64 = 0
    /// How many damage records ``damage`` keeps: every region costs a record, and a file can
    /// have one per 64 bytes, so the list is bounded like everything else the reader holds.
    public static let maxDamageKept = 4096
    /// Chunks delivered so far.
    public private(set) var chunksRead = 0
    /// Compressed payload bytes delivered so far.
    public private(set) var compressedBytes: Int64 = 0
    /// Uncompressed payload bytes delivered so far.
    public private(set) var uncompressedBytes: Int64 = 0
    /// How the recording ended and which chunks are missing: complete once ``forEachChunk(_:)``
    /// has returned.
    public private(set) var recording = RecordingSummary()

    private let fd: Int32
    private let decoder: ChunkDecoder

    /// Opens `path` and validates its header.
    /// - Throws: ``TraceFormatError`` when the file cannot be read or is not a v1 trace.
    public init(path: String, options: Options = Options()) throws(TraceFormatError) {
        self.path = path
        self.options = options
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotRead(path: path, reason: String(cString: strerror(errno))) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw .cannotRead(path: path, reason: reason)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            throw .cannotRead(path: path, reason: (st.st_mode & S_IFMT) == S_IFDIR ? "it is a directory" : "it is not a regular file")
        }
        self.fd = fd
        fileSize = Int64(st.st_size)
        let prefix = Self.pread(fd, offset: 0, count: Int(min(fileSize, Int64(TraceHeader.maxLength))))
        let decoded: Result<(TraceHeader, Int), TraceFormatError> = prefix.withUnsafeBytes { bytes in
            Result { () throws(TraceFormatError) in try TraceHeader.decode(bytes, path: path) }
        }
        switch decoded {
        case .success(let (header, length)):
            self.header = header
            headerLength = length
        case .failure(let error):
            Glibc.close(fd)
            throw error
        }
        decoder = ChunkDecoder(header: header, fastPaths: options.testsOnly_decodeFastPaths)
    }

    deinit { Glibc.close(fd) }

    /// Calls `body` with every intact chunk, in file order.
    /// - Throws: the first damage in strict mode; whatever `body` throws.
    public func forEachChunk(_ body: (DecodedChunk) throws -> Void) throws {
        let minor = header.minorVersion
        let selfChecking = minor >= TraceHeader.selfCheckingMinor
        var scan = ChunkScanner(fd: fd, fileSize: fileSize, start: Int64(headerLength), minor: minor)
        var lastTick: [UInt32: UInt64] = [:]
        // The next sequence number expected of each stream (1.2), since the last closing chunk.
        var nextSequence: [UInt32: UInt32] = [:]
        var summary = RecordingSummary()
        summary.ending = selfChecking ? .abrupt : .unknown
        summary.flushIntervalNanos = header.flushIntervalNanos
        var endedClean = false  // the last chunk read is a closing chunk
        let converter = TickConverter(header.clock)
        defer { recording = summary }
        let window = options.threads == 1 ? 1 : options.threads * 2 + 1
        var pending: [DecodeJob] = []
        // The bytes the pending chunks may take once decoded, including the one being delivered:
        // bounded by `maxInFlightBytes` whatever the thread count, except that one chunk always
        // goes through (a single chunk's cost is bounded by the header limits).
        var inFlight = 0
        let prefer = options.preferLibdeflate
        let decoder = self.decoder
        let decompressors = DecompressorPool(preferLibdeflate: prefer)

        func deliver(_ job: DecodeJob) throws {
            // Help rather than wait: if no worker has started this chunk, decode it here.
            if !job.runIfUnclaimed() { job.done.wait() }
            for d in job.damageBefore { try report(d) }
            switch job.result {
            case .success(let chunk)? where chunk.header.stream == ChunkHeader.closingStream:
                job.result = nil
                try closing(chunk)
            case .success(let chunk)?:
                endedClean = false
                if selfChecking { try checkSequence(chunk) }
                if let last = lastTick[chunk.header.stream], chunk.header.firstTick < last {
                    try report(ChunkDamage(error: .badChunk(offset: chunk.offset, reason: "stream \(chunk.header.stream) goes back in time (first tick \(chunk.header.firstTick) < previous chunk's last tick \(last))"),
                                           eventsLost: UInt64(chunk.header.eventCount), bytesSkipped: 0))
                    return
                }
                lastTick[chunk.header.stream] = chunk.header.lastTick
                let end = converter.nanos(chunk.header.lastTick)
                if summary.lastEventNanos.map({ end > $0 }) ?? true { summary.lastEventNanos = end }
                chunksRead += 1
                compressedBytes += Int64(chunk.header.compressedLength)
                uncompressedBytes += Int64(chunk.header.uncompressedLength)
                job.result = nil
                try body(chunk)
            case .failure(let damage)?:
                // A damaged chunk whose header checks out still holds its place in its stream.
                if selfChecking, let h = job.header, h.stream != ChunkHeader.closingStream {
                    nextSequence[h.stream] = max(nextSequence[h.stream, default: 0], h.sequence &+ 1)
                    endedClean = false
                }
                try report(damage)
            case nil:
                break
            }
        }

        /// A gap in a stream's sequence numbers is a missing chunk; a repeat or a step back is a
        /// chunk out of place.
        func checkSequence(_ chunk: DecodedChunk) throws {
            let stream = chunk.header.stream, sequence = chunk.header.sequence
            let expected = nextSequence[stream, default: 0]
            nextSequence[stream] = sequence &+ 1
            if sequence > expected {
                let missing = UInt64(sequence - expected)
                summary.missingChunks[stream, default: 0] += missing
                try report(ChunkDamage(error: .badChunk(offset: chunk.offset, reason: "stream \(stream) skips from chunk \(expected) to chunk \(sequence): \(missing) chunk\(missing == 1 ? " is" : "s are") missing"),
                                       eventsLost: nil, bytesSkipped: 0))
            } else if sequence < expected {
                try report(ChunkDamage(error: .badChunk(offset: chunk.offset, reason: "stream \(stream) chunk \(sequence) comes after chunk \(expected - 1): repeated or out of order"),
                                       eventsLost: nil, bytesSkipped: 0))
            }
        }

        /// The closing chunk: a clean end, and each stream's chunk count, which shows missing
        /// last chunks. Chunks after it belong to a recording appended later; their sequence
        /// numbers start again.
        func closing(_ chunk: DecodedChunk) throws {
            var declared: [(stream: UInt32, chunks: UInt64)] = []
            var sawEnd = false
            for e in chunk.events {
                if e.type == .recordingEnd { sawEnd = true }
                else if e.type == .streamEnd { declared.append((UInt32(truncatingIfNeeded: e.args[0]), e.args[1])) }
                else {
                    try report(ChunkDamage(error: .badChunk(offset: chunk.offset, reason: "the closing chunk holds a \(e.type) record"),
                                           eventsLost: nil, bytesSkipped: 0))
                    return
                }
            }
            guard sawEnd else {
                try report(ChunkDamage(error: .badChunk(offset: chunk.offset, reason: "the closing chunk has no recordingEnd record"),
                                       eventsLost: nil, bytesSkipped: 0))
                return
            }
            for (stream, chunks) in declared {
                let seen = UInt64(nextSequence[stream, default: 0])
                if chunks > seen {
                    summary.missingChunks[stream, default: 0] += chunks - seen
                    try report(ChunkDamage(error: .badChunk(offset: chunk.offset, reason: "stream \(stream) wrote \(chunks) chunk\(chunks == 1 ? "" : "s") but \(seen == 0 ? "none" : "only \(seen)") \(seen == 1 ? "is" : "are") here: its last \(chunks - seen) \(chunks - seen == 1 ? "is" : "are") missing"),
                                           eventsLost: nil, bytesSkipped: 0))
                }
            }
            nextSequence.removeAll()
            endedClean = true
        }

        while true {
            let step = scan.next()
            guard case .end = step else {
                let job = DecodeJob()
                switch step {
                case .chunk(let header, let offset, let payload, let skipped):
                    job.cost = Self.decodedCost(header, eventsPerRecord: decoder.eventsPerRecord)
                    job.header = header
                    job.damageBefore = skipped
                    // Unowned: the closure lives in the job and runs only through it, and a job
                    // abandoned by a throw must not keep itself alive.
                    job.work = { [unowned job] in job.run(decoder: decoder, header: header, offset: offset, payload: payload, pool: decompressors) }
                case .damage(let d):
                    job.damageBefore = d
                    job.done.signal()
                case .end:
                    break
                }
                while !pending.isEmpty && (pending.count >= window || inFlight + job.cost > Self.maxInFlightBytes) {
                    let first = pending.removeFirst()
                    try deliver(first)
                    inFlight -= first.cost
                }
                pending.append(job)
                inFlight += job.cost
                if options.threads > 1 && job.work != nil {
                    DispatchQueue.global().async { _ = job.runIfUnclaimed() }
                }
                continue
            }
            break
        }
        while !pending.isEmpty { try deliver(pending.removeFirst()) }
        guard selfChecking else { return }
        if endedClean {
            summary.ending = .clean
        } else if header.closedCleanly {
            summary.ending = .truncated
            try report(ChunkDamage(error: .truncated(offset: fileSize, reason: "the file ends without the closing chunk, but its header says the recording closed cleanly: it was cut short"),
                                   eventsLost: nil, bytesSkipped: 0))
        }
    }

    /// The most bytes the chunks in flight (read, inflating, decoded or being delivered) may take
    /// together, whatever the thread count. One chunk always goes through alone, whatever its
    /// cost: ``decodedCost(_:)`` of the largest legal chunk is about 170 MiB.
    public static let maxInFlightBytes = 128 << 20

    /// An upper bound of the memory one chunk takes from reading to delivery, from its header
    /// alone: the compressed and inflated payloads, the event array (the header's count), and
    /// the strings and texts, which take at most about 12 bytes per payload byte.
    /// `eventsPerRecord` is 2 for files whose records may stand for two events (`stepYield`).
    static func decodedCost(_ header: ChunkHeader, eventsPerRecord: Int = 1) -> Int {
        Int(header.compressedLength) + Int(header.uncompressedLength) * 13
            + Int(header.eventCount) * eventsPerRecord * MemoryLayout<TraceEvent>.stride
    }

    /// Calls `body` with every event of every intact chunk, in file order.
    public func forEachEvent(_ body: (TraceEvent, DecodedChunk) throws -> Void) throws {
        try forEachChunk { chunk in
            for e in chunk.events { try body(e, chunk) }
        }
    }

    private func report(_ d: ChunkDamage) throws {
        damageCount += 1
        eventsLostToDamage &+= d.eventsLost ?? 0
        bytesSkippedByDamage &+= d.bytesSkipped
        if damage.count < Self.maxDamageKept { damage.append(d) }
        if options.strict { throw d.error }
    }

    static func pread(_ fd: Int32, offset: Int64, count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        bytes.withUnsafeMutableBytes { raw in
            while done < count {
                let n = Glibc.pread(fd, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                done += n
            }
        }
        if done < count { bytes.removeLast(count - done) }
        return bytes
    }
}

/// One chunk on its way through a worker.
private final class DecodeJob: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    var damageBefore: [ChunkDamage] = []
    /// ``TraceReader/decodedCost(_:)`` of the chunk; 0 for damage alone.
    var cost = 0
    /// The chunk's header, when it checked out.
    var header: ChunkHeader?
    var result: Result<DecodedChunk, ChunkDamage>?
    /// The decoding, run once by whichever thread claims it first: a worker, or the consumer
    /// when it reaches the chunk before any worker has. Set before the job is shared; after
    /// that only the claiming thread touches it.
    var work: (() -> Void)?
    private let claimed = ManagedAtomic<Bool>(false)

    /// Runs the decoding unless another thread claimed it; whether it ran here.
    func runIfUnclaimed() -> Bool {
        guard claimed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            return false
        }
        let run = work
        work = nil
        run?()
        return run != nil
    }


    func run(decoder: ChunkDecoder, header: ChunkHeader, offset: Int64, payload: [UInt8], pool: DecompressorPool) {
        defer { done.signal() }
        let lost = UInt64(header.eventCount)
        let crc = payload.withUnsafeBytes { CRC32.checksum($0) }
        guard crc == header.payloadCRC else {
            result = .failure(ChunkDamage(error: .badChunk(offset: offset, reason: "payload CRC mismatch (stored \(hex(header.payloadCRC)), computed \(hex(crc)))"),
                                          eventsLost: lost, bytesSkipped: 0))
            return
        }
        let decoded: Result<DecodedChunk, DecodeFailure>
        if header.codec == .stored {
            decoded = payload.withUnsafeBytes { bytes in
                Result { () throws(DecodeFailure) in try decoder.decode(bytes, header: header, offset: offset) }
            }
        } else {
            let inflater = pool.take()
            var inflated: Result<Void, DecodeFailure> = .success(())
            // Uninitialised: inflating fills every byte or fails (then the bytes are never read).
            let raw = [UInt8](unsafeUninitializedCapacity: Int(header.uncompressedLength)) { buffer, count in
                inflated = payload.withUnsafeBytes { input in
                    Result { () throws(DecodeFailure) in try inflater.decompress(input, into: UnsafeMutableRawBufferPointer(buffer)) }
                }
                count = buffer.count
            }
            pool.give(inflater)
            switch inflated {
            case .success:
                decoded = raw.withUnsafeBytes { bytes in
                    Result { () throws(DecodeFailure) in try decoder.decode(bytes, header: header, offset: offset) }
                }
            case .failure(let failure):
                decoded = .failure(failure)
            }
        }
        result = decoded.mapError { ChunkDamage(error: .badChunk(offset: offset, reason: $0.reason), eventsLost: lost, bytesSkipped: 0) }
    }
}

/// Decompressors reused across chunks and worker threads.
private final class DecompressorPool: @unchecked Sendable {
    private let lock = PthreadMutex()
    private var idle: [ChunkDecompressor] = []
    private let preferLibdeflate: Bool

    init(preferLibdeflate: Bool) { self.preferLibdeflate = preferLibdeflate }

    func take() -> ChunkDecompressor {
        lock.withLock { idle.popLast() } ?? ChunkDecompressor(preferLibdeflate: preferLibdeflate)
    }

    func give(_ d: ChunkDecompressor) { lock.withLock { idle.append(d) } }
}

/// Walks the file chunk by chunk, resynchronising on the chunk magic after damage.
private struct ChunkScanner {
    enum Step {
        case chunk(ChunkHeader, offset: Int64, payload: [UInt8], skipped: [ChunkDamage])
        case damage([ChunkDamage])
        case end
    }

    let fd: Int32
    let fileSize: Int64
    let minor: UInt16
    var offset: Int64

    init(fd: Int32, fileSize: Int64, start: Int64, minor: UInt16) {
        self.fd = fd
        self.fileSize = fileSize
        self.minor = minor
        offset = start
    }

    mutating func next() -> Step {
        var skipped: [ChunkDamage] = []
        while offset < fileSize {
            let at = offset
            if fileSize - at < Int64(ChunkHeader.size) {
                offset = fileSize
                skipped.append(ChunkDamage(error: .truncated(offset: at, reason: "the file ends inside a chunk header (\(fileSize - at) of \(ChunkHeader.size) bytes)"),
                                           eventsLost: nil, bytesSkipped: fileSize - at))
                return .damage(skipped)
            }
            let raw = TraceReader.pread(fd, offset: at, count: ChunkHeader.size)
            let decoded: Result<ChunkHeader, TraceFormatError> = raw.withUnsafeBytes { bytes in
                do throws(TraceFormatError) { return .success(try ChunkHeader.decode(bytes.baseAddress!, offset: at, minor: minor)) } catch { return .failure(error) }
            }
            switch decoded {
            case .failure(let error):
                let resume = resync(after: at)
                offset = resume
                skipped.append(ChunkDamage(error: error, eventsLost: nil, bytesSkipped: resume - at))
                continue
            case .success(let header):
                let end = at + Int64(ChunkHeader.size) + Int64(header.compressedLength)
                if end > fileSize {
                    offset = fileSize
                    skipped.append(ChunkDamage(error: .truncated(offset: at, reason: "the file ends inside the chunk's payload (\(fileSize - at - Int64(ChunkHeader.size)) of \(header.compressedLength) bytes)"),
                                               eventsLost: UInt64(header.eventCount), bytesSkipped: fileSize - at))
                    return .damage(skipped)
                }
                let payload = TraceReader.pread(fd, offset: at + Int64(ChunkHeader.size), count: Int(header.compressedLength))
                offset = end
                return .chunk(header, offset: at, payload: payload, skipped: skipped)
            }
        }
        return skipped.isEmpty ? .end : .damage(skipped)
    }

    /// The offset of the next chunk header that checks out after `damagedAt`, or the file size.
    func resync(after damagedAt: Int64) -> Int64 {
        var position = damagedAt + 1
        let block = 1 << 20
        while position + Int64(ChunkHeader.size) <= fileSize {
            let bytes = TraceReader.pread(fd, offset: position, count: Int(min(Int64(block + ChunkHeader.size), fileSize - position)))
            if bytes.count < ChunkHeader.size { break }
            let found: Int? = bytes.withUnsafeBytes { raw in
                var i = 0
                while i + ChunkHeader.size <= raw.count {
                    if raw[i] == 0x4C && raw[i + 1] == 0x54 && raw[i + 2] == 0x43 && raw[i + 3] == 0x4B,
                       (try? ChunkHeader.decode(raw.baseAddress! + i, offset: position + Int64(i), minor: minor)) != nil {
                        return i
                    }
                    i += 1
                }
                return nil
            }
            if let found { return position + Int64(found) }
            position += Int64(bytes.count - ChunkHeader.size + 1)
        }
        return fileSize
    }
}
