#!/usr/bin/env bash
# containers.sh -- wasm against the container baseline on this machine: the same hello as a static
# native binary in a runc container, as a wasm module through kapsul-runc (both `ctr run --rm` under
# a private containerd), and as `kapsul run` per process. Cold start p50/p99, memory, image size.
#
#   bench/containers.sh [RUNS]      (default 30; needs root, containerd, runc, docker-registry, skopeo)
#
# The work is bench/containers.py (it reuses tests/oci/test_containerd.py's setup and cleanup:
# containerd and the registry in a temporary directory, stopped by PID). Prints a markdown section
# for bench/RESULTS.md. Not a test: nothing fails because of a number.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build --target kapsul kapsul-runc -j2 >/dev/null
exec python3 bench/containers.py "${1:-30}"
