#!/usr/bin/env python3
"""containers.py -- the seed's comparison, measured here: one hello program as
  (a) a static native binary in a runc container      (`ctr run --rm`, runc)
  (a') the same native container through kapsul-runc, which hands it to runc (the delegation's cost)
  (b) a wasm module through kapsul-runc               (`ctr run --rm --runc-binary build/kapsul-runc`)
  (c) the same handler as a WAGI module under `kapsul serve`, one fresh instance per request
      (timed from opening a new connection to the last byte of the answer)
  (d) a wasm module through `kapsul run`, one process per start

    bench/containers.sh [RUNS]       (default 30; run through the .sh, which builds first)

The hello is bench/src/hello.c, built twice (gcc -static, clang --target=wasm32-wasi). containerd
and docker-registry are started exactly as tests/oci/test_containerd.py starts them (its helpers
are reused), images are pushed and pulled once, then every start is timed from spawning the
client to its exit (a request: from connecting to the last byte), interleaved a/b/c/d so that the machine's load hits all three alike. Memory:
the container variants keep a looping twin (tests/oci/guests/hello*.c "loop") running and sample
the RSS of its process and of its containerd shim; `kapsul serve` its peak RSS (VmHWM) after
every request; `kapsul run` reports its peak RSS (ru_maxrss,
spawned from a small static helper as bench/run does). Image size: the pushed image's content
(manifest, config and gzip'd layers) as the registry stores it, beside the program's own size. Prints a markdown section for
bench/RESULTS.md. Needs root (containerd). Not a test: nothing fails because of a number.
"""
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "oci"))
sys.argv = [sys.argv[0], os.path.join(ROOT, "build")] + sys.argv[1:]
import test_containerd as t  # noqa: E402  (after the path and argv it reads)

RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 30


def sh(cmd, timeout=300):
    rc, out, err = t.run(cmd, timeout=timeout)
    if rc != 0:
        sys.exit(f"containers.py: {' '.join(cmd)} failed ({rc}): {err}")
    return out


def timed(cmd, expect):
    start = time.monotonic()
    rc, out, err = t.run(cmd, timeout=120)
    ms = (time.monotonic() - start) * 1000
    if rc != 0 or expect not in out:
        sys.exit(f"containers.py: {' '.join(cmd)} -> rc={rc} out={out!r} err={err}")
    return ms


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def shim_of(cid):
    for pid in t.our_shims():
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if cid.encode() in f.read().split(b"\0"):
                return pid
    return None


def running_memory(ref, cid, runtime, args):
    """RSS of a looping twin's process and of its shim, in MiB."""
    sh(["ctr", "-a", t.SOCK, "-n", t.NS, "run", "-d", "--runc-binary", runtime, "--runc-root", t.RUNC_ROOT,
        ref, cid] + args)
    pid = None

    def up():
        nonlocal pid
        rc, out, _ = t.ctr("task", "ls", timeout=10)
        for line in out.splitlines():
            f = line.split()
            if f and f[0] == cid and f[2] == "RUNNING":
                pid = int(f[1])
                return True
        return False
    t.wait_for(cid, up, 30)
    time.sleep(1.0)
    proc = rss_kib(pid, "VmHWM") / 1024
    shim = rss_kib(shim_of(cid)) / 1024 if shim_of(cid) else float("nan")
    t.ctr("task", "kill", "-s", "SIGKILL", cid)
    t.wait_for(cid + " stopped", lambda: cid + " " not in t.ctr("task", "ls")[1] or "STOPPED" in t.ctr("task", "ls")[1], 30)
    t.ctr("task", "rm", "-f", cid)
    t.ctr("containers", "rm", cid)
    return proc, shim


def serve_request(port):
    """One request on a new connection to kapsul serve, in ms (connect to the last byte)."""
    import http.client
    start = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/")
    r = c.getresponse()
    body = r.read()
    c.close()
    ms = (time.monotonic() - start) * 1000
    if r.status != 200 or b"hello" not in body:
        sys.exit(f"containers.py: kapsul serve answered {r.status} {body[:200]!r}")
    return ms


