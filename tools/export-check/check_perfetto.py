#!/usr/bin/env python3
"""Checks a Perfetto protobuf export of looptrace, decoded by an independent decoder: Debian's
`protoc --decode` with perfetto_subset.proto (Perfetto's field numbers).

  check_perfetto.py OUT.pftrace [--compare SUMMARY_JSON] [--protoc protoc]

Verifies: the file decodes as perfetto.protos.Trace; every packet is on one trusted sequence,
the first clearing incremental state; every interned name, category, annotation name and value
is defined before use (one interned_data per packet);
every track event's track has a descriptor; begin/end balance and nest per track once sorted
by time (stable, as trace_processor sorts); each flow id starts on one slice and ends on one.
Prints one JSON line of counts; with --compare (the JSON line of check_chrome.py for the same
trace) the slice, step, callback, state and flow counts must be equal.
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
    categories, names, tracks, keys, values = {}, {}, {}, {}, {}
    events = []  # (ts, order, track, type, cats, name, flows, terminating)
    for n, p in enumerate(packets):
        if get(p, "trusted_packet_sequence_id") != "1":
            fail(f"packet {n}: not on sequence 1")
        flags = int(get(p, "sequence_flags", "0"))
        if n == 0 and not flags & 1:
            fail("the first packet does not clear incremental state")
        if len(get_all(p, "interned_data")) > 1:
            fail(f"packet {n}: more than one interned_data (protozero keeps only the last)")
        interned = get(p, "interned_data")
        if interned:
            for c in get_all(interned, "event_categories"):
                categories[get(c, "iid")] = get(c, "name")
            for c in get_all(interned, "event_names"):
                names[get(c, "iid")] = get(c, "name")
            for c in get_all(interned, "debug_annotation_names"):
                keys[get(c, "iid")] = get(c, "name")
            for c in get_all(interned, "debug_annotation_string_values"):
                values[get(c, "iid")] = get(c, "str")
        td = get(p, "track_descriptor")
        if td:
            tracks[get(td, "uuid")] = td
        te = get(p, "track_event")
        if te:
            if not flags & 2:
                fail(f"packet {n}: a track event without SEQ_NEEDS_INCREMENTAL_STATE")
            track = get(te, "track_uuid")
            if track not in tracks:
                fail(f"packet {n}: track {track} has no descriptor before it")
            cats = []
            for iid in get_all(te, "category_iids"):
                if iid not in categories:
                    fail(f"packet {n}: category iid {iid} not interned")
                cats.append(categories.get(iid, "?"))
            for a in get_all(te, "debug_annotations"):
                if get(a, "name_iid") is not None and get(a, "name_iid") not in keys:
                    fail(f"packet {n}: annotation name iid {get(a, 'name_iid')} not interned")
                if get(a, "string_value_iid") is not None and get(a, "string_value_iid") not in values:
                    fail(f"packet {n}: annotation value iid {get(a, 'string_value_iid')} not interned")
            name = get(te, "name")
            if name is None and get(te, "name_iid") is not None:
                name = names.get(get(te, "name_iid"))
                if name is None:
                    fail(f"packet {n}: name iid {get(te, 'name_iid')} not interned")
            events.append((int(get(p, "timestamp", "0")), n, track, get(te, "type"), cats, name,
                           get_all(te, "flow_ids"), get_all(te, "terminating_flow_ids")))

    events.sort(key=lambda e: (e[0], e[1]))  # stable, like trace_processor's sorter
    open_ = defaultdict(list)
    flow_starts, flow_ends = defaultdict(int), defaultdict(int)
    counts = defaultdict(int)
    for ts, n, track, typ, cats, name, flows, terminating in events:
        if typ == "TYPE_SLICE_BEGIN":
            open_[track].append((ts, name))
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
                open_[track].pop()
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
