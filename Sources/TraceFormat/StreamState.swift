import Atomics
import CLoopTraceShims
#if canImport(Glibc)
import Glibc
#endif

/// Metadata at the front of every recorder buffer; the payload, raw records (see
/// ``RawRecords``), follows it. Filled by the emitting thread at hand-over, read by the writer
/// thread after it pops the buffer.
@usableFromInline
struct BufferMeta {
    var capacity: Int
    var length: Int
    var eventCount: UInt32
    var stream: UInt32
    var threadID: UInt32
    /// Records among `eventCount` that stand for two events (`stepYield`).
    var pairedRecords: UInt32 = 0
    var firstTick: UInt64
    /// The writer fills in the chunk's last tick and its running task as it transcodes.
    var lastTick: UInt64
    var runningTask: UInt64

    static let size = 64
}

/// One slot of a stream's site intern table.
@usableFromInline
struct SiteSlot {
    @usableFromInline var file: UInt = 0
    @usableFromInline var function: UInt = 0
    @usableFromInline var line: UInt32 = 0
    /// 0 = empty slot.
    @usableFromInline var id: UInt32 = 0
    /// The buffer generation whose chunk already holds this site's definition.
    @usableFromInline var generation: UInt32 = 0
    /// The site's text, allocated once per distinct site.
    var text: UnsafeMutableBufferPointer<UInt8> = .init(start: nil, count: 0)
}

/// The hot state of one emitting thread. It lives behind an `UnsafeMutablePointer` so that
/// recording an event does no reference counting and no dynamic exclusivity check.
///
/// Events go into the buffer as raw fixed-width records (``RawRecords``): a few stores each.
/// The writer thread turns a full buffer into the wire format (timestamp and id deltas, varints)
/// before it compresses it.
/// Emitting thread only, except `closed`, which `TraceRecorder.close()` sets once the emitting
/// threads are done.
@usableFromInline
struct StreamState {
    // --- hot: touched by every event ---
    /// The next word to write.
    @usableFromInline var cursor: UnsafeMutablePointer<UInt64>
    /// The last position where a fixed-size record (≤ `maxFixedEvent` bytes) still fits.
    @usableFromInline var limit: UnsafeMutablePointer<UInt64>
    /// The tick at which this buffer is handed over however full it is (the flush interval);
    /// 0 when there is no buffer, so that the next event takes the slow path.
    @usableFromInline var deadline: UInt64
    /// Bumped for every new buffer; a site whose slot has an older generation is defined again.
    @usableFromInline var generation: UInt32
    /// 0: TSC, 1: CLOCK_MONOTONIC, 2: synthetic (``syntheticTicks``, for generators and tests).
    @usableFromInline let clockMode: UInt8
    @usableFromInline var syntheticTicks: UInt64 = 0
    /// The latest tick this stream read on a slow path (hand-over, drops): the raw records'
    /// timestamps are not kept in order here; the writer clamps them as it transcodes.
    var lastTick: UInt64 = 0
    /// The site of the last event that had one, and its id (`TraceStream.site`'s one-entry cache
    /// in front of `sites`). A new buffer empties it (`UInt.max` is no site's key), so a hit is
    /// always defined in the current chunk.
    @usableFromInline var lastSiteFile: UInt = .max
    @usableFromInline var lastSiteFunction: UInt = 0
    @usableFromInline var lastSiteLine: UInt32 = 0
    @usableFromInline var lastSiteID: UInt32 = 0
    @usableFromInline var sites: UnsafeMutablePointer<SiteSlot>
    @usableFromInline var siteMask: Int

    // --- cold: buffer changes, drops, interning ---
    var buffer: UnsafeMutableRawPointer?
    var siteCount = 0
    var nextStringID: UInt32 = 1
    var chunkFirstTick: UInt64 = 0
    var dropped: UInt64 = 0
    var droppedTotal: UInt64 = 0
    var dropFirstTick: UInt64 = 0
    var dropLastTick: UInt64 = 0
    var closed = false
    let streamID: UInt32
    let threadID: UInt32
    let flushTicks: UInt64
    let nanosPerTick: Double
    /// Wait for the writer instead of dropping events (offline generators only).
    let waitWhenFull: Bool
    unowned(unsafe) let channel: StreamChannel
    // The channel's rings and flags, copied here so that the hand-off reaches them without a hop
    // through the channel object (one cache line fewer when it is cold).
    let full: BufferRing
    let free: BufferRing
    let failed: UnsafeAtomic<Bool>
    let pressure: Int
    /// Interned stacks and the images defined per chunk (`StackInterner`), made on first use.
    var stacks: UnsafeMutablePointer<StackInterner>? = nil

