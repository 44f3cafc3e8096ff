// swift-tools-version: 6.1
import PackageDescription

// Benchmarks and generators for looptrace. A package of its own, so that `swift build` and
// `swift test` at the top level never build them. Build and run in release:
//   swift run -c release --package-path tools/bench format-bench
/// Seedable workloads (`LoopShapedWorkload`, `SplitMix64`), shared with the tests.
let testSupport: Target.Dependency = .product(name: "TraceTestSupport", package: "looptrace")

let package = Package(
    name: "looptrace-tools",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "looptrace", path: "../.."),
    ],
    targets: [
        .target(name: "BenchSupport"),
        // The leanest ping-pong executor on the same runtime: loop-bench's floor for LoopRuntime.
        .target(name: "PingPongFloor"),
        .executableTarget(name: "trace-gen", dependencies: [.product(name: "TraceFormat", package: "looptrace"), testSupport]),
        .executableTarget(name: "format-bench", dependencies: ["BenchSupport", .product(name: "TraceFormat", package: "looptrace"), testSupport]),
        .executableTarget(name: "analysis-bench", dependencies: [
            "BenchSupport", .product(name: "TraceFormat", package: "looptrace"), .product(name: "TraceAnalysis", package: "looptrace"),
            testSupport,
        ]),
        .executableTarget(name: "loop-bench", dependencies: [
            "BenchSupport", "PingPongFloor", .product(name: "LoopRuntime", package: "looptrace"),
            .product(name: "TraceFormat", package: "looptrace"), testSupport,
        ]),
        .executableTarget(name: "io-bench", dependencies: ["BenchSupport", .product(name: "LoopRuntime", package: "looptrace")]),
        .executableTarget(name: "export-bench", dependencies: [
            "BenchSupport", .product(name: "TraceFormat", package: "looptrace"), .product(name: "TraceAnalysis", package: "looptrace"),
            testSupport,
        ]),
    ],
    swiftLanguageModes: [.v6]
)
