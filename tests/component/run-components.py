#!/usr/bin/env python3
"""run-components.py -- component tests against the reference: each case runs a component under
`jco run` on node (tests/component/node_modules, installed by scripts/setup.sh) with the grants of
the case (jco-setup.mjs), and compares stdout, stderr and exit status with the case's expectation;
the recipe (build.sh) is rebuilt into a scratch directory and its output run the same way, so the
pinned component and its recipe cannot drift apart silently. kapsul itself must accept each pinned
component (`kapsul validate`).

usage: run-components.py KAPSUL TESTS_COMPONENT_DIR
Ends with "N passed, N failed"."""
import os
import shutil
import subprocess
import sys
import tempfile

# (name, component, args, env, expected stdout, expected stderr, expected exit status).
# The guest's exit(7) becomes wasi:cli/exit's `err`, which hosts report as status 1.
CASES = [
    ("plain", "cli_hello.wasm", [], {},
     "argc 1\nKAPSUL_GREETING=(unset)\nwall clock: ok\nrandom: ok\n", "to stderr\n", 0),
    ("args-env-file-exit", "cli_hello.wasm", ["data/in.txt", "7"], {"KAPSUL_GREETING": "hi"},
     "argc 3\narg 1: data/in.txt\narg 2: 7\nKAPSUL_GREETING=hi\nwall clock: ok\nrandom: ok\n"
     "file: 11 bytes: hello-file\n", "to stderr\n", 1),
    ("file-outside-preopen", "cli_hello.wasm", ["/etc/hostname"], {},
     "argc 2\narg 1: /etc/hostname\nKAPSUL_GREETING=(unset)\nwall clock: ok\nrandom: ok\n"
     "open /etc/hostname: failed\n", "to stderr\n", 0),
    ("exit-zero", "exit_code.wasm", [], {}, "exit_code\n", "", 0),
    ("exit-nonzero", "exit_code.wasm", ["5"], {}, "exit_code\n", "", 1),
]


def run_jco(here, comp, args, env, data):
    jco = os.path.join(here, "node_modules", ".bin", "jco")
    e = dict(os.environ)
    e["JCO_PREOPENS"] = f"{data}::data"
    e["JCO_ENV"] = ";".join(f"{k}={v}" for k, v in env.items())
    p = subprocess.run([jco, "run", "--jco-import", os.path.join(here, "jco-setup.mjs"), comp] + args,
                       env=e, capture_output=True, text=True, timeout=120, cwd=here)
    return p.stdout, p.stderr, p.returncode


def check(label, got, want):
    if got == want:
        print(f"ok   {label}")
        return True
    print(f"FAIL {label}\n  expected: {want!r}\n  got:      {got!r}")
    return False


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        sys.exit(2)
    kapsul, here = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    passed = failed = 0

    def tally(ok):
        nonlocal passed, failed
        passed, failed = passed + ok, failed + (not ok)

    jco = os.path.join(here, "node_modules", ".bin", "jco")
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        os.mkdir(data)
        with open(os.path.join(data, "in.txt"), "w") as f:
            f.write("hello-file\n")
        for comp in sorted({c[1] for c in CASES}):
            p = subprocess.run([kapsul, "validate", os.path.join(here, comp)], capture_output=True, text=True)
            tally(check(f"kapsul validate {comp}", (p.returncode, p.stderr), (0, "")))
        if not os.access(jco, os.X_OK):
            print(f"FAIL jco missing at {jco}: run scripts/setup.sh (npm ci in tests/component)")
            tally(False)
        else:
            rebuilt = os.path.join(tmp, "rebuilt")
            p = subprocess.run([os.path.join(here, "build.sh"), rebuilt], capture_output=True, text=True)
            tally(check("build.sh rebuilds the recipe", (p.returncode, p.stderr), (0, "")))
            for name, comp, args, env, out, err, status in CASES:
                tally(check(f"jco run {name} (pinned)", run_jco(here, os.path.join(here, comp), args, env, data),
                            (out, err, status)))
                built = os.path.join(rebuilt, comp)
                if os.path.exists(built):
                    tally(check(f"jco run {name} (rebuilt)", run_jco(here, built, args, env, data),
                                (out, err, status)))
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
