#!/usr/bin/env bash
# Builds the libFuzzer target on the trace reader and the analysis model, and runs it.
#   tools/fuzz/run.sh [SECONDS] [--light] [extra libFuzzer flags…]
# --light: the volume run. Inputs up to 4 KiB, one-thread reads into the model only (about 20×
# the executions per second of the full pass), its own corpus in tools/fuzz/.corpus-light.
# Seeds: traces/*.trace, the hostile inputs in Tests/Fixtures/hostile (window ratio, huge
# stream ids, dense chunks, flipped versions, missing chunks, cuts) and every input the fuzzer
# ever flagged, in Tests/Fixtures/fuzz-crashes. The corpus grows in tools/fuzz/.corpus (ignored;
# it must come first: libFuzzer writes into its first directory). A crash-*/leak-*/oom-* file
# lands in tools/fuzz: give it a name in Tests/Fixtures/fuzz-crashes, where FuzzRegressionTests
# replays it.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
light=0
if [ "${1:-}" = "--light" ]; then light=1; shift; fi
# -sanitize applies to every module built here, so the reader and the model get coverage. The
# build directory is separate from the top level's.
swift build -c release --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address \
  -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld >&2
bin=.build-fuzz/release/trace-fuzz
mkdir -p .corpus
# The dense-chunk fixture decodes to about 19 M events, and the model-limit fixtures to millions
# of live tasks and callbacks: under ASan one pass over any of them takes 13-20 s, against the
# 20 s per-input timeout (CI timed out on the dense one while reading the seeds), so they seed
# the fuzzer through a copy of the hostile set without them; HostileInputCLITests covers them.
rm -rf .seeds && mkdir -p .seeds
for f in ../../Tests/Fixtures/hostile/*.trace; do
  case "$(basename "$f")" in dense-*|live-tasks-*|pending-callbacks-*) ;; *) cp "$f" .seeds/ ;; esac
done
seeds=(../../traces .seeds ../../Tests/Fixtures/fuzz-crashes)
if [ $light = 1 ]; then
  mkdir -p .corpus-light
  # No allocation stacks (a finding replays from its file with them): a third of the time went to
  # recording them.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=0}
  TRACE_FUZZ_LIGHT=1 exec "$bin" .corpus-light "${seeds[@]}" -max_total_time="$seconds" -max_len=4096 \
    -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20 -detect_leaks=0 -print_final_stats=1 "$@"
fi
# One process (the machine is shared). Inputs up to 64 KiB: the header alone takes about 700
# bytes, and the dense-chunk seeds need room. Leak checking is off by default: it costs more
# than the run itself with the Swift runtime's caches; run with -detect_leaks=1 to check.
exec "$bin" .corpus "${seeds[@]}" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
  -malloc_limit_mb=1024 -timeout=20 -detect_leaks=0 -print_final_stats=1 "$@"
