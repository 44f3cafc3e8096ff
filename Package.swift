// swift-tools-version: 6.1
import PackageDescription

// Imports flow one way: looptrace → TraceAnalysis → TraceFormat, LoopRuntime → TraceFormat.
let package = Package(
    name: "looptrace",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TraceFormat", targets: ["TraceFormat"]),
        .library(name: "LoopRuntime", targets: ["LoopRuntime"]),
        .library(name: "TraceAnalysis", targets: ["TraceAnalysis"]),
        .executable(name: "looptrace", targets: ["looptrace"]),
        // Preloaded by `looptrace record`, or linked into a program: traces it unmodified.
        .library(name: "LoopTraceAuto", type: .dynamic, targets: ["LoopTraceAuto"]),
        // Seedable workloads and scratch directories shared by the tests and tools/bench.
        .library(name: "TraceTestSupport", targets: ["TraceTestSupport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CLoopTraceShims", linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("z")]),
        .target(
            name: "TraceFormat",
            dependencies: [
                "CZlib", "CLoopTraceShims",
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        .target(
            name: "LoopRuntime",
            dependencies: [
                "TraceFormat", "CLoopTraceShims",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        .target(
            name: "TraceAnalysis",
            dependencies: [
                "TraceFormat",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .executableTarget(
            name: "looptrace",
            dependencies: [
                "TraceFormat", "TraceAnalysis",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "TraceTestSupport", dependencies: ["TraceFormat"]),
        .target(name: "CLoopTraceAuto"),
        .target(name: "LoopTraceAuto", dependencies: ["LoopRuntime", "CLoopTraceAuto"]),
        .testTarget(name: "TraceFormatTests", dependencies: ["TraceFormat", "TraceTestSupport"]),
        .testTarget(name: "LoopRuntimeTests", dependencies: ["LoopRuntime", "TraceFormat", "TraceTestSupport"]),
        .testTarget(name: "TraceAnalysisTests", dependencies: ["TraceAnalysis", "TraceFormat", "LoopRuntime", "TraceTestSupport"]),
        .testTarget(name: "looptraceTests", dependencies: ["TraceFormat", "TraceTestSupport"]),
        .executableTarget(name: "tick-tock", dependencies: ["LoopRuntime"], path: "Sources/Examples/TickTock"),
        .executableTarget(name: "countdown", dependencies: ["LoopRuntime"], path: "Sources/Examples/Countdown"),
        .executableTarget(name: "shared-waiters", dependencies: ["LoopRuntime"], path: "Sources/Examples/SharedWaiters"),
        .executableTarget(name: "interleave", dependencies: ["LoopRuntime"], path: "Sources/Examples/Interleave"),
        .executableTarget(name: "cancellation", dependencies: ["LoopRuntime"], path: "Sources/Examples/Cancellation"),
        // An unmodified async-main program: it imports nothing of ours (`looptrace record`).
        .executableTarget(name: "plain-concurrency", path: "Sources/Examples/PlainConcurrency"),
        .executableTarget(name: "slow-service", dependencies: ["LoopRuntime"], path: "Sources/Examples/SlowService"),
        .executableTarget(name: "watchdog-fixture", dependencies: ["LoopRuntime"], path: "Sources/Examples/WatchdogFixture"),
        .executableTarget(name: "echo-server", dependencies: ["LoopRuntime"], path: "Sources/Examples/EchoServer"),
        .executableTarget(name: "pipeline", dependencies: ["LoopRuntime"], path: "Sources/Examples/Pipeline"),
        // A traced program of known shape for the recorder's end-to-end tests in looptraceTests.
        .executableTarget(name: "trace-probe", dependencies: ["LoopRuntime", "TraceFormat"], path: "Tests/Programs/TraceProbe"),
    ],
    swiftLanguageModes: [.v6]
)
