#!/usr/bin/env bash
# build.sh [BUILD_DIR] -- build the libFuzzer targets (fuzz_module, fuzz_text, fuzz_exec, fuzz_wasi,
# fuzz_toml, fuzz_wagi, fuzz_oci, fuzz_bundle) with clang, AddressSanitizer, UndefinedBehaviorSanitizer and libFuzzer into
# BUILD_DIR (default build-fuzz). Needs clang and Debian's libclang-rt-14-dev.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-build-fuzz}
cc=${KAPSUL_FUZZ_CC:-clang}
cmake -S . -B "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DKAPSUL_SANITIZE=ON -DKAPSUL_FUZZ=ON >/dev/null
cmake --build "$dir" -j"$(nproc)" --target fuzz_module fuzz_text fuzz_exec fuzz_wasi fuzz_toml fuzz_wagi fuzz_oci fuzz_bundle
echo "fuzzers built in $dir: $(cd "$dir" && ls fuzz_module fuzz_text fuzz_exec fuzz_wasi fuzz_toml fuzz_wagi fuzz_oci fuzz_bundle | tr '\n' ' ')"
