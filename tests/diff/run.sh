#!/usr/bin/env bash
# run.sh N [DRIVER] -- differential test: N random modules from binaryen (`wasm-opt -ttf` over
# random bytes), each run by kapsul (tests/diff/driver.c, built as kapsul-diff-driver) and by
# Node's V8 (tests/diff/ref.mjs) under the same protocol; their outputs (every export's results
# or trap category, every fuzzing-support log call, a hash of the final memory) must be equal.
# Prints "N passed, N failed" and exits non-zero if anything failed. Mismatching modules are kept
# with both outputs in $KAPSUL_DIFF_OUT (default build-diff/mismatches/) as reproducers.
# A run whose outputs differ only in the final memory hash, where every differing byte lies in a
# NaN in both memories (tests/diff/nan-explain.mjs), passes as "explained": the spec lets engines
# store different NaN bit patterns. Explained runs are counted and listed.
# Features: MVP + bulk memory, non-trapping float-to-int, sign extension, multi-value (SIMD is
# left out until kapsul has it; binaryen 108's reference types mean typed function references).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:?usage: run.sh N [DRIVER]}
driver=${2:-$root/build/tests/kapsul-diff-driver}
out=${KAPSUL_DIFF_OUT:-$root/build-diff/mismatches}
features="--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-multivalue"
for tool in wasm-opt node; do
    command -v $tool >/dev/null || { echo "run.sh: $tool not found" >&2; exit 2; }
done
[ -x "$driver" ] || { echo "run.sh: driver $driver not built" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 exports=0 explained=0
# KAPSUL_DIFF_FILES="a.wasm b.wasm ..." reruns saved modules instead of generating new ones.
files=(${KAPSUL_DIFF_FILES:-})
[ ${#files[@]} -gt 0 ] && n=${#files[@]}
for ((i = 1; i <= n; i++)); do
    if [ ${#files[@]} -gt 0 ]; then
        cp "${files[$((i - 1))]}" "$tmp/m.wasm"
    else
        head -c $((RANDOM % 6000 + 500)) /dev/urandom > "$tmp/in"
    fi
    if [ ${#files[@]} = 0 ] && ! wasm-opt -ttf "$tmp/in" $features -o "$tmp/m.wasm" 2>/dev/null; then
        echo "run.sh: wasm-opt failed on input $i" >&2; failed=$((failed + 1)); continue
    fi
    timeout 30 "$driver" "$tmp/m.wasm" > "$tmp/kapsul.txt" 2>&1; krc=$?
    timeout 60 node "$root/tests/diff/ref.mjs" "$tmp/m.wasm" > "$tmp/v8.txt" 2>&1; nrc=$?
    [ $krc = 124 ] && echo "timeout" >> "$tmp/kapsul.txt"
    [ $nrc = 124 ] && echo "timeout" >> "$tmp/v8.txt"
    nan_ok=0
    if ! cmp -s "$tmp/kapsul.txt" "$tmp/v8.txt" &&
       cmp -s <(grep -v '^memory ' "$tmp/kapsul.txt") <(grep -v '^memory ' "$tmp/v8.txt"); then
        KAPSUL_DIFF_MEMDUMP="$tmp/k.mem" timeout 30 "$driver" "$tmp/m.wasm" > /dev/null 2>&1
        KAPSUL_DIFF_MEMDUMP="$tmp/v.mem" timeout 60 node "$root/tests/diff/ref.mjs" "$tmp/m.wasm" > /dev/null 2>&1
        if node "$root/tests/diff/nan-explain.mjs" "$tmp/k.mem" "$tmp/v.mem" > "$tmp/why" 2>&1; then
            nan_ok=1
            explained=$((explained + 1))
            echo "explained (NaN bits in memory): module $i: $(cat "$tmp/why")" >&2
        fi
    fi
    if [ $nan_ok = 1 ] || cmp -s "$tmp/kapsul.txt" "$tmp/v8.txt"; then
        passed=$((passed + 1))
        exports=$((exports + $(grep -c '^export ' "$tmp/kapsul.txt")))
    else
        failed=$((failed + 1))
        d="$out/$(date -u +%Y%m%dT%H%M%S)-$i"
        mkdir -p "$d"
        cp "$tmp/m.wasm" "$tmp/kapsul.txt" "$tmp/v8.txt" "$d/"
        echo "mismatch: $d" >&2
        diff "$tmp/kapsul.txt" "$tmp/v8.txt" | head -5 >&2
    fi
    if [ $((i % 100)) = 0 ]; then
        echo "progress: $i modules, $passed passed ($explained explained), $failed failed, $exports exports" >&2
    fi
done
echo "differential: $n modules, $exports exports compared, $explained passed as NaN-bit differences"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
