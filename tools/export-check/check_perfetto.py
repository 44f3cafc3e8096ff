#!/usr/bin/env python3
"""Checks a Perfetto protobuf export of looptrace, decoded by an independent decoder: Debian's
`protoc --decode` with perfetto_subset.proto (Perfetto's field numbers).

  check_perfetto.py OUT.pftrace [--compare SUMMARY_JSON] [--json OUT.json] [--protoc protoc]

Reads the packets the way Perfetto's trace_processor imports them (proto_trace_reader.cc):
per trusted sequence, a packet with sequence_flags bit 1 clears the incremental state (interned
data, defaults); trace_packet_defaults give the timestamp clock and the default track; a
clock_snapshot declares sequence-scoped clocks (ids 64-127), and an incremental one turns each
packet's timestamp into a delta from the previous packet on that clock; other timestamps are on
the trace clock (BOOTTIME, 6).

Verifies: the file decodes as perfetto.protos.Trace; every packet that uses interned data or a
sequence clock is on a sequence whose incremental state was cleared before; every interned
name, category, annotation name and value is defined on its sequence before use (one
interned_data per packet); every track event's track has a descriptor; begin/end balance and
nest per track once sorted by time (stable, as trace_processor sorts); each flow id starts on
one slice and ends on one. Prints one JSON line of counts and bytes per packet; with --compare
(the JSON line of check_chrome.py for the same trace) the slice, step, callback, state and flow
counts must be equal; with --json (the Chrome export of the same trace) every slice's begin,
end and first category must be equal too, which checks the timestamps to the nanosecond.
"""
import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_text(text):
    """protoc's text format → nested lists of (key, value) pairs."""
    root = []
    stack = [root]
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line == "}":
            stack.pop()
        elif line.endswith("{"):
            child = []
            stack[-1].append((line[:-1].strip(), child))
            stack.append(child)
        else:
            key, _, value = line.partition(": ")
            if value.startswith('"'):
                value = bytes(value[1:-1], "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")
            stack[-1].append((key, value))
    return root


def get(msg, key, default=None):
    for k, v in msg:
        if k == key:
            return v
    return default


