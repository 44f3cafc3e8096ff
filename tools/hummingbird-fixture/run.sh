#!/usr/bin/env bash
# Issue 8's Hummingbird check: an unmodified Hummingbird 2 server (this directory's package),
# recorded by `looptrace record` under a bounded loopback load, must show its blocking route.
#
#   tools/hummingbird-fixture/run.sh
#
# 1. Builds the server in release (its own package and .build, so `swift test` never builds
#    Hummingbird).
# 2. Runs it under `looptrace record` ($LOOPTRACE, default: the main package's debug build; the
#    LoopTraceAuto library beside it is preloaded).
# 3. Drives 127.0.0.1 load with curl: the fast routes (/hello, /items/:name, /sleep) from two
#    clients throughout, and /block (150 ms of usleep in `slowInventoryLookup`) a few times.
# 4. Stops the server with SIGINT (through looptrace, which forwards it), then checks:
#    - the trace validates;
#    - `looptrace blocking` finds a step of about 150 ms whose stack names
#      `slowInventoryLookup(item:)` at main.swift:LINE;
#    - requests to the other routes were delayed by it: other tasks were made ready while it
#      ran and waited for it (its impact), and the fast requests sent during a /block took
#      about as long as the block, on the client's clock.
# Exits non-zero with one line saying what failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
LOOPTRACE=${LOOPTRACE:-"$(cd "$root" && swift build --show-bin-path)/looptrace"}
fail() { echo "hummingbird-fixture: FAIL: $*" >&2; exit 1; }

[ -x "$LOOPTRACE" ] || fail "$LOOPTRACE is missing (swift build in $root first, or set LOOPTRACE)"
[ -f "$(dirname "$LOOPTRACE")/libLoopTraceAuto.so" ] || fail "libLoopTraceAuto.so is not beside $LOOPTRACE"
command -v curl >/dev/null || fail "curl is missing (apt-get install curl)"

echo "hummingbird-fixture: building the server (release)"
swift build -c release --package-path "$here" --product hummingbird-fixture >"${TMPDIR:-/tmp}/hummingbird-fixture-build.log" 2>&1 \
    || { tail -30 "${TMPDIR:-/tmp}/hummingbird-fixture-build.log" >&2; fail "the server did not build"; }
server="$(swift build -c release --package-path "$here" --show-bin-path)/hummingbird-fixture"
[ -x "$server" ] || fail "the server did not build"

