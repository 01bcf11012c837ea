#!/usr/bin/env bash
# differential.sh KAPSUL CACHE -- every module of tests/fuzz/corpus/exec, run by the interpreter
# and by the native tier (compiled with kapsul-llvmc beside KAPSUL), must give the same output
# from tests/native/diff_run (results and trap kinds of every export called with zeros, memory
# hashes), unmetered and with three fuel budgets (fuel used and out-of-fuel traps must match). Modules the native tier refuses to compile are listed and skipped (none at the time of writing).
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
kapsul=$1 cache=$2
bindir=$(dirname "$kapsul")
run="$bindir/tests/diff_run"
mkdir -p "$cache"
fail=0 same=0 skipped=0
for m in "$here"/tests/fuzz/corpus/exec/*.wasm; do
    name=$(basename "$m" .wasm)
    k="$cache/diff-$name.kwasm"
    if ! msg=$("$bindir/kapsul-llvmc" "$m" -o "$k" 2>&1); then
        echo "skip $name: $msg"
        skipped=$((skipped + 1))
        continue
    fi
    # Unmetered (deadline only), then metered: plenty of fuel (fuel used must match) and little
    # (out-of-fuel traps at the same point, so results and memories match too).
    for fuel in "" 1000000000 5000 40; do
        a=$("$run" "$m" $fuel 2>&1); b=$("$run" "$k" $fuel 2>&1)
        if [ "$a" != "$b" ]; then
            echo "DIFFERENT $name${fuel:+ (fuel $fuel)}:"; diff <(printf '%s\n' "$a") <(printf '%s\n' "$b") | head -20
            fail=$((fail + 1))
        else
            same=$((same + 1))
        fi
    done
done
echo "differential: $same same, $fail different, $skipped skipped"
[ "$fail" -eq 0 ]
