import Atomics
import CLoopTraceShims
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Records a trace file: hands out one ``TraceStream`` per emitting thread and runs a background
/// writer thread that compresses full buffers and appends them as chunks.
///
/// - Memory is bounded by ``Configuration/memoryCapBytes``: at the cap, emitting threads drop
///   events (counted, then reported by a `lostEvents` record) and never block.
/// - Each stream hands its buffer over at least every ``Configuration/flushIntervalNanos``
///   (minus one writer tick) while it records, at the first opening event past that deadline (a
///   step's, a callback's or a poll's; the events inside a step only check for room), and the
///   writer thread, which polls every tick (a tenth of the interval), writes it: a SIGKILL loses
///   at most about one interval, plus the step that was running.
///   ``finishStream(_:)``, ``close()`` and process exit flush the rest.
/// - The hand-off costs the emitting thread O(1): no syscall, no lock, no page fault (the writer
///   keeps pre-faulted spare buffers ready; see ``StreamChannel``).
/// - The recorder never takes the program down: when the file cannot be written (disk full, an
///   I/O error) it prints one line on standard error, stops recording, and keeps the error in
///   ``Statistics/lastError``.
/// - The header is written at once, with the tick rate measured over a 2 ms window; `close()`
///   rewrites it in place with the rate measured over the whole run.
///
/// Several threads (several event loops) share one recorder, each with its own stream:
/// ``shared(_:untilExit:)`` hands out one recorder per path in a process.
public final class TraceRecorder: @unchecked Sendable {
    /// How to record.
    public struct Configuration: Sendable {
        /// The trace file to create (truncated if it exists).
        public var path: String
        /// The most memory all buffers together may use. Default 64 MiB.
        public var memoryCapBytes: Int
        /// The size of one buffer, which is one chunk's uncompressed size. Default 256 KiB.
        public var bufferBytes: Int
        /// The longest time recorded events wait in memory. Default 100 ms; 1 ms to 1 hour.
        public var flushIntervalNanos: Int64
        /// The zlib compression level (1 is fastest; higher levels gain little on event data).
        public var compressionLevel: Int
        /// Use libdeflate when the machine has it (same format, about twice as fast).
        public var preferLibdeflate: Bool
        /// The program name stored in the header.
        public var programName: String
        /// The program arguments stored in the header.
        public var arguments: [String]
        /// Timestamps come from ``TraceStream/setSyntheticTime(nanos:)`` instead of a clock, and
        /// the header holds no pid, host or wall time: the file is reproducible.
        public var syntheticClock: Bool = false
        /// At the memory cap, wait for the writer thread instead of dropping events. Only for
        /// offline generators: an instrumented program must never block on its tracer.
        public var waitWhenFull: Bool = false
        /// When a stream has at least this many full buffers waiting, the writer writes its
        /// chunks uncompressed (the `stored` codec) until it has caught up: compression is most of
        /// the writer's CPU, and a writer that far behind (one that shares a busy CPU with the
        /// program) would soon make the stream drop events at the memory cap. Those chunks take
        /// about ten times the bytes. nil (the default): half the buffers the memory cap allows,
        /// twice the backlog at which the stream starts waking the writer, so that a writer woken
        /// in time still compresses; 0: never. Off with ``syntheticClock`` or ``waitWhenFull``,
        /// whose files must not depend on timing.
        public var storeWhenBehind: Int? = nil

        /// The default of ``memoryCapBytes``: 64 MiB.
        public static let defaultMemoryCapBytes = 64 << 20

        /// A configuration with the defaults.
        public init(path: String, memoryCapBytes: Int = defaultMemoryCapBytes, bufferBytes: Int = 256 << 10,
                    flushIntervalNanos: Int64 = 100_000_000, compressionLevel: Int = 1, preferLibdeflate: Bool = true,
                    programName: String = CommandLine.arguments.first ?? "", arguments: [String] = Array(CommandLine.arguments.dropFirst()),
                    syntheticClock: Bool = false) {
            self.path = path
            self.memoryCapBytes = memoryCapBytes
            self.bufferBytes = bufferBytes
            self.flushIntervalNanos = flushIntervalNanos
            self.compressionLevel = compressionLevel
            self.preferLibdeflate = preferLibdeflate
            self.programName = programName
            self.arguments = arguments
            self.syntheticClock = syntheticClock
        }
    }

