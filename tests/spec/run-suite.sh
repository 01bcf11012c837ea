#!/usr/bin/env bash
# run-suite.sh [DIR] -- run every .wast script of DIR (default: the wasm-2.0 suite beside this
# repository) one process per script, print each script's counts, the scripts that failed, and the
# sums over the whole suite as `N passed, N failed`. KAPSUL=path/to/kapsul overrides build/kapsul.
# Exit status 0 iff every assertion passed.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$here/../shared/testsuite/wasm-2.0}
kapsul=${KAPSUL:-$here/build/kapsul}
if [ ! -x "$kapsul" ]; then echo "run-suite: no kapsul binary at $kapsul" >&2; exit 2; fi
if [ ! -d "$dir" ]; then echo "run-suite: no directory $dir" >&2; exit 2; fi
total_pass=0 total_fail=0 scripts=0 failing=()
for script in "$dir"/*.wast; do
    [ -e "$script" ] || continue
    name=$(basename "$script" .wast)
    last=$("$kapsul" wast "$script" 2>/dev/null | tail -n 1)
    status=${PIPESTATUS[0]}
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
    else
        p=0 f=1 last="crashed or printed no summary (exit status $status)"
    fi
    printf '%-45s %s\n' "$name" "$last"
    total_pass=$((total_pass + p)) total_fail=$((total_fail + f)) scripts=$((scripts + 1))
    [ "$f" -eq 0 ] || failing+=("$name")
done
echo "scripts: $scripts, failing: ${#failing[@]}${failing[*]:+ (${failing[*]})}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