def start_serve(wasm):
    """kapsul serve on a free loopback port, registered with the test's processes (stopped by PID)."""
    port = t.free_port()
    log = open(os.path.join(t.TMP, "serve.log"), "w")
    p = subprocess.Popen([t.KAPSUL, "serve", "--listen", f"127.0.0.1:{port}", wasm], stdout=log, stderr=log)
    t.procs.append(("kapsul serve", p))

    def up():
        import socket
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return True
        except OSError:
            return False
    t.wait_for("kapsul serve", up, 30)
    return p, port


def serve_pid(p):
    """kapsul serve runs kapsul-serve: the process that answers (the child, if there is one)."""
    try:
        with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
            kids = f.read().split()
        return int(kids[0]) if kids else p.pid
    except OSError:
        return p.pid


def image_size(registry, repo):
    import json
    import urllib.request
    req = urllib.request.Request(f"http://{registry}/v2/{repo}/manifests/v1",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json, "
                                                    "application/vnd.docker.distribution.manifest.v2+json"})
    body = urllib.request.urlopen(req, timeout=10).read()
    m = json.loads(body)
    return len(body) + m["config"]["size"] + sum(layer["size"] for layer in m["layers"])


def main():
    tmp = t.TMP
    hello_wasm = os.path.join(tmp, "bench-hello.wasm")
    hello_native = os.path.join(tmp, "bench-hello")
    sh(["clang", "--target=wasm32-wasi", "-O2", "-Wl,--strip-all", "-o", hello_wasm,
        os.path.join(ROOT, "bench", "src", "hello.c")])
    sh(["gcc", "-static", "-O2", "-o", hello_native, os.path.join(ROOT, "bench", "src", "hello.c")])
    spawnstat = os.path.join(tmp, "spawnstat")
    sh(["gcc", "-static", "-O2", "-o", spawnstat, os.path.join(ROOT, "bench", "src", "spawnstat.c"), "-lm"])
    wagi_wasm = os.path.join(tmp, "bench-wagi-hello.wasm")
    sh(["clang", "--target=wasm32-wasi", "-O2", "-Wl,--strip-all", "-o", wagi_wasm,
        os.path.join(ROOT, "bench", "src", "wagi_hello.c")])
    loop_wasm, loop_native = t.build_guests()
    registry = t.start_registry()
    t.start_containerd()
    refs = {}
    for name, entry, src, extra in (("bench-native", "/hello", hello_native, []),
                                    ("bench-wasm", "/hello.wasm", hello_wasm,
                                     ["--annotation", "module.wasm.image/variant=compat"]),
                                    ("loop-native", "/hello", loop_native, []),
                                    ("loop-wasm", "/hello.wasm", loop_wasm,
                                     ["--annotation", "module.wasm.image/variant=compat"])):
        ref = f"{registry}/{name}:v1"
        if name.endswith("wasm") and t.run([t.KAPSUL, "oci", "push", "--plain-http", "--format", "compat", src,
                                            ref])[0] == 0:
            how = "kapsul oci push"
        else:
            layout = os.path.join(tmp, name + "-layout")
            sh([sys.executable, os.path.join(ROOT, "tests", "oci", "mkimage.py"), layout, "v1", entry,
                f"{src}:{entry}", "--gzip"] + extra)
            sh(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{ref}"])
            how = "skopeo"
        sh(["ctr", "-a", t.SOCK, "-n", t.NS, "images", "pull", "--plain-http", ref])
        refs[name] = (ref, how)
    ctr = ["ctr", "-a", t.SOCK, "-n", t.NS, "run", "--rm", "--runc-root", t.RUNC_ROOT]
    serve, port = start_serve(wagi_wasm)
    serve_request(port)  # the first request builds the template: not a start we time
    runs = {"a": [], "a2": [], "b": [], "c": [], "d": []}
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[0]
    for i in range(RUNS):
        runs["a"].append(timed(ctr + ["--runc-binary", "/usr/sbin/runc", refs["bench-native"][0], f"a{i}"],
                               "hello, world"))
        runs["a2"].append(timed(ctr + ["--runc-binary", t.RUNC, refs["bench-native"][0], f"a2-{i}"], "hello, world"))
        runs["b"].append(timed(ctr + ["--runc-binary", t.RUNC, refs["bench-wasm"][0], f"b{i}"], "hello, world"))
        runs["c"].append(serve_request(port))
        runs["d"].append(timed([t.KAPSUL, "run", hello_wasm], "hello, world"))
    with open("/proc/loadavg") as f:
        load_after = f.read().split()[0]
    serve_mib = rss_kib(serve_pid(serve), "VmHWM") / 1024
    mem_a = running_memory(refs["loop-native"][0], "mem-a", "/usr/sbin/runc", ["/hello", "loop"])
    mem_b = running_memory(refs["loop-wasm"][0], "mem-b", t.RUNC, ["/hello.wasm", "loop"])
    out = sh([spawnstat, "15", t.KAPSUL, "run", hello_wasm])
    fields = out.split()
    peak_d = f"peak RSS {int(fields[fields.index('maxrss_kb_median') + 1]) / 1024:.1f} MiB (ru_maxrss, median of 15)"
    size_a = image_size(registry, "bench-native")
    size_b = image_size(registry, "bench-wasm")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print(f"Measured {when} (commit {commit}) with `bench/containers.sh {RUNS}`: {RUNS} starts of each, "
          f"interleaved; load average {load_before} before, {load_after} after (2 cores shared with other "
          f"work: absolute times are inflated, ratios less so). Images pulled beforehand (a start never "
          f"pulls). containerd {sh(['containerd', '--version']).split()[2]}, runc from Debian.\n")
    print("| variant | start p50 | start p99 | memory while running | image size |")
    print("|---|---|---|---|---|")
    print(f"| (a) static native hello in a runc container (`ctr run --rm`) | {pct(runs['a'], 50):.0f} ms | "
          f"{pct(runs['a'], 99):.0f} ms | process {mem_a[0]:.1f} MiB + shim {mem_a[1]:.1f} MiB | "
          f"{size_a / 1024:.0f} KiB (program {os.path.getsize(hello_native) / 1024:.0f} KiB) |")
    print(f"| (a') the same native container through kapsul-runc (delegated to runc) | {pct(runs['a2'], 50):.0f} ms | "
          f"{pct(runs['a2'], 99):.0f} ms | as (a) | as (a) |")
    print(f"| (b) hello.wasm through kapsul-runc (`ctr run --rm`) | {pct(runs['b'], 50):.0f} ms | "
          f"{pct(runs['b'], 99):.0f} ms | process {mem_b[0]:.1f} MiB + shim {mem_b[1]:.1f} MiB | "
          f"{size_b / 1024:.1f} KiB (program {os.path.getsize(hello_wasm) / 1024:.1f} KiB; {refs['bench-wasm'][1]}) |")
    print(f"| (c) the handler under `kapsul serve`, a fresh instance per request (new connection each) | "
          f"{pct(runs['c'], 50):.2f} ms | {pct(runs['c'], 99):.2f} ms | server peak RSS {serve_mib:.1f} MiB "
          f"(VmHWM after {RUNS + 1} requests) | {os.path.getsize(wagi_wasm) / 1024:.1f} KiB (the .wasm) |")
    print(f"| (d) `kapsul run hello.wasm`, a process per start | {pct(runs['d'], 50):.1f} ms | "
          f"{pct(runs['d'], 99):.1f} ms | {peak_d} | {os.path.getsize(hello_wasm) / 1024:.1f} KiB (the .wasm) |")
    print(f"\nb/a start p50 ratio: {pct(runs['b'], 50) / pct(runs['a'], 50):.2f}; "
          f"a'/a (the cost of delegation): {pct(runs['a2'], 50) / pct(runs['a'], 50):.2f}; "
          f"c/a: {pct(runs['c'], 50) / pct(runs['a'], 50):.4f}; d/a: {pct(runs['d'], 50) / pct(runs['a'], 50):.3f}.")


if __name__ == "__main__":
    try:
        main()
    finally:
        t.cleanup()