    /// What the recorder did, for `close()`'s caller, the traced program and the benchmarks.
    public struct Statistics: Sendable {
        /// Events written to the file.
        public var events: UInt64 = 0
        /// Chunks written.
        public var chunks: UInt64 = 0
        /// Chunks written uncompressed: the writer was behind (see
        /// ``Configuration/storeWhenBehind``), or compression did not make them smaller.
        public var storedChunks: UInt64 = 0
        /// Uncompressed payload bytes.
        public var rawBytes: UInt64 = 0
        /// Bytes in the file.
        public var fileBytes: UInt64 = 0
        /// Events recorded but not in the file: dropped at the memory cap, or lost to a write
        /// error (with everything emitted after it).
        public var droppedEvents: UInt64 = 0
        /// CPU time the writer thread spent compressing and writing, in ns.
        public var writerCPUNanos: UInt64 = 0
        /// Buffers allocated (the rest were recycled).
        public var buffersAllocated: Int = 0
        /// The compressor used: "libdeflate" or "zlib".
        public var compressor: String = ""
        /// The error that stopped the recording, if the file could not be written, e.g.
        /// "disk full after 300 ms writing /tmp/x.trace: trace incomplete".
        public var lastError: String?

        /// Empty statistics.
        public init() {}
    }

    /// The configuration in use.
    public let configuration: Configuration
    /// The clock calibration in the header.
    public private(set) var calibration: ClockCalibration

    private let fd: Int32
    private var headerBytes: [UInt8]
    private let budget: BufferBudget
    private let wakeSemaphore = DispatchSemaphore(value: 0)
    private let stopping = ManagedAtomic<Bool>(false)
    /// Buffers the writer thread has finished with (written, or dropped after a failure): how a
    /// thread waiting for it tells a slow writer from a stuck one.
    private let writerProgress = ManagedAtomic<UInt64>(0)
    /// Set once the file cannot be written; every stream then stops recording. Freed in deinit,
    /// after the streams.
    private let failed = UnsafeAtomic<Bool>.create(false)
    /// Tests only: while set, the writer thread writes nothing, so the budget runs out.
    let testsOnly_writerPaused = ManagedAtomic<Bool>(false)
    /// Tests only: the writer sleeps this long after each buffer (a writer starved of CPU).
    let testsOnly_writerDelayNanos = ManagedAtomic<UInt32>(0)
    /// Tests only: the next chunk write fails with this errno (0: none), as a full disk would.
    let testsOnly_failNextWrite = ManagedAtomic<Int32>(0)
    private let lock = PthreadMutex()
    private var channels: [StreamChannel] = []  // guarded by lock
    private var nextStreamID: UInt32 = 1  // guarded by lock
    private var writer: pthread_t?
    private var closed = false  // guarded by lock
    private var stats = Statistics()  // guarded by lock
    /// Drops of streams already retired (their channels are gone). Guarded by lock.
    private var retiredDrops: UInt64 = 0
    private let flushTicks: UInt64
    /// ``Configuration/storeWhenBehind``, resolved.
    private let storeWhenBehind: Int
    /// How often the writer thread looks for buffers to write.
    private let writerTickNanos: Int64
    /// CLOCK_MONOTONIC when the recorder opened, for "disk full after 300 ms".
    private let openedNanos: UInt64
    /// The next chunk sequence number of each stream: writer thread until joined, then close().
    private var chunkSequence: [UInt32: UInt32] = [:]
    /// The latest last tick of the chunks written: same owners as `chunkSequence`.
    private var chunkLastTick: UInt64 = 0

