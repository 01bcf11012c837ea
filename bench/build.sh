#!/bin/sh
# Builds every benchmark program three ways into bench/out/:
#   NAME.wasm   clang --target=wasm32-wasi -O2
#   NAME.gcc    gcc -O2 (native)
#   NAME.clang  clang -O2 (native, the reference of every ratio)
# and the SIMD kernel once more as simd-simd128.wasm with -msimd128.
# An output is rebuilt only when its source, bench.h or this script is newer.
# Usage: bench/build.sh [-f]   (-f rebuilds everything)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src="$here/src"
out="$here/out"
mkdir -p "$out"

force=0
[ "${1:-}" = "-f" ] && force=1

CFLAGS="-O2 -Wall -Wextra"
WASM_CC="clang --target=wasm32-wasi"
programs="fib sieve matmul sha256 nbody bytecode sortstr minicore simd hello"

# stale OUTPUT SOURCE: true when OUTPUT must be (re)built.
stale() {
    [ "$force" = 1 ] && return 0
    [ -e "$1" ] || return 0
    for dep in "$2" "$src/bench.h" "$here/build.sh"; do
        [ "$dep" -nt "$1" ] && return 0
    done
    return 1
}

# build OUTPUT SOURCE LIBS COMMAND...: runs COMMAND -o OUTPUT SOURCE LIBS when
# stale (LIBS may be empty; it must follow the source for the linker).
build() {
    target=$1; source=$2; libs=$3; shift 3
    if stale "$target" "$source"; then
        echo "  $* -o ${target#$here/} ${source#$here/} $libs"
        "$@" -o "$target" "$source" $libs
    fi
}

for p in $programs; do
    s="$src/$p.c"
    libm=-lm
    [ "$p" = hello ] && libm=""   # keep the start-up reference free of extra libraries
    build "$out/$p.wasm" "$s" "" $WASM_CC $CFLAGS
    build "$out/$p.gcc" "$s" "$libm" gcc $CFLAGS
    build "$out/$p.clang" "$s" "$libm" clang $CFLAGS
done
build "$out/simd-simd128.wasm" "$src/simd.c" "" $WASM_CC $CFLAGS -msimd128

# The harness's measuring tool (see src/spawnstat.c for why it is static).
build "$out/spawnstat" "$src/spawnstat.c" "-lm" gcc $CFLAGS -static
