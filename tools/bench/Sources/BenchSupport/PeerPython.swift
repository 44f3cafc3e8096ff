import Foundation

/// The Python interpreter that runs the asyncio and uvloop peers in tools/peers.
public struct PeerPython: Sendable {
    /// The interpreter's path (or `python3`).
    public let path: String
    /// Whether it imports uvloop (the venv made by tools/peers/setup.sh does).
    public let hasUvloop: Bool

    /// The peers' interpreter: the venv of tools/peers/setup.sh, which this runs (it is
    /// idempotent) to make the venv when it is missing; failing that, the system's `python3`,
    /// for the asyncio column only. `nil` when there is no Python at all.
    public static func find() -> PeerPython? {
        let venv = "\(repositoryRoot)/tools/peers/.venv/bin/python"
        if shell("\(quoted(venv)) -c 'import uvloop'").0 == 0 { return PeerPython(path: venv, hasUvloop: true) }
        let (status, out) = shell(quoted("\(repositoryRoot)/tools/peers/setup.sh"))
        if status == 0, let made = out.split(separator: "\n").last.map(String.init),
           shell("\(quoted(made)) -c 'import uvloop'").0 == 0 {
            return PeerPython(path: made, hasUvloop: true)
        }
        return shell("python3 -c 'import asyncio'").0 == 0 ? PeerPython(path: "python3", hasUvloop: false) : nil
    }

    /// Runs `tools/peers/<script>` with `arguments` and returns the JSON object of its last line
    /// of output (the peers' protocol), or `nil` when it failed.
    public func run(_ script: String, _ arguments: String) -> [String: Any]? {
        let (status, out) = shell("\(quoted(path)) \(quoted("\(repositoryRoot)/tools/peers/\(script)")) \(arguments)")
        guard status == 0, let line = out.split(separator: "\n").last else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    }

    /// The `"value"` figure of `runs` runs of a peer workload, or `nil` when any run failed
    /// (or the loop is uvloop and this interpreter lacks it).
    public func measure(_ script: String, loop: String, _ arguments: String, runs: Int) -> Summary? {
        guard loop != "uvloop" || hasUvloop else { return nil }
        var samples: [Double] = []
        for _ in 0..<runs {
            guard let value = run(script, "--loop \(loop) \(arguments)")?["value"] as? Double else { return nil }
            samples.append(value)
        }
        return Summary(samples: samples)
    }
}