    /// The most bytes a raw record other than those with text takes: the head word and up to
    /// seven argument words.
    @usableFromInline static let maxFixedEvent = 64
    /// The limit while there is no buffer: below any cursor, so that every emit takes the slow
    /// path (a deadline of 0 does the same for the emits that check it).
    static var noRoom: UnsafeMutablePointer<UInt64> { UnsafeMutablePointer(bitPattern: 64)! }
    /// Sites longer than this are cut (at a UTF-8 boundary).
    static let maxSiteText = 1024
    /// Task names longer than this are cut.
    @usableFromInline static let maxNameText = 255

    init(streamID: UInt32, clockMode: UInt8, flushTicks: UInt64, nanosPerTick: Double, waitWhenFull: Bool,
         channel: StreamChannel) {
        cursor = UnsafeMutablePointer(bitPattern: 128)!
        limit = Self.noRoom
        deadline = 0
        generation = 0
        self.clockMode = clockMode
        siteMask = 255
        sites = .allocate(capacity: 256)
        sites.initialize(repeating: SiteSlot(), count: 256)
        self.streamID = streamID
        threadID = clockMode == 2 ? 0 : lt_thread_id()
        self.flushTicks = flushTicks
        self.nanosPerTick = nanosPerTick
        self.waitWhenFull = waitWhenFull
        self.channel = channel
        full = channel.full
        free = channel.free
        failed = channel.failed
        pressure = channel.wakeAlways ? 0 : channel.pressure
    }

    /// Frees the intern table. The buffers belong to the recorder.
    func deallocate() {
        for i in 0...siteMask where sites[i].id != 0 { sites[i].text.deallocate() }
        sites.deallocate()
        deallocateStacks()
    }

    /// The slow path of every event: the buffer lacks `need` more bytes, its flush deadline passed,
    /// or there is no buffer. Hands the buffer over, gets another, and writes a lost-events
    /// record if events were dropped meanwhile. Returns false when the event must be dropped.
    ///
    /// At the flush deadline this is the whole cost of tracing's periodic hand-off on the
    /// emitting thread, so it stays O(1): a ring push, a ring pop of a pre-faulted spare, no
    /// syscall, no lock (see ``StreamChannel``).
    @usableFromInline @inline(never)
    mutating func refill(now: UInt64, need: Int) -> Bool {
        if closed { return false }
        if failed.load(ordering: .relaxed) {
            // The file cannot be written: run untraced. What is emitted from here on is counted
            // as dropped, and nothing more reaches the buffers.
            if let buffer {
                let payload = (buffer + BufferMeta.size).assumingMemoryBound(to: UInt64.self)
                droppedTotal += RawRecords.eventCount(UnsafeRawBufferPointer(start: payload, count: (cursor - payload) * 8))
                channel.returnUnused(buffer)
            }
            buffer = nil
            limit = Self.noRoom
            deadline = 0
            countDrop(now)
            return false
        }
        if buffer != nil {
            if now < deadline && UnsafeMutableRawPointer(cursor) + need <= UnsafeMutableRawPointer(limit) { return true }
            handOver()
        }
        lastTick = Swift.max(lastTick, now)
        // A spare the writer keeps ready (pre-faulted), or a recycled buffer; a new mapping on
        // this thread only when the writer fell behind.
        var next = free.pop() ?? channel.budget.allocate(prefault: false)
        while next == nil && waitWhenFull && !closed {
            channel.wake()
            usleep(20)
            next = channel.takeBuffer()
        }
        guard let fresh = next else {
            // Out of buffers: the writer may be asleep with work waiting. A syscall now is
            // cheaper than dropping events for a whole tick.
            if dropped == 0 { channel.wake() }
            countDrop(now)
            return false
        }
        install(fresh, now: now)
        guard need <= UnsafeMutableRawPointer(limit) - UnsafeMutableRawPointer(cursor) - Self.maxFixedEvent else { return false }
        writeLostEvents(now: now)
        return true
    }

