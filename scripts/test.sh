#!/usr/bin/env bash
# test.sh -- build kapsul and run every test: unit tests, the spec suite, the WASI suites and CLI
# golden files (all registered with ctest), then the spec suite with the interpreter's switch
# dispatch, then the tests labelled "sanitize" in an AddressSanitizer + UndefinedBehaviorSanitizer
# build.  Ends with ctest's summary line.
# Set KAPSUL_NO_SANITIZE=1 to skip the sanitizer pass (quicker local runs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
status=0
ctest --test-dir build -j"$(nproc)" --output-on-failure || status=1

# The interpreter's plain-switch dispatch (the debugging build) must pass the same spec suite.
# It is also the build without the native tier (KAPSUL_NATIVE=OFF): kapsul must build without LLVM.
echo "== switch-dispatch build, no native tier: spec suite =="
cmake -S . -B build-switch -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKAPSUL_SWITCH_DISPATCH=ON -DKAPSUL_NATIVE=OFF >/dev/null
cmake --build build-switch -j"$(nproc)" --target kapsul >/dev/null
ctest --test-dir build-switch -j"$(nproc)" --output-on-failure -L spec || status=1

if [ "${KAPSUL_NO_SANITIZE:-0}" != 1 ]; then
    echo "== sanitizer build (ASan + UBSan) =="
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKAPSUL_SANITIZE=ON >/dev/null
    cmake --build build-asan -j"$(nproc)" >/dev/null
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir build-asan -j"$(nproc)" --output-on-failure -L sanitize || status=1
fi
exit $status
