#!/usr/bin/env bash
# run-one.sh KAPSUL SCRIPT.wast pass|fail [KNOWN-FAILURES-FILE [WAST OPTIONS...]] -- one ctest
# test of the spec suite (the native tier's run passes its own list and `--tier native ...`).
#
# "pass": the script must run with exit status 0.
# "fail": the script is in the known-failures list; it must still run to the end and report its
#         failures (exit status 1). If it now passes, this test fails and says so, so that the list
#         only shrinks. A crash, a sanitizer report or a usage error fails the test either way.
set -u
kapsul=$1 script=$2 expect=$3
known=${4:-tests/spec/wasm-2.0.known-failures}
shift 3; [ $# -gt 0 ] && shift
out=$("$kapsul" wast --summary "$@" "$script" 2>&1)
status=$?
printf '%s\n' "$out" | tail -n 200
if printf '%s\n' "$out" | grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:'; then
    echo "run-one: sanitizer report"
    exit 1
fi
case "$expect:$status" in
    pass:0) exit 0 ;;
    fail:1)
        echo "run-one: known failure ($(basename "$script" .wast) is in $known)"
        exit 0 ;;
    fail:0)
        echo "run-one: $(basename "$script" .wast) now passes: remove it from $known"
        exit 1 ;;
    *)
        echo "run-one: kapsul wast exited with status $status"
        exit 1 ;;
esac
