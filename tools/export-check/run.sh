#!/usr/bin/env bash
# Exports every sample in traces/ both ways and checks the results (issue 5's CI check):
#   the JSON with check_chrome.py (structure, nesting, flows, state slices, and step/callback/flow
#   counts against an independent rebuild from `looptrace dump --json`), the protobuf decoded by
#   Debian's protoc with perfetto_subset.proto (check_perfetto.py), and equal counts both ways;
#   then a windowed export, --max-events, a damaged trace (exit 65, the recovered part checked),
#   an unwritable output (exit 73, nothing left behind) and conflicting flags (exit 64).
#
#   tools/export-check/run.sh                 builds looptrace (debug) if LOOPTRACE is not set
#   LOOPTRACE=path/to/looptrace tools/export-check/run.sh
#
# Installs python3 and protobuf-compiler with apt-get when missing (CI runs as root).
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

need=()
command -v python3 >/dev/null || need+=(python3)
command -v protoc >/dev/null || need+=(protobuf-compiler)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

bin=${LOOPTRACE:-}
if [ -z "$bin" ]; then
  (cd "$root" && swift build --product looptrace >/dev/null)
  bin="$(cd "$root" && swift build --show-bin-path)/looptrace"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
check() { # description, command...
  local what=$1; shift
  if "$@" >/dev/null; then echo "ok    $what"; else echo "FAIL  $what" >&2; failed=1; fi
}
expect_exit() { # code, description, command...
  local code=$1 what=$2; shift 2
  set +e; "$@" >"$work/out" 2>"$work/err"; local rc=$?; set -e
  if [ "$rc" = "$code" ]; then echo "ok    $what (exit $rc: $(head -1 "$work/err"))"
  else echo "FAIL  $what: exit $rc, wanted $code; $(cat "$work/err")" >&2; failed=1; fi
}

samples=("$root"/traces/*.trace)
for trace in "${samples[@]}"; do
  name=$(basename "$trace" .trace)
  json="$work/$name.json" pb="$work/$name.pftrace"
  check "$name: export JSON" "$bin" export "$trace" -o "$json" >/dev/null
  check "$name: JSON checks out against the trace" \
    sh -c "python3 '$here/check_chrome.py' '$json' --trace '$trace' --looptrace '$bin' > '$work/$name.sum'"
  check "$name: export protobuf" "$bin" export "$trace" --format perfetto -o "$pb" >/dev/null
  check "$name: protobuf decodes with protoc, same counts as JSON" \
    python3 "$here/check_perfetto.py" "$pb" --compare "$work/$name.sum" --json "$json"
  echo "      $(cat "$work/$name.sum")"

  # A window from the middle: slices kept whole, flows still complete.
  span=$("$bin" info --json "$trace" | python3 -c 'import json,sys; print(json.load(sys.stdin)["spanNanos"])')
  check "$name: --since/--until window checks out" sh -c \
    "'$bin' export '$trace' --since $((span / 3))ns --until $((span / 2))ns -o '$work/w.json' >/dev/null && python3 '$here/check_chrome.py' '$work/w.json' --allow-gaps >/dev/null"
  if "$bin" export "$trace" --around-blocking 1 -o "$work/b.json" >/dev/null 2>&1; then
    check "$name: --around-blocking 1 checks out" python3 "$here/check_chrome.py" "$work/b.json" --allow-gaps
  fi
  # A cap at half the full export's events, so that every sample gets cut.
  cap=$(python3 -c 'import json,sys; print(max(10, len(json.load(open(sys.argv[1]))["traceEvents"]) // 2))' "$json")
  set +e; "$bin" export "$trace" --max-events "$cap" -o "$work/m.json" >/dev/null 2>"$work/err"; set -e
  check "$name: --max-events $cap gives a complete, checked file and a notice" sh -c \
    "grep -q 'export cut at' '$work/err' && python3 '$here/check_chrome.py' '$work/m.json' --allow-gaps >/dev/null"
done

# Bad input, on the largest sample, so that cutting its tail leaves whole chunks before the cut.
first=$(ls -S "${samples[@]}" | head -n 1)
size=$(stat -c %s "$first")
head -c $((size - 700)) "$first" > "$work/damaged.trace"
expect_exit 65 "damaged trace: exit 65" "$bin" export "$work/damaged.trace" -o "$work/damaged.json"
check "damaged trace: what was recovered is exported and checks out" \
  python3 "$here/check_chrome.py" "$work/damaged.json" --trace "$work/damaged.trace" --looptrace "$bin"
expect_exit 73 "unwritable output: exit 73" "$bin" export "$first" -o "$work/no/such/dir/out.json"
mkdir -p "$work/ro" && chmod 555 "$work/ro"
if [ "$(id -u)" != 0 ]; then
  expect_exit 73 "read-only directory: exit 73" "$bin" export "$first" -o "$work/ro/out.json"
fi
expect_exit 73 "output is a directory: exit 73" "$bin" export "$first" -o "$work"
check "no partial file is left behind" sh -c "! ls -A '$work' | grep -q partial"
expect_exit 64 "conflicting flags: exit 64" "$bin" export "$first" --around-blocking 1 --since 1ms -o "$work/x.json"
expect_exit 64 "--since after --until: exit 64" "$bin" export "$first" --since 2ms --until 1ms -o "$work/x.json"
expect_exit 64 "bad duration: exit 64" "$bin" export "$first" --threshold 10parsecs -o "$work/x.json"
expect_exit 64 "unknown task: exit 64" "$bin" export "$first" --task no-such-task -o "$work/x.json"
check "no output for failed runs" test ! -e "$work/x.json"

if [ $failed = 0 ]; then echo "export-check: all passed"; else echo "export-check: FAILED" >&2; fi
exit $failed
