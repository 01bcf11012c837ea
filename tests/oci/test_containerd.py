#!/usr/bin/env python3
"""test_containerd.py -- kapsul-runc under a real containerd, images from a real registry.

    test_containerd.py BUILD_DIR

Starts Debian's containerd (private config, --root/--state and gRPC socket in a temporary
directory, the CRI plugin disabled, in a private mount namespace through `unshare -m` so its
overlay mounts die with it) and a docker-registry on 127.0.0.1 (temporary storage), both stopped
by PID at the end, together with the containerd shims this run started (found by their -address
argument). Builds tests/oci/guests/hello.c for wasm32-wasi and hello_native.c as a static binary,
pushes the wasm one with `kapsul oci push --format compat` and the native one with skopeo (from an
OCI layout written by mkimage.py), pulls both with `ctr images pull --plain-http`, then runs them
with `ctr run --runc-binary BUILD_DIR/kapsul-runc`: output, args, env, a bind mount, exit codes,
`ctr task kill` (SIGTERM, SIGKILL) on looping guests, network namespaces (a new one, or
the one at a given path joined), the native container delegated to runc. Then kapsul-runc on
its own: the create/start/state/delete lifecycle, and bad bundles (malformed config.json, a module
that is not wasm) -> a runc-style JSON log error, a non-zero exit, no state left behind.

Needs root (containerd does). Every wait has a timeout. Ends with "N passed, N failed".
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "build")
RUNC = os.path.join(BUILD, "kapsul-runc")
KAPSUL = os.path.join(BUILD, "kapsul")
TMP = tempfile.mkdtemp(prefix="kapsul-ctrd-")
SOCK = os.path.join(TMP, "containerd.sock")
RUNC_ROOT = os.path.join(TMP, "runc-root")
NS = "kapsul-test"
NETNS = os.path.join(TMP, "netns")
passed = failed = 0
procs = []  # (name, Popen) started here, stopped by PID


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def run(cmd, timeout=60, **kw):
    """Run cmd; a timeout is a result (rc None), never a hang."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or "", f"timed out after {timeout}s"
    except OSError as e:
        return None, "", str(e)


def ctr(*args, timeout=60):
    return run(["ctr", "-a", SOCK, "-n", NS] + list(args), timeout=timeout)


