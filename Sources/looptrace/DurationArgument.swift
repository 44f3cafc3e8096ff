import ArgumentParser
import Foundation
import TraceAnalysis

/// A duration on the command line: a number and a unit, `100ms`, `1.5s`, `250us`, `800ns`.
///
/// Every duration option of every command (`--threshold`, `--since`, `--until`, `--window`, the
/// `p99>` gate) parses through ``init(parsing:)``, so they accept and reject the same texts with
/// the same messages. The options are declared with `transform:` rather than through
/// `ExpressibleByArgument`, whose failable initializer can only say "invalid": a bare `5` (which
/// used to mean 5 ns without a word) and `-5ms` need their own sentence. For the same reason
/// their help adds the default itself (``help(_:default:)``): argument-parser shows none for a
/// transformed option.
struct DurationArgument: Sendable, Equatable, CustomStringConvertible {
    var nanos: Int64

    init(nanos: Int64) { self.nanos = nanos }

    /// `--threshold`'s default: a step this long is a blocking step.
    static let defaultThreshold = DurationArgument(nanos: 100_000_000)

    /// The units a duration may end with, for messages.
    static let unitsText = "ns, us, µs, ms or s"

    /// Parses `100ms`, `1.5s`, `250us`, `250µs`, `800ns`.
    /// - Throws: ``DurationArgumentError`` saying what is wrong: no unit, negative, not a number,
    ///   too long.
    init(parsing text: String) throws(DurationArgumentError) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t.isEmpty { throw .init("a duration is a number with a unit (\(Self.unitsText)), e.g. 100ms or 1.5s") }
        if t.hasPrefix("-") { throw .init("a duration cannot be negative") }
        // "ms" ends in "s": the longer units are tried first.
        let unit = ["ns", "us", "µs", "μs", "ms", "s"].first { t.hasSuffix($0) }
        let number = unit.map { String(t.dropLast($0.count)) } ?? t
        guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }), Double(number) != nil else {
            throw .init("not a duration: write a number with a unit (\(Self.unitsText)), e.g. 100ms or 1.5s")
        }
        guard unit != nil else { throw .init("a duration needs a unit (\(Self.unitsText)), e.g. \(t)ms") }
        guard let n = Durations.parse(t) else { throw .init("too long for a duration (at most about 292 years)") }
        nanos = n
    }

    /// The shortest exact text that parses back to the same value: `100ms`, `1500us`, `3s`.
    var description: String {
        if nanos != 0 && nanos % 1_000_000_000 == 0 { return "\(nanos / 1_000_000_000)s" }
        if nanos != 0 && nanos % 1_000_000 == 0 { return "\(nanos / 1_000_000)ms" }
        if nanos != 0 && nanos % 1_000 == 0 { return "\(nanos / 1_000)us" }
        return "\(nanos)ns"
    }

    /// The help of a duration option, ending with its default when it has one.
    static func help(_ abstract: String, default value: DurationArgument? = nil) -> ArgumentHelp {
        ArgumentHelp(abstract + (value.map { " (default: \($0))" } ?? ""), valueName: "duration")
    }
}

/// Why a command-line duration or gate was rejected; argument-parser prints it after
/// "The value 'X' is invalid for '--option <duration>': ".
struct DurationArgumentError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
