#!/usr/bin/env bash
# setup.sh -- install the Debian packages kapsul's build and tests need, only those missing.
# Called by scripts/build.sh and scripts/test.sh; safe to run again (does nothing when complete).
set -euo pipefail

# Build: a C11 compiler, CMake and pkgconf (the install test builds the example host with it).
# Test guests: clang for wasm32-wasi (with lld, wasi-libc and the wasm32 compiler runtime) and
# Debian's rustc with the wasm32-wasi standard library; python3 for the
# WASI suite runners; libclang-rt-14-dev for libFuzzer and the sanitizers; binaryen (wasm-opt -ttf)
# and node (V8) for the differential test. The HTTP front (serve): libh2o-evloop-dev (HTTP/1, HTTP/2)
# with libssl-dev (TLS), found through pkgconf; its tests use curl and openssl (a self-signed
# certificate), bench/http.sh uses wrk and nginx (the baseline). kapsul serve's OTLP exporter
# posts spans with libcurl (libcurl4-openssl-dev). llvm-14-dev for the native tier's compiler
# (kapsul-llvmc). The OCI client (kapsul-oci): libcurl, libjansson-dev (JSON), libarchive-dev
# (tar+gzip layers); its tests start Debian's docker-registry and check images with skopeo.
# kapsul-runc's test (tests/oci/test_containerd.py) also starts Debian's containerd with runc (the
# delegate for every container that is not wasm); bench/oci.sh times with GNU time. libdw-dev
# (DWARF line tables) and libiberty-dev (demangling) for backtraces; linux-perf for the perf map
# test (tests/debug: perf record/report over native code). npm (shipped with nodejs, or
# Debian's npm) installs the component tools below.
packages=(build-essential cmake pkgconf python3 clang lld wasi-libc libclang-rt-14-dev-wasm32 libclang-rt-14-dev
          rustc libstd-rust-dev-wasm32 binaryen nodejs
          libh2o-evloop-dev libssl-dev libcurl4-openssl-dev curl openssl wrk nginx llvm-14-dev
          libjansson-dev libarchive-dev docker-registry skopeo containerd runc time
          libdw-dev libiberty-dev linux-perf)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: need root to install packages (run as root or install: ${missing[*]})" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Component tests (tests/component): jco and its preview2-shim from npm, the versions pinned by
# tests/component/package-lock.json, installed into tests/component/node_modules (ignored by git)
# when missing or when the lock file changed since (npm ci keeps a copy of it in node_modules).
# jco adapts clang-built WASI programs into components and runs them under node as
# the reference. A failed install is reported, not fatal: only the component tests need it, and
# they fail with "jco missing" then.
comp=$(cd "$(dirname "$0")/../tests/component" && pwd)
if [ ! -x "$comp/node_modules/.bin/jco" ] || ! cmp -s "$comp/package-lock.json" "$comp/node_modules/.kapsul-lock.json"; then
    command -v npm >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null || true; }
    echo "setup: npm ci in tests/component (jco)" >&2
    (cd "$comp" && npm ci --no-audit --no-fund --loglevel=error >/dev/null &&
        cp package-lock.json node_modules/.kapsul-lock.json) ||
        echo "setup: npm ci in tests/component failed; the component tests will fail" >&2
fi
