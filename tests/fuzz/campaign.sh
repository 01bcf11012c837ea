#!/usr/bin/env bash
# campaign.sh HOURS [TARGET...] -- a longer fuzzing campaign: each target (default: module text
# exec) runs for HOURS hours, one after another (set PARALLEL=1 to run them side by side, one
# process each). Builds the fuzzers in build-fuzz first. Working corpora persist in
# build-fuzz/fuzz-work/<target>/corpus, so campaigns resume; crashes go to .../artifacts/.
# At the end prints one line per target (seconds, executions, coverage, crashes) for
# docs/FUZZING.md. Logs: build-fuzz/fuzz-work/<target>/campaign-<date>.log.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { echo "usage: $0 HOURS [TARGET...]" >&2; exit 2; }
hours=$1; shift
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(module text exec)
secs=$(awk -v h="$hours" 'BEGIN { printf "%d", h * 3600 }')
tests/fuzz/build.sh build-fuzz || exit 2
stamp=$(date -u +%Y%m%dT%H%M%SZ)
pids=()
run_one() {
    local t=$1 log=build-fuzz/fuzz-work/$1/campaign-$stamp.log
    mkdir -p "build-fuzz/fuzz-work/$t"
    nice -n 10 tests/fuzz/run.sh build-fuzz "$t" "$secs" > "$log" 2>&1
    echo $? > "$log.rc"
}
for t in "${targets[@]}"; do
    if [ "${PARALLEL:-0}" = 1 ]; then run_one "$t" & pids+=($!); else run_one "$t"; fi
done
for p in "${pids[@]}"; do wait "$p"; done
status=0
for t in "${targets[@]}"; do
    log=build-fuzz/fuzz-work/$t/campaign-$stamp.log
    rc=$(cat "$log.rc")
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
    crashes=$(ls "build-fuzz/fuzz-work/$t/artifacts" 2>/dev/null | wc -l)
    echo "campaign $stamp target=$t seconds=$secs executions=$execs coverage=$cov exit=$rc artifacts=$crashes"
    [ "$rc" = 0 ] || status=1
done
exit $status
