#!/usr/bin/env python3
"""test_templates.py -- the `spin new` / `spin build` flow with real toolchains, per template.

usage: test_templates.py KAPSUL

For http-c and http-rust, in a scratch directory: `kapsul new TEMPLATE hello`, then
`kapsul build` inside hello/ (clang --target=wasm32-wasi, resp. rustc --target wasm32-wasi),
then the built target/hello.wasm under `kapsul run` with a WAGI request's REQUEST_METHOD and
PATH_INFO: its whole stdout must be the WAGI response the template's handler promises. Then a
second build (the output exists already), and a handler broken on purpose: the build must stop
with the component's name and exit 1.

The toolchains are Debian's: clang from PATH ($CLANG's directory first when set) and rustc from
/usr/bin ($RUSTC to override), put first on PATH because the templates call plain `rustc` and a
rustup toolchain earlier on PATH may lack the wasm32-wasi target (Rust 1.84 renamed it).

Then `kapsul up --listen 127.0.0.1:PORT` in hello/ (a free port), a POST through curl whose
body must be the handler's answer, and SIGTERM to that PID. A kapsul without a working `up`
(`kapsul up --help` fails, e.g. kapsul-serve missing) fails every template. $KAPSUL_UP names
another kapsul to use for that step.

Ends with "N passed, N failed".
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TEMPLATES = {
    "http-c": "src/main.c",
    "http-rust": "src/main.rs",
}


def expected(name, method, path):
    return "Content-Type: text/plain\n\nHello from %s\nmethod: %s\npath: %s\n" % (name, method, path)


def toolchain_env():
    """The environment builds run in: the chosen rustc's and clang's directories first."""
    env = dict(os.environ)
    first = [os.path.dirname(os.environ.get("RUSTC", "/usr/bin/rustc"))]
    if os.environ.get("CLANG"):
        first.insert(0, os.path.dirname(shutil.which(os.environ["CLANG"]) or os.environ["CLANG"]))
    env["PATH"] = os.pathsep.join(first + [env.get("PATH", "/usr/bin:/bin")])
    return env


def run(cmd, cwd, env=None, timeout=300):
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def has_up(kapsul):
    return subprocess.run([kapsul, "up", "--help"], capture_output=True).returncode == 0


def check_up(kapsul, app):
    """`kapsul up` in app on a free loopback port; one POST through curl. Returns problems."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    url = "http://127.0.0.1:%d/greet/you" % port
    with tempfile.TemporaryFile() as log:
        p = subprocess.Popen([kapsul, "up", "--listen", "127.0.0.1:%d" % port], cwd=app,
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        body = None
        try:
            for _ in range(300):          # until it listens (no wall-clock assertion: 300 tries)
                r = subprocess.run(["curl", "-sS", "--max-time", "20", "-X", "POST", url],
                                   capture_output=True, text=True)
                if r.returncode == 0:
                    body = r.stdout
                    break
                if p.poll() is not None:
                    break
                time.sleep(0.05)
        finally:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        log.seek(0)
        output = log.read().decode("utf-8", "replace")
    want = expected("hello", "POST", "/greet/you").split("\n\n", 1)[1]
    if body != want:
        return ["up: curl %s got %r, want %r; kapsul up exit %s, output:\n%s"
                % (url, body, want, p.returncode, output[-1500:])]
    return []


def check_template(kapsul, template, src, work, env, up):
    """Returns a list of problems (empty: passed)."""
    problems = []
    r = run([kapsul, "new", template, "hello"], work)
    if r.returncode != 0:
        return ["new: exit %d: %s" % (r.returncode, r.stderr.strip())]
    app = os.path.join(work, "hello")
    for f in ("spin.toml", src, "README.md", ".gitignore"):
        if not os.path.isfile(os.path.join(app, f)):
            problems.append("new did not write %s" % f)
    r = run([kapsul, "build"], app, env)
    if r.returncode != 0:
        return problems + ["build: exit %d:\n%s%s" % (r.returncode, r.stdout, r.stderr)]
    if "Finished building all components" not in r.stderr:
        problems.append("build: no final line in %r" % r.stderr)
    wasm = os.path.join(app, "target", "hello.wasm")
    if not os.path.isfile(wasm):
        return problems + ["build succeeded but target/hello.wasm is missing"]
    for method, path in (("GET", "/"), ("POST", "/greet/you")):
        r = run([kapsul, "run", "--env", "REQUEST_METHOD=" + method, "--env", "PATH_INFO=" + path,
                 "target/hello.wasm"], app)
        if r.returncode != 0 or r.stdout != expected("hello", method, path):
            problems.append("run %s %s: exit %d, stdout %r, stderr %r"
                            % (method, path, r.returncode, r.stdout, r.stderr))
    if up:
        problems += check_up(up, app)
    r = run([kapsul, "build"], app, env)
    if r.returncode != 0:
        problems.append("second build: exit %d: %s" % (r.returncode, r.stderr.strip()))
    with open(os.path.join(app, src), "a") as f:
        f.write("\nthis does not compile\n")
    r = run([kapsul, "build"], app, env)
    if r.returncode != 1 or "kapsul build: component 'hello':" not in r.stderr \
            or "failed with exit status" not in r.stderr:
        problems.append("broken build: exit %d, stderr %r" % (r.returncode, r.stderr[-400:]))
    return problems


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    kapsul = os.path.abspath(sys.argv[1])
    env = toolchain_env()
    up = os.path.abspath(os.environ.get("KAPSUL_UP", kapsul))
    passed = failed = 0
    if not has_up(up):
        for template in TEMPLATES:
            print("FAIL %s: %s has no working `kapsul up` (kapsul-serve beside it?)" % (template, up))
        print("0 passed, %d failed" % len(TEMPLATES))
        return 1
    for template, src in TEMPLATES.items():
        with tempfile.TemporaryDirectory(prefix="kp_tmpl_") as work:
            try:
                problems = check_template(kapsul, template, src, work, env, up)
            except subprocess.TimeoutExpired as e:
                problems = ["timed out: %s" % e.cmd]
        if problems:
            failed += 1
            print("FAIL %s" % template)
            for p in problems:
                print("  " + p.replace("\n", "\n  "))
        else:
            passed += 1
            print("ok   %s" % template)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