work=$(mktemp -d)
recorder=
cleanup() {
    if [ -n "$recorder" ] && kill -0 "$recorder" 2>/dev/null; then
        # The server first: killed, record could not forward it.
        pkill -KILL -P "$recorder" 2>/dev/null || true
        kill -KILL "$recorder" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trace="$work/server.trace"

# Port 0: the server prints the port it got. Started as a script's background job, so with SIGINT
# ignored (as CI runners start jobs too): record still forwards the SIGINT sent to it below, and
# Hummingbird handles SIGINT itself, so its graceful shutdown must run as it does untraced.
"$LOOPTRACE" record -o "$trace" -- "$server" 0 >"$work/stdout" 2>"$work/stderr" &
recorder=$!
port=
for _ in $(seq 300); do
    port=$(sed -n 's/^listening on \([0-9][0-9]*\)$/\1/p' "$work/stdout" | head -1)
    [ -n "$port" ] && break
    kill -0 "$recorder" 2>/dev/null || { cat "$work/stderr" >&2; fail "the server exited before listening"; }
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/stderr" >&2; fail "the server did not listen within 30 s"; }
grep -q "not tracing\|not traced" "$work/stderr" && { cat "$work/stderr" >&2; fail "looptrace record did not attach"; }
base="http://127.0.0.1:$port"
[ "$(curl -fsS "$base/hello")" = "hello, world" ] || fail "GET /hello did not answer 'hello, world'"

# Fast routes from two clients while /block runs a few times. Each fast request logs
# "start_ns total_s"; each /block logs its start and end.
fast_client() { # name, count
    local i
    for i in $(seq "$2"); do
        for path in hello "items/gear$i" sleep; do
            local start
            start=$(date +%s%N)
            curl -fsS -o /dev/null -w "$start %{time_total}\n" "$base/$path" >>"$work/fast-$1" || echo "error $path" >>"$work/errors"
        done
    done
}
fast_client a 60 &
fa=$!
fast_client b 60 &
fb=$!
blocks=5
for _ in $(seq "$blocks"); do
    sleep 0.3
    start=$(date +%s%N)
    curl -fsS -o /dev/null "$base/block" || echo "error block" >>"$work/errors"
    echo "$start $(date +%s%N)" >>"$work/blocks"
done
wait "$fa" "$fb"
[ -s "$work/errors" ] && fail "requests failed: $(sort "$work/errors" | uniq -c | tr '\n' ' ')"

kill -INT "$recorder"
status=0
# Tenths of a second to wait for the graceful shutdown.
for _ in $(seq 300); do kill -0 "$recorder" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$recorder" 2>/dev/null; then
    server_pid=$(pgrep -P "$recorder" | head -1)
    if [ -n "$server_pid" ] && command -v gdb >/dev/null; then
        gdb -batch -p "$server_pid" -ex "thread apply all bt 8" >"$work/stacks.txt" 2>&1 || true
        grep -E "^(Thread|#)" "$work/stacks.txt" >&2 || true
    fi
    cat "$work/stderr" >&2
    fail "the server did not stop within 30 s of SIGINT (stacks above when gdb is installed)"
fi
wait "$recorder" || status=$?
recorder=
grep -q "trace written to" "$work/stderr" || { cat "$work/stderr" >&2; fail "looptrace record wrote no trace (exit $status)"; }

"$LOOPTRACE" validate "$trace" >/dev/null || fail "the trace does not validate"
"$LOOPTRACE" blocking --threshold 100ms "$trace" >"$work/blocking.txt" || fail "looptrace blocking failed"
"$LOOPTRACE" blocking --threshold 100ms --json "$trace" >"$work/blocking.json" || fail "looptrace blocking --json failed"
cat "$work/blocking.txt"

python3 - "$work" "$blocks" <<'EOF' || exit 1
import json, sys
work, blocks = sys.argv[1], int(sys.argv[2])
def fail(message):
    print(f"hummingbird-fixture: FAIL: {message}", file=sys.stderr)
    sys.exit(1)
doc = json.load(open(f"{work}/blocking.json"))
findings = doc.get("blocking", doc).get("findings", [])
def names_handler(f):
    return any("slowInventoryLookup" in (fr.get("function") or "") for fr in f.get("stack") or []) \
        or "slowInventoryLookup" in (f.get("blockedIn") or "")
ours = [f for f in findings if names_handler(f)]
if not ours:
    fail(f"no blocking step names slowInventoryLookup ({len(findings)} findings)")
lines = [fr for f in ours for fr in f.get("stack") or [] if "slowInventoryLookup" in (fr.get("function") or "")]
with_line = [fr for fr in lines if fr.get("file") == "main.swift" and fr.get("line")]
if not with_line:
    fail("the blocking handler's frame has no main.swift:LINE")
durations = [f["durationNanos"] / 1e6 for f in ours]
if not any(140 <= d <= 1000 for d in durations):
    fail(f"the blocking steps took {durations} ms, not about 150")
delayed = [f for f in ours if f["impact"]["readyTasks"] > 0 and f["impact"]["maxDelayCausedNanos"] >= 20_000_000]
if not delayed:
    fail("no blocking step delayed another task by 20 ms or more (impact: "
         + ", ".join(str(f["impact"]) for f in ours) + ")")
# The client's side: fast requests sent while a /block ran waited for it.
spans = [tuple(map(int, l.split())) for l in open(f"{work}/blocks")]
slow_during = 0
for name in ("a", "b"):
    for l in open(f"{work}/fast-{name}"):
        start, total = l.split()
        start, total = int(start), float(total)
        if any(b0 + 20_000_000 < start < b1 - 60_000_000 for b0, b1 in spans) and total >= 0.04:
            slow_during += 1
print(f"hummingbird-fixture: {len(ours)} blocking steps in slowInventoryLookup "
      f"({', '.join(f'{d:.0f} ms' for d in durations)}) at main.swift:{with_line[0]['line']}; "
      f"{len(delayed)} delayed other tasks (up to {max(f['impact']['maxDelayCausedNanos'] for f in delayed) / 1e6:.0f} ms, "
      f"{max(f['impact']['readyTasks'] for f in delayed)} tasks); {slow_during} fast requests sent during a block waited ≥ 40 ms")
EOF

# SwiftNIO's takeover of Swift's global executor: accepted on the default executors, refused
# under record (factory mode pre-installs the hook it needs), so tasks stay on the traced loop.
out=$("$server" --nio-takeover) || fail "--nio-takeover failed"
[ "$out" = "nio takeover: accepted" ] || fail "without record, NIO's takeover printed '$out', not accepted"
out=$("$LOOPTRACE" record -o "$work/nio.trace" -- "$server" --nio-takeover 2>"$work/nio.err") || fail "record --nio-takeover failed"
[ "$out" = "nio takeover: refused" ] || { cat "$work/nio.err" >&2; fail "under record, NIO's takeover printed '$out', not refused"; }
"$LOOPTRACE" dump "$work/nio.trace" | grep -q "executorFactory globalHook=preinstalled" \
    || fail "the trace does not say the global hook was pre-installed (executorFactory)"
echo "hummingbird-fixture: NIO's global-executor takeover: accepted without record, refused under it"
echo "hummingbird-fixture: OK"
