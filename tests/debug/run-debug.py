#!/usr/bin/env python3
"""run-debug.py -- backtraces of real toolchains' output: offsets, names, DWARF lines, inlining.

usage: run-debug.py KAPSUL DEBUG_DIR
       run-debug.py KAPSUL DEBUG_DIR --native CACHE_DIR

Builds c_trap.c with `clang --target=wasm32-wasi -g -O0` ($CLANG) and rust_trap.rs with
`/usr/bin/rustc --target wasm32-wasi -g` ($RUSTC), once with legacy and once with v0 symbol
mangling, runs them with `kapsul run` and checks the printed backtrace: the trap kind, each
frame's function name (demangled), file:line from .debug_line, an inlined call and its call
site, "... N frames omitted" on a deep stack with the outermost frames kept, and that every
printed offset points at the instruction it names in the module bytes (0x00 unreachable for the
trapping frame, 0x10 call or 0x11 call_indirect for the callers). Also `--trace-wasi` on
trace.wat: the exact lines for a write, a bad fd (EBADF) and a missing file (ENOENT), on stderr
and into a file. `--profile` on hot.wat: the speedscope JSON parses in the schema's shape and
attributes most samples to the hot function, and so do the folded stacks; on c_hot.c (clang -g)
the frames carry each function's file and first line. The CLI habits
(--max-call-depth, --argv0, `kapsul FILE`). Ends with "N passed, N failed".

With --native (the native tier, compiled into CACHE_DIR): the same --profile checks on hot.wat,
and --perf-map on perf.wat: /tmp/perf-PID.map names every function with a range inside the
process's executable mappings, and, where perf may record, `perf report` puts the hot function
first under its wasm name.
"""
import os
import re
import subprocess
import sys
import tempfile

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + ("\n" + detail if detail else ""))


FRAME = re.compile(r"^\s+(\d+):\s+(\S+) - func\[(\d+)\](?: (.*))?$")
POS = re.compile(r"^\s+at (?:(.*) \(inlined\) )?(\S+?)(?::(\d+))?(?::(\d+))?$")


def parse(stderr):
    """Frames as dicts: depth, offset, index, name, positions [(inlined name or None, file, line)]."""
    frames, omitted = [], None
    for line in stderr.splitlines():
        m = FRAME.match(line)
        if m:
            off = int(m.group(2), 16) if m.group(2) != "?" else None
            frames.append({"depth": int(m.group(1)), "offset": off, "index": int(m.group(3)),
                           "name": m.group(4) or "", "pos": []})
            continue
        m = POS.match(line)
        if m and frames:
            frames[-1]["pos"].append((m.group(1), m.group(2), int(m.group(3) or 0)))
            continue
        m = re.match(r"^\s+\.\.\. (\d+) frames omitted$", line)
        if m:
            omitted = int(m.group(1))
    return frames, omitted


def run(kapsul, wasm, *args):
    return subprocess.run([kapsul, "run", wasm] + list(args), capture_output=True, text=True,
                          timeout=120)


def at_line(frame, file_suffix, line):
    """The frame's own (last) position is file_suffix:line."""
    return bool(frame["pos"]) and frame["pos"][-1][1].endswith(file_suffix) and \
        frame["pos"][-1][2] == line


def offsets_point_at_instructions(wasm, frames):
    data = open(wasm, "rb").read()
    bad = []
    for i, f in enumerate(frames):
        if f["offset"] is None:
            continue
        want = (0x00,) if i == 0 else (0x10, 0x11)
        if f["offset"] >= len(data) or data[f["offset"]] not in want:
            bad.append((f["depth"], hex(f["offset"])))
    return bad


