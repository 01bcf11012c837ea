#!/usr/bin/env bash
# build.sh [BUILD_DIR] -- build the libFuzzer targets (fuzz_<name> for every name in $targets below)
# with clang, AddressSanitizer, UndefinedBehaviorSanitizer and libFuzzer into
# BUILD_DIR (default build-fuzz). Needs clang and Debian's libclang-rt-14-dev.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-build-fuzz}
cc=${KAPSUL_FUZZ_CC:-clang}
cmake -S . -B "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DKAPSUL_SANITIZE=ON -DKAPSUL_FUZZ=ON >/dev/null
targets=(module text exec wasi toml wagi oci bundle dwarf component cinstance kwasm wave netgrant)
# native exists where LLVM 14 is (the native tier's compiler is built).
if cmake --build "$dir" --target help 2>/dev/null | grep '\bfuzz_native\b' >/dev/null; then targets+=(native); fi
cmake --build "$dir" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
echo "fuzzers built in $dir: $(cd "$dir" && ls "${targets[@]/#/fuzz_}" | tr '\n' ' ')"
