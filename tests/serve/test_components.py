#!/usr/bin/env python3
"""test_components.py -- wasi:http components under `kapsul serve` and `kapsul up` (issue 16).

Usage: test_components.py PATH/TO/kapsul TESTS_COMPONENT_DIR

Builds the test material in a temporary directory first: the componentize-js handler
(tests/component/http/handler.js through build-http.mjs, 12-14 MB, not checked in), the Spin JS SDK
handler (tests/component/spin-js/build.sh, j2w) and the hostile handler (hostile_http.wat through
`jco parse`); all need tests/component/node_modules (scripts/setup.sh runs `npm ci` there;
KAPSUL_TEST_HTTP_HANDLER=FILE uses a build of the first recipe instead of building it). Each test starts its own servers on 127.0.0.1 (port 0,
read back from the log), an upstream Python http.server for outgoing requests and, for the
reference, `jco serve --isolate-requests instance` on node; drives them with http.client and curl;
stops every process by PID. Request counts and waits are bounded; nothing asserts how long
anything took. Ends with "N passed, N failed".
"""
import http.client
import http.server
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

KAPSUL = os.path.abspath(sys.argv[1])
COMPONENTS = os.path.abspath(sys.argv[2])
NODE_MODULES = os.path.join(COMPONENTS, "node_modules")
JCO = os.path.join(NODE_MODULES, ".bin", "jco")
TMP = tempfile.mkdtemp(prefix="kapsul-components-")
HANDLER = os.path.join(TMP, "handler.wasm")
HOSTILE = os.path.join(TMP, "hostile_http.wasm")
SPIN_JS = os.path.join(TMP, "spin_js.wasm")
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$")
# KAPSUL_TEST_TIER=native: every kapsul server compiles the components' core modules through
# kapsul-llvmc (cached in TMP); serve.components.native runs the hostile handler that way.
TIER = ["--tier", "native", "--cache", os.path.join(TMP, "cache")] if os.environ.get("KAPSUL_TEST_TIER") == "native" else []


WASM_ONLY = {"test_hostile_handlers", "test_module_and_component_refusals"}  # need no JavaScript build


def build(js):
    if not os.path.exists(JCO):
        raise SystemExit("test_components.py: %s missing: run scripts/setup.sh (npm ci in tests/component)" % JCO)
    subprocess.run([JCO, "parse", os.path.join(COMPONENTS, "http", "hostile_http.wat"), "-o", HOSTILE], check=True,
                   timeout=120, stdout=subprocess.DEVNULL)
    if not js:
        return
    prebuilt = os.environ.get("KAPSUL_TEST_HTTP_HANDLER")  # a build of the same recipe, to iterate faster
    if prebuilt:
        shutil.copy(prebuilt, HANDLER)
    else:
        subprocess.run(["node", os.path.join(COMPONENTS, "http", "build-http.mjs"), HANDLER], check=True,
                       timeout=900, cwd=COMPONENTS, stdout=subprocess.DEVNULL)
    subprocess.run([os.path.join(COMPONENTS, "spin-js", "build.sh"), SPIN_JS], check=True, timeout=900,
                   stdout=subprocess.DEVNULL)


