#!/usr/bin/env bash
# golden.sh KAPSUL CASE -- run tests/cli/CASE.sh and compare what it prints with
# tests/cli/CASE.golden. Set KAPSUL_GOLDEN_UPDATE=1 to rewrite the golden file instead (then
# review the diff before committing).
#
# A case script runs in tests/cli/data with these helpers:
#   k ARGS...   run `kapsul ARGS...` and print "$ kapsul ARGS", its stdout, its stderr with each
#               line prefixed "[stderr] ", and "[exit N]"
#   $T          a fresh scratch directory, removed afterwards
#   $KAPSUL     the binary under test
set -u
KAPSUL=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
case_name=$2
here=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export KAPSUL T

k() {
    echo "\$ kapsul $*"
    "$KAPSUL" "$@" >"$T/.out" 2>"$T/.err"
    local status=$?
    cat "$T/.out"
    sed 's/^/[stderr] /' "$T/.err"
    echo "[exit $status]"
}

actual=$T/.actual
(cd "$here/data" && . "$here/$case_name.sh") >"$actual" 2>&1

if [ "${KAPSUL_GOLDEN_UPDATE:-0}" = 1 ]; then
    cp "$actual" "$here/$case_name.golden"
    echo "golden: updated tests/cli/$case_name.golden"
    exit 0
fi
if [ ! -f "$here/$case_name.golden" ]; then
    echo "golden: missing tests/cli/$case_name.golden; actual output:"
    cat "$actual"
    exit 1
fi
if ! diff -u "$here/$case_name.golden" "$actual"; then
    echo "golden: tests/cli/$case_name: output differs from the golden file (- expected, + actual)"
    exit 1
fi
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$actual"; then
    echo "golden: sanitizer report"
    exit 1
fi
echo "golden: tests/cli/$case_name ok"
