#!/usr/bin/env python3
"""run-guests.py -- real toolchains' output under `kapsul run`.

usage: run-guests.py KAPSUL GUESTS_DIR

Builds c_guest.c with `clang --target=wasm32-wasi -O2` ($CLANG) and rust_guest.rs with
`/usr/bin/rustc --target wasm32-wasi -O` ($RUSTC), runs each with one preopened directory
("data"), one granted variable and two arguments, and compares the whole stdout and the exit
status (7) with what the program must print. Also checks that the guest left the files it was
told to clean up clean and created nothing outside "data". Then sock_echo.c serves one TCP
connection on a --tcplisten socket, with this script as its client on 127.0.0.1, and sleeper.c
blocks in the host (sleep; read from a silent pipe) until --timeout stops it. Ends with
"N passed, N failed".
"""
import os
import socket
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


def sock_echo(kapsul, wasm):
    """Run sock_echo.wasm with --tcplisten on a free loopback port and be its client."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    p = subprocess.Popen([kapsul, "run", "--timeout", "20s", "--tcplisten", "127.0.0.1:%d" % port,
                          wasm], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    reply = b""
    for _ in range(100):                      # the listener exists once kapsul has started
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"hello sockets\n")
                while not reply.endswith(b"\n"):
                    chunk = s.recv(100)
                    if not chunk:
                        break
                    reply += chunk
            break
        except ConnectionRefusedError:
            if p.poll() is not None:
                break
            subprocess.run(["sleep", "0.05"])
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    problems = []
    if reply != b"HELLO SOCKETS\n":
        problems.append("reply %r" % reply)
    if p.returncode != 0:
        problems.append("exit status %d" % p.returncode)
    if out.decode() != "served 14 bytes; second accept: errno 6\n":
        problems.append("stdout %r" % out.decode())
    return problems, err.decode("utf-8", "replace")


def sleeper(kapsul, wasm, mode):
    """A guest blocked in the host (sleep, or a read from a silent pipe) under --timeout 300ms
    must end with a timeout trap (134); the 30 s limit here only catches a hang."""
    r_fd, w_fd = os.pipe()
    try:
        p = subprocess.run([kapsul, "run", "--timeout", "300ms", wasm] + ([mode] if mode else []),
                           stdin=r_fd, capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        return ["still blocked after 30 s"], ""
    finally:
        os.close(r_fd)
        os.close(w_fd)
    err = p.stderr.decode("utf-8", "replace")
    problems = []
    if p.returncode != 134 or "timeout" not in err:
        problems.append("exit status %d, stderr %r (want 134 and a timeout trap)" % (p.returncode, err))
    return problems, err


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
        wasm = os.path.join(t, "sock_echo.wasm")
        r = build("c", os.path.join(src, "sock_echo.c"), wasm)
        problems, err = (["does not build: " + r.stderr[-2000:]], "") if r.returncode else sock_echo(kapsul, wasm)
        if problems:
            failed += 1
            print("FAIL sock_echo.c: %s\nstderr: %s" % ("; ".join(problems), err[-2000:]))
        else:
            passed += 1
            print("PASS sock_echo.c")
        wasm = os.path.join(t, "sleeper.wasm")
        r = build("c", os.path.join(src, "sleeper.c"), wasm)
        for mode in ("", "read"):
            tid = "sleeper.c" + (" read" if mode else " sleep")
            problems, err = (["does not build: " + r.stderr[-2000:]], "") if r.returncode else sleeper(kapsul, wasm, mode)
            if problems:
                failed += 1
                print("FAIL %s: %s" % (tid, "; ".join(problems)))
            else:
                passed += 1
                print("PASS %s" % tid)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
