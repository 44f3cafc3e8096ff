#!/usr/bin/env bash
# Overhead of factory mode: the PlainConcurrency workload, scaled up (PLAIN_CONCURRENCY_ROUNDS,
# no blocking call), run three ways in one invocation: on Swift's default executors, in factory
# mode untraced (LoopTraceAuto preloaded, LOOPTRACE_AUTO_TRACE=off), and in factory mode traced.
# Prints the median wall time of RUNS runs each (min/max beside) and the ratios to the first.
#   tools/factory-bench/run.sh [ROUNDS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-2000}
RUNS=${2:-5}
swift build -c release --product plain-concurrency >/dev/null
swift build -c release --product LoopTraceAuto >/dev/null
BIN=.build/release
LIB=$PWD/$BIN/libLoopTraceAuto.so
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "command: $0 $ROUNDS $RUNS"
echo "machine: $(nproc) CPUs, $(uname -sr), $(swift --version 2>&1 | head -1)"

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
    local median min max cpu
    median=$(sed -n "$(( (RUNS + 1) / 2 ))p" "$TMP/$name")
    cpu=$(sed -n "$(( (RUNS + 1) / 2 ))p" "$TMP/$name.cpu")
    min=$(head -1 "$TMP/$name"); max=$(tail -1 "$TMP/$name")
    echo "$name $median $min $max $cpu" >> "$TMP/summary"
}

measure default-executors LOOPTRACE_IGNORED=1
measure factory-untraced LD_PRELOAD="$LIB" LOOPTRACE="$TMP/untraced.trace" LOOPTRACE_AUTO_TRACE=off
measure factory-traced LD_PRELOAD="$LIB" LOOPTRACE="$TMP/traced.trace"
base=$(head -1 "$TMP/summary" | cut -d' ' -f2)
basecpu=$(head -1 "$TMP/summary" | cut -d' ' -f5)
printf '%-20s %12s %12s %12s %8s %14s %8s\n' configuration "median ms" "min ms" "max ms" ratio "median CPU ms" ratio
while read -r name median min max cpu; do
    printf '%-20s %12.1f %12.1f %12.1f %8.2f %14d %8.2f\n' "$name" "$(echo "$median/1000" | bc -l)" "$(echo "$min/1000" | bc -l)" \
        "$(echo "$max/1000" | bc -l)" "$(echo "$median/$base" | bc -l)" "$cpu" "$(echo "$cpu/$basecpu" | bc -l)"
done < "$TMP/summary"
echo "rounds per run: $ROUNDS (each: 2 unstructured tasks, 2 async lets, a group of 4, 7 sleeps, a DispatchQueue.main block, actor calls)"
