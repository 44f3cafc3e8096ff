import Testing
import TraceFormat
@testable import TraceAnalysis

@Suite("Stall analysis")
struct StallAnalysisTests {
    @Test("A stackDef's frames parse from image:offset pairs in hex; malformed pairs are skipped")
    func framesParse() {
        #expect(StackTable.parseFrames("f:cf545 1:18ac5a 0:10") == [
            .init(image: 15, offset: 0xcf545), .init(image: 1, offset: 0x18ac5a), .init(image: 0, offset: 0x10),
        ])
        #expect(StackTable.parseFrames("1:zz 2 3:4") == [.init(image: 3, offset: 4)])
    }

    @Test("Swift mangled names tell their module; the standard library's substitutions are Swift")
    func swiftModules() {
        #expect(StallAnalysis.swiftModule("$s16watchdog_fixture13sleepInUsleepyys6UInt32VF") == "watchdog_fixture")
        #expect(StallAnalysis.swiftModule("$s11LoopRuntime05EventA0C7runStep_5route4taskyScJ_AA8JobRouteOs6UInt64VtF") == "LoopRuntime")
        #expect(StallAnalysis.swiftModule("$sScJ16runSynchronously2onys19UnownedTaskExecutorV_tF") == "Swift")
        #expect(StallAnalysis.swiftModule("clock_nanosleep") == nil)
    }

    @Test("User frames exclude system libraries, the runtime, LoopRuntime and our C shims")
    func userFrames() {
        func symbol(_ linkage: String?, image: String) -> Symbolizer.Symbol {
            Symbolizer.Symbol(function: linkage ?? "?", file: nil, line: nil, image: image, offset: 0, note: nil, linkageName: linkage)
        }
        #expect(StallAnalysis.isUser(symbol("$s16watchdog_fixture13sleepInUsleepyys6UInt32VF", image: "/bin/app")))
        #expect(!StallAnalysis.isUser(symbol("usleep", image: "/lib/x86_64-linux-gnu/libc.so.6")))
        #expect(!StallAnalysis.isUser(symbol("swift_job_run", image: "/opt/swift/usr/lib/swift/linux/libswift_Concurrency.so")))
        #expect(!StallAnalysis.isUser(symbol("$s11LoopRuntime05EventA0C7runStep_5route4taskyScJ_AA8JobRouteOs6UInt64VtF", image: "/bin/app")))
        #expect(!StallAnalysis.isUser(symbol("lt_scan_stack", image: "/bin/app")))
        #expect(StallAnalysis.isUser(symbol("handle_request", image: "/bin/app")))
        // A CPU-bound step sampled inside `clock_gettime@plt` was reported "in _init": the
        // symbolizer names PLT addresses after `.init`, the section before `.plt`.
        #expect(!StallAnalysis.isUser(symbol("_init", image: "/bin/app")))
    }

    @Test("The innermost user frame and the system call it made name where a stall was")
    func blockedInText() {
        let frames = [
            StackFrameInfo(function: "clock_nanosleep", file: "clock_nanosleep.c", line: 48, image: "libc.so.6", note: nil, user: false),
            StackFrameInfo(function: "usleep", file: "usleep.c", line: 31, image: "libc.so.6", note: nil, user: false),
            StackFrameInfo(function: "slowLookup()", file: "Lookup.swift", line: 8, image: "app", note: nil, user: true),
            StackFrameInfo(function: "handle()", file: "Lookup.swift", line: 20, image: "app", note: nil, user: true),
        ]
        let blocked = StallSampleInfo(timeNanos: 0, elapsedNanos: 60_000_000, syscall: "clock_nanosleep", method: "scan",
                                      frames: frames, userFrame: 2)
        #expect(StallAnalysis.blockedIn([blocked]) == "in slowLookup() Lookup.swift:8 (usleep in clock_nanosleep)")
        let running = StallSampleInfo(timeNanos: 0, elapsedNanos: 60_000_000, syscall: nil, method: "signal",
                                      frames: Array(frames[2...]), userFrame: 0)
        #expect(StallAnalysis.blockedIn([running]) == "in slowLookup() Lookup.swift:8 (running)")
        #expect(StallAnalysis.cleanSystemName("__GI___libc_read") == "read")
        #expect(StallAnalysis.cleanSystemName("___pthread_mutex_lock") == "pthread_mutex_lock")
    }
}
