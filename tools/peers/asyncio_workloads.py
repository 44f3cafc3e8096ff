#!/usr/bin/env python3
"""Peer workloads for looptrace's event-loop benchmarks: asyncio and uvloop.

looptrace's Swift benchmarks compare its loop against CPython's asyncio loop
and against uvloop. Absolute figures drift between runs on shared machines, so
the Swift harness runs these peers in the same invocation and reports ratios.
This program is the peer side: each process runs ONE workload on ONE loop and
prints ONE line of JSON on stdout. Only the workload itself is timed (with
time.perf_counter), never interpreter start-up or loop creation. The Swift
benchmarks define the same workloads the same way; change both together.

Workloads (default sizes in brackets):

  pingpong   Two tasks pass a turn back and forth through futures [200000
             round trips]. Each task owns an inbox future: it awaits its
             inbox, replaces it with a fresh future, then resolves the other
             task's inbox, i.e. resume the other side, then wait. Both tasks
             are parked on their inboxes before the clock starts; a round
             trip wakes each task once, so it is 2 task steps.
             Metric: steps_per_s = 2 * round_trips / seconds.

  callsoon   One plain callback reschedules itself with loop.call_soon until
             it has run N times [1000000]; no tasks are involved, so this is
             the cost of one pass through the ready queue.
             Metric: callbacks_per_s = N / seconds.

  sleep0     T tasks [10000] each run `await asyncio.sleep(0)` Y times [100].
             Every sleep(0) yields to the loop and puts the task at the back
             of the ready queue, so the tasks interleave round-robin. Timed
             from spawning the first task until the last one finishes; counts
             T * Y steps (each task's first step is not counted).
             Metric: steps_per_s = T * Y / seconds.

  timers     N loop.call_later callbacks [100000] with delays drawn uniformly
             from [0, 10] ms by a seeded RNG, scheduled in batches of 100 with
             `await asyncio.sleep(0.001)` after each batch (about 100 timers
             per ms). Each callback records its lateness = fire time - due
             time, where due = clock at scheduling + delay. Negative lateness
             means the timer fired early. Both ends use time.monotonic_ns():
             uvloop's loop.time() has whole-millisecond resolution, which
             would hide exactly what this workload measures. (uvloop rounds
             each delay to whole ms and counts it from its cached ms clock,
             so it fires up to ~1.5 ms early; asyncio rounds its epoll
             timeout up to whole ms, so it fires late rather than early.)
             Reports lateness p50 and p99 (nearest rank), earliest and max,
             in microseconds.

Output, one JSON object per run:
  {"loop": "uvloop", "workload": "pingpong", "metric": "steps_per_s",
   "value": 937000.0, "n": 400000, "seconds": 0.43, ...}
  {"loop": "asyncio", "workload": "timers", "p50_us": 520.1, "p99_us": 1162.3,
   "earliest_us": 2.0, "max_us": 1800.5, "n": 100000, "seconds": 1.6, ...}
where n is the number of steps or callbacks the figure counts. Every object
also names the python and loop versions it was measured with.

uvloop comes from the venv that tools/peers/setup.sh creates; run this
program with the python path that setup.sh prints.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import platform
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

TIMER_MAX_DELAY_S = 0.010
TIMER_BATCH = 100
TIMER_PACE_S = 0.001
DEFAULT_TIMER_SEED = 1


@dataclass(frozen=True)
class Throughput:
    """How many units of work ran, and in how long."""

    count: int
    seconds: float


@dataclass(frozen=True)
class Lateness:
    """Every timer's lateness in nanoseconds, and how long the run took."""

    lateness_ns: list[int]
    seconds: float


async def pingpong(round_trips: int) -> Throughput:
    """Two tasks resume each other through futures; counts 2 steps per round trip."""
    loop = asyncio.get_running_loop()
    inbox = [loop.create_future(), loop.create_future()]

    async def player(me: int, other: int) -> None:
        for _ in range(round_trips):
            await inbox[me]
            inbox[me] = loop.create_future()
            # After the last round trip this resolves an inbox nobody awaits
            # any more, which is harmless and keeps both players identical.
            inbox[other].set_result(None)

    players = [asyncio.create_task(player(0, 1)), asyncio.create_task(player(1, 0))]
    # One pass through the ready queue: both players run their first step and
    # park on their inboxes, so every step inside the timed region is a wakeup.
    await asyncio.sleep(0)

    start = time.perf_counter()
    inbox[0].set_result(None)
    await asyncio.gather(*players)
    return Throughput(2 * round_trips, time.perf_counter() - start)


async def callsoon(callbacks: int) -> Throughput:
    """One callback reschedules itself with call_soon, `callbacks` times."""
    loop = asyncio.get_running_loop()
    finished = loop.create_future()

    def tick(remaining: int) -> None:
        if remaining > 1:
            loop.call_soon(tick, remaining - 1)
        else:
            finished.set_result(None)

    start = time.perf_counter()
    loop.call_soon(tick, callbacks)
    await finished
    return Throughput(callbacks, time.perf_counter() - start)


async def sleep0(tasks: int, yields: int) -> Throughput:
    """`tasks` tasks each await asyncio.sleep(0) `yields` times."""

    async def yielder() -> None:
        for _ in range(yields):
            await asyncio.sleep(0)

    start = time.perf_counter()
    await asyncio.gather(*(yielder() for _ in range(tasks)))
    return Throughput(tasks * yields, time.perf_counter() - start)


