#!/usr/bin/env bash
# Overhead of factory mode: the PlainConcurrency workload, scaled up (PLAIN_CONCURRENCY_ROUNDS,
# no blocking call), run three ways in one invocation: on Swift's default executors, in factory
# mode untraced (LoopTraceAuto preloaded, LOOPTRACE_AUTO_TRACE=off), and in factory mode traced.
# Prints the median wall time of RUNS runs each (min/max beside) and the ratios to the first.
#   tools/factory-bench/run.sh [--json] [ROUNDS] [RUNS]
# Follows the contract of the benchmarks in tools/bench (BenchSupport's BenchReport): --help
# prints the usage and exits; --json sends the report to stderr and writes the results to stdout
# as one JSON document, one object per figure or ratio ({"name", "unit", "median", "min", "max"}).
set -euo pipefail
usage() {
    cat <<'USAGE'
usage: tools/factory-bench/run.sh [--json] [ROUNDS] [RUNS]

The PlainConcurrency workload (ROUNDS rounds, default 2000) on Swift's default executors, in
factory mode untraced (LoopTraceAuto preloaded, LOOPTRACE_AUTO_TRACE=off) and in factory mode
traced; RUNS runs of each (default 5). Prints median [min, max] wall and CPU time and the ratios
to the default executors.
  --help     print this and exit
  --json     results as JSON on stdout, one object per figure or ratio
             ({"name", "unit", "median", "min", "max"}); the human report goes to stderr
USAGE
}
JSON=0
POSITIONAL=()
for argument in "$@"; do
    case "$argument" in
        -h|--help) usage; exit 0 ;;
        --json) JSON=1 ;;
        -*) echo "run.sh: unknown option '$argument'" >&2; usage >&2; exit 64 ;;
        *) [[ "$argument" =~ ^[0-9]+$ ]] || { echo "run.sh: '$argument' is not a count" >&2; exit 64; }
           POSITIONAL+=("$argument") ;;
    esac
done
cd "$(dirname "$0")/../.."
ROUNDS=${POSITIONAL[0]:-2000}
RUNS=${POSITIONAL[1]:-5}
if (( JSON )); then exec 3>&1 1>&2; fi
swift build -c release --product plain-concurrency >/dev/null
swift build -c release --product LoopTraceAuto >/dev/null
BIN=.build/release
LIB=$PWD/$BIN/libLoopTraceAuto.so
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "command: $0 $* (rounds $ROUNDS, runs $RUNS)"
echo "machine: $(nproc) CPUs, $(uname -sr), $(swift --version 2>&1 | head -1)"
load() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD_BEFORE=$(load)
echo "load average (1/5/15 min) before: $LOAD_BEFORE"

measure() { # name, env assignments...
    local name=$1; shift
    local times=() cpus=()
    for _ in $(seq "$RUNS"); do
        local start end cpu
        start=$(date +%s%N)
        # CPU time (user + system, ms) of the run: the workload sleeps, so wall time alone
        # mostly measures its timers.
        cpu=$( { TIMEFORMAT='%3U %3S'; time env "$@" PLAIN_CONCURRENCY_ROUNDS="$ROUNDS" PLAIN_CONCURRENCY_BLOCK_MS=0 \
            "$BIN/plain-concurrency" >/dev/null; } 2>&1 | awk '{ printf "%d", ($1 + $2) * 1000 }')
        end=$(date +%s%N)
        times+=($(( (end - start) / 1000 )))
        cpus+=("$cpu")
    done
    printf '%s\n' "${times[@]}" | sort -n > "$TMP/$name"
    printf '%s\n' "${cpus[@]}" | sort -n > "$TMP/$name.cpu"
    local median min max cpu cpumin cpumax
    median=$(sed -n "$(( (RUNS + 1) / 2 ))p" "$TMP/$name")
    cpu=$(sed -n "$(( (RUNS + 1) / 2 ))p" "$TMP/$name.cpu")
    min=$(head -1 "$TMP/$name"); max=$(tail -1 "$TMP/$name")
    cpumin=$(head -1 "$TMP/$name.cpu"); cpumax=$(tail -1 "$TMP/$name.cpu")
    echo "$name $median $min $max $cpu $cpumin $cpumax" >> "$TMP/summary"
}

measure default-executors LOOPTRACE_IGNORED=1
measure factory-untraced LD_PRELOAD="$LIB" LOOPTRACE="$TMP/untraced.trace" LOOPTRACE_AUTO_TRACE=off
measure factory-traced LD_PRELOAD="$LIB" LOOPTRACE="$TMP/traced.trace"
base=$(head -1 "$TMP/summary" | cut -d' ' -f2)
basecpu=$(head -1 "$TMP/summary" | cut -d' ' -f5)
printf '%-20s %12s %12s %12s %8s %14s %8s\n' configuration "median ms" "min ms" "max ms" ratio "median CPU ms" ratio
RESULTS=()
# bc prints ".5": not a JSON number; printf gives "0.5000".
calc() { LC_ALL=C printf '%.4f' "$(echo "scale=6; $1" | bc)"; }
figure() { # name unit median min max
    RESULTS+=("$(printf '    {"name": "%s", "unit": "%s", "median": %s, "min": %s, "max": %s}' "$1" "$2" "$3" "$4" "$5")")
}
while read -r name median min max cpu cpumin cpumax; do
    printf '%-20s %12.1f %12.1f %12.1f %8.2f %14d %8.2f\n' "$name" "$(echo "$median/1000" | bc -l)" "$(echo "$min/1000" | bc -l)" \
        "$(echo "$max/1000" | bc -l)" "$(echo "$median/$base" | bc -l)" "$cpu" "$(echo "$cpu/$basecpu" | bc -l)"
    figure "$name, wall time" ms "$(calc "$median/1000")" "$(calc "$min/1000")" "$(calc "$max/1000")"
    figure "$name, CPU time" ms "$cpu" "$cpumin" "$cpumax"
    figure "$name ÷ default-executors, wall time" ratio "$(calc "$median/$base")" \
        "$(calc "$min/$base")" "$(calc "$max/$base")"
    figure "$name ÷ default-executors, CPU time" ratio "$(calc "$cpu/$basecpu")" \
        "$(calc "$cpumin/$basecpu")" "$(calc "$cpumax/$basecpu")"
done < "$TMP/summary"
echo "rounds per run: $ROUNDS (each: 2 unstructured tasks, 2 async lets, a group of 4, 7 sleeps, a DispatchQueue.main block, actor calls)"
LOAD_AFTER=$(load)
echo "load average (1/5/15 min) after: $LOAD_AFTER"
if (( JSON )); then
    # The ratios' min/max are each run's extreme ÷ the base median (bounds, not paired ratios).
    {
        printf '{\n  "bench": "factory-bench",\n  "command": "tools/factory-bench/run.sh %s",\n' "$*"
        printf '  "machine": "%s CPUs, %s",\n' "$(nproc)" "$(uname -sr)"
        printf '  "loadAverageBefore": "%s",\n  "loadAverageAfter": "%s",\n  "results": [\n' "$LOAD_BEFORE" "$LOAD_AFTER"
        (IFS=$'\n'; echo "${RESULTS[*]}" | sed '$!s/$/,/')
        printf '  ]\n}\n'
    } >&3
fi
