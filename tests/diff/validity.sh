#!/usr/bin/env bash
# validity.sh KAPSUL DIR|FILE... -- accept/reject differential: every file (e.g. a fuzzing corpus,
# full of near-valid modules) is validated by `KAPSUL validate` and by V8 (validity.mjs); the two
# must agree. Prints each disagreement and "N agreed, N disagreed". Node 20's V8 also accepts
# post-2.0 proposals it ships by default (tail calls, SIMD before kapsul had it), so a
# disagreement where only V8 accepts must be checked against the feature set before it counts.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
kapsul=${1:?usage: validity.sh KAPSUL DIR|FILE...}; shift
files=()
for a in "$@"; do
    if [ -d "$a" ]; then for f in "$a"/*; do [ -f "$f" ] && files+=("$f"); done; else files+=("$a"); fi
done
agreed=0 disagreed=0
while read -r v f; do
    "$kapsul" validate "$f" >/dev/null 2>&1 && k=1 || k=0
    if [ "$k" = "$v" ]; then agreed=$((agreed + 1)); else disagreed=$((disagreed + 1)); echo "disagree: $f kapsul=$k v8=$v"; fi
done < <(printf '%s\0' "${files[@]}" | xargs -0 -n 200 node "$root/tests/diff/validity.mjs")
echo "$agreed agreed, $disagreed disagreed"
[ $disagreed = 0 ]
