import Foundation
import Testing
import TraceAnalysis
import TraceFormat

/// Issue 12's acceptance point on the echo example's sample (`traces/echo-server.trace`, recorded
/// by `Sources/Examples/EchoServer`): the trace shows I/O waits with their descriptors, and every
/// wakeup of a connection's task (server or client side) is the I/O readiness of its descriptor.
@Suite("The echo example's trace")
struct EchoTraceTests {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path + "/traces/echo-server.trace"

    struct Events {
        var registered: Set<UInt64> = []
        /// fds in the `ioReady` records of the current loop iteration (since the last `pollEnd`).
        var readyNow: Set<UInt64> = []
        var wakeups: [(task: UInt64, kind: WakerKind?, fd: UInt64, readyInIteration: Bool, registered: Bool)] = []
        var names: [UInt64: String] = [:]
    }

    static func read() throws -> Events {
        let reader = try TraceReader(path: path, options: .init(threads: 1))
        var ev = Events()
        try reader.forEachChunk { chunk in
            for e in chunk.events {
                switch e.type {
                case .ioWait: ev.registered.insert(e.args[0])
                case .pollEnd: ev.readyNow = []
                case .ioReady: ev.readyNow.insert(e.args[0])
                case .taskCreate: ev.names[e.args[0]] = chunk.text(e.args[2])
                case .wakeup:
                    let kind = WakerKind(rawValue: UInt8(truncatingIfNeeded: e.args[1]))
                    ev.wakeups.append((e.args[0], kind, e.args[2], ev.readyNow.contains(e.args[2]), ev.registered.contains(e.args[2])))
                default: break
                }
            }
        }
        return ev
    }

    @Test("Every wakeup of a connection's task is the readiness of a descriptor it registered, in that loop iteration")
    func everyConnectionWakeupIsIOReadiness() throws {
        let ev = try Self.read()
        let connections = ev.names.filter { $0.value.hasPrefix("connection fd ") }
        let clients = ev.names.filter { $0.value.hasPrefix("client") }
        #expect(connections.count == 4 && clients.count == 4)
        // Each server-side connection task is named after its descriptor, which has an ioWait.
        for name in connections.values {
            let fd = try #require(UInt64(name.dropFirst("connection fd ".count)))
            #expect(ev.registered.contains(fd), "\(name) has no ioWait")
        }
        for (task, name) in connections.merging(clients, uniquingKeysWith: { a, _ in a }) {
            var wakeups = ev.wakeups.filter { $0.task == task }
            // A client is first made ready by the task that created it; its later wakeups are I/O.
            if clients[task] != nil {
                #expect(wakeups.first?.kind == .task, "\(name)")
                wakeups.removeFirst()
            }
            #expect(wakeups.count >= 100, "\(name): \(wakeups.count) wakeups")
            for w in wakeups {
                #expect(w.kind == .io && w.registered && w.readyInIteration, "\(name): woken by \(String(describing: w.kind)) \(w.fd)")
            }
            // After its first wakeup (a server connection's is the listener's readiness: its accept
            // made the task), each task waits on its one descriptor: a connection on the one in its
            // name.
            let own = Set(wakeups.dropFirst().map(\.fd))
            #expect(own.count == 1, "\(name): woken by fds \(own)")
            if connections[task] != nil { #expect(own == [UInt64(name.dropFirst("connection fd ".count))!], "\(name): \(own)") }
        }
    }

    @Test("Connections' suspended time is I/O, and tasks names it: StreamReader waits, woken by io fd N")
    func connectionsWaitForIO() throws {
        let result = try TraceAnalysis.analyze(path: Self.path)
        let rows = result.tasks.rows.filter { $0.name.hasPrefix("connection fd ") || $0.name.hasPrefix("client") }
        #expect(rows.count == 8)
        for row in rows {
            let io = row.suspendedByReason?["io"] ?? 0
            #expect(io * 100 >= row.suspendedNanos * 99, "\(row.name): \(String(describing: row.suspendedByReason))")
            let wait = try #require(row.longestWait)
            #expect(wait.on.hasPrefix("StreamReader.") && wait.waker?.hasPrefix("io fd ") == true, "\(row.name): \(wait)")
        }
    }
}
