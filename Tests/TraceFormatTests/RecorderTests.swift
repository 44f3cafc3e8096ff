import CLoopTraceShims
import Foundation
import Synchronization
import Testing
@testable import TraceFormat
import TraceTestSupport

/// Minor page faults taken by the calling thread so far.
func threadMinorFaults() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(1) /* RUSAGE_THREAD */, &usage)
    return usage.ru_minflt
}

/// Whether this process runs under ThreadSanitizer, whose shadow memory faults pages in on the
/// first touch of any application page.
let underThreadSanitizer = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_init") != nil

/// Whether strace can attach to a thread of this process: it is installed, we are root, and Yama
/// does not restrict attaching to a non-child.
let straceCanAttach: Bool = {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/strace"), getuid() == 0 else { return false }
    let scope = (try? String(contentsOfFile: "/proc/sys/kernel/yama/ptrace_scope", encoding: .utf8)) ?? "0"
    return scope.trimmingCharacters(in: .whitespacesAndNewlines) == "0"
}()

/// The sum of the `lostEvents` records in a trace, and whether it read without damage.
func reportedDrops(_ path: String) throws -> (dropped: UInt64, intact: Bool, events: Int) {
    let reader = try TraceReader(path: path)
    var dropped: UInt64 = 0
    var events = 0
    try reader.forEachEvent { e, _ in
        events += 1
        if e.type == .lostEvents { dropped += e.args[0] }
    }
    return (dropped, reader.damage.isEmpty, events)
}