    /// Counts one dropped event.
    mutating func countDrop(_ now: UInt64) {
        if dropped == 0 { dropFirstTick = now }
        dropped += 1
        droppedTotal += 1
        dropLastTick = now
        channel.dropped.store(droppedTotal, ordering: .relaxed)
    }

    /// Makes `fresh` the current buffer, starting a chunk at `now`.
    mutating func install(_ fresh: UnsafeMutableRawPointer, now: UInt64) {
        let meta = fresh.assumingMemoryBound(to: BufferMeta.self)
        let payload = (fresh + BufferMeta.size).assumingMemoryBound(to: UInt64.self)
        buffer = fresh
        cursor = payload
        limit = payload + (meta.pointee.capacity - Self.maxFixedEvent) / 8
        deadline = now &+ flushTicks
        generation &+= 1
        lastSiteFile = .max
        chunkFirstTick = now
    }

    /// Writes a `lostEvents` record for the events dropped since the last one, if any. The
    /// current buffer has room for a fixed-size event.
    mutating func writeLostEvents(now: UInt64) {
        guard dropped > 0 else { return }
        var p = cursor
        p.putHead(.lostEvents, now)
        p.putWord(dropped)
        p.putWord(-Int64(Double(now &- dropFirstTick) * nanosPerTick))
        p.putWord(-Int64(Double(now &- dropLastTick) * nanosPerTick))
        cursor = p
        dropped = 0
    }

    /// The stream's clock now, never earlier than its last event (any thread may call it once
    /// the emitting thread is done).
    func currentTick() -> UInt64 {
        let raw = clockMode == 0 ? lt_ticks() : (clockMode == 1 ? lt_monotonic_ns() : syntheticTicks)
        return Swift.max(raw, lastTick)
    }

    /// Reserves a verbatim record of `byteCount` wire bytes at the cursor (room checked by the
    /// caller) and returns where its bytes go; ``endVerbatim(_:)`` closes it.
    mutating func beginVerbatim() -> UnsafeMutablePointer<UInt8> {
        UnsafeMutableRawPointer(cursor + 1).assumingMemoryBound(to: UInt8.self)
    }

    /// Closes the verbatim record begun at the cursor, whose bytes end at `end`, holding
    /// `events` events for the chunk's count.
    mutating func endVerbatim(_ end: UnsafeMutablePointer<UInt8>, events: UInt16) {
        let start = UnsafeMutableRawPointer(cursor + 1).assumingMemoryBound(to: UInt8.self)
        let count = end - start
        cursor.pointee = RawRecords.verbatimHead(byteCount: count, events: events)
        cursor += 1 + (count + 7) >> 3
    }

    /// Ends the stream: hands over what it holds, then writes a `lostEvents` record for drops
    /// still pending (events dropped since the last record), waiting up to `maxWaitNanos` for the
    /// writer to return a buffer for it. Later emits are ignored. Called once the emitting
    /// thread is done with the stream (by it, or by the recorder's close).
    mutating func finish(maxWaitNanos: UInt64) {
        guard !closed else { return }
        handOver()
        if dropped > 0 && !failed.load(ordering: .relaxed) {
            var next = channel.takeBuffer()
            let start = lt_monotonic_ns()
            while next == nil && lt_monotonic_ns() &- start < maxWaitNanos && !failed.load(ordering: .relaxed) {
                channel.wake()
                usleep(200)
                next = channel.takeBuffer()
            }
            if let next {
                install(next, now: currentTick())
                writeLostEvents(now: lastTick)
                handOver()
            }
        }
        closed = true
    }

