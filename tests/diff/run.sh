#!/usr/bin/env bash
# run.sh N [DRIVER] -- differential test: N random modules from binaryen (`wasm-opt -ttf` over
# random bytes), each run by kapsul (tests/diff/driver.c, built as kapsul-diff-driver) and by
# Node's V8 (tests/diff/ref.mjs) under the same protocol; their outputs (every export's results
# or trap category, every fuzzing-support log call, a hash of the final memory) must be equal.
# Prints "N passed, N failed" and exits non-zero if anything failed. Mismatching modules are kept
# with both outputs in $KAPSUL_DIFF_OUT (default build-diff/mismatches/) as reproducers.
# Modules pass through binaryen's --denan, which turns every NaN a function computes into 0: the
# spec lets engines pick different NaN bits (kapsul keeps an input NaN's payload through f64.min,
# V8 returns the canonical NaN), and once such bits are in memory a module's own hashMemory or a
# memory.copy spreads the difference into logged values. Results are still compared exactly.
# A run whose outputs differ only in the final memory hash, where every differing byte lies in a
# NaN in both memories (tests/diff/nan-explain.mjs), passes as "explained": the spec lets engines
# store different NaN bit patterns. So does a run whose outputs become equal when kapsul gives the
# NaN lanes of f32x4/f64x2 min and max the bits V8 gives them (KAPSUL_DIFF_NAN_V8=1, a testing
# hook in src/engine/simd.h): `--denan` does not reach v128 values, and an extract_lane can turn
# those bits into an integer, a branch or an address. Explained runs are counted and listed.
# Modules go to both engines in batches of $KAPSUL_DIFF_BATCH (default 25) to amortize start-up;
# a batch that times out or crashes is rerun one module at a time.
# KAPSUL_DIFF_FILES="a.wasm b.wasm ..." reruns saved modules instead of generating new ones.
# KAPSUL_DIFF_SEED=S makes the inputs pseudo-random from S (tests/diff/bytes.mjs) instead of
# /dev/urandom: the same modules on every run. CI uses a fixed seed, because a random module can
# expose NaN bits that the spec lets engines choose (see tests/diff/explained/), and a legal
# difference must not turn CI red by chance; the long documented runs stay unseeded.
# Features: MVP + bulk memory, non-trapping float-to-int, sign extension, multi-value and SIMD
# (binaryen 108's reference types mean typed function references, so they stay off). Exports whose
# signature has a v128 are skipped by both sides (JavaScript cannot call them); v128 values still
# flow inside the modules and through memory. KAPSUL_DIFF_SIMD=0 leaves SIMD out.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:?usage: run.sh N [DRIVER]}
driver=${2:-$root/build/tests/kapsul-diff-driver}
out=${KAPSUL_DIFF_OUT:-$root/build-diff/mismatches}
batch=${KAPSUL_DIFF_BATCH:-25}
features="--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-multivalue"
[ "${KAPSUL_DIFF_SIMD:-1}" = 0 ] || features="$features --enable-simd"
for tool in wasm-opt node; do
    command -v $tool >/dev/null || { echo "run.sh: $tool not found" >&2; exit 2; }