    /// Creates the file, writes the header and starts the writer thread.
    /// - Throws: ``TraceRecorderError`` when the file cannot be created or written.
    public init(_ configuration: Configuration) throws {
        var configuration = configuration
        configuration.bufferBytes = min(max(configuration.bufferBytes, 16 << 10), 4 << 20)
        configuration.memoryCapBytes = max(configuration.memoryCapBytes, 2 * configuration.bufferBytes)
        // At most an hour: a raw record keeps its tick's low 56 bits, about 139 days of a 3 GHz
        // counter from its chunk's first tick (``RawRecords``).
        configuration.flushIntervalNanos = min(max(configuration.flushIntervalNanos, 1_000_000), 3_600_000_000_000)
        if configuration.syntheticClock || configuration.waitWhenFull { configuration.storeWhenBehind = 0 }
        self.configuration = configuration
        openedNanos = lt_monotonic_ns()
        let fd = open(configuration.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw TraceRecorderError.cannotCreate(path: configuration.path, reason: String(cString: strerror(errno)))
        }
        self.fd = fd
        var hostBytes = [CChar](repeating: 0, count: 256)
        gethostname(&hostBytes, 255)
        var hostname = String(decoding: hostBytes.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var pid = UInt32(getpid())
        if configuration.syntheticClock {
            calibration = ClockCalibration(kind: .monotonic, baseTicks: 0, monotonicBaseNanos: 0, wallBaseNanos: 0,
                                           windowNanos: 1, windowTicks: 1)
            hostname = ""
            pid = 0
        } else {
            calibration = TraceClock.calibrate(kind: TraceClock.kind)
        }
        let header = TraceHeader(clock: calibration, pid: pid, hostname: hostname, program: configuration.programName,
                                 arguments: configuration.arguments, flushIntervalNanos: UInt64(configuration.flushIntervalNanos))
        headerBytes = header.encode()
        budget = BufferBudget(capBytes: configuration.memoryCapBytes, bufferBytes: configuration.bufferBytes)
        storeWhenBehind = configuration.storeWhenBehind ?? max(1, budget.maxBuffers / 2)
        // The writer polls ten times per flush interval, and a stream hands its buffer over one
        // tick before the interval ends: events reach the file within the interval, while the
        // emitting thread never has to wake the writer.
        writerTickNanos = max(configuration.flushIntervalNanos / 10, 200_000)
        flushTicks = UInt64(Double(configuration.flushIntervalNanos - writerTickNanos) / calibration.nanosPerTick)
        stats.compressor = ChunkCompressor(level: configuration.compressionLevel,
                                           preferLibdeflate: configuration.preferLibdeflate).implementation
        guard writeAll(headerBytes) else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw TraceRecorderError.cannotWrite(path: configuration.path, reason: reason)
        }
        stats.fileBytes = UInt64(headerBytes.count)
        startWriter()
        OpenRecorders.shared.add(self)
    }

    deinit {
        close()
        for channel in channels { Self.free(channel.state) }
        channels.removeAll()
        failed.destroy()
    }

