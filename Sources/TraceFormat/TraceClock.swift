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

    /// Converts a tick reading to nanoseconds after the origin (negative before it).
    @inlinable
    public func nanos(sinceStart ticks: UInt64) -> Int64 {
        if kind == .monotonic && windowNanos == windowTicks { return Int64(bitPattern: ticks &- baseTicks) }
        return Int64((Double(Int64(bitPattern: ticks &- baseTicks)) * nanosPerTick).rounded())
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
