#!/usr/bin/env bash
# run.sh BUILD_DIR TARGET SECONDS [extra libFuzzer flags...] -- run one fuzz target for SECONDS,
# starting from its checked-in seed corpus (tests/fuzz/corpus/TARGET, read only) plus a working
# corpus in BUILD_DIR/fuzz-work/TARGET/corpus that keeps what it finds between runs. Crashing
# inputs land in BUILD_DIR/fuzz-work/TARGET/artifacts/. Exits non-zero on any crash, leak,
# sanitizer report or per-input timeout.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(cd "$1" && pwd); target=$2; secs=$3; shift 3
work=$dir/fuzz-work/$target
mkdir -p "$work/corpus" "$work/artifacts"
dict=()
[ -f "$root/tests/fuzz/$target.dict" ] && dict=(-dict="$root/tests/fuzz/$target.dict")
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/fuzz/lsan.supp}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$dir/fuzz_$target" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2560 -max_len=65536 \
     -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${dict[@]}" "$@" \
     "$work/corpus" "$root/tests/fuzz/corpus/$target"
