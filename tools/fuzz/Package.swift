// swift-tools-version: 6.1
import PackageDescription

// The libFuzzer target on the trace reader and the analysis model. A package of its own, so
// that `swift build` and `swift test` at the top level never build it. Build and run with
// tools/fuzz/run.sh (it passes -sanitize=fuzzer,address to every module, so that the reader and
// the model are instrumented, not just the harness).
let package = Package(
    name: "looptrace-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "looptrace", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "trace-fuzz",
            dependencies: [
                .product(name: "TraceFormat", package: "looptrace"),
                .product(name: "TraceAnalysis", package: "looptrace"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