class Server:
    """One kapsul serve/up process logging to its own file; `port` is where it listens."""
    count = 0

    def __init__(self, *args, cwd=None):
        Server.count += 1
        self.log = os.path.join(TMP, "log%d.jsonl" % Server.count)
        cmd = [KAPSUL, args[0], *TIER, "--listen", "127.0.0.1:0", "--log-file", self.log, *map(str, args[1:])]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
        self.port = None
        for _ in range(1200):  # up to ~60 s: the 14 MB component is compiled at start-up
            if self.proc.poll() is not None:
                raise AssertionError("server exited %s: %s" % (self.proc.returncode, self.proc.stderr.read()))
            for rec in self.records():
                m = re.match(r"http://127\.0\.0\.1:(\d+)$", rec.get("message", "")[13:])
                if m:
                    self.port = int(m.group(1))
            if self.port:
                break
            time.sleep(0.05)
        assert self.port, "no 'listening' line in the log"

    def records(self):
        try:
            with open(self.log) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def requests(self):
        return [r for r in self.records() if r.get("kind") == "request"]

    def get(self, path, method="GET", body=None, headers=None, timeout=60):
        return request(self.port, path, method, body, headers, timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise AssertionError("server did not exit after SIGTERM")
        assert self.proc.returncode == 0, (self.proc.returncode, err)


def request(port, path, method="GET", body=None, headers=None, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        c.close()


def serve(*args):
    return Server("serve", *args)


class Upstream:
    """A Python http.server on 127.0.0.1 that answers GET /hello with a fixed text."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"upstream says hi"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Jco:
    """`jco serve --isolate-requests instance` of a component on node (the reference)."""

    def __init__(self, wasm):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen([JCO, "serve", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--isolate-requests", "instance", wasm], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, cwd=TMP, start_new_session=True)
        for _ in range(600):  # up to ~60 s: jco transpiles the component first
            if self.proc.poll() is not None:
                raise AssertionError("jco serve exited: %s" % self.proc.stderr.read())
            try:
                request(self.port, "/hello", timeout=5)
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("jco serve did not start")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: node and what it started
        try:
            self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.communicate()


# ---- The componentize-js handler ----------------------------------------------------------------

def test_get_post_headers_status():
    s = serve(HANDLER)
    try:
        st, h, out = s.get("/hello")
        assert (st, out, h.get("x-handler")) == (200, b"hello from js\n", "componentize-js"), (st, h, out)
        assert TRACEPARENT.match(h.get("traceparent", "")), h
        body = bytes(range(256)) * 64  # 16 KiB, every byte value
        st, h, out = s.get("/echo", method="POST", body=body, headers={"Content-Type": "application/x-test"})
        assert (st, h.get("content-type")) == (200, "application/x-test") and out == body, (st, h, len(out))
        st, h, out = s.get("/echo", method="PUT", body=b"x")
        assert st == 405, st
        st, h, out = s.get("/headers?q=1&r", headers={"X-In": "from the client"})
        assert (st, out) == (200, b"GET /headers?q=1&r\n"), (st, out)
        assert (h.get("x-echo"), h.get("x-multi")) == ("from the client", "a, b"), h
        st, h, out = s.get("/headers", method="DELETE")
        assert (st, out, h.get("x-echo")) == (200, b"DELETE /headers\n", "none"), (st, out, h)
        st, h, out = s.get("/headers", method="PURGE")  # method other("PURGE")
        assert (st, out) == (200, b"PURGE /headers\n"), (st, out)
        for code in (201, 404, 418, 503):
            st, h, out = s.get("/status/%d" % code)
            assert (st, out) == (code, b"status %d\n" % code), (code, st, out)
        st, _, out = s.get("/nowhere")
        assert (st, out) == (404, b"not found\n"), (st, out)
        outcomes = {r["outcome"] for r in s.requests()}
        assert outcomes == {"ok"}, outcomes
    finally:
        s.stop()


def test_curl():
    s = serve(HANDLER)
    try:
        url = "http://127.0.0.1:%d" % s.port
        out = subprocess.run(["curl", "-s", "-i", url + "/hello"], capture_output=True, check=True, timeout=60).stdout
        assert out.startswith(b"HTTP/1.1 200") and b"x-handler: componentize-js" in out, out
        assert out.endswith(b"\r\n\r\nhello from js\n"), out
        out = subprocess.run(["curl", "-s", "--data-binary", "posted by curl", "-H", "Content-Type: text/x-curl",
                              url + "/echo"], capture_output=True, check=True, timeout=60).stdout
        assert out == b"posted by curl", out
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url + "/status/202"],
                             capture_output=True, check=True, timeout=60).stdout
        assert out == b"202", out
        out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", url + "/hello"], capture_output=True,
                             check=True, timeout=60).stdout
        assert out == b"hello from js\n", out
    finally:
        s.stop()


def test_fresh_instance_per_request():
    """A module-level counter reads 1 on every request: nothing survives from one to the next."""
    s = serve(HANDLER)
    try:
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
        counts = []
        for _ in range(100):  # one keep-alive connection, 100 requests
            c.request("GET", "/count")
            r = c.getresponse()
            counts.append((r.status, r.read()))
        c.close()
        assert counts == [(200, b"count=1\n")] * 100, sorted(set(counts))
        results = []

        def worker():
            for _ in range(10):
                results.append(s.get("/count")[::2])
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert results == [(200, b"count=1\n")] * 40, sorted(set(results))
        logged = [r for r in s.requests() if r["path"] == "/count"]
        assert len(logged) == 140 and all(r["instantiate_us"] > 0 for r in logged), len(logged)
    finally:
        s.stop()


def test_outbound_allowed_and_denied():
    up = Upstream()
    target = {"X-Target": "http://127.0.0.1:%d/hello" % up.port}
    try:
        s = serve("--allow-outbound", "http://127.0.0.1:%d" % up.port, HANDLER)
        try:
            st, _, out = s.get("/fetch", headers=target)
            assert (st, out) == (200, b"upstream 200: upstream says hi"), (st, out)
            other = {"X-Target": "http://127.0.0.1:%d/hello" % (up.port ^ 1)}  # another port: denied
            st, _, out = s.get("/fetch", headers=other)
            assert st == 502 and out.startswith(b"fetch failed"), (st, out)
        finally:
            s.stop()
        denied = [r for r in s.records() if r.get("kind") == "server" and "denied" in r.get("message", "")]
        assert len(denied) == 1 and ":%d" % (up.port ^ 1) in denied[0]["message"], denied
        s = serve("--allow-outbound", "*://localhost:*", HANDLER)  # a pattern that does not match 127.0.0.1
        try:
            st, _, out = s.get("/fetch", headers=target)
            assert st == 502 and out.startswith(b"fetch failed"), (st, out)
        finally:
            s.stop()
        s = serve(HANDLER)  # no grant at all
        try:
            st, _, out = s.get("/fetch", headers=target)
            assert st == 502 and out.startswith(b"fetch failed"), (st, out)
        finally:
            s.stop()
        assert any("denied" in r.get("message", "") for r in s.records() if r.get("kind") == "server")
        bad = subprocess.run([KAPSUL, "serve", "--allow-outbound", "127.0.0.1:80", HANDLER], capture_output=True,
                             text=True, timeout=60)
        assert bad.returncode == 2 and "--allow-outbound" in bad.stderr and "scheme" in bad.stderr, bad
    finally:
        up.stop()


def write_manifest(d, upstream_port, executor=""):
    shutil.copy(HANDLER, os.path.join(d, "handler.wasm"))
    with open(os.path.join(d, "spin.toml"), "w") as f:
        f.write('''spin_manifest_version = 2
[application]
name = "components"
version = "1.0.0"

[[trigger.http]]
route = "/open/..."
component = "open"
%s
[[trigger.http]]
route = "/closed/..."
component = "closed"
executor = { type = "spin" }

[component.open]
source = "handler.wasm"
allowed_outbound_hosts = ["http://127.0.0.1:%d"]

[component.closed]
source = "handler.wasm"
''' % (executor, upstream_port))


def test_up_outbound_per_component():
    """allowed_outbound_hosts is per component: the same handler is allowed under one, denied under
    the other (routes "/..." and "/fetch" so the handler sees the paths it knows)."""
    up = Upstream()
    d = tempfile.mkdtemp(dir=TMP)
    try:
        shutil.copy(HANDLER, os.path.join(d, "handler.wasm"))
        with open(os.path.join(d, "spin.toml"), "w") as f:
            f.write('''spin_manifest_version = 2
[application]
name = "outbound"

[[trigger.http]]
route = "/..."
component = "closed"

[[trigger.http]]
route = "/fetch"
component = "open"

[[trigger.http]]
route = "/count"
component = "open"
executor = { type = "spin" }

[component.open]
source = "handler.wasm"
allowed_outbound_hosts = ["http://127.0.0.1:%d"]

[component.closed]
source = "handler.wasm"
''' % up.port)
        s = Server("up", "-f", d)
        target = {"X-Target": "http://127.0.0.1:%d/hello" % up.port}
        try:
            st, _, out = s.get("/fetch", headers=target)  # component "open"
            assert (st, out) == (200, b"upstream 200: upstream says hi"), (st, out)
            st, _, out = s.get("/hello")  # component "closed"
            assert (st, out) == (200, b"hello from js\n"), (st, out)
            counts = [s.get("/count")[2] for _ in range(20)]
            assert counts == [b"count=1\n"] * 20, counts
            st, _, out = s.get("/spin?q=1")  # Spin's request headers, as its executor sets them
            want = ("spin-full-url=http://127.0.0.1:%d/spin?q=1\nspin-path-info=/spin\nspin-matched-route=/...\n"
                    "spin-base-path=/\nspin-component-route=\nspin-raw-component-route=/...\n" % s.port)
            assert (st, out.decode()) == (200, want), (st, out)
        finally:
            s.stop()
        by_path = {r["path"]: r["component"] for r in s.requests()}
        assert by_path == {"/fetch": "open", "/hello": "closed", "/count": "open", "/spin": "closed"}, by_path
        # the closed component is denied the same request
        with open(os.path.join(d, "spin.toml")) as f:
            text = f.read()
        with open(os.path.join(d, "spin.toml"), "w") as f:
            f.write(text.replace('route = "/fetch"\ncomponent = "open"', 'route = "/fetch"\ncomponent = "closed"'))
        s = Server("up", "-f", d)
        try:
            st, _, out = s.get("/fetch", headers=target)
            assert st == 502 and out.startswith(b"fetch failed"), (st, out)
        finally:
            s.stop()
        assert any("component 'closed'" in r.get("message", "") and "denied" in r.get("message", "")
                   for r in s.records()), s.records()
    finally:
        up.stop()


def test_up_executor_mismatch():
    """A component under the WAGI executor, or a module under Spin's, is refused at start-up."""
    d = tempfile.mkdtemp(dir=TMP)
    write_manifest(d, 1, executor='executor = { type = "wagi" }')
    r = subprocess.run([KAPSUL, "up", "-f", d, "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "wasi:http component" in r.stderr and "spin.toml:" in r.stderr, r.stderr


def test_trace_wasi():
    s = serve("--trace-wasi", HANDLER)
    try:
        st, h, _ = s.get("/hello")
        assert st == 200, st
    finally:
        s.stop()
    trace = TRACEPARENT.match(h["traceparent"]).group(1)
    calls = [r["call"] for r in s.records() if r.get("kind") == "wasi" and r.get("trace_id") == trace]
    assert any(c.startswith("wasi:http/types#[method]incoming-request.path-with-query(") for c in calls), calls[:5]
    assert any(c.startswith("wasi:http/types#[static]response-outparam.set(") for c in calls), calls[-5:]


def test_same_answers_as_jco():
    """The same requests to kapsul serve and to jco serve on node: the same status, body and the
    handler's own headers."""
    up = Upstream()
    s = serve("--allow-outbound", "http://127.0.0.1:%d" % up.port, HANDLER)
    j = Jco(HANDLER)
    cases = [("GET", "/hello", None, {}), ("GET", "/count", None, {}), ("GET", "/count", None, {}),
             ("POST", "/echo", b"some body \x00\xff", {"Content-Type": "application/octet-stream"}),
             ("GET", "/headers?a=b", None, {"X-In": "value"}), ("GET", "/status/418", None, {}),
             ("GET", "/status/201", None, {}), ("GET", "/missing", None, {}),
             ("GET", "/fetch", None, {"X-Target": "http://127.0.0.1:%d/hello" % up.port})]
    try:
        for method, path, body, headers in cases:
            a = s.get(path, method, body, headers)
            b = request(j.port, path, method, body, headers)
            keys = ("x-handler", "x-echo", "x-multi", "content-type")
            ha = {k: a[1].get(k) for k in keys}
            hb = {k: b[1].get(k) for k in keys}
            assert (a[0], a[2], ha) == (b[0], b[2], hb), (path, a, b)
    finally:
        j.stop()
        s.stop()
        up.stop()


# ---- The Spin JS SDK handler (tests/component/spin-js) ------------------------------------------

def test_spin_js_sdk_under_up():
    """Spin's http-js handler (j2w, wasi:http 0.2.3) as `spin up` would run it: no executor."""
    d = tempfile.mkdtemp(dir=TMP)
    shutil.copy(SPIN_JS, os.path.join(d, "app.wasm"))
    with open(os.path.join(d, "spin.toml"), "w") as f:
        f.write('spin_manifest_version = 2\n[application]\nname = "spin-js"\n\n[[trigger.http]]\n'
                'route = "/..."\ncomponent = "app"\n\n[component.app]\nsource = "app.wasm"\n')
    s = Server("up", "-f", d)
    j = Jco(SPIN_JS)
    try:
        cases = [("GET", "/some/path?x=1", None, {}), ("POST", "/echo", b"posted text", {"Content-Type": "text/x-a"}),
                 ("PUT", "/", b"", {})]
        for method, path, body, headers in cases:
            a = s.get(path, method, body, headers)
            b = request(j.port, path, method, body, headers)
            keys = ("content-type", "x-kapsul-test", "allow")
            assert (a[0], a[2], {k: a[1].get(k) for k in keys}) == (b[0], b[2], {k: b[1].get(k) for k in keys}), \
                (path, a, b)
        st, h, out = s.get("/hello")
        assert (st, out, h.get("x-kapsul-test")) == (200, b"hello from spin-js: /hello\n", "spin-js"), (st, h, out)
        st, h, out = s.get("/", "POST", b"abc", {"Content-Type": "text/plain"})
        assert (st, out) == (201, b"echo 3: abc"), (st, out)
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
        for i in range(100):
            c.request("GET", "/n%d" % i)
            r = c.getresponse()
            assert (r.status, r.read()) == (200, b"hello from spin-js: /n%d\n" % i), i
        c.close()
    finally:
        j.stop()
        s.stop()
    recs = [r for r in s.requests() if r["path"].startswith("/n")]
    assert len(recs) == 100 and all(r["component"] == "app" and r["outcome"] == "ok" for r in recs), recs[:3]


# ---- Hostile handlers ---------------------------------------------------------------------------

def test_hostile_handlers():
    s = serve("--timeout", "2s", HOSTILE)
    try:
        assert s.get("/ok")[::2] == (200, b"ok\n")
        for path in ("/trap", "/never", "/error", "/unfinished"):
            st, h, out = s.get(path)
            assert st == 500 and out == b"Internal Server Error\n", (path, st, out)
            assert TRACEPARENT.match(h.get("traceparent", "")), h
        st, _, _ = s.get("/loop")
        assert st == 504, st
        # invalid-syntax (a space), forbidden (connection), invalid-syntax (a newline), immutable
        st, h, out = s.get("/badheader")
        assert (st, out) == (200, b"codes=0102\n"), (st, out)
        assert "connection" not in h.get("x-ok", "") and "bad name" not in h, h
        assert s.get("/ok")[::2] == (200, b"ok\n"), "the server still answers"
    finally:
        s.stop()
    outcome = {r["path"]: r["outcome"] for r in s.requests()}
    assert outcome["/trap"].startswith("trap: unreachable at 0x"), outcome
    assert "never set a response" in outcome["/never"], outcome
    assert outcome["/error"] == "handler error: internal-error", outcome
    assert "HTTP-response-incomplete" in outcome["/unfinished"], outcome
    assert outcome["/loop"] == "timeout", outcome
    s = serve(HOSTILE)  # no --timeout: the budget, not the clock, ends this one
    try:
        st, _, _ = s.get("/flood", timeout=600)  # clones fields until the host's budget traps it
        assert st == 500, st
        assert s.get("/ok")[::2] == (200, b"ok\n"), "the server still answers"
    finally:
        s.stop()
    outcome = {r["path"]: r["outcome"] for r in s.requests()}
    assert "out of host memory for this instance" in outcome["/flood"], outcome


def test_module_and_component_refusals():
    """A component that is no HTTP handler, and bytes that are neither, get clear errors."""
    cli = os.path.join(COMPONENTS, "cli_hello.wasm")
    r = subprocess.run([KAPSUL, "serve", "--listen", "127.0.0.1:0", cli], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "wasi:http/incoming-handler" in r.stderr, r.stderr
    bad = os.path.join(TMP, "truncated.wasm")
    with open(HOSTILE, "rb") as f:
        data = f.read()
    with open(bad, "wb") as f:
        f.write(data[: len(data) // 2])
    r = subprocess.run([KAPSUL, "serve", "--listen", "127.0.0.1:0", bad], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "truncated.wasm" in r.stderr, r.stderr


def main():
    only = os.environ.get("KAPSUL_SERVE_TEST")  # a part of a test name: run only those
    tests = [(k, v) for k, v in globals().items() if k.startswith("test_") and callable(v) and
             (not only or only in k)]
    build(any(name not in WASM_ONLY for name, _ in tests))
    passed = failed = 0
    for name, fn in tests:
        try:
            fn()
            passed += 1
            print("ok   %s" % name, flush=True)
        except Exception as e:  # noqa: BLE001 -- report every failure and go on
            failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e), flush=True)
    shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
