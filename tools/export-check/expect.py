"""Independent expectations for an export, rebuilt in Python from `looptrace dump --json`.

This is a second implementation of the export's counting rules, written apart from the Swift
exporter, so that the checker compares the export against the trace and not against itself:

- a step is a stepBegin … stepEnd pair on one stream (a second begin or a callback begin before
  the end drops the open one);
- a wake flow starts at an *effective* wakeup (the task was created or suspended, or it is the
  first wakeup while it runs) made while a step or callback is open on the wakeup's stream,
  and ends at the woken task's next step; both slices must last at least 1 ns (an endpoint
  must lie strictly inside its slice).
"""
import json
import subprocess


def expected_counts(looptrace, trace):
    out = subprocess.run([looptrace, "dump", "--json", trace], check=False, capture_output=True, text=True)
    if out.returncode not in (0, 65):
        raise SystemExit(f"looptrace dump failed ({out.returncode}): {out.stderr.strip()}")
    streams = {}
    tasks = {}
    steps = callbacks = flows = 0
    next_flow = 1

    def task(tid):
        return tasks.setdefault(tid, {"state": "created", "wwr": False, "flow": None})

    def close_sources(st, dur):
        nonlocal next_flow
        for woken in st["sources"]:
            if dur > 0 and woken in tasks:
                tasks[woken]["flow"] = next_flow
                next_flow += 1
        st["sources"] = []

    def abandon(st):
        if st["step"] is not None:
            t = tasks.get(st["step"][0])
            if t is not None and t["state"] == "running":
                t["state"] = "suspended"
        st["step"] = None
        st["callback"] = None
        st["sources"] = []

    for line in out.stdout.splitlines():
        e = json.loads(line)
        st = streams.setdefault(e["stream"], {"step": None, "callback": None, "sources": []})
        kind, t = e["type"], e["t"]
        if kind == "taskCreate":
            task(e["task"])
        elif kind == "wakeup":
            w = task(e["task"])
            effective = False
            if w["state"] in ("created", "suspended"):
                w["state"] = "ready"
                effective = True
            elif w["state"] == "running" and not w["wwr"]:
                w["wwr"] = True
                effective = True
            if effective:
                w["flow"] = None
                if st["step"] is not None or st["callback"] is not None:
                    st["sources"].append(e["task"])
        elif kind == "stepBegin":
            if st["step"] is not None or st["callback"] is not None:
                abandon(st)
            w = task(e["task"])
            w["state"] = "running"
            w["wwr"] = False
            st["step"] = (e["task"], t, w["flow"])
            w["flow"] = None
        elif kind == "stepEnd":
            if st["step"] is None or e["task"] not in (0, st["step"][0]):
                continue
            tid, begin, flow_in = st["step"]
            st["step"] = None
            w = task(tid)
            if e["outcome"] in ("suspended", "yielded"):
                # Suspended until its wakeup, also after a yield (the model's rule, in the
                # TraceAnalysis DocC), unless it was woken during the step.
                w["state"] = "ready" if w["wwr"] else "suspended"
                w["wwr"] = False
            else:
                del tasks[tid]
            close_sources(st, t - begin)
            steps += 1
            if flow_in is not None and t > begin:
                flows += 1
        elif kind == "callbackBegin":
            if st["step"] is not None or st["callback"] is not None:
                abandon(st)
            st["callback"] = (e["handle"], t)
        elif kind == "callbackEnd":
            if st["callback"] is None or st["callback"][0] != e["handle"]:
                continue
            begin = st["callback"][1]
            st["callback"] = None
            close_sources(st, t - begin)
            callbacks += 1
    return {"steps": steps, "callbacks": callbacks, "flows": flows}