def get_all(msg, key):
    return [v for k, v in msg if k == key]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pftrace")
    ap.add_argument("--compare")
    ap.add_argument("--protoc", default="protoc")
    ap.add_argument("--json")
    args = ap.parse_args()
    problems = []

    def fail(msg):
        if len(problems) < 50:
            problems.append(msg)

    with open(args.pftrace, "rb") as f:
        out = subprocess.run([args.protoc, f"--proto_path={HERE}", "--decode=perfetto.protos.Trace",
                              "perfetto_subset.proto"], stdin=f, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"{args.pftrace}: protoc cannot decode it: {out.stderr.strip()}")
        return 1
    packets = [v for k, v in parse_text(out.stdout) if k == "packet"]
    tracks = {}
    sequences = {}  # id -> state
    events = []  # (ts, order, track, type, cats, name, flows, terminating)
    for n, p in enumerate(packets):
        seq_id = get(p, "trusted_packet_sequence_id")
        if seq_id is None:
            fail(f"packet {n}: no trusted_packet_sequence_id")
        flags = int(get(p, "sequence_flags", "0"))
        if flags & 1:
            sequences[seq_id] = {"categories": {}, "names": {}, "keys": {}, "values": {}, "clock": None,
                                 "track": None, "clocks": {}}
        seq = sequences.get(seq_id)
        if len(get_all(p, "interned_data")) > 1:
            fail(f"packet {n}: more than one interned_data (protozero keeps only the last)")
        defaults = get(p, "trace_packet_defaults")
        interned = get(p, "interned_data")
        snapshot = get(p, "clock_snapshot")
        if (defaults or interned or snapshot) and seq is None:
            fail(f"packet {n}: incremental state on sequence {seq_id} before it was cleared")
            continue
        if defaults:
            seq["clock"] = get(defaults, "timestamp_clock_id")
            ted = get(defaults, "track_event_defaults")
            if ted:
                seq["track"] = get(ted, "track_uuid")
        if interned:
            for field, table, value in (("event_categories", "categories", "name"), ("event_names", "names", "name"),
                                        ("debug_annotation_names", "keys", "name"),
                                        ("debug_annotation_string_values", "values", "str")):
                for c in get_all(interned, field):
                    seq[table][get(c, "iid")] = get(c, value)
        if snapshot:
            clocks = {get(c, "clock_id"): (int(get(c, "timestamp", "0")), get(c, "is_incremental") == "true")
                      for c in get_all(snapshot, "clocks")}
            if "6" not in clocks:
                fail(f"packet {n}: a clock snapshot without the trace clock (6)")
            for cid, (ts, incremental) in clocks.items():
                if int(cid) >= 64:
                    # A sequence clock: its value now, and the trace clock's at the same instant.
                    seq["clocks"][cid] = {"last": ts, "incremental": incremental, "base": ts,
                                          "trace": clocks.get("6", (0, False))[0]}
            if get(p, "track_event"):
                fail(f"packet {n}: a track event in a clock snapshot packet (trace_processor ignores it)")
            continue
        td = get(p, "track_descriptor")
        if td:
            tracks[get(td, "uuid")] = td
        te = get(p, "track_event")
        if not te:
            continue
        clock = get(p, "timestamp_clock_id") or (seq or {}).get("clock") or "6"
        ts = int(get(p, "timestamp", "0"))
        if clock != "6":
            c = (seq or {}).get("clocks", {}).get(clock)
            if c is None:
                fail(f"packet {n}: timestamp on clock {clock}, which no snapshot on sequence {seq_id} declared")
                continue
            if c["incremental"]:
                c["last"] += ts
                ts = c["last"]
            ts = ts - c["base"] + c["trace"]
        track = get(te, "track_uuid") or (seq or {}).get("track")
        if track not in tracks:
            fail(f"packet {n}: track {track} has no descriptor before it")
        cats = list(get_all(te, "categories"))
        table = seq or {"categories": {}, "names": {}, "keys": {}, "values": {}}
        for iid in get_all(te, "category_iids"):
            if iid not in table["categories"]:
                fail(f"packet {n}: category iid {iid} not interned on sequence {seq_id}")
            cats.append(table["categories"].get(iid, "?"))
        for a in get_all(te, "debug_annotations"):
            if get(a, "name_iid") is not None and get(a, "name_iid") not in table["keys"]:
                fail(f"packet {n}: annotation name iid {get(a, 'name_iid')} not interned on sequence {seq_id}")
            if get(a, "string_value_iid") is not None and get(a, "string_value_iid") not in table["values"]:
                fail(f"packet {n}: annotation value iid {get(a, 'string_value_iid')} not interned on sequence {seq_id}")
        name = get(te, "name")
        if name is None and get(te, "name_iid") is not None:
            name = table["names"].get(get(te, "name_iid"))
            if name is None:
                fail(f"packet {n}: name iid {get(te, 'name_iid')} not interned on sequence {seq_id}")
        events.append((ts, n, track, get(te, "type"), cats, name,
                       # trace_processor reads the fixed64 fields when present, else the varint ones.
                       get_all(te, "flow_ids") or get_all(te, "flow_ids_old"),
                       get_all(te, "terminating_flow_ids") or get_all(te, "terminating_flow_ids_old")))

    events.sort(key=lambda e: (e[0], e[1]))  # stable, like trace_processor's sorter
    open_ = defaultdict(list)
    slices = []  # (begin, end, first category)
    flow_starts, flow_ends = defaultdict(int), defaultdict(int)
    counts = defaultdict(int)
    for ts, n, track, typ, cats, name, flows, terminating in events:
        if typ == "TYPE_SLICE_BEGIN":
            open_[track].append((ts, name, cats[0] if cats else ""))
            counts["slices"] += 1
            if "step" in cats:
                counts["steps"] += 1
            if "callback" in cats:
                counts["callbacks"] += 1
            if "state" in cats:
                counts["states"] += 1
            if "blocking" in cats:
                counts["blocking"] += 1
            for f in flows:
                flow_starts[f] += 1
            for f in terminating:
                flow_ends[f] += 1
        elif typ == "TYPE_SLICE_END":
            if not open_[track]:
                fail(f"packet {n}: an end at {ts} on track {track} with no slice open")
            else:
                begin, _, cat = open_[track].pop()
                slices.append((begin, ts, cat))
        elif typ == "TYPE_COUNTER":
            counts["counters"] += 1
        elif typ == "TYPE_INSTANT":
            counts["instants"] += 1
    for track, stack in open_.items():
        if stack:
            fail(f"track {track}: {len(stack)} slices never end (first {stack[0]})")
    for f, k in list(flow_starts.items()) + list(flow_ends.items()):
        if k > 1:
            fail(f"flow id {f} used on {k} slices at one end")
    counts["flows"] = sum(1 for f in flow_ends if f in flow_starts)
    for f in flow_ends:
        if f not in flow_starts:
            fail(f"flow {f}: an end without a start")
    summary = {k: counts[k] for k in ("slices", "steps", "callbacks", "states", "flows", "blocking", "counters", "instants")}
    size = os.path.getsize(args.pftrace)
    summary["bytes"] = size
    summary["bytesPerPacket"] = round(size / max(1, len(packets)), 1)
    if args.json:
        doc = json.load(open(args.json), parse_float=lambda v: v)

        def ns(v):
            whole, frac = str(v).split(".")
            return int(whole) * 1000 + int(frac)
        want = sorted((ns(e["ts"]), ns(e["ts"]) + ns(e["dur"]), e.get("cat", "").split(",")[0])
                      for e in doc["traceEvents"] if e.get("ph") == "X")
        have = sorted(slices)
        if want != have:
            diff = sorted(set(want) ^ set(have))[:3]
            fail(f"slices differ from the JSON's ({len(have)} vs {len(want)}), e.g. {diff}")
    if args.compare:
        other = json.loads(open(args.compare).read())
        for k in ("slices", "steps", "callbacks", "states", "flows", "blocking", "counters"):
            if other.get(k) != summary[k]:
                fail(f"{k}: protobuf has {summary[k]}, JSON has {other.get(k)}")
    print(json.dumps(summary, sort_keys=True))
    for p in problems:
        print(f"{args.pftrace}: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
