#!/usr/bin/env python3
"""Peer I/O workloads for looptrace's io-bench: asyncio and uvloop.

Each process runs ONE workload on ONE loop and prints ONE line of JSON on
stdout; only the workload is timed (time.perf_counter). io-bench
(tools/bench/Sources/io-bench) defines the same workloads the same way;
change both together. All traffic stays on 127.0.0.1.

Workloads:

  echo       C connections [1] to an echo server in the same process (one
             handler task per connection: read up to 64 KiB, write it back,
             drain). Each client does R round trips [20000 in total, split
             evenly] of a 64-byte message: write, then readexactly(64).
             Metric: round_trips_per_s.

  executor   16 tasks each await loop.run_in_executor(None, f) of a trivial
             function, N round trips in total [20000], on the default pool.
             Metric: round_trips_per_s.

  queue      A producer puts N integers [200000] on a Queue(maxsize=100); a
             consumer gets them. Metric: items_per_s (put+get pairs).

Output: {"loop": "uvloop", "workload": "echo", "value": 84000.0, "n": 20000,
         "seconds": 0.24, "python": "3.11.7", "loop_version": "0.23.0"}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time


async def echo(connections: int, round_trips: int) -> tuple[int, float]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    message = b"a" * 63 + b"\n"
    per_client = round_trips // connections
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(connections)]

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(per_client):
            writer.write(message)
            await reader.readexactly(len(message))
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client(r, w) for r, w in streams))
    seconds = time.perf_counter() - t0
    server.close()
    await server.wait_closed()
    return per_client * connections, seconds


async def executor(round_trips: int) -> tuple[int, float]:
    loop = asyncio.get_running_loop()
    per_task = round_trips // 16

    def work() -> int:
        return 1

    async def task() -> None:
        for _ in range(per_task):
            await loop.run_in_executor(None, work)

    await loop.run_in_executor(None, work)  # start the pool before the clock
    t0 = time.perf_counter()
    await asyncio.gather(*(task() for _ in range(16)))
    return per_task * 16, time.perf_counter() - t0


async def queue(items: int) -> tuple[int, float]:
    q: asyncio.Queue[int] = asyncio.Queue(maxsize=100)

    async def producer() -> None:
        for i in range(items):
            await q.put(i)

    async def consumer() -> None:
        for _ in range(items):
            await q.get()

    t0 = time.perf_counter()
    await asyncio.gather(producer(), consumer())
    return items, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], required=True)
    parser.add_argument("--workload", choices=["echo", "executor", "queue"], required=True)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--round-trips", type=int, default=20000)
    parser.add_argument("--items", type=int, default=200000)
    args = parser.parse_args()
    if args.connections < 1 or args.round_trips < 1 or args.items < 1:
        print("io_workloads.py: sizes must be at least 1", file=sys.stderr)
        sys.exit(64)
    loop_version = platform.python_version()
    if args.loop == "uvloop":
        import uvloop
        loop_version = uvloop.__version__
        runner = uvloop.run
    else:
        runner = asyncio.run
    if args.workload == "echo":
        n, seconds = runner(echo(args.connections, args.round_trips))
    elif args.workload == "executor":
        n, seconds = runner(executor(args.round_trips))
    else:
        n, seconds = runner(queue(args.items))
    print(json.dumps({"loop": args.loop, "workload": args.workload, "value": n / seconds, "n": n,
                      "seconds": seconds, "python": platform.python_version(), "loop_version": loop_version}))


if __name__ == "__main__":
    main()