def c_tests(kapsul, src, tmp):
    wasm = os.path.join(tmp, "c_trap.wasm")
    b = subprocess.run([os.environ.get("CLANG", "clang"), "--target=wasm32-wasi", "-g", "-O0",
                        "-o", wasm, src], capture_output=True, text=True)
    check("c: clang -g builds", b.returncode == 0, b.stderr)
    if b.returncode != 0:
        return
    r = run(kapsul, wasm, "deep")
    fr, _ = parse(r.stderr)
    check("c deep: exit status 134 and the trap named", r.returncode == 134 and
          "trap (unreachable)" in r.stderr, r.stderr)
    check("c deep: descend x4 then main", len(fr) >= 5 and
          [f["name"] for f in fr[:5]] == ["descend"] * 4 + ["main"], r.stderr)
    if len(fr) >= 5:
        check("c deep: the trap at c_trap.c:12", at_line(fr[0], "c_trap.c", 12), r.stderr)
        check("c deep: the recursive call at c_trap.c:13", at_line(fr[1], "c_trap.c", 13), r.stderr)
        check("c deep: main's call at c_trap.c:18", at_line(fr[4], "c_trap.c", 18), r.stderr)
        check("c deep: same offset for the same call site", fr[1]["offset"] == fr[2]["offset"])
    bad = offsets_point_at_instructions(wasm, fr)
    check("c deep: every offset is the trapping or calling instruction", not bad and fr, str(bad))

    r = subprocess.run([kapsul, "run", "--argv0", "my-prog", wasm, "argv0"], capture_output=True,
                       text=True, timeout=60)
    check("cli: --argv0 sets the guest's argv[0]", r.stdout == "my-prog\n", r.stdout + r.stderr)
    r = subprocess.run([kapsul, wasm, "argv0"], capture_output=True, text=True, timeout=60)
    check("cli: kapsul FILE.wasm runs it, argv[0] is FILE", r.stdout == wasm + "\n", r.stdout + r.stderr)

    r = run(kapsul, wasm, "inline")
    fr, _ = parse(r.stderr)
    ok = bool(fr) and fr[0]["name"] == "main" and len(fr[0]["pos"]) == 2 and \
        fr[0]["pos"][0][0] == "check_positive" and fr[0]["pos"][0][2] == 7 and \
        fr[0]["pos"][1][2] == 19
    check("c inline: check_positive (inlined) at :7, called from main at :19", ok, r.stderr)

    r = run(kapsul, wasm, "oob")
    fr, _ = parse(r.stderr)
    check("c oob: a guard-page fault still names its line (main at c_trap.c:21)",
          "trap (memory_oob)" in r.stderr and bool(fr) and fr[0]["name"] == "main" and
          at_line(fr[0], "c_trap.c", 21), r.stderr)

    r = run(kapsul, wasm, "recurse")
    fr, omitted = parse(r.stderr)
    # The C stack lives in linear memory and runs out before the wasm call stack does.
    check("c recurse: the shadow stack overflows", "trap (memory_oob)" in r.stderr, r.stderr[:400])
    check("c recurse: 32 frames printed and the rest counted", len(fr) == 32 and omitted and
          fr[-1]["depth"] == omitted + 31, "frames %d omitted %s" % (len(fr), omitted))
    names = [f["name"] for f in fr]
    check("c recurse: top frames descend, bottom frames reach main and _start",
          names[:24] == ["descend"] * 24 and "main" in names[-8:] and "_start" in names[-8:],
          str(names))


def rust_tests(kapsul, src, tmp, mangling):
    wasm = os.path.join(tmp, "rust_trap_%s.wasm" % mangling)
    flags = ["-C", "symbol-mangling-version=v0"] if mangling == "v0" else []  # legacy: the default
    b = subprocess.run([os.environ.get("RUSTC", "/usr/bin/rustc"), "--target", "wasm32-wasi",
                        "-g"] + flags + ["-o", wasm, src], capture_output=True, text=True)
    check("rust %s: rustc -g builds" % mangling, b.returncode == 0, b.stderr)
    if b.returncode != 0:
        return
    r = run(kapsul, wasm)
    fr, _ = parse(r.stderr)
    check("rust %s: the panic message, then a trap" % mangling, "rust_trap.rs:9:" in r.stderr and
          "trap (unreachable)" in r.stderr, r.stderr)
    cell = [f for f in fr if re.search(r"rust_trap::shapes::Grid>?::cell$", f["name"])]
    main = [f for f in fr if f["name"] == "rust_trap::main"]
    check("rust %s: Grid::cell demangled, at rust_trap.rs:9" % mangling,
          len(cell) == 1 and at_line(cell[0], "rust_trap.rs", 9), r.stderr)
    check("rust %s: main demangled, its call at rust_trap.rs:17" % mangling,
          len(main) == 1 and at_line(main[0], "rust_trap.rs", 17), r.stderr)
    check("rust %s: panicking frames demangled too" % mangling,
          any(f["name"].startswith("core::panicking::") for f in fr), r.stderr)
    check("rust %s: no mangled or hashed name left" % mangling,
          not re.search(r"\b_(ZN|R[A-Z])|::h[0-9a-f]{16}\b", r.stderr), r.stderr)
    bad = offsets_point_at_instructions(wasm, fr)
    check("rust %s: every offset is the trapping or calling instruction" % mangling,
          not bad and fr, str(bad))