    /// Gives the current buffer, if it holds anything, to the writer thread.
    mutating func handOver() {
        guard let buffer else { return }
        let meta = buffer.assumingMemoryBound(to: BufferMeta.self)
        let payload = (buffer + BufferMeta.size).assumingMemoryBound(to: UInt64.self)
        meta.pointee.length = (cursor - payload) * 8
        meta.pointee.stream = streamID
        meta.pointee.threadID = threadID
        meta.pointee.firstTick = chunkFirstTick
        if meta.pointee.length == 0 {
            channel.returnUnused(buffer)
        } else {
            full.push(buffer)
            // The writer polls; wake it only when it falls behind (a syscall then beats dropping).
            if full.producerCount(atLeast: pressure) { channel.wake() }
        }
        self.buffer = nil
        limit = Self.noRoom
        deadline = 0
    }

    /// The slow path of `TraceStream.site`: looks `site` up in the intern table (defining it in
    /// the current chunk when needed) and makes it the cached last site. Nil when the event must
    /// be dropped.
    @usableFromInline @inline(never)
    mutating func lookUpSite(_ site: SourceSite, now: UInt64, need: Int) -> UInt64? {
        let key = site.internKey
        let slot = sites[Self.probe(sites, siteMask, key)]
        let id: UInt64
        if slot.id != 0 && slot.generation == generation {
            id = UInt64(slot.id)
        } else {
            guard let defined = defineSite(site, now: now, need: need) else { return nil }
            id = defined
        }
        lastSiteFile = key.file
        lastSiteFunction = key.function
        lastSiteLine = key.line
        lastSiteID = UInt32(truncatingIfNeeded: id)
        return id
    }

    /// Returns the id of `site`, writing its definition into the current buffer first when this
    /// chunk has not defined it yet; nil when the event must be dropped. Needs `need` bytes for
    /// the event that follows.
    @usableFromInline @inline(never)
    mutating func defineSite(_ site: SourceSite, now: UInt64, need: Int) -> UInt64? {
        let key = site.internKey
        var slot = Self.probe(sites, siteMask, key)
        if sites[slot].id == 0 {
            if (siteCount + 1) * 2 > siteMask + 1 {
                grow()
                slot = Self.probe(sites, siteMask, key)
            }
            let text = Array(site.description.utf8.prefix(Self.maxSiteText))
            let storage = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: text.count)
            _ = storage.initialize(from: text)
            sites[slot] = SiteSlot(file: key.file, function: key.function, line: key.line, id: nextStringID,
                                   generation: 0, text: storage)
            nextStringID += 1
            siteCount += 1
        }
        let text = sites[slot].text
        let defSize = 8 + (1 + 5 + 2 + text.count + 7) & ~7
        if buffer == nil || UnsafeMutableRawPointer(cursor) + (defSize + need) > UnsafeMutableRawPointer(limit) {
            guard refill(now: now, need: defSize + need) else { return nil }
            // A new buffer: the slot may need defining again in it, which the code below does.
        }
        var p = beginVerbatim()
        p.putByte(EventType.stringDef.rawValue)
        p.putVarint(UInt64(sites[slot].id))
        p.putVarint(UInt64(text.count))
        if let base = text.baseAddress { p.update(from: base, count: text.count) }
        p += text.count
        endVerbatim(p, events: 0)
        sites[slot].generation = generation
        return UInt64(sites[slot].id)
    }

    @inlinable @inline(__always)
    static func probe(_ table: UnsafeMutablePointer<SiteSlot>, _ mask: Int, _ key: (file: UInt, function: UInt, line: UInt32)) -> Int {
        var h = key.file &* 0x9E37_79B9_7F4A_7C15
        h ^= key.function &* 0xC2B2_AE3D_27D4_EB4F
        h ^= UInt(key.line) &* 0x1656_67B1_9E37_79F9
        var i = Int(truncatingIfNeeded: h >> 17) & mask
        while true {
            let s = table[i]
            if s.id == 0 || (s.file == key.file && s.line == key.line && s.function == key.function) { return i }
            i = (i + 1) & mask
        }
    }

    mutating func grow() {
        let oldMask = siteMask
        let old = sites
        siteMask = (oldMask + 1) * 2 - 1
        sites = .allocate(capacity: siteMask + 1)
        sites.initialize(repeating: SiteSlot(), count: siteMask + 1)
        for i in 0...oldMask where old[i].id != 0 {
            let s = old[i]
            sites[Self.probe(sites, siteMask, (s.file, s.function, s.line))] = s
        }
        old.deallocate()
    }
}
