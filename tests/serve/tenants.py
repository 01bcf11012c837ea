#!/usr/bin/env python3
"""tenants.py -- generate a Spin application of N distinct WAGI handler modules, one route each.

Usage: tenants.py KAPSUL N DIR [--jobs J]

Writes DIR/spin.toml with N [[trigger.http]] routes "/t/<i>" and N components "t<i>", and
DIR/wasm/t<i>.wasm, each compiled by `KAPSUL wat2wasm` from its own WAT: a WASI command whose
stdout is "Content-Type: text/plain", a blank line and "tenant <i>" (its data segment and a
constant in its code differ, so no two modules are byte-identical). Used by the serve.tenants
test and bench/density.sh; expected(i) is the body a route must answer.
"""
import concurrent.futures
import os
import subprocess
import sys

WAT = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "Content-Type: text/plain\\n\\n{body}\\n")
  (func $id (result i32) (i32.const {i}))
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const {length}))
    (drop (call $id))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
"""


def expected(i):
    return "tenant %d\n" % i


def wat(i):
    body = expected(i)[:-1]
    length = len("Content-Type: text/plain\n\n") + len(body) + 1
    return WAT.format(body=body, i=i, length=length)


def compile_range(kapsul, wasm_dir, lo, hi):
    """wat2wasm for tenants lo..hi-1, one process each."""
    for i in range(lo, hi):
        src = os.path.join(wasm_dir, "t%d.wat" % i)
        with open(src, "w") as f:
            f.write(wat(i))
        subprocess.run([kapsul, "wat2wasm", src, "-o", os.path.join(wasm_dir, "t%d.wasm" % i)],
                       check=True, timeout=60)
        os.unlink(src)


def generate(kapsul, n, out_dir, jobs=2):
    wasm_dir = os.path.join(out_dir, "wasm")
    os.makedirs(wasm_dir, exist_ok=True)
    step = (n + jobs - 1) // jobs
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        for f in [ex.submit(compile_range, kapsul, wasm_dir, lo, min(n, lo + step))
                  for lo in range(0, n, step)]:
            f.result()
    with open(os.path.join(out_dir, "spin.toml"), "w") as f:
        f.write('spin_manifest_version = 2\n\n[application]\nname = "tenants"\nversion = "1.0.0"\n\n')
        for i in range(n):
            f.write('[[trigger.http]]\nroute = "/t/%d"\ncomponent = "t%d"\nexecutor = { type = "wagi" }\n\n'
                    % (i, i))
        for i in range(n):
            f.write('[component.t%d]\nsource = "wasm/t%d.wasm"\n\n' % (i, i))


if __name__ == "__main__":
    jobs = 2
    args = sys.argv[1:]
    if "--jobs" in args:
        k = args.index("--jobs")
        jobs = int(args[k + 1])
        del args[k:k + 2]
    if len(args) != 3:
        sys.exit(__doc__)
    generate(os.path.abspath(args[0]), int(args[1]), args[2], jobs)