def trace_tests(kapsul, here, tmp):
    wat = os.path.join(here, "trace.wat")
    r = subprocess.run([kapsul, "run", "--trace-wasi", "--dir", tmp + "::/", wat], capture_output=True,
                       text=True, timeout=60)
    want = ['fd_write(1, [iov 0x10 14], 1, 0x80) = 0 (*0x80=14)',
            'fd_write(99, [iov 0x10 14], 1, 0x80) = EBADF',
            'path_open(3, 0x0, "no-such-file.txt", 0x0, 0x0, 0x0, 0x0, 0x84) = ENOENT']
    got = [l for l in r.stderr.splitlines() if l.startswith(("fd_write", "path_open"))]
    check("trace: each WASI call with arguments, result and errno on stderr",
          r.returncode == 0 and got == want and r.stdout == "hello, trace!\n", r.stderr)
    out = os.path.join(tmp, "trace.txt")
    r = subprocess.run([kapsul, "run", "--trace-wasi=" + out, "--dir", tmp + "::/", wat],
                       capture_output=True, text=True, timeout=60)
    lines = open(out).read().splitlines() if os.path.exists(out) else []
    check("trace: --trace-wasi=FILE writes the same lines there, none on stderr",
          lines == want and "fd_write" not in r.stderr, "%r %r" % (lines, r.stderr))


def cli_tests(kapsul, here):
    wat = os.path.join(here, "recurse.wat")
    r = subprocess.run([kapsul, "run", "--max-call-depth", "100", wat], capture_output=True, text=True,
                       timeout=60)
    fr, omitted = parse(r.stderr)
    # 100 frames: _start and 99 of $down; 32 printed, 68 counted.
    check("cli: --max-call-depth 100 stops at 100 frames, 68 of them omitted",
          "trap (stack_exhausted)" in r.stderr and omitted == 68 and len(fr) == 32 and
          fr[0]["name"] == "down" and fr[-1]["name"] == "main" and fr[-1]["depth"] == 99, r.stderr)
    r = subprocess.run([kapsul, "run", "--max-call-depth", "0", wat], capture_output=True, text=True)
    check("cli: --max-call-depth 0 is a usage error", r.returncode == 2, r.stderr)
    r = subprocess.run([kapsul, os.path.join(here, "trace.wat")], capture_output=True, text=True,
                       timeout=60)
    check("cli: kapsul FILE.wat runs it", r.returncode == 0 and r.stdout == "hello, trace!\n",
          r.stderr)


