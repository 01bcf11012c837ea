#!/usr/bin/env bash
# build.sh -- the recipe of the Spin JS SDK handler (handler.js) as Spin's http-js template builds
# it: `j2w -i handler.js -o OUT` from @spinframework/build-tools, targeting the worlds of the
# dependencies in package.json (@spinframework/wasi-http-proxy: wasi:http/incoming-handler@0.2.3).
# j2w writes beside its input (precompiled-source.js, build data) and reads the dependencies from
# the current directory, so the build runs in a scratch directory whose node_modules is
# tests/component's (scripts/setup.sh: npm ci there). The output is about 12 MB: built at test time,
# never checked in.
#
# usage: tests/component/spin-js/build.sh OUT.wasm
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUT.wasm}
case $out in /*) ;; *) out=$PWD/$out ;; esac
modules=$(dirname "$here")/node_modules
if [ ! -x "$modules/.bin/j2w" ]; then
    echo "build.sh: $modules/.bin/j2w missing: run scripts/setup.sh (npm ci in tests/component)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$here/handler.js" "$here/package.json" "$tmp/"
# (a relative link: WASI path resolution, which the WIT merger runs under, refuses absolute ones)
ln -s "$(realpath --relative-to="$tmp" "$modules")" "$tmp/node_modules"
rm -f "$out"
# j2w reports a failure on stderr but exits 0: the output file is the verdict. Its WIT merger
# reads files through preview2-shim, which needs the root preopened (../jco-setup.mjs does it).
(cd "$tmp" && JCO_PREOPENS=/::/ node --import "$here/../jco-setup.mjs" \
    node_modules/@spinframework/build-tools/dist/index.js -i handler.js -o "$out" >"$tmp/log" 2>&1) || true
if [ ! -s "$out" ]; then
    cat "$tmp/log" >&2
    echo "build.sh: j2w wrote no $out" >&2
    exit 1
fi
echo "built $out"
