#!/bin/sh
# Fresh instance per request, in process: bench/instantiate.c against build/libkapsul.a with the
# WAGI hello handler bench/src/wagi_hello.c. Usage: bench/instantiate.sh [N]  (default 20000).
# Needs build/ (scripts/build.sh) and clang's wasm32-wasi target (as bench/build.sh does).
# Timing only: nothing here is a test.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out="$here/out"
mkdir -p "$out"
clang --target=wasm32-wasi -O2 -o "$out/wagi_hello.wasm" "$here/src/wagi_hello.c"
cc -O2 -Wall -Wextra -I"$root/include" -I"$root/build/include" -o "$out/instantiate" \
    "$here/instantiate.c" "$root/build/libkapsul.a" -lpthread -lm
"$out/instantiate" "$out/wagi_hello.wasm" "${1:-20000}"
