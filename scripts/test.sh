#!/usr/bin/env bash
# test.sh -- build kapsul and run every test: unit tests, the spec suite, the WASI suites and CLI
# golden files (all registered with ctest), then the same unit tests and spec suite in an
# AddressSanitizer + UndefinedBehaviorSanitizer build.  Ends with ctest's summary line.
# Set KAPSUL_NO_SANITIZE=1 to skip the sanitizer pass (quicker local runs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
status=0
ctest --test-dir build -j"$(nproc)" --output-on-failure || status=1

if [ "${KAPSUL_NO_SANITIZE:-0}" != 1 ]; then
    echo "== sanitizer build (ASan + UBSan) =="
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKAPSUL_SANITIZE=ON >/dev/null
    cmake --build build-asan -j"$(nproc)" >/dev/null
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir build-asan -j"$(nproc)" --output-on-failure -L sanitize || status=1
fi
exit $status