async def timers(count: int, seed: int) -> Lateness:
    """`count` paced call_later timers with seeded delays in [0, 10] ms."""
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    clock = time.monotonic_ns
    lateness_ns: list[int] = []
    all_fired = loop.create_future()

    def fire(due_ns: int) -> None:
        lateness_ns.append(clock() - due_ns)
        if len(lateness_ns) == count:
            all_fired.set_result(None)

    start = time.perf_counter()
    for batch_start in range(0, count, TIMER_BATCH):
        for _ in range(min(TIMER_BATCH, count - batch_start)):
            delay_s = rng.uniform(0.0, TIMER_MAX_DELAY_S)
            # Read the clock before call_later, which reads the loop's clock
            # itself: our due time is then never later than the loop's.
            due_ns = clock() + round(delay_s * 1e9)
            loop.call_later(delay_s, fire, due_ns)
        await asyncio.sleep(TIMER_PACE_S)
    await all_fired
    return Lateness(lateness_ns, time.perf_counter() - start)


def nearest_rank(sorted_values: list[int], fraction: float) -> int:
    """The nearest-rank percentile: the smallest value with `fraction` of values at or below it."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def throughput_report(metric: str, result: Throughput) -> dict[str, object]:
    """The JSON fields for a throughput workload: the rate, what it counts, the time."""
    return {
        "metric": metric,
        "value": round(result.count / result.seconds, 1),
        "n": result.count,
        "seconds": round(result.seconds, 6),
    }


def lateness_report(result: Lateness) -> dict[str, object]:
    """The JSON fields for the timers workload: lateness percentiles in microseconds."""
    ordered = sorted(result.lateness_ns)

    def micros(ns: int) -> float:
        return round(ns / 1000, 1)

    return {
        "p50_us": micros(nearest_rank(ordered, 0.50)),
        "p99_us": micros(nearest_rank(ordered, 0.99)),
        "earliest_us": micros(ordered[0]),
        "max_us": micros(ordered[-1]),
        "n": len(ordered),
        "seconds": round(result.seconds, 6),
    }


def loop_factory(loop_name: str) -> tuple[Callable[[], asyncio.AbstractEventLoop], str]:
    """The loop constructor for `loop_name`, and the version to report for it."""
    if loop_name == "asyncio":
        return asyncio.new_event_loop, platform.python_version()
    try:
        import uvloop
    except ImportError:
        sys.exit(
            f"uvloop is not installed for {sys.executable}; run tools/peers/setup.sh "
            "and use the python path it prints"
        )
    return uvloop.new_event_loop, uvloop.__version__


async def run_workload(args: argparse.Namespace) -> dict[str, object]:
    """Runs the chosen workload on the running loop and returns its report fields."""
    if args.workload == "pingpong":
        return throughput_report("steps_per_s", await pingpong(args.round_trips))
    if args.workload == "callsoon":
        return throughput_report("callbacks_per_s", await callsoon(args.callbacks))
    if args.workload == "sleep0":
        return throughput_report("steps_per_s", await sleep0(args.tasks, args.yields))
    return lateness_report(await timers(args.timers, args.seed))


def positive_int(text: str) -> int:
    """argparse type for sizes; accepts 200_000 as well as 200000."""
    value = int(text.replace("_", ""))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  PY=$(tools/peers/setup.sh | tail -n 1)\n"
            "  $PY tools/peers/asyncio_workloads.py --loop uvloop --workload pingpong\n"
            "  $PY tools/peers/asyncio_workloads.py --loop asyncio --workload sleep0 "
            "--tasks 1000 --yields 20\n"
            "  $PY tools/peers/asyncio_workloads.py --loop asyncio --workload timers --timers 5000"
        ),
    )
    parser.add_argument("--loop", required=True, choices=["asyncio", "uvloop"],
                        help="event loop to run on")
    parser.add_argument("--workload", required=True,
                        choices=["pingpong", "callsoon", "sleep0", "timers"],
                        help="workload to run (one per process)")
    sizes = parser.add_argument_group("sizes (smaller values make a quick mode)")
    sizes.add_argument("--round-trips", type=positive_int, default=200_000, metavar="N",
                       help="pingpong round trips (default: %(default)s)")
    sizes.add_argument("--callbacks", type=positive_int, default=1_000_000, metavar="N",
                       help="callsoon callbacks (default: %(default)s)")
    sizes.add_argument("--tasks", type=positive_int, default=10_000, metavar="T",
                       help="sleep0 tasks (default: %(default)s)")
    sizes.add_argument("--yields", type=positive_int, default=100, metavar="Y",
                       help="sleep0 sleep(0) calls per task (default: %(default)s)")
    sizes.add_argument("--timers", type=positive_int, default=100_000, metavar="N",
                       help="timers scheduled (default: %(default)s)")
    sizes.add_argument("--seed", type=int, default=DEFAULT_TIMER_SEED,
                       help="seed for the timer delays (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    new_loop, loop_version = loop_factory(args.loop)
    # debug=False even if PYTHONASYNCIODEBUG is set: debug mode is ~20x slower
    # and would silently turn the peer into a strawman.
    with asyncio.Runner(debug=False, loop_factory=new_loop) as runner:
        fields = runner.run(run_workload(args))
    report = {
        "loop": args.loop,
        "workload": args.workload,
        **fields,
        "python": platform.python_version(),
        "loop_version": loop_version,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