def profile_tests(kapsul, here, tmp, tier=(), label="profile"):
    import json
    wat = os.path.join(here, "hot.wat")
    out = os.path.join(tmp, "prof.json")
    r = subprocess.run([kapsul, "run", *tier, "--profile=" + out, wat], capture_output=True,
                       text=True, timeout=300)
    try:
        doc = json.load(open(out))
    except (OSError, ValueError) as e:
        check(label + ": speedscope JSON written and parses", False, "%s %s" % (e, r.stderr))
        return
    prof = doc.get("profiles", [{}])[0]
    frames = doc.get("shared", {}).get("frames", [])
    samples, weights = prof.get("samples", []), prof.get("weights", [])
    shape = doc.get("$schema") == "https://www.speedscope.app/file-format-schema.json" and \
        prof.get("type") == "sampled" and prof.get("unit") == "milliseconds" and \
        len(samples) == len(weights) and len(samples) > 0 and \
        all(isinstance(f.get("name"), str) for f in frames) and \
        all(isinstance(i, int) and 0 <= i < len(frames) for st in samples for i in st)
    check(label + ": speedscope JSON in the schema's shape", shape, r.stderr)
    names = [f["name"] for f in frames]
    callers = [names[st[-2]] for st in samples if len(st) >= 2]
    hot, cold = callers.count("hot"), callers.count("cold")
    check(label + ": the hot loop gets most samples (hot %d, cold %d)" % (hot, cold),
          hot + cold > 0 and hot > 0.8 * (hot + cold) and
          all(names[st[0]] == "main" and names[st[-1]] == "spin" for st in samples if len(st) == 3),
          str(callers[:20]))
    out = os.path.join(tmp, "prof.folded")
    r = subprocess.run([kapsul, "run", *tier, "--profile=" + out, "--profile-format", "folded",
                        wat], capture_output=True, text=True, timeout=300)
    lines = open(out).read().splitlines() if os.path.exists(out) else []
    ok = bool(lines) and all(re.fullmatch(r"[^ ]+ \d+", l) for l in lines)
    counts = {}
    for l in lines:
        stack, n = l.rsplit(" ", 1)
        counts[stack] = counts.get(stack, 0) + int(n)
    hot, cold = counts.get("main;hot;spin", 0), counts.get("main;cold;spin", 0)
    check(label + ": folded stacks, most of them main;hot;spin", ok and hot > 0.8 * (hot + cold),
          str(counts) + r.stderr)


def dwarf_profile_tests(kapsul, here, tmp, tier=(), label="profile"):
    """c_hot.c built with -g: the speedscope frames carry each function's file and first line,
    and the samples attribute spin's time to hot."""
    import json
    wasm = os.path.join(tmp, "c_hot.wasm")
    if not os.path.exists(wasm):
        b = subprocess.run([os.environ.get("CLANG", "clang"), "--target=wasm32-wasi", "-g", "-O0",
                            "-o", wasm, os.path.join(here, "c_hot.c")], capture_output=True, text=True)
        check(label + ": clang -g builds c_hot.c", b.returncode == 0, b.stderr)
        if b.returncode != 0:
            return
    out = os.path.join(tmp, "c_hot.json")
    r = subprocess.run([kapsul, "run", *tier, "--profile=" + out, wasm], capture_output=True,
                       text=True, timeout=300)
    try:
        doc = json.load(open(out))
        frames = doc["shared"]["frames"]
        samples = doc["profiles"][0]["samples"]
    except (OSError, ValueError, KeyError, IndexError) as e:
        check(label + ": c_hot.c profile written", False, "%s %s" % (e, r.stderr))
        return
    pos = {f["name"]: (os.path.basename(f.get("file", "")), f.get("line")) for f in frames}
    check(label + ": frames carry file and line from DWARF (spin at c_hot.c:6, hot at :12)",
          pos.get("spin") == ("c_hot.c", 6) and pos.get("hot") == ("c_hot.c", 12) and
          pos.get("cold") == ("c_hot.c", 14), str(frames))
    names = [f["name"] for f in frames]
    callers = [names[st[-2]] for st in samples if len(st) >= 2 and names[st[-1]] == "spin"]
    hot, cold = callers.count("hot"), callers.count("cold")
    check(label + ": c_hot.c's hot loop gets most samples (hot %d, cold %d)" % (hot, cold),
          hot > 0.8 * (hot + cold), str(callers[:20]) + r.stderr)