@Suite("Recorder")
struct RecorderTests {
    /// `info` under-reported drops (22,054,353 shown, 22,460,444 counted) because events dropped
    /// after the last `lostEvents` record were only counted, never written, when the recorder
    /// closed.
    @Test("Drops still pending at close are written to the trace as a lostEvents record")
    func pendingDropsAreWrittenAtClose() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("pending.trace")
        let recorder = try TraceRecorder(.init(path: path, memoryCapBytes: 32 << 10, bufferBytes: 16 << 10,
                                               syntheticClock: true))
        let stream = recorder.makeStream()
        recorder.testsOnly_writerPaused.store(true, ordering: .relaxed)
        for i in 0..<50_000 {
            stream.setSyntheticTime(nanos: UInt64(i) * 10)
            stream.mark("burst", value: Int64(i))
        }
        #expect(stream.droppedEvents > 0)
        // No event after the drops: nothing has written their record yet.
        recorder.testsOnly_writerPaused.store(false, ordering: .relaxed)
        let stats = recorder.close()
        let (reported, intact, events) = try reportedDrops(path)
        #expect(intact)
        #expect(stats.droppedEvents > 0)
        #expect(reported == stats.droppedEvents)
        #expect(UInt64(events) - 1 + reported == 50_000, "every mark is either in the file or counted as dropped")
    }

    /// CI once starved the writer (nice 10, SCHED_BATCH) of CPU for over 2 s during a full test
    /// run: a loop's close returned with its last chunks unwritten, and a check that the trace
    /// held what the program reported failed.
    @Test("finishStream waits for a writer that is slow but making progress, and gives up on one that makes none")
    func finishStreamWaitsWhileTheWriterProgresses() throws {
        let dir = TemporaryDirectory()
        func burst(_ stream: TraceStream) {
            for i in 0..<6_000 {
                stream.stepBegin(task: UInt64(i % 7) + 1)
                stream.stepEnd(.suspended, site: nil)
            }
        }
        // Slow: 100 ms per 16 KiB buffer, 10 or so buffers, and a wait of 300 ms without progress.
        let slow = try TraceRecorder(.init(path: dir.file("slow.trace"), memoryCapBytes: 8 << 20, bufferBytes: 16 << 10))
        slow.testsOnly_writerDelayNanos.store(100_000_000, ordering: .relaxed)
        let a = slow.makeStream()
        burst(a)
        let t0 = Date()
        slow.finishStream(a, maxWaitNanos: 300_000_000)
        let waited = Date().timeIntervalSince(t0)
        #expect(slow.statistics.events == 12_000, "every event written when finishStream returns")
        #expect(waited > 0.3, "past maxWait, as long as the writer progressed")
        slow.testsOnly_writerDelayNanos.store(0, ordering: .relaxed)
        slow.close()

        // Stuck: no buffer written at all; finishStream returns after its wait.
        let stuck = try TraceRecorder(.init(path: dir.file("stuck.trace"), memoryCapBytes: 8 << 20, bufferBytes: 16 << 10))
        stuck.testsOnly_writerPaused.store(true, ordering: .relaxed)
        let b = stuck.makeStream()
        burst(b)
        let t1 = Date()
        stuck.finishStream(b, maxWaitNanos: 200_000_000)
        let gaveUp = Date().timeIntervalSince(t1)
        #expect(gaveUp >= 0.2 && gaveUp < 5, "\(gaveUp) s")
        #expect(stuck.statistics.events < 12_000)
        stuck.testsOnly_writerPaused.store(false, ordering: .relaxed)
        #expect(stuck.close().events == 12_000, "close still writes what the stalled writer had not")
    }

    @Test("A writer that falls behind writes the backlog's chunks uncompressed, which read back exactly, then compresses again")
    func aWriterBehindStoresChunks() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("behind.trace")
        // A real clock: the synthetic one turns the behaviour off (its files must be reproducible).
        var configuration = TraceRecorder.Configuration(path: path, memoryCapBytes: 8 << 20, bufferBytes: 16 << 10)
        configuration.storeWhenBehind = 4
        let recorder = try TraceRecorder(configuration)
        let stream = recorder.makeStream()
        func burst(_ range: Range<Int>) {
            for i in range {
                stream.stepBegin(task: UInt64(i % 7) + 1)
                stream.stepEnd(.suspended, site: sampleSites[i % sampleSites.count])
            }
        }
        // A backlog of about 25 buffers while the writer is held back, as on a CPU it shares.
        recorder.testsOnly_writerPaused.store(true, ordering: .relaxed)
        burst(0..<20_000)
        recorder.testsOnly_writerPaused.store(false, ordering: .relaxed)
        // Then the writer keeps up: a buffer at a time, each written before the next is full.
        let backlog = Date().addingTimeInterval(10)
        while recorder.statistics.chunks < 20 && Date() < backlog { usleep(1_000) }
        for round in 0..<5 {
            burst(20_000 + round * 800..<20_000 + (round + 1) * 800)
            stream.flush()
            let chunks = recorder.statistics.chunks
            let deadline = Date().addingTimeInterval(10)
            while recorder.statistics.chunks == chunks && Date() < deadline { usleep(1_000) }
        }
        let stats = recorder.close()
        #expect(stats.droppedEvents == 0)
        #expect(stats.storedChunks >= 10, "\(stats.storedChunks) of \(stats.chunks) chunks stored")
        #expect(stats.storedChunks < stats.chunks, "the chunks written once caught up are compressed")
        let (events, reader) = try readAll(path, strict: true)
        #expect(reader.damage.isEmpty, "\(reader.damage)")
        #expect(events.count == 2 * 24_000)
        #expect(events.filter { $0.type == .stepBegin }.map(\.task).prefix(14) == [1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4, 5, 6, 7])
    }

    /// With tracing on, the first event after a long step cost 8–73 µs on the loop thread
    /// (untraced 1.4–6.6 µs): the buffer it moved to was freshly allocated and faulted in page by
    /// page as events filled it.
    @Test("Buffer hand-offs at the flush deadline take no page fault on the emitting thread",
          .disabled(if: underThreadSanitizer, "ThreadSanitizer's shadow memory faults in on first touch"))
    func handOffsTakeNoPageFaults() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("faults.trace")
        let recorder = try TraceRecorder(.init(path: path, memoryCapBytes: 16 << 20, bufferBytes: 256 << 10,
                                               flushIntervalNanos: 1_000_000, syntheticClock: true))
        defer { recorder.close() }
        var faults = 0
        var handOffs = 0
        // One thread does everything, as a loop thread would: warm up (sites, code paths), then
        // fill about 190 KiB (~47 pages; a mark is a 24-byte raw record) per flush interval and
        // let the deadline hand it over.
        Thread.detachNewThread {}  // (a second thread exists anyway: the writer)
        let stream = recorder.makeStream()
        var time: UInt64 = 0
        func interval(events: Int) {
            for i in 0..<events {
                time += 10
                stream.setSyntheticTime(nanos: time)
                stream.mark("fill", value: Int64(i) &* 1_000_003)
            }
            time += 2_000_000  // past the deadline: the next event hands the buffer over
        }
        interval(events: 100)
        let intervals = 12
        for _ in 0..<intervals {
            // A loop thread runs for a while between hand-offs, and the writer, polling, restocks
            // its spare buffer meanwhile. (A writer starved of CPU for longer leaves the stream
            // to map a buffer itself: that is the fallback, not the hand-off measured here.)
            let free = stream.state.pointee.channel.free
            let deadline = Date().addingTimeInterval(10)
            while free.count < 1 && Date() < deadline { usleep(1_000) }
            let before = threadMinorFaults()
            interval(events: 8_000)
            faults += threadMinorFaults() - before
            handOffs += 1
        }
        let stats = recorder.statistics
        #expect(stats.droppedEvents == 0)
        // Old recorder: ~50 faults per fresh buffer, several buffers. A handful is allowed for
        // anything else the thread touches for the first time.
        #expect(faults <= 4, "\(faults) page faults over \(handOffs) hand-offs")
    }

    /// The same hand-offs woke the writer thread each time: a futex syscall on the loop thread,
    /// and a chance for the woken writer to take its CPU.
    @Test("Buffer hand-offs at the flush deadline make no syscall on the emitting thread (strace)",
          .enabled(if: straceCanAttach && !underThreadSanitizer, "needs strace able to attach (root, no Yama) and no sanitizer"))
    func handOffsMakeNoSyscalls() throws {
        let dir = TemporaryDirectory()
        let recorder = try TraceRecorder(.init(path: dir.file("syscalls.trace"), memoryCapBytes: 16 << 20,
                                               flushIntervalNanos: 1_000_000, syntheticClock: true))
        defer { recorder.close() }
        let log = dir.file("strace.log")
        final class Shared: @unchecked Sendable {
            let tid = Atomic<Int32>(0)
            let go = Atomic<Bool>(false)
            let done = Atomic<Bool>(false)
        }
        let shared = Shared()
        let handOffs = 10
        Thread.detachNewThread {
            let stream = recorder.makeStream()
            let free = stream.state.pointee.channel.free
            var time: UInt64 = 0
            func interval(events: Int) {
                for i in 0..<events {
                    time += 10
                    stream.setSyntheticTime(nanos: time)
                    stream.mark("fill", value: Int64(i))
                }
                time += 2_000_000  // past the deadline: the next event hands the buffer over
            }
            interval(events: 100)
            interval(events: 100)
            shared.tid.store(Int32(bitPattern: lt_thread_id()), ordering: .releasing)
            while !shared.go.load(ordering: .acquiring) {}
            _ = getppid()  // marker: from here on, every syscall of this thread counts
            for _ in 0..<handOffs {
                // The writer restocks a spare meanwhile (a busy wait: no syscall of our own).
                let deadline = DispatchTime.now().uptimeNanoseconds + 10_000_000_000
                while free.count < 1 && DispatchTime.now().uptimeNanoseconds < deadline {}
                interval(events: 2_000)
            }
            _ = getpgrp()  // marker: the end
            shared.done.store(true, ordering: .releasing)
        }
        while shared.tid.load(ordering: .acquiring) == 0 { usleep(1_000) }
        let tid = shared.tid.load(ordering: .acquiring)
        let strace = Process()
        strace.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
        strace.arguments = ["-p", "\(tid)", "-o", log]
        strace.standardError = FileHandle.nullDevice
        try strace.run()
        // Attached once the thread's status names a tracer.
        let deadline = Date().addingTimeInterval(10)
        var attached = false
        while !attached && Date() < deadline {
            let status = (try? String(contentsOfFile: "/proc/self/task/\(tid)/status", encoding: .utf8)) ?? ""
            attached = status.split(separator: "\n").contains { $0.hasPrefix("TracerPid:") && !$0.hasSuffix("\t0") }
            if !attached { usleep(5_000) }
        }
        try #require(attached, "strace did not attach")
        shared.go.store(true, ordering: .releasing)
        while !shared.done.load(ordering: .acquiring) { usleep(1_000) }
        strace.interrupt()
        strace.waitUntilExit()
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        let start = try #require(lines.firstIndex { $0.hasPrefix("getppid(") }, "\(lines)")
        let end = try #require(lines.firstIndex { $0.hasPrefix("getpgrp(") }, "\(lines)")
        let between = Array(lines[(start + 1)..<end])
        #expect(recorder.statistics.droppedEvents == 0)
        #expect(between.isEmpty, "\(between.count) syscalls over \(handOffs) hand-offs: \(between.prefix(10))")
    }

    @Test("A write error stops the recording: the error is kept, later events count as dropped, and what was written reads intact")
    func writeErrorStopsRecordingCleanly() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("failing.trace")
        let recorder = try TraceRecorder(.init(path: path, bufferBytes: 16 << 10, flushIntervalNanos: 1_000_000,
                                               syntheticClock: true))
        let stream = recorder.makeStream()
        var time: UInt64 = 0
        func emit(_ n: Int) {
            for i in 0..<n {
                time += 100
                stream.setSyntheticTime(nanos: time)
                stream.mark("m", value: Int64(i))
            }
        }
        emit(20_000)
        stream.flush()
        // Wait for the first chunks to be written, then make the next write fail as ENOSPC would.
        let deadline = Date().addingTimeInterval(10)
        while recorder.statistics.chunks == 0 && Date() < deadline { usleep(1_000) }
        let written = recorder.statistics.events
        #expect(written > 0)
        recorder.testsOnly_failNextWrite.store(ENOSPC, ordering: .relaxed)
        emit(20_000)
        stream.flush()
        while !recorder.isFailed && Date() < deadline { usleep(1_000) }
        #expect(recorder.isFailed)
        emit(1_000)
        let stats = recorder.close()
        #expect(stats.lastError?.hasPrefix("disk full after ") == true, "\(stats.lastError ?? "no error")")
        #expect(stats.lastError?.hasSuffix("writing \(path): trace incomplete") == true)
        #expect(stats.events + stats.droppedEvents == 41_000, "every event is written or counted as dropped")
        let (_, intact, events) = try reportedDrops(path)
        #expect(intact, "the partial chunk is cut off")
        #expect(UInt64(events) == stats.events)
    }

    @Test("A file that cannot be created is a cannotCreate error that names it")
    func unusablePathIsCannotCreate() {
        #expect(throws: TraceRecorderError.cannotCreate(path: "/nonexistent/x.trace", reason: "No such file or directory")) {
            try TraceRecorder(.init(path: "/nonexistent/x.trace"))
        }
        #expect("\(TraceRecorderError.cannotCreate(path: "/a", reason: "r"))" == "cannot create /a: r")
    }

    @Test("Users of one path share one recorder, each on its own stream; the last release closes it unless it stays until exit")
    func sharedRecordersArePerPath() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("shared.trace")
        let configuration = TraceRecorder.Configuration(path: path, bufferBytes: 16 << 10)
        let first = try TraceRecorder.shared(configuration, untilExit: false).get()
        let second = try TraceRecorder.shared(configuration, untilExit: false).get()
        #expect(first === second)
        let a = first.makeStream()
        let b = second.makeStream()
        #expect(a.id != b.id)
        a.mark("a")
        first.finishStream(a)
        first.releaseShared()
        #expect(!first.statisticsAreFinal)
        b.mark("b")
        second.finishStream(b)
        second.releaseShared()
        #expect(first.statisticsAreFinal, "the last release closes it")
        #expect(first.statistics.events == 2)
        // A later user starts a new recording.
        let third = try TraceRecorder.shared(configuration, untilExit: false).get()
        #expect(third !== first)
        third.releaseShared()

        let kept = dir.file("kept.trace")
        let pinned = try TraceRecorder.shared(.init(path: kept, bufferBytes: 16 << 10), untilExit: true).get()
        let s1 = pinned.makeStream()
        s1.mark("first run")
        pinned.finishStream(s1)
        pinned.releaseShared()
        #expect(!pinned.statisticsAreFinal)
        let again = try TraceRecorder.shared(.init(path: kept, bufferBytes: 16 << 10), untilExit: false).get()
        #expect(again === pinned, "a second user appends to the trace that stays open")
        let s2 = again.makeStream()
        s2.mark("second run")
        again.finishStream(s2)
        again.releaseShared()
        #expect(again.statistics.events == 2, "both streams' events are in the file once finished")
        pinned.close()
    }

    @Test("A second try on a path that failed gives the same error without a second warning")
    func failedPathsAreRemembered() {
        let configuration = TraceRecorder.Configuration(path: "/nonexistent/shared-\(getpid()).trace")
        let first = TraceRecorder.shared(configuration, untilExit: true)
        let second = TraceRecorder.shared(configuration, untilExit: true)
        guard case .failure(let e1) = first, case .failure(let e2) = second else {
            Issue.record("opening a path in a missing directory succeeded")
            return
        }
        #expect(e1 == e2)
    }

    @Test("%p in a trace path is the process id; %% is a percent sign")
    func percentPIsThePid() {
        #expect(TraceRecorder.expandPath("trace-%p.trace", pid: 42) == "trace-42.trace")
        #expect(TraceRecorder.expandPath("/tmp/%p/%p-%%-%x%", pid: 7) == "/tmp/7/7-%-%x%")
        #expect(TraceRecorder.expandPath("plain.trace") == "plain.trace")
    }

    @Test("Memory sizes read with their units", arguments: [
        ("64MiB", 64 << 20), ("64M", 64 << 20), ("64mb", 64 << 20), ("512KiB", 512 << 10), ("512k", 512 << 10),
        ("1GiB", 1 << 30), ("1048576", 1 << 20), ("100 MiB", 100 << 20), ("4096B", 4096),
    ] as [(String, Int)])
    func memorySizesParse(text: String, bytes: Int) {
        #expect(TraceRecorder.parseMemorySize(text) == bytes)
    }

    @Test("Things that are not memory sizes are refused", arguments: ["", "MiB", "-5MiB", "0", "12XB", "1.5GiB", "99999999999999999999", "9999999999999GiB"])
    func badMemorySizesAreRefused(text: String) {
        #expect(TraceRecorder.parseMemorySize(text) == nil)
    }
}
