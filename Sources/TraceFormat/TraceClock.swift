import CLoopTraceShims
#if canImport(Glibc)
import Glibc
#endif

/// Which clock stamps the events of a trace.
public enum ClockKind: UInt8, Sendable, CustomStringConvertible {
    /// CLOCK_MONOTONIC in nanoseconds: one tick is one nanosecond.
    case monotonic = 0
    /// The CPU's invariant time-stamp counter, calibrated against CLOCK_MONOTONIC.
    case tsc = 1

    public var description: String { self == .tsc ? "tsc" : "monotonic" }
}

/// How ticks map to time: a pair of readings taken together (ticks, CLOCK_MONOTONIC,
/// CLOCK_REALTIME) and a rate measured over a calibration window.
public struct ClockCalibration: Sendable, Equatable {
    /// The clock the ticks come from.
    public var kind: ClockKind
    /// Ticks at the origin. Event times are reported in nanoseconds after this instant.
    public var baseTicks: UInt64
    /// CLOCK_MONOTONIC at the origin, in ns.
    public var monotonicBaseNanos: UInt64
    /// CLOCK_REALTIME at the origin, in ns since the Unix epoch: the trace's start time.
    public var wallBaseNanos: UInt64
    /// Nanoseconds elapsed over the calibration window.
    public var windowNanos: UInt64
    /// Ticks elapsed over the same window.
    public var windowTicks: UInt64

    /// Nanoseconds per tick.
    @inlinable public var nanosPerTick: Double {
        windowTicks == 0 ? 1 : Double(windowNanos) / Double(windowTicks)
    }

    /// Ticks per second, for display.
    public var ticksPerSecond: Double { 1e9 / nanosPerTick }

    /// Converts a tick reading to nanoseconds after the origin (negative before it), exactly:
    /// `trunc((ticks − baseTicks) × windowNanos ÷ windowTicks)`, rounded toward zero and clamped
    /// to ±``TickConverter/limitNanos``. See ``TickConverter``.
    public func nanos(sinceStart ticks: UInt64) -> Int64 {
        TickConverter(self).nanos(ticks)
    }
}

/// Converts ticks to nanoseconds since a trace's origin with exact integer arithmetic, for any
/// calibration a file may hold (the values come from the file and are not trusted).
///
/// With `d = ticks − baseTicks` taken as a mathematical (unbounded) integer:
/// `ns = sign(d) × ⌊|d| × windowNanos ÷ windowTicks⌋`, that is the exact quotient rounded toward
/// zero, then clamped to `[−limitNanos, +limitNanos]` (2^62 ns, about 146 years). The clamp
/// keeps the difference of any two decoded times inside `Int64`, so that consumers can subtract
/// them without overflow checks. `windowTicks` is never 0 (the header check refuses it).
///
/// The quotient is computed without a division per call: `⌊windowNanos ÷ windowTicks⌋` and the
/// remainder as a 0.64 fixed-point fraction give an estimate at most 1 below the exact value,
/// which one exact remainder check corrects. Cost: 33 instructions per conversion against 9 for
/// the inexact 24.40 fixed point it replaced (callgrind, 10 M TSC ticks, swiftc -O).
public struct TickConverter: Sendable {
    /// The largest magnitude a converted time takes: 2^62 ns.
    public static let limitNanos: Int64 = 1 << 62

    let base: UInt64
    let windowNanos: UInt64
    let windowTicks: UInt64
    /// windowNanos == windowTicks: one tick is one nanosecond.
    let identity: Bool
    /// ⌊windowNanos ÷ windowTicks⌋.
    let whole: UInt64
    /// ⌊(windowNanos mod windowTicks) × 2^64 ÷ windowTicks⌋.
    let fraction: UInt64

    /// A converter for `clock`; a zero tick window is treated as 1 (never in a valid file).
    public init(_ clock: ClockCalibration) {
        base = clock.baseTicks
        windowNanos = clock.windowNanos
        windowTicks = max(clock.windowTicks, 1)
        identity = windowNanos == windowTicks
        whole = windowNanos / windowTicks
        let remainder = windowNanos % windowTicks
        // remainder < windowTicks, so the 128-by-64 quotient fits 64 bits.
        fraction = windowTicks.dividingFullWidth((high: remainder, low: 0)).quotient
    }

    /// Nanoseconds after the origin of a tick reading.
    @inline(__always)
    public func nanos(_ ticks: UInt64) -> Int64 {
        if ticks >= base {
            return Int64(bitPattern: magnitude(ticks &- base))
        }
        return -Int64(bitPattern: magnitude(base &- ticks))
    }