    private static func free(_ state: UnsafeMutablePointer<StreamState>) {
        state.pointee.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// A new stream for the calling thread, with the next stream id. Only that thread may emit
    /// into it. When it is done, ``finishStream(_:)`` gets its last events to the file.
    public func makeStream() -> TraceStream {
        let state = UnsafeMutablePointer<StreamState>.allocate(capacity: 1)
        let channel = StreamChannel(budget: budget, failed: failed, state: state, wakeAlways: configuration.waitWhenFull) {
            [wakeSemaphore] in wakeSemaphore.signal()
        }
        // Spares before the channel is published: the writer, the ring's other producer, can't
        // see it yet.
        for _ in 0..<StreamChannel.spares {
            guard let spare = budget.allocate() else { break }
            channel.free.push(spare)
        }
        return lock.withLock {
            let mode: UInt8 = configuration.syntheticClock ? 2 : (calibration.kind == .tsc ? 0 : 1)
            state.initialize(to: StreamState(streamID: nextStreamID, clockMode: mode,
                                             flushTicks: flushTicks, nanosPerTick: calibration.nanosPerTick,
                                             waitWhenFull: configuration.waitWhenFull, channel: channel))
            nextStreamID += 1
            if closed { state.pointee.closed = true }
            channels.append(channel)
            return TraceStream(state: state)
        }
    }

    /// Ends a stream whose thread is done with it (an event loop closing): its events, and a
    /// `lostEvents` record for drops still pending, are in the file when this returns, unless
    /// the writer thread makes no progress for `maxWaitNanos` (a stalled disk). A writer that is
    /// only slow (starved of CPU by a loaded machine: it runs at a low priority) is waited for.
    /// The stream must not be used again. Call it on the stream's own thread.
    public func finishStream(_ stream: TraceStream, maxWaitNanos: UInt64 = 2_000_000_000) {
        let state = stream.state
        let channel = state.pointee.channel
        let isOpen = lock.withLock { !closed && channels.contains { $0 === channel } }
        guard isOpen else { return }
        state.pointee.finish(maxWaitNanos: maxWaitNanos)
        channel.retiring.store(true, ordering: .releasing)
        wakeSemaphore.signal()
        // A wait that the writer's progress extends: a loaded machine can starve the low-priority
        // writer for over 2 s, and a fixed deadline then let the loop's close return with its last
        // chunks still to be written (the likely cause of a test that failed under CI's load).
        var progress = writerProgress.load(ordering: .relaxed)
        var since = lt_monotonic_ns()
        while !channel.retired.load(ordering: .acquiring) {
            if lock.withLock({ closed }) { return }
            usleep(100)
            let now = lt_monotonic_ns()
            let current = writerProgress.load(ordering: .relaxed)
            if current != progress {
                progress = current
                since = now
            } else if now &- since >= maxWaitNanos {
                return
            }
        }
    }

    /// Flushes every stream, waits for the writer thread to write everything, writes pending
    /// drops, and rewrites the header with the clock rate measured over the whole run.
    /// Idempotent; process exit calls it for recorders still open.
    ///
    /// Call it after the emitting threads are done with their streams (their partial buffers are
    /// taken over); later emits are dropped.
    @discardableResult
    public func close() -> Statistics {
        let (alreadyClosed, open) = lock.withLock { () -> (Bool, [StreamChannel]) in
            defer { closed = true }
            return (closed, channels)
        }
        if alreadyClosed { return statistics }
        // The streams' last buffers and their pending drops, while the writer still runs (a
        // lostEvents record may need it to return a buffer first).
        // (A retiring stream was finished by its own thread, and the writer may be freeing it.)
        for channel in open where !channel.retiring.load(ordering: .acquiring) {
            channel.state.pointee.finish(maxWaitNanos: 1_000_000_000)
        }
        stopping.store(true, ordering: .releasing)
        wakeSemaphore.signal()
        if let writer { pthread_join(writer, nil) }
        writer = nil
        for channel in open { channel.releaseSpares() }
        // The end of the file: the closing record, then the header rewrite.
        if !configuration.syntheticClock { TraceClock.refine(&calibration) }
        let closedCleanly = writeClosingRecord()
        let fixed = TraceHeader.encodeFixed(calibration, flags: closedCleanly ? TraceHeader.closedFlag : 0)
        headerBytes.replaceSubrange(20..<64, with: fixed)
        TraceHeader.patchLengthAndCRC(&headerBytes)
        _ = headerBytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        fsyncIfRegular()
        if Glibc.close(fd) != 0 && !failed.load(ordering: .relaxed) { fail(errno: errno) }
        lock.withLock { stats.buffersAllocated = budget.allocations }
        OpenRecorders.shared.remove(self)
        return statistics
    }

    /// The statistics so far (complete after ``close()``). Any thread.
    public var statistics: Statistics {
        lock.withLock {
            var s = stats
            s.droppedEvents += retiredDrops
            for channel in channels { s.droppedEvents += channel.dropped.load(ordering: .relaxed) }
            return s
        }
    }

    /// Whether the file could not be written and recording stopped.
    public var isFailed: Bool { failed.load(ordering: .acquiring) }

    /// Whether ``close()`` has run (the statistics no longer change).
    public var statisticsAreFinal: Bool { lock.withLock { closed } }

    // MARK: - Writer thread

    private func startWriter() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let recorder = Unmanaged<TraceRecorder>.fromOpaque(raw!).takeRetainedValue()
            recorder.writerLoop()
            return nil
        }, context)
        precondition(rc == 0, "TraceRecorder: pthread_create failed with \(rc)")
        writer = thread
    }

    private func writerLoop() {
        // The writer yields to the threads that emit: SCHED_BATCH keeps its wakeups (each tick)
        // from preempting a loop thread on the same CPU, and nice 10 gives it a small share of a
        // contended CPU without starving it (a starved writer means dropped events).
        // loop-bench's traced timer lateness beside a CPU-bound process improved from a p99 of
        // about 1.4 ms to about 1.0 ms with this (median of 16 runs, measured at nice 19).
        var parameters = sched_param(sched_priority: 0)
        _ = pthread_setschedparam(pthread_self(), 3 /* SCHED_BATCH, not exported by Glibc */, &parameters)
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(lt_thread_id()), 10)
        let compressor = ChunkCompressor(level: configuration.compressionLevel, preferLibdeflate: configuration.preferLibdeflate)
        let wireCapacity = RawRecords.wireBound(rawBytes: configuration.bufferBytes)
        let capacity = ChunkHeader.size + ChunkCompressor.bound(wireCapacity)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 64)
        let wire = UnsafeMutablePointer<UInt8>.allocate(capacity: wireCapacity)
        defer {
            scratch.deallocate()
            wire.deallocate()
        }
        while true {
            let stop = stopping.load(ordering: .acquiring)
            if !stop && testsOnly_writerPaused.load(ordering: .relaxed) {
                _ = wakeSemaphore.wait(timeout: .now() + .milliseconds(1))
                continue
            }
            let channels = lock.withLock { self.channels }
            for channel in channels {
                // Read before draining: once set, the stream's thread pushes nothing more.
                let retiring = channel.retiring.load(ordering: .acquiring)
                while let buffer = channel.full.pop() {
                    let behind = storeWhenBehind > 0 && channel.full.count + 1 >= storeWhenBehind
                    writeChunk(buffer, of: channel, compressor: behind ? nil : compressor, wire: wire, scratch: scratch)
                    writerProgress.wrappingIncrement(ordering: .relaxed)
                    let delay = testsOnly_writerDelayNanos.load(ordering: .relaxed)
                    if delay > 0 { usleep(delay / 1000) }
                    if stop || retiring { budget.release(buffer) } else { channel.free.push(buffer) }
                }
                if retiring && !stop {
                    retire(channel)
                } else if !stop {
                    // Keep spares ready, so that the stream's next hand-off needs no allocation.
                    while channel.free.count < StreamChannel.spares, let spare = budget.allocate() {
                        channel.free.push(spare)
                    }
                }
            }
            if stop { break }
            _ = wakeSemaphore.wait(timeout: .now() + .nanoseconds(Int(writerTickNanos)))
        }
    }

    /// Frees a drained retiring channel and its stream. Writer thread.
    private func retire(_ channel: StreamChannel) {
        channel.releaseSpares()
        lock.withLock {
            channels.removeAll { $0 === channel }
            retiredDrops += channel.dropped.load(ordering: .relaxed)
        }
        Self.free(channel.state)
        channel.retired.store(true, ordering: .releasing)
    }

    /// Transcodes one buffer of `channel`'s raw records into wire records (``RawRecords``),
    /// compresses them (unless `compressor` is nil: the writer is behind) and appends the chunk.
    /// Writer thread.
    private func writeChunk(_ buffer: UnsafeMutableRawPointer, of channel: StreamChannel, compressor: ChunkCompressor?,
                            wire: UnsafeMutablePointer<UInt8>, scratch: UnsafeMutableRawBufferPointer) {
        var meta = buffer.assumingMemoryBound(to: BufferMeta.self).pointee
        let raw = UnsafeRawBufferPointer(start: buffer + BufferMeta.size, count: meta.length)
        guard !failed.load(ordering: .relaxed) else {
            lock.withLock { stats.droppedEvents += RawRecords.eventCount(raw) }
            return
        }
        let cpuStart = threadCPUNanos()
        guard let transcoded = RawRecords.transcode(raw, firstTick: meta.firstTick, notBefore: channel.writerLastTick,
                                                    runningTask: channel.writerRunningTask, into: wire) else {
            preconditionFailure("TraceRecorder: malformed raw records in a buffer of stream \(meta.stream)")
        }
        // Each chunk starts no earlier than the stream's previous one ended.
        meta.firstTick = Swift.max(meta.firstTick, channel.writerLastTick)
        meta.runningTask = channel.writerRunningTask
        channel.writerRunningTask = transcoded.runningTask
        meta.lastTick = transcoded.lastTick
        meta.length = transcoded.length
        meta.eventCount = transcoded.eventCount
        meta.pairedRecords = transcoded.pairedRecords
        channel.writerLastTick = transcoded.lastTick
        let payload = UnsafeRawBufferPointer(start: wire, count: meta.length)
        let out = UnsafeMutableRawBufferPointer(rebasing: scratch[ChunkHeader.size...])
        var codec = ChunkHeader.Codec.zlib
        var length = compressor?.compress(payload, into: out) ?? meta.length
        if length >= meta.length {
            codec = .stored
            length = meta.length
            out.baseAddress!.copyMemory(from: payload.baseAddress!, byteCount: meta.length)
        }
        let body = UnsafeRawBufferPointer(rebasing: out[..<length])
        let header = ChunkHeader(stream: meta.stream, threadID: meta.threadID, codec: codec,
                                 compressedLength: UInt32(length), uncompressedLength: UInt32(meta.length),
                                 eventCount: meta.eventCount, payloadCRC: CRC32.checksum(body),
                                 firstTick: meta.firstTick, lastTick: meta.lastTick, runningTask: meta.runningTask,
                                 sequence: chunkSequence[meta.stream, default: 0])
        header.encode(into: scratch.baseAddress!)
        let ok = writeAll(UnsafeRawBufferPointer(rebasing: scratch[..<(ChunkHeader.size + length)]))
        let writeErrno = errno
        let cpu = threadCPUNanos() - cpuStart
        let end = lock.withLock { () -> UInt64 in
            stats.writerCPUNanos += cpu
            if ok {
                chunkSequence[meta.stream, default: 0] += 1
                chunkLastTick = max(chunkLastTick, meta.lastTick)
                stats.events += UInt64(meta.eventCount) + UInt64(meta.pairedRecords)
                stats.chunks += 1
                if codec == .stored { stats.storedChunks += 1 }
                stats.rawBytes += UInt64(meta.length)
                stats.fileBytes += UInt64(ChunkHeader.size + length)
            } else {
                stats.droppedEvents += UInt64(meta.eventCount) + UInt64(meta.pairedRecords)
            }
            return stats.fileBytes
        }
        if !ok {
            // Cut the partial chunk off: the file then ends at a chunk boundary, and what was
            // recorded before the failure reads without damage (and a full disk gets the room back).
            if isRegularFile { _ = ftruncate(fd, off_t(end)) }
            fail(errno: writeErrno)
        }
    }

    /// Stops the recording after a write error: keeps the error, tells the streams, and prints
    /// one line on standard error (once per recorder). The program goes on untraced.
    private func fail(errno code: Int32) {
        let (exchanged, _) = failed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing)
        guard exchanged else { return }
        let elapsed = (lt_monotonic_ns() &- openedNanos) / 1_000_000
        let message = code == ENOSPC || code == EDQUOT
            ? "disk full after \(elapsed) ms writing \(configuration.path): trace incomplete"
            : "cannot write \(configuration.path) after \(elapsed) ms: \(String(cString: strerror(code))); trace incomplete"
        lock.withLock { stats.lastError = message }
        TraceRecorder.warn(message)
    }

    /// Appends the closing chunk (stream 0): a `recordingEnd` record and one `streamEnd` record
    /// per stream with its chunk count, so that a reader can tell a clean end from a truncation
    /// or a crash, and see a stream's missing last chunks. Called by close() once the writer
    /// thread is joined. Returns whether it is on disk.
    private func writeClosingRecord() -> Bool {
        guard !failed.load(ordering: .acquiring) else { return false }
        let now = configuration.syntheticClock ? chunkLastTick : max(chunkLastTick, TraceClock.ticks(calibration.kind))
        let streams = chunkSequence.keys.sorted().map { (stream: $0, chunks: chunkSequence[$0]!) }
        let bytes = ChunkHeader.closingChunk(streams: streams, totalChunks: lock.withLock { stats.chunks }, tick: now)
        guard writeAll(bytes) else {
            fail(errno: errno)
            return false
        }
        lock.withLock { stats.fileBytes += UInt64(bytes.count) }
        return true
    }

    private func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { writeAll($0) }
    }

    /// Writes every byte, retrying EINTR and short writes.
    private func writeAll(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let injected = testsOnly_failNextWrite.exchange(0, ordering: .relaxed)
        if injected != 0 {
            errno = injected
            return false
        }
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    private var isRegularFile: Bool {
        var st = stat()
        return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    private func fsyncIfRegular() {
        if isRegularFile { fsync(fd) }
    }

    private func threadCPUNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Prints `looptrace: <message>` as one line on standard error, in one `write`.
    static func warn(_ message: String) {
        var line = "looptrace: \(message)\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}

/// The recorders still open, closed at process exit so that a program that never calls
/// `close()` still gets its last events to disk.
final class OpenRecorders: @unchecked Sendable {
    static let shared: OpenRecorders = {
        atexit { OpenRecorders.shared.closeAll() }
        return OpenRecorders()
    }()

    private let lock = PthreadMutex()
    private var recorders: [ObjectIdentifier: Weak] = [:]

    private struct Weak { weak var recorder: TraceRecorder? }

    func add(_ r: TraceRecorder) { lock.withLock { recorders[ObjectIdentifier(r)] = Weak(recorder: r) } }
    func remove(_ r: TraceRecorder) { lock.withLock { _ = recorders.removeValue(forKey: ObjectIdentifier(r)) } }

    func closeAll() {
        let open = lock.withLock { recorders.values.compactMap(\.recorder) }
        for r in open { r.close() }
    }
}

/// A pthread mutex, for the recorder's cold paths (stream registration, close).
final class PthreadMutex: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(mutex, nil) }
    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
