#!/bin/sh
# Components: the in-process cost of preparing once and instantiating per request
# (bench/component.c, against build/libkapsul.a and kapsul's internal component API), and the
# whole-process time of `kapsul run` against `jco run` (node) on the pinned test components.
# Usage: bench/component.sh [N]  (default 1000). Needs build/ and tests/component/node_modules.
# Timing only: nothing here is a test.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out="$here/out"
mkdir -p "$out"
cc -O2 -Wall -Wextra -I"$root/include" -I"$root/build/include" -I"$root/src" -o "$out/component" \
    "$here/component.c" "$root/build/libkapsul.a" -ldw -lelf -liberty -lpthread -lm
for c in exit_code cli_hello; do "$out/component" "$root/tests/component/$c.wasm" "${1:-1000}"; done
python3 - "$root" <<'PY'
import statistics, subprocess, sys, time
root = sys.argv[1]
def median(cmd, n):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, cwd=f"{root}/tests/component")
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)
k = median([f"{root}/build/kapsul", "run", "exit_code.wasm"], 30)
j = median([f"{root}/tests/component/node_modules/.bin/jco", "run", "exit_code.wasm"], 3)
print(f"whole process, exit_code.wasm: kapsul run {k * 1e3:.1f} ms, jco run {j * 1e3:.0f} ms ({j / k:.0f}x)")
PY
