#!/usr/bin/env bash
# Builds the libFuzzer target on the trace reader and the analysis model, and runs it.
#   tools/fuzz/run.sh [SECONDS] [extra libFuzzer flags…]
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
# -sanitize applies to every module built here, so the reader and the model get coverage. The
# build directory is separate from the top level's.
swift build -c release --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address \
  -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld >&2
bin=.build-fuzz/release/trace-fuzz
mkdir -p .corpus
# The dense-chunk fixture decodes to about 19 M events: under ASan one pass over it outlasts the
# per-input timeout (CI timed out on it while reading the seeds), so it seeds the fuzzer through
# a copy of the hostile set without it; HostileInputCLITests covers it in every command.
rm -rf .seeds && mkdir -p .seeds
for f in ../../Tests/Fixtures/hostile/*.trace; do
  case "$(basename "$f")" in dense-*) ;; *) cp "$f" .seeds/ ;; esac
done
seeds=(../../traces .seeds ../../Tests/Fixtures/fuzz-crashes)
# One process (the machine is shared). Inputs up to 64 KiB: the header alone takes about 700
# bytes, and the dense-chunk seeds need room. Leak checking is off by default: it costs more
# than the run itself with the Swift runtime's caches; run with -detect_leaks=1 to check.
exec "$bin" .corpus "${seeds[@]}" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
  -malloc_limit_mb=1024 -timeout=20 -detect_leaks=0 -print_final_stats=1 "$@"
