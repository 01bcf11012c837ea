#!/usr/bin/env bash
# build.sh -- the recipe for the pinned test components of tests/component (checked in because
# jco's output depends on its version and the build path; rebuild them with this script and commit
# the result together with any change of the sources or of package.json):
#   NAME.c  --clang wasm32-wasi-->  core module  --jco new --wasi-command-->  NAME.wasm
# for cli_hello (args, env, stdio, a file, clocks, random, exit status) and exit_code (the smallest:
# one write, an exit status; also the fuzz seed tests/fuzz/corpus/component/exit_code.wasm) and
# cli_io (clocks, random bytes, writing a preopened directory, stdin); and hostile.wasm from
# hostile.wat (`jco parse`: exports that lie to the canonical ABI, for kapsul run --invoke); api.wasm
# from api.wat (custom exports of every value kind, for --invoke with WAVE arguments); cli_rust.wasm
# from cli_rust.rs (the same recipe with rustc: std::env, std::fs with a directory listing, exit);
# mismatch.wasm and version.wasm (imports kapsul must refuse: a WASI function of another type, and
# an interface version outside 0.2.x); nested.wasm (a nested component instance, outer alias,
# guest-to-guest calls, the re-entry trap); borrow.wasm (one resource across a composition's component
# instances, a borrow left undropped, a borrow lowered into its implementer); state.wasm from state.wat (a guest that dirties everything
# an instance owns, for the component template's isolation test) and many_memories.wasm (ten core
# modules with a memory each: the template pools eight).
# The core module is stripped (-s) so no path of this machine ends up in it.
#
# usage: tests/component/build.sh [OUTDIR]    default OUTDIR: tests/component itself
# Needs clang with wasi-libc (scripts/setup.sh) and jco in tests/component/node_modules
# (scripts/setup.sh runs `npm ci` there).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
jco=$here/node_modules/.bin/jco
if [ ! -x "$jco" ]; then
    echo "build.sh: $jco missing: run scripts/setup.sh (npm ci in tests/component)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
for name in cli_hello exit_code cli_io; do
    "${CLANG:-clang}" --target=wasm32-wasi -O2 -s -o "$tmp/$name.core.wasm" "$here/$name.c"
    "$jco" new "$tmp/$name.core.wasm" --wasi-command -o "$out/$name.wasm" >/dev/null
    echo "built $out/$name.wasm"
done
# Rust: a rustc with the wasm32-wasi target (Debian's; rustup's newer ones call it wasm32-wasip1)
rustc=
for r in ${RUSTC:-} rustc /usr/bin/rustc; do
    targets=$("$r" --print target-list 2>/dev/null || true) # (not piped into grep -q: pipefail)
    if grep -qx wasm32-wasi <<<"$targets"; then rustc=$r; break; fi
done
if [ -z "$rustc" ]; then
    echo "build.sh: no rustc with the wasm32-wasi target (apt-get install rustc libstd-rust-dev-wasm32)" >&2
    exit 1
fi
"$rustc" --target wasm32-wasi -O -C strip=symbols --remap-path-prefix "$here=." -o "$tmp/cli_rust.core.wasm" \
    "$here/cli_rust.rs"
"$jco" new "$tmp/cli_rust.core.wasm" --wasi-command -o "$out/cli_rust.wasm" >/dev/null
echo "built $out/cli_rust.wasm"
for name in hostile api mismatch version nested borrow; do
    "$jco" parse "$here/$name.wat" -o "$out/$name.wasm" >/dev/null
    echo "built $out/$name.wasm"
done
# state.wasm and many_memories.wasm (tests/unit/test_ctemplate.c): a guest that dirties everything
# one instance owns; ten core modules with a memory each.
for name in state many_memories; do
    "$jco" parse "$here/$name.wat" -o "$out/$name.wasm" >/dev/null
    echo "built $out/$name.wasm"
done
# sockets.wasm from sockets.wat (wasi:sockets scenarios for tests/component/sockets.py)
"$jco" parse "$here/sockets.wat" -o "$out/sockets.wasm" >/dev/null
echo "built $out/sockets.wasm"
