#!/usr/bin/env bash
# run.sh BUILD_DIR -- the install test: `cmake --install` the built tree into a scratch prefix,
# check what was installed (headers, libkapsul.a, libkapsul.so with its SONAME and nothing but
# kapsul_* exported, kapsul.pc), then build examples/embed/host.c the way an embedder would
# (its Makefile, pkg-config pointed at the prefix) against the shared and the static library and
# run both on examples/embed/demo.wat. Their output must equal tests/install/host.golden
# (KAPSUL_GOLDEN_UPDATE=1 rewrites it).
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
prefix=$T/prefix
fail() { echo "install test: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(find "$prefix" -name kapsul.pc -printf '%h\n' | head -1)
[ -n "$libdir" ] || fail "kapsul.pc was not installed"
libdir=$(dirname "$libdir")
for f in include/kapsul.h include/kapsul_version.h; do
    [ -f "$prefix/$f" ] || fail "$f was not installed"
done
[ -f "$libdir/libkapsul.a" ] || fail "libkapsul.a was not installed"
[ -L "$libdir/libkapsul.so" ] || fail "libkapsul.so was not installed"

# The version: one number, the same in the header, kapsul.pc and the SONAME.
version=$(sed -n 's/^#define KAPSUL_VERSION "\(.*\)"$/\1/p' "$prefix/include/kapsul_version.h")
export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --modversion kapsul)" = "$version" ] || fail "kapsul.pc says $(pkg-config --modversion kapsul), the header $version"
soname=$(readelf -d "$libdir/libkapsul.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
case "$version" in
    0.*) want=libkapsul.so.$(echo "$version" | cut -d. -f1-2) ;;
    *) want=libkapsul.so.${version%%.*} ;;
esac
[ "$soname" = "$want" ] || fail "SONAME is '$soname', expected $want"

# Exports: every function the header declares, and nothing else (no kp* internals).
nm -D --defined-only "$libdir/libkapsul.so" | awk '$2 ~ /^[TtDdBbRrVvWwi]$/ {print $3}' | sort >"$T/exported"
sed -n 's/^KAPSUL_API [^(]*[ *]\(kapsul_[a-z0-9_]*\)(.*/\1/p' "$src/include/kapsul.h" | sort >"$T/declared"
if ! diff "$T/declared" "$T/exported" >"$T/symdiff"; then
    cat "$T/symdiff" >&2
    fail "libkapsul.so exports differ from the KAPSUL_API declarations of kapsul.h (< declared only, > exported only)"
fi

# The header stands alone: strict C11, and C++ where a C++ compiler exists.
echo '#include <kapsul.h>' >"$T/alone.c"
cc -std=c11 -Wall -Wextra -pedantic -Werror $(pkg-config --cflags kapsul) -fsyntax-only "$T/alone.c" \
    || fail "kapsul.h does not compile alone as C11"
if command -v c++ >/dev/null; then
    c++ -Wall -Wextra -Werror $(pkg-config --cflags kapsul) -fsyntax-only -x c++ "$T/alone.c" \
        || fail "kapsul.h does not compile as C++"
fi

# The example host, built as an embedder builds it.
mkdir "$T/embed"
cp "$src/examples/embed/host.c" "$src/examples/embed/Makefile" "$T/embed/"
make -s -C "$T/embed" CFLAGS="-O1 -Wall -Wextra -Werror" LDFLAGS="-Wl,-rpath,$libdir" host host-static
# (grep reads whole captured outputs: with pipefail, `ldd | grep -q` fails when grep exits early)
needed=$(ldd "$T/embed/host")
grep -q "libkapsul.so.* => $libdir/" <<<"$needed" || fail "host does not load $libdir/libkapsul.so"
dynamic=$(readelf -d "$T/embed/host-static")
if grep -q NEEDED <<<"$dynamic"; then fail "host-static is not static"; fi

