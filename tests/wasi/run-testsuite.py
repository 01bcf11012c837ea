#!/usr/bin/env python3
"""run-testsuite.py -- run ../shared/wasi-testsuite through `kapsul run`, one process per test.

Each NAME.wasm runs as `kapsul run [--dir ...] [--env ...] NAME.wasm ARGS...` set up by its
NAME.json (args, env, dirs, exit_code, stdout, stderr; a missing file means all defaults), inside
a fresh temporary directory holding a writable copy of every fixture directory it names (with any
*.cleanup file removed first). The test passes when the exit status and every given output match
exactly.

usage: run-testsuite.py KAPSUL SUITE_DIR [KNOWN_FAILURES]

Prints PASS/FAIL per test, a count per language, and ends with "N passed, N failed". Exits 0 when
every failure is listed in KNOWN_FAILURES ("lang/name" per line, # comments) and no listed test
passes (so the list only shrinks); 1 otherwise.
"""
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile

TIMEOUT_S = 30


def load_known(path):
    known = set()
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    known.add(line)
    return known


def make_writable(root):
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, os.stat(dirpath).st_mode | stat.S_IWUSR | stat.S_IRUSR | stat.S_IXUSR)
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR | stat.S_IRUSR)


# Extra `kapsul run` flags for every program, e.g. "--tier native --cache DIR" (wasi.cmake).
RUN_FLAGS = shlex.split(os.environ.get("KAPSUL_RUN_FLAGS", ""))


def run_one(kapsul, lang_dir, name):
    """Returns (ok, reason)."""
    spec = {}
    jpath = os.path.join(lang_dir, name + ".json")
    if os.path.exists(jpath):
        with open(jpath) as f:
            spec = json.load(f)
    with tempfile.TemporaryDirectory(prefix="kapsul-wasi-") as tmp:
        cmd = [kapsul, "run"] + RUN_FLAGS
        for d in spec.get("dirs", []):
            dst = os.path.join(tmp, d)
            shutil.copytree(os.path.join(lang_dir, d), dst, symlinks=True)
            make_writable(dst)
            for dirpath, _, filenames in os.walk(dst):
                for fn in filenames:
                    if fn.endswith(".cleanup"):
                        os.remove(os.path.join(dirpath, fn))
            cmd += ["--dir", dst + "::" + d]
        for k, v in spec.get("env", {}).items():
            cmd += ["--env", k + "=" + v]
        cmd += ["--", os.path.join(lang_dir, name + ".wasm")] + list(spec.get("args", []))
        try:
            p = subprocess.run(cmd, cwd=tmp, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return False, "timed out after %ds" % TIMEOUT_S
    want = spec.get("exit_code", 0)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode != want:
        return False, "exit %d, want %d; stderr: %s" % (p.returncode, want, err.strip()[:600])
    if "stdout" in spec and out != spec["stdout"]:
        return False, "stdout %r, want %r" % (out[:300], spec["stdout"])
    if "stderr" in spec and err != spec["stderr"]:
        return False, "stderr %r, want %r" % (err[:300], spec["stderr"])
    return True, ""


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    kapsul, suite = os.path.abspath(sys.argv[1]), sys.argv[2]
    known = load_known(sys.argv[3] if len(sys.argv) > 3 else None)
    if not os.path.isdir(suite):
        print("wasi-testsuite not found at %s" % suite, file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    passed = failed = 0
    unexpected = []
    per_lang = []
    for lang in sorted(os.listdir(suite)):
        lang_dir = os.path.join(suite, lang)
        if not os.path.isdir(lang_dir):
            continue
        names = sorted(f[:-5] for f in os.listdir(lang_dir) if f.endswith(".wasm"))
        lp = lf = 0
        for name in names:
            tid = lang + "/" + name
            ok, why = run_one(kapsul, lang_dir, name)
            if ok:
                lp += 1
                print("PASS %s" % tid)
                if tid in known:
                    unexpected.append(tid + " passes but is listed as a known failure")
            else:
                lf += 1
                print("FAIL %s: %s" % (tid, why))
                if tid not in known:
                    unexpected.append(tid + " fails")
            sys.stdout.flush()
        per_lang.append((lang, lp, lf))
        passed += lp
        failed += lf
    for lang, lp, lf in per_lang:
        print("%-16s %d/%d" % (lang, lp, lp + lf))
    for u in unexpected:
        print("UNEXPECTED: " + u)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
