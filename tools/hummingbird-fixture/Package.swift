// swift-tools-version: 6.1
import PackageDescription

// A small, unmodified Hummingbird server for `tools/hummingbird-fixture/run.sh`: it imports nothing
// of looptrace's, so the check shows `looptrace record` on a real SwiftNIO-based server. Its own
// package, so that `swift test` of looptrace never builds Hummingbird.
let package = Package(
    name: "hummingbird-fixture",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "hummingbird-fixture",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/HummingbirdFixture"
        ),
    ],
    swiftLanguageModes: [.v6]
)
