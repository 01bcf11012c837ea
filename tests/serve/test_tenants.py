#!/usr/bin/env python3
"""test_tenants.py -- `kapsul up` with many components: every route answers its own tenant.

Usage: test_tenants.py PATH/TO/kapsul [N]      (N defaults to 500)

Generates N distinct WAT handlers (tests/serve/tenants.py, compiled by `kapsul wat2wasm`) and one
spin.toml routing /t/<i> to each, starts `kapsul up` on 127.0.0.1 (port 0, read from the log),
and checks over a few keep-alive connections that every route answers "tenant <i>": once with the
default template cache and once with --max-templates 16, so templates are evicted and rebuilt
while requests go on (the second pass visits tenants again, out of order, and reads the
kapsul_templates_* counters of --metrics). Stops the server
with SIGTERM and expects exit 0. Ends with "N passed, N failed"; asserts no timings.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tenants  # noqa: E402

KAPSUL = os.path.abspath(sys.argv[1])
N = int(sys.argv[2]) if len(sys.argv) > 2 else 500
TMP = tempfile.mkdtemp(prefix="kapsul-tenants-")
results = {"passed": 0, "failed": 0}


def start(*extra):
    log = os.path.join(TMP, "log%d.jsonl" % len(os.listdir(TMP)))
    proc = subprocess.Popen([KAPSUL, "up", "-f", TMP, "--listen", "127.0.0.1:0", "--log-file", log, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(1200):  # up to ~60 s to load every component on a loaded machine
        if proc.poll() is not None:
            raise AssertionError("kapsul up exited %s: %s" % (proc.returncode, proc.stderr.read()))
        try:
            with open(log) as f:
                for line in f:
                    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", json.loads(line).get("message", ""))
                    if m:
                        return proc, int(m.group(1)), log
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("no 'listening' line in the log")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, "exit status %s" % proc.returncode


def visit(port, order, conns=4):
    """GET /t/<i> for every i in order over `conns` keep-alive connections; the wrong answers."""
    wrong = []

    def worker(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in order[k::conns]:
            c.request("GET", "/t/%d" % i)
            r = c.getresponse()
            body = r.read()
            if r.status != 200 or body.decode(errors="replace") != tenants.expected(i):
                wrong.append((i, r.status, body[:60]))
        c.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return wrong


def test_every_route_answers_its_tenant():
    proc, port, _ = start()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/.well-known/spin/health")
        assert c.getresponse().status == 200
        c.close()
        wrong = visit(port, list(range(N)))
        assert not wrong, "%d wrong answers, first: %r" % (len(wrong), wrong[:3])
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/t/%d" % N)
        r = c.getresponse()
        r.read()
        assert r.status == 404, "a route past the last tenant answered %d" % r.status
    finally:
        stop(proc)


def metrics(port):
    """The kapsul_templates_* values of /metrics."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^kapsul_templates_(\w+) (\d+)$", text, re.M)}


def test_evicted_templates_are_rebuilt():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        mport = s.getsockname()[1]
    proc, port, log = start("--max-templates", "16", "--metrics", "127.0.0.1:%d" % mport)
    try:
        order = list(range(N)) + list(range(N - 1, -1, -7)) + list(range(0, N, 3))
        wrong = visit(port, order)
        assert not wrong, "%d wrong answers, first: %r" % (len(wrong), wrong[:3])
        m = metrics(mport)
        assert m.get("live") == 16, m
        assert m.get("made_total", 0) > N and m.get("made_total") - m.get("evicted_total") == 16, m
    finally:
        stop(proc)
    with open(log) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    reqs = [r for r in recs if r.get("kind") == "request" and r.get("path", "").startswith("/t/")]
    assert len(reqs) == len(order), "%d request lines for %d requests" % (len(reqs), len(order))
    assert all(r["status"] == 200 and r["component"] == "t" + r["path"][3:] for r in reqs)


def run(test):
    try:
        test()
        results["passed"] += 1
        print("ok   " + test.__name__)
    except Exception as e:  # noqa: BLE001 -- report and go on
        results["failed"] += 1
        print("FAIL %s: %s" % (test.__name__, e))


if __name__ == "__main__":
    try:
        tenants.generate(KAPSUL, N, TMP)
        run(test_every_route_answers_its_tenant)
        run(test_evicted_templates_are_rebuilt)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, %d failed" % (results["passed"], results["failed"]))
    sys.exit(1 if results["failed"] else 0)