def wait_for(what, probe, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if probe():
            return True
        time.sleep(0.1)
    print(f"timed out waiting for {what}")
    return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stop(p, name):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            print(f"{name} ignored SIGTERM; killing")
            p.kill()
            p.wait(timeout=15)


def our_shims():
    """PIDs of containerd-shim processes serving our socket (they outlive containerd)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and b"containerd-shim" in argv[0] and SOCK.encode() in argv:
            pids.append(int(d))
    return pids


def cleanup():
    if os.path.exists(SOCK):
        rc, out, _ = ctr("task", "ls", "-q", timeout=20)
        for task in (out or "").split() if rc == 0 else []:
            ctr("task", "kill", "-s", "SIGKILL", task, timeout=20)
            ctr("task", "rm", "-f", task, timeout=20)
        rc, out, _ = ctr("containers", "ls", "-q", timeout=20)
        for c in (out or "").split() if rc == 0 else []:
            ctr("containers", "rm", c, timeout=20)
    for name, p in reversed(procs):
        stop(p, name)
    for pid in our_shims():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for d in cgroup_dirs(""):  # the namespace's parent group that containerd's specs name
        try:
            os.rmdir(d)
        except OSError:
            pass
    if os.path.exists(NETNS):
        run(["umount", NETNS], timeout=20)
    shutil.rmtree(TMP, ignore_errors=True)


def on_signal(signum, frame):
    cleanup()
    sys.exit(1)


# ---- Setup -----------------------------------------------------------------------------------

def build_guests():
    wasm = os.path.join(TMP, "hello.wasm")
    native = os.path.join(TMP, "hello")
    rc, _, err = run([os.environ.get("CLANG", "clang"), "--target=wasm32-wasi", "-O2", "-Wl,--strip-all",
                      "-o", wasm, os.path.join(HERE, "guests", "hello.c")], timeout=120)
    if rc != 0:
        sys.exit(f"building hello.wasm failed: {err}")
    rc, _, err = run(["gcc", "-static", "-O2", "-o", native, os.path.join(HERE, "guests", "hello_native.c")],
                     timeout=120)
    if rc != 0:
        sys.exit(f"building the static native hello failed: {err}")
    return wasm, native


def start_registry():
    port = free_port()
    cfg = os.path.join(TMP, "registry.yml")
    with open(cfg, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {TMP}/registry\n"
                f"http:\n  addr: 127.0.0.1:{port}\n")
    log = open(os.path.join(TMP, "registry.log"), "w")
    procs.append(("docker-registry", subprocess.Popen(["docker-registry", "serve", cfg], stdout=log, stderr=log)))

    def up():
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).status == 200
        except OSError:
            return False
    if not wait_for("docker-registry", up):
        sys.exit("docker-registry did not start: " + open(os.path.join(TMP, "registry.log")).read()[-2000:])
    return f"127.0.0.1:{port}"


def start_containerd():
    cfg = os.path.join(TMP, "containerd.toml")
    with open(cfg, "w") as f:
        f.write(f'version = 2\nroot = "{TMP}/root"\nstate = "{TMP}/state"\n'
                f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                f'[grpc]\n  address = "{SOCK}"\n[ttrpc]\n  address = "{SOCK}.ttrpc"\n'
                f'[debug]\n  address = "{TMP}/debug.sock"\n')
    log = open(os.path.join(TMP, "containerd.log"), "w")
    # unshare execs containerd, so the PID is containerd's; the private mount namespace holds
    # the snapshot and rootfs mounts, gone when the last process in it ends.
    procs.append(("containerd", subprocess.Popen(["unshare", "-m", "--propagation", "private", "containerd",
                                                  "--config", cfg], stdout=log, stderr=log)))
    if not wait_for("containerd", lambda: ctr("version", timeout=5)[0] == 0):
        sys.exit("containerd did not start: " + open(os.path.join(TMP, "containerd.log")).read()[-3000:])


def push_images(registry, wasm, native):
    wasm_ref = f"{registry}/hello-wasm:v1"
    native_ref = f"{registry}/hello-native:v1"
    rc, out, err = run([KAPSUL, "oci", "push", "--plain-http", "--format", "compat", wasm, wasm_ref])
    check("kapsul oci push --format compat", rc == 0, f"rc={rc} {out} {err}")
    if rc != 0:
        # Still run the container checks, with an image skopeo pushes (the check above failed).
        layout = os.path.join(TMP, "wasm-layout")
        run([sys.executable, os.path.join(HERE, "mkimage.py"), layout, "v1", "/hello.wasm", f"{wasm}:/hello.wasm:644",
             "--annotation", "module.wasm.image/variant=compat"])
        run(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{wasm_ref}"], timeout=120)
    layout = os.path.join(TMP, "native-layout")
    rc, _, err = run([sys.executable, os.path.join(HERE, "mkimage.py"), layout, "v1", "/hello", f"{native}:/hello"])
    if rc == 0:
        rc, _, err = run(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{native_ref}"],
                         timeout=120)
    check("skopeo pushes the native image", rc == 0, err)
    for ref in (wasm_ref, native_ref):
        rc, out, err = ctr("images", "pull", "--plain-http", ref, timeout=120)
        check(f"ctr images pull --plain-http {ref.split('/')[-1]}", rc == 0, f"{out}{err}")
    return wasm_ref, native_ref


def task(cid):
    """(pid, status) of a task from `ctr task ls`, or None."""
    rc, out, _ = ctr("task", "ls", timeout=10)
    for line in (out or "").splitlines():
        f = line.split()
        if len(f) >= 3 and f[0] == cid:
            return int(f[1]), f[2]
    return None


def netns_of(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def cgroups_of(pid):
    """{controllers: path} from /proc/PID/cgroup (v2: {"": path})."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return {line.split(":")[1]: line.strip().split(":", 2)[2] for line in f if line.strip()}
    except (OSError, IndexError):
        return {}


def cgroup_dirs(leaf):
    """Where the group NS/leaf would be in each hierarchy under /sys/fs/cgroup."""
    base = "/sys/fs/cgroup"
    dirs = [os.path.join(base, NS, leaf)]
    for d in os.listdir(base) if os.path.isdir(base) else []:
        dirs.append(os.path.join(base, d, NS, leaf))
    return dirs


def make_netns():
    """A persistent network namespace bound on a file in TMP (made before containerd starts, so
    its private mount namespace sees the bind mount); cleanup() unmounts it."""
    open(NETNS, "w").close()
    rc, _, err = run(["unshare", f"--net={NETNS}", "true"])
    if rc != 0:
        sys.exit(f"cannot make a network namespace: {err}")


# ---- Through containerd ------------------------------------------------------------------------

def ctr_run(ref, cid, *args, opts=()):
    return ctr("run", "--rm", "--runc-binary", RUNC, "--runc-root", RUNC_ROOT, *opts, ref, cid, *args, timeout=90)


def test_containerd(wasm_ref, native_ref):
    rc, out, err = ctr_run(wasm_ref, "w-hello")
    check("wasm: stdout and exit 0", rc == 0 and out == "hello from wasm\n", f"rc={rc} out={out!r} err={err}")
    rc, out, err = ctr_run(wasm_ref, "w-args", "/hello.wasm", "args", "one", "two words")
    want = "arg[0]=/hello.wasm\narg[1]=args\narg[2]=one\narg[3]=two words\n"
    check("wasm: args arrive", rc == 0 and out == want, f"rc={rc} out={out!r} err={err}")
    rc, out, err = ctr_run(wasm_ref, "w-env", "/hello.wasm", "env", "GREETING", opts=("--env", "GREETING=hej"))
    check("wasm: --env arrives", rc == 0 and out == "GREETING=hej\n", f"rc={rc} out={out!r} err={err}")
    rc, out, err = ctr_run(wasm_ref, "w-exit", "/hello.wasm", "exit", "7")
    check("wasm: exit code propagates", rc == 7 and out == "exiting with 7\n", f"rc={rc} out={out!r} err={err}")
    data = os.path.join(TMP, "data")
    os.makedirs(data, exist_ok=True)
    with open(os.path.join(data, "msg.txt"), "w") as f:
        f.write("from a bind mount\n")
    rc, out, err = ctr_run(wasm_ref, "w-mount", "/hello.wasm", "cat", "/data/msg.txt",
                           opts=("--mount", f"type=bind,src={data},dst=/data,options=rbind:ro"))
    check("wasm: a bind mount is a preopen", rc == 0 and out == "from a bind mount\n", f"rc={rc} out={out!r} err={err}")
    rc, out, err = ctr_run(wasm_ref, "w-rootfs", "/hello.wasm", "cat", "/etc/none")
    check("wasm: the rootfs is the guest's /, nothing of the host", rc == 2 and "/etc/none" in err,
          f"rc={rc} out={out!r} err={err!r}")

    # process.terminal: ctr run -t (under script(1), which gives ctr a terminal) -> the pty's master
    # travels over the shim's console socket; the guest writes to the slave.
    cmd = " ".join(["ctr", "-a", SOCK, "-n", NS, "run", "-t", "--rm", "--runc-binary", RUNC, "--runc-root",
                    RUNC_ROOT, wasm_ref, "w-tty", "/hello.wasm", "exit", "5"])
    rc, out, err = run(["script", "-qefc", cmd, "/dev/null"], stdin=subprocess.DEVNULL, timeout=90)
    check("wasm: ctr run -t (a terminal through --console-socket)", rc == 5 and "exiting with 5" in out,
          f"rc={rc} out={out!r} err={err!r}")

    # A looping guest, detached, stopped by ctr task kill (SIGTERM).
    rc, out, err = ctr("run", "-d", "--runc-binary", RUNC, "--runc-root", RUNC_ROOT, wasm_ref, "w-loop",
                       "/hello.wasm", "loop")
    check("wasm: ctr run -d starts a looping guest", rc == 0, f"rc={rc} {out}{err}")

    def status(cid="w-loop"):
        return (task(cid) or (None, None))[1]
    check("wasm: the looping task runs", wait_for("w-loop RUNNING", lambda: status() == "RUNNING", 30))
    pid = (task("w-loop") or (0, None))[0]
    check("wasm: a spec without a netns path gets a new network namespace, as under runc",
          pid and netns_of(pid) not in (None, netns_of(os.getpid())), f"pid {pid}: {netns_of(pid)}")
    groups = cgroups_of(pid)
    # v2: the one "0::" line; v1 (hybrid or not): every controller's but cpuset's and the
    # unified hierarchy's beside them (runc's cgroupfs driver joins it; kapsul-runc does not yet).
    joined = {c: g for c, g in groups.items() if len(groups) == 1 or c not in ("cpuset", "")}
    check("wasm: the process joined its cgroup (linux.cgroupsPath)", joined and all(
        g.endswith(f"/{NS}/w-loop") for g in joined.values()), str(groups))
    rc, out, err = ctr("task", "exec", "--exec-id", "e1", "w-loop", "/hello.wasm", timeout=60)
    check("ctr task exec on a wasm container fails with kapsul-runc's reason",
          rc not in (0, None) and "exec is not supported for wasm containers" in out + err, f"rc={rc} {out}{err}")
    rc, out, err = ctr("task", "metrics", "w-loop", timeout=30)
    check("ctr task metrics reads the wasm container's cgroup", rc == 0 and "memory" in out.lower(), f"{out}{err}")
    rc, out, err = ctr("task", "kill", "w-loop", timeout=30)
    check("ctr task kill (SIGTERM) accepted", rc == 0, f"{out}{err}")
    check("ctr task kill stops the looping guest", wait_for("w-loop STOPPED", lambda: status() == "STOPPED", 30))
    rc, out, err = ctr("task", "rm", "w-loop", timeout=30)
    check("ctr task rm after kill", rc == 0, f"{out}{err}")
    ctr("containers", "rm", "w-loop", timeout=30)
    check("kapsul-runc removed the cgroup of w-loop", not any(os.path.isdir(d) for d in cgroup_dirs("w-loop")),
          str([d for d in cgroup_dirs("w-loop") if os.path.isdir(d)]))
    check("kapsul-runc removed the state of w-loop", not os.path.exists(os.path.join(RUNC_ROOT, NS, "w-loop")),
          str(os.listdir(os.path.join(RUNC_ROOT, NS))) if os.path.isdir(os.path.join(RUNC_ROOT, NS)) else "")

    # The pod's network namespace (a path in linux.namespaces) is joined; SIGKILL ends the guest.
    rc, out, err = ctr("run", "-d", "--runc-binary", RUNC, "--runc-root", RUNC_ROOT, "--with-ns",
                       f"network:{NETNS}", wasm_ref, "w-netns", "/hello.wasm", "loop")
    check("wasm: ctr run -d --with-ns network:PATH", rc == 0, f"rc={rc} {out}{err}")
    up = wait_for("w-netns RUNNING", lambda: status("w-netns") == "RUNNING", 30)
    pid = (task("w-netns") or (0, None))[0]
    want = f"net:[{os.stat(NETNS).st_ino}]"
    check("wasm: the network namespace at the given path is joined", up and netns_of(pid) == want,
          f"pid {pid}: {netns_of(pid)} want {want}")
    rc, out, err = ctr("task", "kill", "-s", "SIGKILL", "w-netns", timeout=30)
    check("ctr task kill -s SIGKILL stops the looping guest",
          rc == 0 and wait_for("w-netns STOPPED", lambda: status("w-netns") == "STOPPED", 30), f"{out}{err}")
    ctr("task", "rm", "w-netns", timeout=30)
    ctr("containers", "rm", "w-netns", timeout=30)

    rc, out, err = ctr_run(native_ref, "n-hello", "/hello", "x")
    check("native container delegated to runc", rc == 0 and out == "hello from native\narg[1]=x\n",
          f"rc={rc} out={out!r} err={err}")


# ---- kapsul-runc on its own --------------------------------------------------------------------

def bundle(name, config, files=()):
    b = os.path.join(TMP, "bundles", name)
    os.makedirs(os.path.join(b, "rootfs"), exist_ok=True)
    with open(os.path.join(b, "config.json"), "w") as f:
        f.write(config if isinstance(config, str) else json.dumps(config))
    for dest, data in files:
        with open(os.path.join(b, "rootfs", dest), "wb") as f:
            f.write(data)
    return b


def spec(args):
    return {"ociVersion": "1.0.2", "process": {"args": args, "env": ["A=1"], "cwd": "/"},
            "root": {"path": "rootfs"}, "mounts": [], "linux": {}}


def last_log_error(log):
    try:
        with open(log) as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
        return json.loads(lines[-1])
    except (OSError, ValueError, IndexError) as e:
        return {"unreadable": str(e)}


def test_direct(wasm):
    root = os.path.join(TMP, "direct-root")
    log = os.path.join(TMP, "direct-log.json")
    g = ["--root", root, "--log", log, "--log-format", "json"]
    with open(wasm, "rb") as f:
        wbytes = f.read()
    b = bundle("life", spec(["/hello.wasm"]), [("hello.wasm", wbytes)])
    out_path = os.path.join(TMP, "life.out")
    with open(out_path, "w") as out:
        p = subprocess.run([RUNC] + g + ["create", "--bundle", b, "--pid-file", os.path.join(TMP, "life.pid"), "life"],
                           stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60)
    check("direct: create", p.returncode == 0, str(last_log_error(log)))
    rc, out, _ = run([RUNC] + g + ["state", "life"])
    st = json.loads(out) if rc == 0 else {}
    pid = open(os.path.join(TMP, "life.pid")).read().strip() if os.path.exists(os.path.join(TMP, "life.pid")) else ""
    check("direct: state after create is created, with the pid of the pid file",
          st.get("status") == "created" and str(st.get("pid")) == pid and st.get("bundle") == b, f"{st} pid={pid}")
    rc, _, err = run([RUNC] + g + ["start", "life"])
    check("direct: start", rc == 0, str(last_log_error(log)))

    def stopped():
        rc, out, _ = run([RUNC] + g + ["state", "life"], timeout=10)
        return rc == 0 and json.loads(out).get("status") == "stopped"
    check("direct: the container runs to its end (state stopped)", wait_for("life stopped", stopped, 30))
    check("direct: its stdout is the stdout create was given", open(out_path).read() == "hello from wasm\n",
          repr(open(out_path).read()))
    rc, _, _ = run([RUNC] + g + ["kill", "life", "KILL"])
    check("direct: kill on a stopped container fails", rc != 0 and "not running" in json.dumps(last_log_error(log)))
    rc, _, _ = run([RUNC] + g + ["delete", "life"])
    check("direct: delete removes the state directory", rc == 0 and not os.path.exists(os.path.join(root, "life")))
    rc, out, _ = run([RUNC, "features"])
    check("direct: features is JSON", rc == 0 and "ociVersionMax" in json.loads(out), out)

    # Bad bundles: a runc-style JSON error line, non-zero exit, nothing left in --root.
    cases = [
        ("malformed config.json", bundle("bad-json", '{"ociVersion": "1.0.2", "process": {"args": ["/x.wasm"'), "config.json"),
        ("args of the wrong type", bundle("bad-args", {"ociVersion": "1.0.2", "process": {"args": "x.wasm"},
                                                       "root": {"path": "rootfs"}}), "process.args"),
        ("module that is not wasm", bundle("bad-wasm", spec(["/bad.wasm"]), [("bad.wasm", b"not wasm at all")]),
         "/bad.wasm"),
        ("module missing from the rootfs", bundle("no-wasm", spec(["/none.wasm"])), "/none.wasm"),
        ("module path escaping the rootfs", bundle("esc-wasm", spec(["/../../../hello.wasm"])), "hello.wasm"),
    ]
    link = bundle("link-wasm", spec(["/lnk/hello.wasm"]))
    os.symlink(TMP, os.path.join(link, "rootfs", "lnk"))  # TMP holds a hello.wasm: must stay unreachable
    cases.append(("module behind a symlink out of the rootfs", link, "/lnk/hello.wasm"))
    # KAPSUL_WASI_NO_OPENAT2=1: the component walk kernels without openat2 get.
    for walk in ("", "1"):
        for i, (what, b, word) in enumerate(cases):
            cid = f"bad{i}"
            rc, _, _ = run([RUNC] + g + ["create", "--bundle", b, cid], stdin=subprocess.DEVNULL,
                           env=dict(os.environ, KAPSUL_WASI_NO_OPENAT2=walk))
            e = last_log_error(log)
            ok = (rc not in (0, None) and e.get("level") == "error" and word in e.get("msg", "") and "time" in e and
                  not os.path.exists(os.path.join(root, cid)))
            check(f"direct{' (no openat2)' if walk else ''}: {what} -> JSON error, exit {rc}, no state", ok, str(e))
    nested = bundle("nested", spec(["/app/bin/hello.wasm"]))
    os.makedirs(os.path.join(nested, "rootfs", "app", "bin"))
    shutil.copy(wasm, os.path.join(nested, "rootfs", "app", "bin", "hello.wasm"))
    # The container process keeps create's stdout and stderr: files, not pipes, or run() would wait.
    p = subprocess.run([RUNC] + g + ["create", "--bundle", nested, "nested"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
                       env=dict(os.environ, KAPSUL_WASI_NO_OPENAT2="1"))
    check("direct (no openat2): a module in a subdirectory is found", p.returncode == 0, str(last_log_error(log)))
    rc, _, _ = run([RUNC] + g + ["delete", "--force", "nested"])
    check("direct: delete --force of a created container", rc == 0 and not os.path.exists(os.path.join(root, "nested")),
          str(last_log_error(log)))
    rc, _, err = run([RUNC, "--root", root, "state", "nosuch"])
    check("direct: an unknown ID is runc's business (delegated)", rc != 0 and "does not exist" in err, err)


def main():
    global failed
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        if os.geteuid() != 0:
            sys.exit("test_containerd needs root (containerd and runc do)")
        for tool in ("containerd", "ctr", "runc", "docker-registry", "skopeo", "unshare", "gcc", "script"):
            if not shutil.which(tool):
                sys.exit(f"{tool} is missing: run scripts/setup.sh")
        wasm, native = build_guests()
        test_direct(wasm)
        registry = start_registry()
        make_netns()
        start_containerd()
        wasm_ref, native_ref = push_images(registry, wasm, native)
        test_containerd(wasm_ref, native_ref)
    except SystemExit as e:  # a setup step failed: say which, count it
        print(f"FAIL setup: {e}")
        failed += 1
    finally:
        cleanup()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