run() {   # run BINARY ARGS...: print the command, stdout, stderr (prefixed) and exit status
    local bin=$1
    shift
    echo "\$ host $*"
    local status=0
    (cd "$src/examples/embed" && "$bin" "$@") >"$T/.out" 2>"$T/.err" || status=$?
    cat "$T/.out"
    sed 's/^/[stderr] /' "$T/.err"
    echo "[exit $status]"
}
transcript() {
    run "$1" demo.wat add 2 40
    run "$1" demo.wat hypot 3 4
    run "$1" demo.wat divmod 7 -2
    run "$1" demo.wat count 3
    run "$1" demo.wat ratio 1 0
    run "$1" --fuel 100000 demo.wat spin
    run "$1" --timeout-ms 50 demo.wat spin
    run "$1" demo.wat nosuch
    run "$1" demo.wat add 1
    run "$1" missing.wat add 1 2
}
transcript "$T/embed/host" >"$T/shared.out"
transcript "$T/embed/host-static" >"$T/static.out"
if [ "${KAPSUL_GOLDEN_UPDATE:-0}" = 1 ]; then
    cp "$T/shared.out" "$src/tests/install/host.golden"
    echo "install test: updated tests/install/host.golden"
fi
diff -u "$src/tests/install/host.golden" "$T/shared.out" || fail "host (shared) output differs from host.golden"

# The installed CLI: kapsul and kapsul-serve side by side in bin/, and `kapsul serve` (which execs
# kapsul-serve from kapsul's own directory) answering a WAGI request, then stopping on SIGTERM.
for f in kapsul kapsul-serve; do
    [ -x "$prefix/bin/$f" ] || fail "bin/$f was not installed"
done
cat >"$T/hello.wat" <<'WAT'
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "Content-Type: text/plain\n\ninstalled\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 36))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
WAT
"$prefix/bin/kapsul" wat2wasm "$T/hello.wat" -o "$T/hello.wasm"
"$prefix/bin/kapsul" serve --listen 127.0.0.1:0 --log-file "$T/serve.log" "$T/hello.wasm" &
serve_pid=$!
trap 'kill -TERM "$serve_pid" 2>/dev/null || true; rm -rf "$T"' EXIT
port=
for _ in $(seq 400); do
    port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/serve.log" 2>/dev/null || true)
    [ -n "$port" ] && break
    kill -0 "$serve_pid" 2>/dev/null || fail "the installed kapsul serve exited"
    sleep 0.05
done
[ -n "$port" ] || { kill -TERM "$serve_pid"; fail "the installed kapsul serve did not start"; }
answer=$(curl -s --max-time 30 "http://127.0.0.1:$port/" || true)
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "the installed kapsul serve did not exit 0 on SIGTERM"
[ "$answer" = installed ] || fail "the installed kapsul serve answered '$answer'"
diff -u "$src/tests/install/host.golden" "$T/static.out" || fail "host-static output differs from host.golden"

# The native tier, where this build has it: kapsul-llvmc installed beside kapsul (kapsul finds it
# in its own directory), `kapsul compile` from the prefix, and the artifact running natively.
native=
if [ -x "$build/kapsul-llvmc" ]; then
    [ -x "$prefix/bin/kapsul-llvmc" ] || fail "bin/kapsul-llvmc was not installed"
    "$prefix/bin/kapsul" compile "$T/hello.wasm" -o "$T/hello.kwasm" || fail "the installed kapsul compile failed"
    out=$("$prefix/bin/kapsul" run "$T/hello.kwasm") || fail "the installed kapsul run hello.kwasm failed"
    [ "$(tail -1 <<<"$out")" = installed ] || fail "the installed kapsul run hello.kwasm printed '$out'"
    native=", kapsul compile and run .kwasm"
fi
echo "install test: $prefix ($version): headers, libkapsul.a, $soname ($(wc -l <"$T/exported") symbols), kapsul.pc, host and host-static, kapsul serve$native OK"