    /// ⌊d × windowNanos ÷ windowTicks⌋ clamped to `limitNanos`.
    @inline(__always)
    func magnitude(_ d: UInt64) -> UInt64 {
        let limit = UInt64(Self.limitNanos)
        if identity { return min(d, limit) }
        let (wholeHigh, wholeLow) = d.multipliedFullWidth(by: whole)
        guard wholeHigh == 0 else { return limit }
        let (estimate, overflow) = wholeLow.addingReportingOverflow(d.multipliedFullWidth(by: fraction).high)
        guard !overflow, estimate < limit else { return limit }
        // The estimate is the exact quotient q or q − 1, so the remainder d × windowNanos −
        // estimate × windowTicks is below 2 × windowTicks: with windowTicks < 2^63 it is exact in
        // 64-bit wrapping arithmetic, and one compare corrects the estimate.
        var q = estimate
        if windowTicks < 1 << 63 {
            if (d &* windowNanos) &- (q &* windowTicks) >= windowTicks { q += 1 }
        } else {
            // q × windowTicks ≤ d × windowNanos < (q + 1) × windowTicks, compared in 128 bits.
            let target = d.multipliedFullWidth(by: windowNanos)
            let next = (q + 1).multipliedFullWidth(by: windowTicks)
            if next.high < target.high || (next.high == target.high && next.low <= target.low) { q += 1 }
        }
        return min(q, limit)
    }
}

/// The recorder's clock: reads ticks on the emitting thread and calibrates them.
public enum TraceClock {
    /// Whether this machine's ticks come from an invariant TSC. When not, ticks are
    /// CLOCK_MONOTONIC nanoseconds. `LOOPTRACE_CLOCK=monotonic` forces the fallback.
    public static let kind: ClockKind = {
        #if arch(x86_64)
        if let forced = getenv("LOOPTRACE_CLOCK"), String(cString: forced) == "monotonic" { return .monotonic }
        return lt_tsc_is_invariant() != 0 ? .tsc : .monotonic
        #else
        return .monotonic
        #endif
    }()

    /// Reads the tick clock: `rdtsc` (about 3 ns in the flow of other work) or
    /// `clock_gettime` (about 22 ns).
    @inlinable @inline(__always)
    public static func ticks(_ kind: ClockKind) -> UInt64 {
        kind == .tsc ? lt_ticks() : lt_monotonic_ns()
    }

    /// Reads ticks, CLOCK_MONOTONIC and CLOCK_REALTIME as close together as possible: the
    /// monotonic reading is bracketed by two tick readings and the tighter of several tries wins.
    static func sample(_ kind: ClockKind) -> (ticks: UInt64, mono: UInt64, wall: UInt64) {
        var best: (ticks: UInt64, mono: UInt64, wall: UInt64) = (0, 0, 0)
        var bestSpread = UInt64.max
        for _ in 0..<5 {
            let t0 = ticks(kind)
            let mono = lt_monotonic_ns()
            let t1 = ticks(kind)
            let wall = lt_wall_ns()
            if t1 &- t0 < bestSpread {
                bestSpread = t1 &- t0
                best = (t0 &+ (t1 &- t0) / 2, mono, wall)
            }
        }
        return best
    }

    /// Takes the origin now and measures the tick rate over `window` nanoseconds of spinning.
    static func calibrate(kind: ClockKind, windowNanos: UInt64 = 2_000_000) -> ClockCalibration {
        let start = sample(kind)
        var calibration = ClockCalibration(kind: kind, baseTicks: start.ticks, monotonicBaseNanos: start.mono,
                                           wallBaseNanos: start.wall, windowNanos: 1, windowTicks: 1)
        guard kind == .tsc else { return calibration }
        while lt_monotonic_ns() &- start.mono < windowNanos {}
        refine(&calibration)
        return calibration
    }

    /// Re-measures the rate from the origin to now: the longer the run, the better the rate.
    static func refine(_ calibration: inout ClockCalibration) {
        guard calibration.kind == .tsc else { return }
        let now = sample(calibration.kind)
        guard now.mono > calibration.monotonicBaseNanos, now.ticks > calibration.baseTicks else { return }
        calibration.windowNanos = now.mono - calibration.monotonicBaseNanos
        calibration.windowTicks = now.ticks - calibration.baseTicks
    }
}
