// echo-server: a TCP echo server on 127.0.0.1 and a client load generator in one program.
//
// The server runs one loop task per connection (read what arrives, write it back, drain). The
// load generator opens `connections` clients, each doing `roundTrips` request/response round
// trips of a 64-byte message; then it prints the round trips per second. Traced, every wait for
// data is an `ioWait` on the connection's descriptor and every wakeup names that descriptor.
//
//   LOOPTRACE=echo.trace swift run -c release echo-server [connections] [roundTrips]
//   looptrace tasks echo.trace
import Glibc
import LoopRuntime

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let connections = arguments.first ?? 10
let roundTrips = arguments.dropFirst().first ?? 200
guard connections > 0, roundTrips > 0 else {
    var message = "usage: echo-server [connections > 0] [roundTrips > 0]\n"
    message.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(64)
}

do {
    try EventLoop.run {
        let loop = EventLoop.current!
        let server = try loop.startServer(host: "127.0.0.1", port: 0) { reader, writer in
            while true {
                let chunk = try await reader.read()
                if chunk.isEmpty { return }
                try writer.write(chunk)
                try await writer.drain()
            }
        }
        let message = [UInt8](repeating: 0x61, count: 63) + [0x0A]
        let start = loop.time()
        let clients = (0..<connections).map { c in
            loop.createTask(name: "client\(c)") {
                let (reader, writer) = try await loop.openConnection(host: "127.0.0.1", port: server.port)
                for _ in 0..<roundTrips {
                    try writer.write(message)
                    let reply = try await reader.readExactly(message.count)
                    precondition(reply == message, "echo-server: the echo differs from the message")
                }
                writer.close()
            }
        }
        _ = try await loop.gather(clients)
        let seconds = Double(loop.time() - start) / 1e9
        server.close()
        try await server.waitClosed()
        let total = connections * roundTrips
        print("echoed \(total) round trips over \(connections) connection(s) in \(Int(seconds * 1000)) ms: \(Int(Double(total) / seconds)) round trips/s")
    }
} catch {
    var line = "echo-server: \(error)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(1)
}
