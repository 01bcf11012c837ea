#!/usr/bin/env python3
"""run-guests.py -- real toolchains' output under `kapsul run`.

usage: run-guests.py KAPSUL GUESTS_DIR

Builds c_guest.c with `clang --target=wasm32-wasi -O2` ($CLANG) and rust_guest.rs with
`/usr/bin/rustc --target wasm32-wasi -O` ($RUSTC), runs each with one preopened directory
("data"), one granted variable and two arguments, and compares the whole stdout and the exit
status (7) with what the program must print. Also checks that the guest left the files it was
told to clean up clean and created nothing outside "data". Ends with "N passed, N failed".
"""
import os
import subprocess
import sys
import tempfile

EXPECTED = """argc: 3
arg 1: one
arg 2: two words
GREETING: hello wasi
HOME: (unset)
file: 18 bytes: line one
line two
dir entry: moved.txt
read-only: kept as is
clocks and random: ok
failures: 0
"""


def build(kind, src, out):
    if kind == "c":
        cmd = [os.environ.get("CLANG", "clang"), "--target=wasm32-wasi", "-O2", "-o", out, src]
    else:
        cmd = [os.environ.get("RUSTC", "/usr/bin/rustc"), "--target", "wasm32-wasi", "-O",
               "-C", "debuginfo=0", "-C", "strip=debuginfo", "-o", out, src]
    return subprocess.run(cmd, capture_output=True, text=True)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    kapsul, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="kapsul-guests-") as t:
        for kind, name in (("c", "c_guest.c"), ("rust", "rust_guest.rs")):
            wasm = os.path.join(t, kind + ".wasm")
            r = build(kind, os.path.join(src, name), wasm)
            if r.returncode != 0:
                print("FAIL %s: does not build:\n%s" % (name, r.stderr[-3000:]))
                failed += 1
                continue
            run_dir = os.path.join(t, "run-" + kind)
            data = os.path.join(run_dir, "data")
            os.makedirs(data)
            rodata = os.path.join(run_dir, "rodata")
            os.makedirs(rodata)
            with open(os.path.join(rodata, "notes.txt"), "w") as f:
                f.write("kept as is\n")
            env = dict(os.environ, HOME="/root")   # a variable the guest must not see
            p = subprocess.run([kapsul, "run", "--dir", data + "::data", "--dir", rodata + "::rodata:ro", "--env", "GREETING=hello wasi",
                                "--", wasm, "one", "two words"], cwd=run_dir, env=env,
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
            out = p.stdout.decode("utf-8", "replace")
            problems = []
            if p.returncode != 7:
                problems.append("exit status %d, want 7" % p.returncode)
            if out != EXPECTED:
                problems.append("stdout differs:\n%s" % out)
            if os.listdir(data):
                problems.append("data/ not cleaned: %s" % os.listdir(data))
            with open(os.path.join(rodata, "notes.txt")) as f:
                if f.read() != "kept as is\n" or os.listdir(rodata) != ["notes.txt"]:
                    problems.append("read-only directory changed")
            if sorted(os.listdir(run_dir)) != ["data", "rodata"] or os.path.exists(os.path.join(t, "escape")):
                problems.append("files created outside data/")
            if problems:
                failed += 1
                print("FAIL %s: %s\nstderr: %s" % (name, "; ".join(problems),
                                                   p.stderr.decode("utf-8", "replace")[-2000:]))
            else:
                passed += 1
                print("PASS %s" % name)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
