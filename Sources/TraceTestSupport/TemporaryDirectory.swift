import Foundation

/// A fresh directory under the system's temporary directory, removed with everything in it when
/// the object goes away: one per test, so tests running in parallel never share files.
public final class TemporaryDirectory: @unchecked Sendable {
    /// The directory's path.
    public let path: String

    /// Creates the directory, named `looptrace-PREFIX-UUID`.
    public init(prefix: String = "tests") {
        path = NSTemporaryDirectory() + "looptrace-\(prefix)-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }
}
