#!/usr/bin/env python3
"""Checks a Chrome-trace JSON export of looptrace against what the viewers need.

  check_chrome.py OUT.json [--trace FILE --looptrace BIN] [--allow-gaps] [--summary]

Verifies: valid JSON in object form; only event types both viewers handle (X s f C i M);
integer pid/tid; `ts`/`dur` as µs with exactly three decimals (ns precision); X slices nest
per (pid, tid); every flow start and end lies strictly inside a slice on its thread; flow ids
unique, each with one `s` and one `f` carrying `cat` and `bp:"e"`; each task's state slices
contiguous and non-overlapping (--allow-gaps for windowed exports); and, with --trace, that the
step, callback and flow counts equal those rebuilt independently from the trace (expect.py).
Prints one JSON line of counts; exits 1 with the problems listed when any check fails.
"""
import argparse
import sys
sys.dont_write_bytecode = True
import bisect
import json
import re
import sys
from collections import defaultdict

from expect import expected_counts

TS = re.compile(r"^-?\d+\.\d{3}$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("json")
    ap.add_argument("--trace")
    ap.add_argument("--looptrace", default="looptrace")
    ap.add_argument("--allow-gaps", action="store_true")
    args = ap.parse_args()
    problems = []

    def fail(msg):
        if len(problems) < 50:
            problems.append(msg)

    raw = open(args.json, "rb").read()
    try:
        doc = json.loads(raw, parse_float=lambda s: s)  # keep decimals as text: exact ns
    except ValueError as e:
        print(f"{args.json}: not valid JSON: {e}")
        return 1
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        print(f"{args.json}: not the object form {{\"traceEvents\": [...]}}")
        return 1

    def ns(v, what, i):
        if isinstance(v, int):
            return v * 1000
        if not isinstance(v, str) or not TS.match(v):
            fail(f"event {i}: {what} {v!r} is not µs with three decimals")
            return 0
        whole, frac = v.lstrip("-").split(".")
        n = int(whole) * 1000 + int(frac)
        return -n if v.startswith("-") else n

    slices = defaultdict(list)  # (pid, tid) -> [(begin, end, cat, name, args)]
    starts, ends = {}, {}
    counts = defaultdict(int)
    for i, e in enumerate(doc["traceEvents"]):
        ph = e.get("ph")
        counts["ph_" + str(ph)] += 1
        if ph not in ("X", "s", "f", "C", "i", "M"):
            fail(f"event {i}: ph {ph!r} is not one the viewers both handle")
            continue
        if not isinstance(e.get("pid"), int):
            fail(f"event {i}: pid {e.get('pid')!r} is not an integer")
        if ph in ("X", "s", "f") and not isinstance(e.get("tid"), int):
            fail(f"event {i}: tid {e.get('tid')!r} is not an integer")
        if ph == "M":
            if e.get("name") not in ("process_name", "thread_name", "process_sort_index", "thread_sort_index"):
                fail(f"event {i}: metadata {e.get('name')!r} is ignored by the viewers")
            continue
        ts = ns(e.get("ts"), "ts", i)
        if ph == "X":
            if "dur" not in e:
                fail(f"event {i}: X without dur")
                continue
            dur = ns(e["dur"], "dur", i)
            if dur < 0:
                fail(f"event {i}: negative dur")
            slices[(e["pid"], e["tid"])].append((ts, ts + dur, e.get("cat", ""), e.get("name", ""), e.get("args", {})))
        elif ph in ("s", "f"):
            if not e.get("cat"):
                fail(f"event {i}: flow without cat")
            fid = e.get("id")
            if not isinstance(fid, int):
                fail(f"event {i}: flow id {fid!r} is not an integer")
            table = starts if ph == "s" else ends
            if fid in table:
                fail(f"flow id {fid}: more than one {ph!r} (ids must never be reused)")
            table[fid] = ((e["pid"], e["tid"]), ts, i)
            if ph == "f" and e.get("bp") != "e":
                fail(f"event {i}: flow end without bp:\"e\"")
        elif ph == "C":
            a = e.get("args")
            if not isinstance(a, dict) or not a or not all(isinstance(v, (int, str)) for v in a.values()):
                fail(f"event {i}: counter args must be numbers")
        elif ph == "i":
            if e.get("s") not in ("p", "t", "g"):
                fail(f"event {i}: instant without scope")

    # X slices nest per (pid, tid): sort by begin, longest first; a slice must end inside its parent.
    tops = {}
    for key, lst in slices.items():
        lst.sort(key=lambda s: (s[0], -(s[1] - s[0])))
        stack = []
        top = []
        for b, e, cat, name, _ in lst:
            while stack and stack[-1][1] <= b:
                stack.pop()
            if stack and e > stack[-1][1]:
                fail(f"thread {key}: slice {name!r} [{b}, {e}) overlaps {stack[-1][2]!r} [{stack[-1][0]}, {stack[-1][1]}) without nesting")
            if not stack:
                top.append((b, e))
            stack.append((b, e, name))
        tops[key] = ([b for b, _ in top], [e for _, e in top])

    def inside(key, t):
        if key not in tops:
            return False
        begins, ends_ = tops[key]
        j = bisect.bisect_right(begins, t) - 1
        return j >= 0 and begins[j] <= t < ends_[j]

    complete = 0
    for fid, (key, t, i) in ends.items():
        if not inside(key, t):
            fail(f"flow {fid}: its end (event {i}) at {t} ns is not strictly inside a slice on thread {key}")
        if fid in starts:
            complete += 1
    for fid, (key, t, i) in starts.items():
        if not inside(key, t):
            fail(f"flow {fid}: its start (event {i}) at {t} ns is not strictly inside a slice on thread {key}")
        if fid not in ends:
            fail(f"flow {fid}: a start without an end")
    for fid in ends:
        if fid not in starts:
            fail(f"flow {fid}: an end without a start")

    # State slices: per task, contiguous and non-overlapping.
    states = defaultdict(list)
    for lst in slices.values():
        for b, e, cat, name, a in lst:
            if cat == "state":
                states[a.get("task")].append((b, e, name))
    for task, lst in states.items():
        lst.sort()
        for (b0, e0, n0), (b1, e1, n1) in zip(lst, lst[1:]):
            if b1 < e0:
                fail(f"task {task}: state {n1!r} at {b1} overlaps {n0!r} ending at {e0}")
            elif b1 > e0 and not args.allow_gaps:
                fail(f"task {task}: a gap between {n0!r} ending at {e0} and {n1!r} at {b1}")

    all_slices = [s for lst in slices.values() for s in lst]
    summary = {
        "slices": len(all_slices),
        "steps": sum(1 for s in all_slices if s[2].startswith("step")),
        "callbacks": sum(1 for s in all_slices if s[2].startswith("callback")),
        "states": sum(1 for s in all_slices if s[2] == "state"),
        "flows": complete,
        "blocking": sum(1 for s in all_slices if "blocking" in s[2].split(",")),
        "counters": counts["ph_C"],
        "instants": counts["ph_i"],
    }
    if args.trace:
        want = expected_counts(args.looptrace, args.trace)
        for k in ("steps", "callbacks", "flows"):
            if summary[k] != want[k]:
                fail(f"{k}: the export has {summary[k]}, the trace has {want[k]}")
        summary["expected"] = want
    print(json.dumps(summary, sort_keys=True))
    if problems:
        for p in problems:
            print(f"{args.json}: {p}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
