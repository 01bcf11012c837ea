#!/usr/bin/env bash
# build.sh -- install what is missing, configure and build kapsul into build/ (CLI: build/kapsul).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