done
[ -x "$driver" ] || { echo "run.sh: driver $driver not built" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
files=(${KAPSUL_DIFF_FILES:-})
[ ${#files[@]} -gt 0 ] && n=${#files[@]}
passed=0 failed=0 exports=0 explained=0 done_=0

# Compare one module's two outputs ($1 = module, $2 = kapsul output, $3 = V8 output, $4 = index).
judge() {
    local m=$1 k=$2 v=$3 i=$4 nan_ok=0
    if ! cmp -s "$k" "$v" && cmp -s <(grep -v '^memory ' "$k") <(grep -v '^memory ' "$v"); then
        KAPSUL_DIFF_MEMDUMP="$tmp/k.mem" timeout 30 "$driver" "$m" > /dev/null 2>&1
        KAPSUL_DIFF_MEMDUMP="$tmp/v.mem" timeout 60 node "$root/tests/diff/ref.mjs" "$m" > /dev/null 2>&1
        if node "$root/tests/diff/nan-explain.mjs" "$tmp/k.mem" "$tmp/v.mem" > "$tmp/why" 2>&1; then
            nan_ok=1
            explained=$((explained + 1))
            echo "explained (NaN bits in memory): module $i: $(cat "$tmp/why")" >&2
        fi
    fi
    if [ $nan_ok = 0 ] && ! cmp -s "$k" "$v" && { KAPSUL_DIFF_NAN_V8=1 timeout 30 "$driver" "$m" 2>&1 | cmp -s - "$v"; }; then
        nan_ok=1
        explained=$((explained + 1))
        echo "explained (SIMD min/max NaN bits): module $i agrees with V8 once kapsul picks V8's NaN bits" >&2
    fi
    if [ $nan_ok = 1 ] || cmp -s "$k" "$v"; then
        passed=$((passed + 1))
        exports=$((exports + $(grep -c '^export ' "$k")))
    else
        failed=$((failed + 1))
        local d="$out/$(date -u +%Y%m%dT%H%M%S)-$i"
        mkdir -p "$d"
        cp "$m" "$d/m.wasm"; cp "$k" "$d/kapsul.txt"; cp "$v" "$d/v8.txt"
        echo "mismatch: $d" >&2
        diff "$k" "$v" | head -5 >&2
    fi
}

# One module alone in both engines.
single() {
    local m=$1 i=$2
    timeout 30 "$driver" "$m" > "$tmp/k1" 2>&1; local krc=$?
    timeout 60 node "$root/tests/diff/ref.mjs" "$m" > "$tmp/v1" 2>&1; local vrc=$?
    [ $krc = 124 ] && echo "timeout" >> "$tmp/k1"
    [ $krc -gt 128 ] && [ $krc != 124 ] && echo "crashed with status $krc" >> "$tmp/k1"
    [ $vrc = 124 ] && echo "timeout" >> "$tmp/v1"
    judge "$m" "$tmp/k1" "$tmp/v1" "$i"
}

i=0
while [ $i -lt "$n" ]; do
    mods=()
    if [ ${#files[@]} = 0 ] && [ -n "${KAPSUL_DIFF_SEED:-}" ]; then
        node "$root/tests/diff/bytes.mjs" "$KAPSUL_DIFF_SEED" $i $batch "$tmp" || { echo "run.sh: bytes.mjs failed" >&2; exit 2; }
    fi
    for ((b = 0; b < batch && i + b < n; b++)); do
        m="$tmp/m$b.wasm"
        if [ ${#files[@]} -gt 0 ]; then
            cp "${files[$((i + b))]}" "$m"
        else
            if [ -n "${KAPSUL_DIFF_SEED:-}" ]; then mv "$tmp/in$b" "$tmp/in"
            else head -c $((RANDOM % 6000 + 500)) /dev/urandom > "$tmp/in"; fi
            if ! wasm-opt -ttf "$tmp/in" $features --denan -o "$m" 2>/dev/null; then
                echo "run.sh: wasm-opt failed" >&2; failed=$((failed + 1)); continue
            fi
        fi
        mods+=("$m")
    done
    if [ ${#mods[@]} -gt 0 ]; then
        timeout 300 "$driver" "${mods[@]}" > "$tmp/kb" 2>&1; krc=$?
        timeout 300 node "$root/tests/diff/ref.mjs" "${mods[@]}" > "$tmp/vb" 2>&1; vrc=$?
        for ((j = 0; j < ${#mods[@]}; j++)); do
            idx=$((i + j + 1))
            if [ $krc != 0 ] || [ $vrc != 0 ] || [ ${#mods[@]} = 1 ]; then
                single "${mods[$j]}" $idx
            else
                awk -v f="== ${mods[$j]}" '$0 == f { on = 1; next } /^== / { on = 0 } on' "$tmp/kb" > "$tmp/k1"
                awk -v f="== ${mods[$j]}" '$0 == f { on = 1; next } /^== / { on = 0 } on' "$tmp/vb" > "$tmp/v1"
                judge "${mods[$j]}" "$tmp/k1" "$tmp/v1" $idx
            fi
        done
    fi
    i=$((i + batch))
    [ $i -gt "$n" ] && i=$n
    if [ $((i / 100)) != $((done_ / 100)) ] || [ $i = "$n" ]; then
        echo "progress: $i modules, $passed passed ($explained explained), $failed failed, $exports exports" >&2
    fi
    done_=$i
done
echo "differential: $n modules ($features), $exports exports compared, $explained passed as NaN-bit differences"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