def perf_map_tests(kapsul, here, tmp, tier):
    """--perf-map: the map lists every function of perf.wat inside the process's executable
    mappings (read while the guest waits on stdin), and `perf report` names the hot one."""
    wat = os.path.join(here, "perf.wat")
    p = subprocess.Popen([kapsul, "run", *tier, "--perf-map", wat], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    path = "/tmp/perf-%d.map" % p.pid
    try:
        ready = p.stdout.readline()  # the map is written before the guest starts
        code = []
        with open("/proc/%d/maps" % p.pid) as f:
            for l in f:
                addr, perms = l.split()[:2]
                if "x" in perms:
                    code.append(tuple(int(a, 16) for a in addr.split("-")))
        rows = []
        if os.path.exists(path):
            for l in open(path).read().splitlines():
                m = re.fullmatch(r"([0-9a-f]+) ([0-9a-f]+) (.+)", l)
                rows.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)) if m else None)
        p.stdin.write("go\n")
        p.stdin.close()
        p.wait(timeout=300)
        err = p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    names = sorted(r[2] for r in rows if r)
    check("perf map: /tmp/perf-PID.map lists the guest's functions",
          ready == "ready\n" and None not in rows and names == ["cold", "hot", "main", "spin"],
          "%r %r %s" % (ready, rows, err))
    inside = all(any(lo <= a and a + n <= hi for lo, hi in code) for a, n, _ in filter(None, rows))
    check("perf map: every range lies in an executable mapping of the process",
          bool(rows) and inside and p.returncode == 0, "%r %r" % (rows, code))
    if os.path.exists(path):
        os.unlink(path)
    r = subprocess.run([kapsul, "run", "--perf-map", os.path.join(here, "hot.wat")],
                       capture_output=True, text=True, timeout=60)
    check("perf map: refused for a module the interpreter runs",
          r.returncode == 2 and "needs native code" in r.stderr, r.stderr)
    # perf itself: only where it may open a sampling event (root, or perf_event_paranoid <= 2).
    data = os.path.join(tmp, "perf.data")
    try:
        probe = subprocess.run(["perf", "record", "-q", "-e", "task-clock", "-o", data, "--", "true"],
                               capture_output=True, text=True, timeout=60)
    except OSError as e:
        probe = None
        why = str(e)
    if probe is None or probe.returncode != 0:
        print("note: perf cannot record here (%s); the map is checked by the tests above only" %
              (why if probe is None else probe.stderr.strip()[:200]))
        return
    r = subprocess.run(["perf", "record", "-q", "-e", "task-clock", "-o", data, "--", kapsul,
                        "run", *tier, "--perf-map", wat], input="go\n", capture_output=True,
                       text=True, timeout=300)
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--sort", "dso,sym"],
                         capture_output=True, text=True, timeout=120)
    top = [l.split() for l in rep.stdout.splitlines() if l.strip() and not l.startswith("#")]
    jit = re.findall(r"\[JIT\] tid (\d+)", rep.stdout)
    for tid in set(jit):
        if os.path.exists("/tmp/perf-%s.map" % tid):
            os.unlink("/tmp/perf-%s.map" % tid)
    check("perf map: perf report names the hot wasm function first",
          r.returncode == 0 and bool(top) and top[0][-1] == "hot" and "[JIT]" in top[0],
          rep.stdout[:1500] + r.stderr + rep.stderr)


def main():
    if len(sys.argv) == 5 and sys.argv[3] == "--native":
        kapsul, here = os.path.abspath(sys.argv[1]), sys.argv[2]
        tier = ("--tier", "native", "--cache", sys.argv[4])
        with tempfile.TemporaryDirectory(prefix="kapsul-debug-") as tmp:
            profile_tests(kapsul, here, tmp, tier, "native profile")
            dwarf_profile_tests(kapsul, here, tmp, tier, "native profile")
            perf_map_tests(kapsul, here, tmp, tier)
        print("%d passed, %d failed" % (passed, failed))
        return 1 if failed else 0
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    kapsul, here = os.path.abspath(sys.argv[1]), sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="kapsul-debug-") as tmp:
        trace_tests(kapsul, here, tmp)
        cli_tests(kapsul, here)
        profile_tests(kapsul, here, tmp)
        dwarf_profile_tests(kapsul, here, tmp)
        c_tests(kapsul, os.path.join(here, "c_trap.c"), tmp)
        for mangling in ("legacy", "v0"):
            rust_tests(kapsul, os.path.join(here, "rust_trap.rs"), tmp, mangling)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
