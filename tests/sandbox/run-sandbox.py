#!/usr/bin/env python3
"""run-sandbox.py -- the sandbox suite: hostile WASI guests that must all be refused.

usage: run-sandbox.py KAPSUL SANDBOX_SRC_DIR [both|openat2]

Every NAME.c beside this script is compiled with `clang --target=wasm32-wasi -O2` (override with
$CLANG) into a temporary directory -- no binaries are checked in. Each program then runs twice,
once with the kernel's openat2 RESOLVE_BENEATH resolution and once with the portable
component-by-component walk (KAPSUL_WASI_NO_OPENAT2=1, a seam of -DKAPSUL_TESTING=ON builds; "openat2"
runs only the first, for builds without it), in a fresh tree:

    T/outside/sentinel.txt, T/outside/secret/     must never change
    T/box/   preopened read-write as "box": file.txt, sub/, and host-made symlinks that point out
    T/ro/    preopened read-only as "ro": data.txt, subdir/, out_link -> ../outside/sentinel.txt

A run passes when the program exits 0 (it refused everything it tried, see hostile.h), kapsul did
not crash, and T/outside and T/ro are exactly as before (names, types, contents, link targets,
modification times). Ends with "N passed, N failed"; exits 1 on any failure.
"""
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

TIMEOUT_S = 60


def build_tree(t):
    out = os.path.join(t, "outside")
    box = os.path.join(t, "box")
    ro = os.path.join(t, "ro")
    os.makedirs(os.path.join(out, "secret"))
    os.makedirs(os.path.join(box, "sub"))
    os.makedirs(os.path.join(ro, "subdir"))
    with open(os.path.join(out, "sentinel.txt"), "w") as f:
        f.write("SENTINEL: must stay untouched\n")
    with open(os.path.join(out, "secret", "key"), "w") as f:
        f.write("secret\n")
    with open(os.path.join(box, "file.txt"), "w") as f:
        f.write("hello box\n")
    with open(os.path.join(ro, "data.txt"), "w") as f:
        f.write("read only\n")
    links = {
        "abs_link": os.path.join(out, "sentinel.txt"),
        "rel_link": "../outside/sentinel.txt",
        "chain1": "chain2",
        "chain2": "chain3",
        "chain3": "../outside/sentinel.txt",
        "loop1": "loop2",
        "loop2": "loop1",
        "dangling": "../outside/created_by_guest",
        "middir": "../outside",
        "absdir": out,
        "sub/up": "../..",
    }
    for name, target in links.items():
        os.symlink(target, os.path.join(box, name))
    os.symlink("../outside/sentinel.txt", os.path.join(ro, "out_link"))
    return box, ro


def snapshot(root):
    """Everything observable about a tree: names, types, contents, link targets, mtimes."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                snap[rel] = ("link", os.readlink(p), st.st_mtime_ns)
            elif os.path.isdir(p):
                snap[rel] = ("dir", st.st_mtime_ns)
            else:
                with open(p, "rb") as f:
                    snap[rel] = ("file", f.read(), st.st_mtime_ns, st.st_mode)
    return snap


# Extra `kapsul run` flags for every program, e.g. "--tier native --cache DIR" (wasi.cmake).
RUN_FLAGS = shlex.split(os.environ.get("KAPSUL_RUN_FLAGS", ""))


def run_one(kapsul, wasm, walk):
    with tempfile.TemporaryDirectory(prefix="kapsul-sandbox-") as t:
        box, ro = build_tree(t)
        before = (snapshot(os.path.join(t, "outside")), snapshot(ro), sorted(os.listdir(t)))
        env = dict(os.environ)      # keeps sanitizer options; the guest sees none of it
        env.pop("KAPSUL_WASI_NO_OPENAT2", None)
        if walk:
            env["KAPSUL_WASI_NO_OPENAT2"] = "1"
        cmd = [kapsul, "run"] + RUN_FLAGS + ["--dir", box + "::box", "--dir", ro + "::ro:ro", wasm]
        try:
            p = subprocess.run(cmd, cwd=box, env=env, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return False, "timed out"
        after = (snapshot(os.path.join(t, "outside")), snapshot(ro), sorted(os.listdir(t)))
        out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
        if before != after:
            return False, "files outside the sandbox or in the read-only tree changed\n" + out
        if p.returncode != 0:
            return False, "exit status %d\n%s" % (p.returncode, out)
        return True, out


def main():
    if len(sys.argv) not in (3, 4) or (len(sys.argv) == 4 and sys.argv[3] not in ("both", "openat2")):
        print(__doc__, file=sys.stderr)
        return 2
    modes = (False,) if len(sys.argv) == 4 and sys.argv[3] == "openat2" else (False, True)
    kapsul, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    clang = os.environ.get("CLANG", "clang")
    sources = sorted(f for f in os.listdir(src) if f.endswith(".c"))
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="kapsul-sandbox-build-") as bdir:
        for c in sources:
            name = c[:-2]
            wasm = os.path.join(bdir, name + ".wasm")
            r = subprocess.run([clang, "--target=wasm32-wasi", "-O2", "-Wall", "-Wno-unused-result",
                                "-I", src, "-o", wasm, os.path.join(src, c)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print("FAIL %s: does not compile:\n%s" % (name, r.stderr))
                failed += len(modes)
                continue
            for walk in modes:
                tid = name + (" (walk)" if walk else " (openat2)")
                ok, out = run_one(kapsul, wasm, walk)
                if ok:
                    passed += 1
                    print("PASS %s" % tid)
                else:
                    failed += 1
                    print("FAIL %s: %s" % (tid, out.strip()[-2000:]))
                sys.stdout.flush()
    print("%d hostile programs, each run with %s" % (len(sources), "openat2 and with the portable walk"
                                                     if len(modes) == 2 else "openat2"))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
