#!/usr/bin/env bash
# run-wasi.sh BUILD_DIR SECONDS [extra libFuzzer flags...] -- run the WASI fuzz target (or, with
# REPLAY=1 and files instead of flags, run just those inputs; KP_WASI_FUZZ_TRACE=1 prints each
# call) inside a private mount namespace where every existing mount
# is read-only except the fuzzer's working directory, and the sandbox lives on a fresh tmpfs.
# A sandbox escape the fuzzer finds then fails with EROFS and trips the target's oracles instead of
# touching the machine. Needs root (unshare --mount).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(cd "$1" && pwd); secs=$2; shift 2
work=$dir/fuzz-work/wasi
mkdir -p "$work/corpus" "$work/artifacts" "$work/tmpfs"
export KP_WASI_FUZZ_ROOT=$work/tmpfs
exec unshare --mount --propagation private bash -c '
    set -e
    mount --bind "$0" "$0"
    mount -t tmpfs -o size=64m kpwasi "$KP_WASI_FUZZ_ROOT"
    mount -o remount,bind,ro /
    for m in /proc /sys /dev /dev/shm; do mount -o remount,bind,ro "$m" 2>/dev/null || true; done
    mount -o remount,bind,rw "$0"
    exec "$@"' "$work" \
    $( [ "${REPLAY:-0}" = 1 ] && echo "$dir/fuzz_wasi" || echo "$root/tests/fuzz/run.sh $dir wasi $secs" ) "$@"
