import Foundation
import Hummingbird
import NIOCore
import NIOPosix

// An ordinary Hummingbird app: three fast routes and one whose handler blocks its thread for
// about 150 ms (`slowInventoryLookup`), the kind of mistake `looptrace blocking` should name.
// It prints its port once it listens ("listening on PORT"), so a script can bind port 0.

/// Simulates a synchronous lookup (a blocking database driver, a file read, a heavy parse):
/// 150 ms during which the thread running it does nothing else.
@inline(never)
func slowInventoryLookup(item: String) -> String {
    usleep(150_000)
    return "\(item): 42 in stock"
}

/// A fast handler's work: a little string building.
@inline(never)
func greeting(for name: String) -> String {
    "hello, \(name)"
}

// `--nio-takeover`: try SwiftNIO's takeover of Swift's global executor, print whether it was
// accepted, and exit (run.sh checks that `looptrace record` refuses it and the trace says so).
if CommandLine.arguments.dropFirst().first == "--nio-takeover" {
    let accepted = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    print("nio takeover: \(accepted ? "accepted" : "refused")")
    exit(0)
}

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 0 : 0
let router = Router()
router.get("hello") { _, _ -> String in
    greeting(for: "world")
}
router.get("sleep") { _, _ -> String in
    try await Task.sleep(for: .milliseconds(5))
    return "slept"
}
router.get("items/:name") { _, context -> String in
    let name = context.parameters.get("name") ?? "?"
    return "\(name): on order"
}
router.get("block") { _, _ -> String in
    slowInventoryLookup(item: "widget")
}
let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: port)),
    onServerRunning: { channel in
        print("listening on \(channel.localAddress?.port ?? -1)")
        fflush(nil)
    }
)
try await app.runService()
