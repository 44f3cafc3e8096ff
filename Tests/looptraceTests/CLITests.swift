import Foundation
import Testing
@_exported import TraceTestSupport

/// A product of this package's build (the `looptrace` binary, an example), which sits beside the
/// test bundle.
func builtProduct(_ name: String) -> URL {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let beside = bundle.appendingPathComponent(name)
    return FileManager.default.fileExists(atPath: beside.path) ? beside : bundle.deletingLastPathComponent().appendingPathComponent(name)
}

/// Runs the built `looptrace` binary.
/// - Parameters:
///   - directory: the working directory, if not this process's.
///   - environment: variables to add to this process's environment.
func looptrace(_ arguments: [String], in directory: String? = nil,
               environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    try runProcess(builtProduct("looptrace"), arguments, in: directory, environment: environment)
}

/// Runs `executable` to its end with `environment` added to this process's, and returns its
/// status and output.
func runProcess(_ executable: URL, _ arguments: [String], in directory: String? = nil,
                environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// Every sample in traces/.
let samples: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: root + "/traces")) ?? [])
    .filter { $0.hasSuffix(".trace") }.sorted().map { root + "/traces/" + $0 }

@Suite("looptrace command line")
struct CLITests {
    @Test("info, dump and validate succeed on every sample", arguments: samples)
    func samplesAreIntact(sample: String) throws {
        let validate = try looptrace(["validate", sample])
        #expect(validate.status == 0, "\(validate.stderr)")
        #expect(validate.stdout.contains(": ok,"))
        let info = try looptrace(["info", sample])
        #expect(info.status == 0, "\(info.stderr)")
        #expect(info.stdout.contains("events by type"))
        let dump = try looptrace(["dump", sample])
        #expect(dump.status == 0)
        let json = try looptrace(["dump", "--json", sample])
        #expect(json.status == 0)
        let lines = json.stdout.split(separator: "\n")
        #expect(lines.count == dump.stdout.split(separator: "\n").count)
        for line in lines.prefix(200) {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "not JSON: \(line)")
        }
        let infoJSON = try looptrace(["info", "--json", sample])
        let object = try JSONSerialization.jsonObject(with: Data(infoJSON.stdout.utf8)) as? [String: Any]
        #expect(object?["events"] as? Int == lines.count)
    }

    @Test("A sample cut in half: validate exits 65 with the offset and what was recovered; dump prints the recovered events")
    func truncatedSample() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let sample = root + "/traces/loop-shaped.trace"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: sample))
        let cut = scratch.path + "/half.trace"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
        let validate = try looptrace(["validate", cut])
        #expect(validate.status == 65)
        let message = validate.stderr.trimmingCharacters(in: .newlines)
        #expect(!message.contains("\n"), "more than one line: \(message)")
        #expect(message.contains("offset"))
        #expect(message.contains("recovered"))
        let dump = try looptrace(["dump", cut])
        #expect(dump.status == 65)
        let full = try looptrace(["dump", sample])
        let recovered = dump.stdout.split(separator: "\n")
        #expect(recovered.count > 0)
        #expect(full.stdout.hasPrefix(dump.stdout))
        #expect(message.contains("recovered \(recovered.count) events"))
    }

    @Test("Bad input gets one line on stderr and the documented exit code",
          arguments: [("empty", 65), ("random", 65), ("directory", 66), ("missing", 66)] as [(String, Int32)])
    func badInput(kind: String, status: Int32) throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        var path = scratch.path + "/" + kind
        switch kind {
        case "empty": _ = FileManager.default.createFile(atPath: path, contents: Data())
        case "random": _ = FileManager.default.createFile(atPath: path, contents: Data((0..<100).map { UInt8(($0 * 37 + 11) % 256) }))
        case "directory": path = scratch.path
        default: break
        }
        for command in ["info", "dump", "validate"] {
            let result = try looptrace([command, path])
            #expect(result.status == status, "\(command) \(kind): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(command) \(kind): \(result.stderr)")
            #expect(lines.first?.hasPrefix("looptrace: ") == true)
            #expect(result.stdout.isEmpty)
        }
    }

    @Test("validate --json says ok with the counts on an intact trace")
    func validateJSONIntact() throws {
        let sample = root + "/traces/loop-shaped.trace"
        let result = try looptrace(["validate", "--json", sample])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["schema"] as? String == "looptrace.validate/1")
        #expect(object["ok"] as? Bool == true)
        #expect(object["file"] as? String == sample)
        #expect((object["damage"] as? [Any])?.isEmpty == true)
        let info = try JSONSerialization.jsonObject(with: Data(try looptrace(["info", "--json", sample]).stdout.utf8)) as? [String: Any]
        #expect(object["events"] as? Int == info?["events"] as? Int)
        #expect(object["chunks"] as? Int == info?["chunks"] as? Int)
    }

    @Test("validate --json lists the damage of a cut trace, with the offset, and exits 65")
    func validateJSONDamaged() throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let cut = try AnalysisCLITests.halfSample(in: scratch)
        let result = try looptrace(["validate", "--json", cut])
        #expect(result.status == 65)
        #expect(result.stderr.split(separator: "\n").count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["ok"] as? Bool == false)
        let damage = try #require(object["damage"] as? [[String: Any]])
        #expect(damage.count >= 1)
        let offset = try #require(damage.first?["offset"] as? Int)
        #expect(result.stderr.contains("offset \(offset)"))
        #expect((object["eventsLost"] as? Int ?? 0) > 0)
    }

    /// A truncated header's error said "file header at offset 20: …" without naming the file.
    @Test("A damaged header's error names the file", arguments: [20, 200])
    func headerErrorNamesTheFile(bytes: Int) throws {
        let scratch = TemporaryDirectory(prefix: "cli")
        let path = scratch.path + "/short.trace"
        try Data(contentsOf: URL(fileURLWithPath: root + "/traces/loop-shaped.trace")).prefix(bytes).write(to: URL(fileURLWithPath: path))
        for command in ["info", "validate", "report", "export"] {
            let result = try looptrace([command, path])
            #expect(result.status == 65, "\(command): \(result.stderr)")
            #expect(result.stderr.hasPrefix("looptrace: \(path): "), "\(command): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test("The top-level help documents every exit code")
    func helpListsExitCodes() throws {
        let help = try looptrace(["--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for code in ["0 success", "1 a --fail-on", "64 usage", "65 the trace", "66 the file", "73 the output", "74 writing the output"] {
            #expect(help.contains(code), "\(code) missing from: \(help)")
        }
    }

    @Test("Usage errors exit 64")
    func usageErrors() throws {
        #expect(try looptrace(["info"]).status == 64)
        #expect(try looptrace(["dump", "--no-such-flag", "x.trace"]).status == 64)
        #expect(try looptrace(["frobnicate"]).status == 64)
        #expect(try looptrace(["info", "--threads", "0", "x.trace"]).status == 64)
    }

    @Test("--help and --version work")
    func helpAndVersion() throws {
        let help = try looptrace(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("validate"))
        #expect(try looptrace(["--version"]).stdout.contains("looptrace"))
        for command in ["info", "dump", "validate"] {
            let sub = try looptrace([command, "--help"])
            #expect(sub.status == 0)
            #expect(sub.stdout.contains("Examples"))
        }
    }
}
