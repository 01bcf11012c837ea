#!/usr/bin/env python3
"""run-components.py -- component tests against the reference: each case runs a component under
`jco run` on node (tests/component/node_modules, installed by scripts/setup.sh) with the grants of
the case (jco-setup.mjs) and under `kapsul run` with the same grants (--dir, --env), and compares
stdout, stderr and exit status of both with the case's expectation; the recipe (build.sh) is
rebuilt into a scratch directory and its output run the same way, so the pinned component and its
recipe cannot drift apart silently. kapsul must accept each pinned component (`kapsul validate`).
Outputs that differ from run to run (clocks, random bytes) are checked by property, for both
hosts: the monotonic clock advances, the wall clock is within a minute of the runner's, random
bytes have the asked length and differ between runs. Writing a preopened directory is checked on
the host's file afterwards; a read-only grant (kapsul only: jco has no such grant) refuses it.

usage: run-components.py KAPSUL TESTS_COMPONENT_DIR
Ends with "N passed, N failed"."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

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
    ("write-preopen", "cli_io.wasm", ["write", "data/out.txt", "hello"], {},
     "read back 6 bytes: hello+\n", "", 0),
    ("rust-copy", "cli_rust.wasm", ["copy", "data/in.txt", "data/out.txt"], {"A": "1"},
     'args ["copy", "data/in.txt", "data/out.txt"]\nenv [("A", "1")]\ndir ["in.txt", "out.txt"]\n'
     "copied HELLO-FILE\n", "rust stderr\n", 0),
    ("rust-exit", "cli_rust.wasm", ["3"], {}, 'args ["3"]\nenv []\n', "rust stderr\n", 1),
    ("usage-status", "cli_io.wasm", [], {}, "", "usage: cli_io clock | random N | write PATH TEXT | stdin\n", 1),
]


# Lying guests (hostile.wat): kapsul run --invoke NAME -> (stdout, first line of stderr, status).
HOSTILE = [
    ("ok", "hello\n", "", 0),
    ("oob", "", "trap (host): canonical ABI: pointer out of bounds (lifting the arguments)", 134),
    ("misaligned", "hello\n", "trap (host): canonical ABI: misaligned pointer (lowering the results)", 134),
    ("bad-handle", "", "trap (host): canonical ABI: unknown, wrongly typed, unowned or lent resource handle "
     "(lifting the arguments)", 134),
    ("dropped", "", "trap (host): canonical ABI: unknown, wrongly typed, unowned or lent resource handle "
     "(lifting the arguments)", 134),
    ("double-drop", "", "trap (host): canonical ABI: unknown, wrongly typed, unowned or lent resource handle "
     "(resource.drop)", 134),
    ("bad-discriminant", "", "trap (host): canonical ABI: invalid discriminant (lifting the arguments)", 134),
    ("exit-err", "", "", 1),
    ("bad-string", "", "trap (host): canonical ABI: invalid string encoding or length (lifting the results)", 134),
    ("bad-char", "", "trap (host): canonical ABI: invalid char (not a Unicode scalar value) (lifting the results)",
     134),
    ("unreachable", "", "trap (unreachable): unreachable", 134),
]


# Custom exports (api.wat): kapsul run --invoke CALL -> (stdout, stderr, status). jco has no
# --invoke, so these are checked against their expected WAVE text only.
API = [
    ('greet("wörld")', '"Hello, wörld!"\n', "", 0),
    ('greet("a\\u{1F600}\\n")', '"Hello, a\U0001F600\\n!"\n', "", 0),
    ("sum([1, 2, -3, 40])", "40\n", "", 0),
    ("move({y: 2, x: 1}, 10)", "{x: 11, y: 2}\n", "", 0),
    ("classify(-5)", "neg(-5)\n", "", 0),
    ("classify(0)", "zero\n", "", 0),
    ("classify(7)", "pos(7)\n", "", 0),
    ('find(["a", "bc", "d"], "bc")', "some(1)\n", "", 0),
    ('find([], "x")', "none\n", "", 0),
    ("div(7, 2)", "ok(3)\n", "", 0),
    ("div(1, 0)", 'err("division by zero")\n', "", 0),
    ("grant({write, exec})", "{read, write, exec}\n", "", 0),
    ("info(blue)", "(true, 'λ', 1.0, red)\n", "", 0),
    ("resource-cycle()", "82\n", "", 0),
    ("started()", "1\n", "", 0),
    ("nested.wasm scale({x: 1, y: 2}, 3)", "{x: 3, y: 4}\n", "", 0),
    ("nested.wasm square(7)", "49\n", "", 0),
    ("nested.wasm twice(5)", "", "kapsul run: {api}: trap (host): cannot enter a component instance recursively\n"
     "wasm backtrace:\n     0:     0x63 - func[1] scale\n", 134),
    ("borrow.wasm lend-drop()", "7\n", "", 0),
    ("borrow.wasm lend-keep()", "", "kapsul run: {api}: trap (host): canonical ABI: 1 borrowed handle not dropped "
     "before the call returned\nwasm backtrace:\n     0:     0x82 - func[6] lend-keep\n", 134),
    ("borrow.wasm own-rep()", "42\n", "", 0),
    ("rep-after-drop()", "", "kapsul run: {api}: trap (host): canonical ABI: unknown, wrongly typed, unowned or lent "
     "resource handle (resource.rep)\nwasm backtrace:\n     0:     0x95 - func[4] rep-after-drop\n", 134),
    ("greet(42)", "", "kapsul run: {api}: --invoke: WAVE value, line 1 column 7: expected a string (\"...\"), "
     "found '42)'\n", 2),
    ("classify(2147483648)", "", "kapsul run: {api}: --invoke: WAVE value, line 1 column 10: 2147483648 is out of "
     "range for s32\n", 2),
    ("move({x: 1}, 2)", "", "kapsul run: {api}: --invoke: WAVE value, line 1 column 6: field 'y' is missing "
     "(only option fields may be left out)\n", 2),
    ("cli_hello.wasm wasi:cli/run@0.2.0#run()", "argc 1\nKAPSUL_GREETING=(unset)\nwall clock: ok\nrandom: ok\nok\n",
     "to stderr\n", 0),
]


# Components kapsul must refuse at instantiation: (file, stderr after "kapsul run: FILE: ", status).
REFUSED = [
    ("mismatch.wasm", "unlinkable: wasi:random/random: get-random-bytes: the component declares "
     "(string)->list<u8>, the host implements (u64)->list<u8>\n", 1),
    ("version.wasm", "unlinkable: import \"wasi:random/random@0.3.0\": the host has no such interface\n", 1),
]


def run_jco(here, comp, args, env, data, stdin=None):
    jco = os.path.join(here, "node_modules", ".bin", "jco")
    e = dict(os.environ)
    e["JCO_PREOPENS"] = f"{data}::data"
    e["JCO_ENV"] = ";".join(f"{k}={v}" for k, v in env.items())
    p = subprocess.run([jco, "run", "--jco-import", os.path.join(here, "jco-setup.mjs"), comp] + args,
                       env=e, capture_output=True, text=True, timeout=120, cwd=here, input=stdin or "")
    return p.stdout, p.stderr, p.returncode


def run_kapsul(kapsul, comp, args, env, data, stdin=None, ro=False, tier=()):
    cmd = [kapsul, "run", *tier, "--dir", f"{data}::data" + (":ro" if ro else "")]
    for k, v in env.items():
        cmd += ["--env", f"{k}={v}"]
    p = subprocess.run(cmd + [comp] + args, capture_output=True, text=True, timeout=120, input=stdin or "")
    return p.stdout, p.stderr, p.returncode


def properties(label, run):
    """The cases whose output changes between runs; run(args, stdin) -> (out, err, status)."""
    results = []
    out, err, st = run(["clock"], None)
    lines = out.splitlines()
    wall = int(lines[1].split()[1]) if len(lines) == 2 and lines[1].startswith("wall: ") else 0
    results.append(check(f"{label} clocks", (lines[:1], abs(wall - time.time()) < 60, err, st),
                         (["monotonic: ok"], True, "", 0)))
    a, b = run(["random", "16"], None), run(["random", "16"], None)
    results.append(check(f"{label} random", (len(a[0].strip()), len(b[0].strip()), a[0] != b[0], a[2], b[2]),
                         (32, 32, True, 0, 0)))
    results.append(check(f"{label} stdin", run(["stdin"], "line one\nline two\n"),
                         ("stdin: 18 bytes, first line: line one\n", "", 0)))
    return results


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
        out_txt = os.path.join(data, "out.txt")
        # Every case on both tiers: the native tier compiles each core module of a component
        # (kapsul-llvmc, cached in a temporary directory), so only a build without LLVM runs one.
        tiers = [("", ())]
        if os.access(os.path.join(os.path.dirname(kapsul), "kapsul-llvmc"), os.X_OK):
            tiers.append((" --tier native", ("--tier", "native", "--cache", os.path.join(tmp, "cache"))))
        else:
            print("note: no kapsul-llvmc beside kapsul (built without LLVM): the interpreter only")
        for label, tier in tiers:
            for name, comp, args, env, out, err, status in CASES:
                tally(check(f"kapsul run{label} {name}",
                            run_kapsul(kapsul, os.path.join(here, comp), args, env, data, tier=tier),
                            (out, err, status)))
                if name == "write-preopen":
                    tally(check(f"kapsul run{label} write-preopen: the host's file", open(out_txt).read(), "hello+"))
                if os.path.exists(out_txt):
                    os.unlink(out_txt)
            tally(check(f"kapsul run{label} write-preopen read-only",
                        run_kapsul(kapsul, os.path.join(here, "cli_io.wasm"), ["write", "data/out.txt", "x"], {},
                                   data, ro=True, tier=tier),
                        ("open data/out.txt for writing: failed\n", "", 1)))
            tally(check(f"kapsul run{label} write-preopen read-only: no file", os.path.exists(out_txt), False))
            trace = os.path.join(tmp, "trace.txt")
            p = subprocess.run([kapsul, "run", *tier, f"--trace-wasi={trace}", os.path.join(here, "exit_code.wasm"), "5"],
                               capture_output=True, text=True, timeout=60)
            lines = open(trace).read().splitlines() if os.path.exists(trace) else []
            tally(check(f"kapsul run{label} --trace-wasi exit_code.wasm 5",
                        (p.stdout, p.returncode, lines[-2:]),
                        ("exit_code\n", 1, ["wasi:io/streams#[method]output-stream.blocking-write-and-flush(<resource>, "
                                            "[101, 120, 105, 116, 95, 99, 111, 100, 101, 10]) = ok",
                                            "wasi:cli/exit#exit(err) = error: exit(1)"])))
            hostile = os.path.join(here, "hostile.wasm")
            for func, out, err, status in HOSTILE:
                p = subprocess.run([kapsul, "run", *tier, "--invoke", func, hostile], capture_output=True, text=True, timeout=60)
                first = p.stderr.split("\n")[0]
                prefix = f"kapsul run: {hostile}: "
                tally(check(f"kapsul run{label} --invoke {func} (hostile)",
                            (p.stdout, first[len(prefix):] if first.startswith(prefix) else first, p.returncode),
                            (out, err, status)))
            for comp, err, status in REFUSED:
                path = os.path.join(here, comp)
                p = subprocess.run([kapsul, "run", *tier, path], capture_output=True, text=True, timeout=60)
                tally(check(f"kapsul run{label} {comp} (refused)", (p.stdout, p.stderr, p.returncode),
                            ("", f"kapsul run: {path}: {err}", status)))
            api = os.path.join(here, "api.wasm")
            for call, out, err, status in API:
                comp = api
                if call.split(" ")[0].endswith(".wasm"):  # another component than api.wasm
                    comp, call = os.path.join(here, call.split(" ")[0]), call.split(" ", 1)[1]
                p = subprocess.run([kapsul, "run", *tier, "--invoke", call, comp], capture_output=True, text=True, timeout=60)
                tally(check(f"kapsul run{label} --invoke '{call}' {os.path.basename(comp)}", (p.stdout, p.stderr, p.returncode),
                            (out, err.replace("{api}", comp), status)))
            io = os.path.join(here, "cli_io.wasm")
            for ok in properties(f"kapsul run{label}",
                                 lambda args, stdin: run_kapsul(kapsul, io, args, {}, data, stdin, tier=tier)):
                tally(ok)
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
                if os.path.exists(out_txt):
                    os.unlink(out_txt)
                built = os.path.join(rebuilt, comp)
                if os.path.exists(built):
                    tally(check(f"jco run {name} (rebuilt)", run_jco(here, built, args, env, data),
                                (out, err, status)))
                if os.path.exists(out_txt):
                    os.unlink(out_txt)
            for ok in properties("jco run", lambda args, stdin: run_jco(here, io, args, {}, data, stdin)):
                tally(ok)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
