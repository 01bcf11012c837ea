#!/usr/bin/env python3
"""test_serve.py -- `kapsul serve` and `kapsul up` end to end, with a WAGI guest built at test time.

Usage: test_serve.py PATH/TO/kapsul GUEST_DIR [--tier native]

With --tier native every server runs its guest as native code (`--tier native`, compiled once at
start-up by kapsul-llvmc into a cache under the test's temporary directory) and only the tests in
NATIVE_TESTS run: the WAGI contract, the 1 MiB body, fresh instances, timeouts, keep-alive and
routing, which do not depend on the tier (fuel is the interpreter's).

Builds tests/serve/guests/wagi_echo.c with `clang --target=wasm32-wasi` ($CLANG), then each test
starts `kapsul serve` or `kapsul up` itself on 127.0.0.1 (port 0; the port is read from the first
line of the JSON log), drives it with http.client, raw sockets and threads, and stops it by PID
with SIGTERM (exit status 0 expected). Request counts and waits are bounded; nothing asserts how
long anything took. Ends with "N passed, N failed".
"""
import concurrent.futures
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

KAPSUL = os.path.abspath(sys.argv[1])
GUESTS = os.path.abspath(sys.argv[2])
NATIVE = sys.argv[3:5] == ["--tier", "native"]
TMP = tempfile.mkdtemp(prefix="kapsul-serve-")
TIER = ["--tier", "native", "--cache", os.path.join(TMP, "cache")] if NATIVE else []
NATIVE_TESTS = {"test_cgi_environment", "test_host_environment_invisible", "test_output_mapping",
                "test_binary_body_1mib", "test_fresh_instance_per_request", "test_timeout_while_others_answer",
                "test_keep_alive", "test_up_routing_and_files", "test_trace_wasi_per_request",
                "test_perf_map"}
GUEST = os.path.join(TMP, "wagi_echo.wasm")
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$")


def build_guest():
    cmd = [os.environ.get("CLANG", "clang"), "--target=wasm32-wasi", "-O2", "-o", GUEST,
           os.path.join(GUESTS, "wagi_echo.c")]
    subprocess.run(cmd, check=True, timeout=300)


class Server:
    """One kapsul serve/up process, logging to its own file; `port` is where it listens."""
    count = 0

    def __init__(self, *args, env=None, listen_scheme="http"):
        Server.count += 1
        self.log = os.path.join(TMP, "log%d.jsonl" % Server.count)
        cmd = [KAPSUL, args[0], *TIER, "--listen", "127.0.0.1:0", "--log-file", self.log, *map(str, args[1:])]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env if env is not None else os.environ)
        self.port = None
        for _ in range(400):      # up to ~20 s for the first log line
            if self.proc.poll() is not None:
                raise AssertionError("server exited %s: %s" % (self.proc.returncode, self.proc.stderr.read()))
            for rec in self.records():
                m = re.match(listen_scheme + r"://127\.0\.0\.1:(\d+)$", rec.get("message", "")[13:])
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

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path, method="GET", body=None, headers=None, timeout=30):
        c = self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
        finally:
            c.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise AssertionError("server did not exit after SIGTERM")
        assert self.proc.returncode == 0, (self.proc.returncode, err)
        return out, err


def env_of(body):
    """The guest's env page as (argv list, env dict, other lines dict)."""
    argv, env, rest = [], {}, {}
    for line in body.decode().split("\n"):
        if line.startswith("argv["):
            argv.append(line.split("=", 1)[1])
        elif line.startswith("env "):
            k, v = line[4:].split("=", 1)
            env[k] = v
        elif " " in line:
            k, v = line.split(" ", 1)
            rest[k] = v
    return argv, env, rest


def serve(*args, **kw):
    return Server("serve", *args, GUEST, **kw)


# ---- The WAGI contract -------------------------------------------------------------------------

def test_cgi_environment():
    s = serve("--env", "GREETING=hi")
    try:
        body = b"name=kapsul"
        st, h, out = s.get("/a/b%20c?env&x=1&y", method="POST", body=body,
                           headers={"X-Foo": "bar", "X-Foo-Two": "a", "Authorization": "Basic c2VjcmV0",
                                    "Content-Type": "application/x-www-form-urlencoded", "Host": "example.test:81"})
        assert st == 200, (st, out)
        argv, env, rest = env_of(out)
        expect = {
            "AUTH_TYPE": "", "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "GATEWAY_INTERFACE": "CGI/1.1", "PATH_INFO": "/a/b c", "PATH_TRANSLATED": "/a/b c",
            "QUERY_STRING": "env&x=1&y", "REMOTE_ADDR": "127.0.0.1", "REMOTE_HOST": "127.0.0.1", "REMOTE_USER": "",
            "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_SOFTWARE": "WAGI/1", "SERVER_NAME": "example.test", "SERVER_PORT": "81",
            "X_FULL_URL": "http://example.test:81/a/b%20c?env&x=1&y", "X_BASE_PATH": "/", "X_MATCHED_ROUTE": "/...",
            "X_RAW_COMPONENT_ROUTE": "/...", "X_COMPONENT_ROUTE": "", "X_RAW_PATH_INFO": "/a/b%20c",
            "HTTP_X_FOO": "bar", "HTTP_X_FOO_TWO": "a", "HTTP_HOST": "example.test:81", "GREETING": "hi",
        }
        for k, v in expect.items():
            assert env.get(k) == v, (k, env.get(k), v)
        assert env["X_CLIENT_ADDR"].startswith("127.0.0.1:"), env["X_CLIENT_ADDR"]
        assert "HTTP_AUTHORIZATION" not in env and "HTTP_CONNECTION" not in env, env
        assert argv == ["/a/b%20c", "env", "x=1", "y"], argv
        assert rest["stdin"] == str(len(body)) and rest["body"] == "name=kapsul", rest
        assert b"guest says hello" not in out and b"stderr" not in out.replace(b"stderr written", b"")
        assert h["content-type"] == "text/plain", h
        assert TRACEPARENT.match(h.get("traceparent", "")), h
    finally:
        s.stop()


def test_host_environment_invisible():
    env = dict(os.environ, KAPSUL_TEST_SECRET="leaked", HOME="/root-secret")
    s = serve("--env", "ONLY=this", env=env)
    try:
        st, _, out = s.get("/?hostenv")
        assert st == 200, (st, out)
        names = {line.split("=", 1)[0] for line in out.decode().splitlines() if "=" in line}
        assert "KAPSUL_TEST_SECRET" not in names and "HOME" not in names and "PATH" not in names, names
        assert "ONLY" in names and "REQUEST_METHOD" in names, names
        cgi = {"AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE", "PATH_INFO", "PATH_TRANSLATED",
               "QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_USER", "REQUEST_METHOD", "SCRIPT_NAME",
               "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE", "X_BASE_PATH", "X_CLIENT_ADDR",
               "X_COMPONENT_ROUTE", "X_FULL_URL", "X_MATCHED_ROUTE", "X_RAW_COMPONENT_ROUTE", "X_RAW_PATH_INFO"}
        extra = {n for n in names if n not in cgi and not n.startswith("HTTP_") and n != "ONLY"}
        assert not extra, extra
    finally:
        s.stop()


def test_output_mapping():
    s = serve()
    try:
        st, h, out = s.get("/?status=201")
        assert (st, h.get("x-guest"), out) == (201, "yes", b"status page\n"), (st, h, out)
        st, h, out = s.get("/?status=418")
        assert st == 418, (st, out)
        st, h, out = s.get("/?status=abc")
        assert st == 502, (st, out)
        st, h, out = s.get("/?location")
        assert st == 302 and h.get("location") == "/elsewhere", (st, h)
        for q in ("bad", "exit3", "trap"):
            st, h, out = s.get("/?" + q)
            assert st == 500, (q, st, out)
            assert b"about to trap" not in out and b"bye" not in out, (q, out)
            assert TRACEPARENT.match(h.get("traceparent", "")), h
        st, _, out = s.get("/?env")
        assert st == 200, "the server still answers"
        outcomes = {r["outcome"] for r in s.records() if r.get("kind") == "request"}
        # A trap names its innermost frames: "trap: unreachable at 0x1a3 func[5] name ...".
        assert "exit 3" in outcomes and any(o.startswith("trap: unreachable at 0x") and " func[" in o
                                            for o in outcomes), outcomes
    finally:
        s.stop()


def test_binary_body_1mib():
    s = serve()
    try:
        body = os.urandom(1 << 20)
        st, h, out = s.get("/?echo", method="POST", body=body, headers={"Content-Type": "application/octet-stream"})
        assert st == 200 and out == body, (st, len(out))
        assert h["content-type"] == "application/octet-stream"
    finally:
        s.stop()


def test_fresh_instance_per_request():
    s = serve()
    try:
        def one(i):
            st, _, out = s.get("/r%d?env" % i, timeout=120)
            _, _, rest = env_of(out)
            return st, rest.get("counter")
        with concurrent.futures.ThreadPoolExecutor(max_workers=64) as ex:
            results = list(ex.map(one, range(400)))
        assert all(r == (200, "1") for r in results), [r for r in results if r != (200, "1")][:5]
    finally:
        s.stop()


def test_timeout_while_others_answer():
    s = serve("--timeout", "2s")
    try:
        results = {}

        def slow(i):
            results[i] = s.get("/?loop", timeout=60)[0]
        threads = [threading.Thread(target=slow, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        for i in range(20):
            st, _, out = s.get("/?env")
            assert st == 200, (st, out)
        for t in threads:
            t.join(60)
        assert results == {0: 504, 1: 504}, results
        recs = [r for r in s.records() if r.get("kind") == "request" and r["status"] == 504]
        assert len(recs) == 2 and all(r["outcome"] == "timeout" for r in recs), recs
    finally:
        s.stop()


def test_fuel_and_memory():
    s = serve("--fuel", "200000")
    try:
        st, _, out = s.get("/?loop")
        assert st == 500, (st, out)
        st, _, out = s.get("/?grow")
        assert st == 200 and out == b"grown\n", (st, out)
        recs = [r for r in s.records() if r.get("kind") == "request"]
        assert recs[0]["outcome"] == "fuel exhausted" and recs[0]["fuel_used"] >= 200000 - 10, recs[0]
        assert recs[1]["fuel_used"] > 0 and recs[1]["memory_pages"] > recs[0]["memory_pages"], recs
    finally:
        s.stop()


def test_keep_alive():
    s = serve()
    try:
        c = s.conn()
        ports = set()
        for i in range(20):
            c.request("GET", "/k%d?env" % i)
            r = c.getresponse()
            assert r.status == 200 and b"counter 1" in r.read()
            ports.add(c.sock.getsockname()[1])
        c.close()
        assert len(ports) == 1, ports
    finally:
        s.stop()


def test_sigterm_with_request_in_flight():
    s = serve()
    result = {}

    def slow():
        try:
            result["r"] = s.get("/?sleep", timeout=60)
        except Exception as e:  # noqa: BLE001
            result["r"] = type(e).__name__
    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)         # the guest sleeps 1.5 s; SIGTERM comes while it runs
    s.proc.send_signal(signal.SIGTERM)
    t.join(60)
    s.stop()
    assert isinstance(result.get("r"), tuple) and result["r"][0] == 200 and result["r"][2] == b"slept\n", result
    msgs = [r.get("message") for r in s.records() if r.get("kind") == "server"]
    assert msgs[-2:] == ["draining", "stopped"], msgs


def test_json_log_and_trace_context():
    s = serve()
    try:
        trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
        st, h, _ = s.get("/t?env", headers={"traceparent": "00-%s-%s-01" % (trace, parent)})
        m = TRACEPARENT.match(h["traceparent"])
        assert st == 200 and m and m.group(1) == trace and m.group(2) != parent, h
        st, h2, _ = s.get("/u?env", headers={"traceparent": "00-%s-%s-01" % ("0" * 32, parent)})
        assert TRACEPARENT.match(h2["traceparent"]).group(1) != "0" * 32, h2
        recs = s.records()
        req = [r for r in recs if r.get("kind") == "request" and r["path"] == "/t"][0]
        for k in ("time", "component", "route", "method", "path", "status", "bytes", "duration_us",
                  "instantiate_us", "fuel_used", "memory_pages", "trace_id", "span_id"):
            assert k in req, (k, req)
        assert req["trace_id"] == trace and req["parent_span_id"] == parent and req["span_id"] == m.group(2), req
        assert req["component"] == "wagi_echo.wasm" and req["method"] == "GET" and req["status"] == 200, req
        assert req["bytes"] > 0 and req["duration_us"] >= req["instantiate_us"] > 0, req
        lines = [r for r in recs if r.get("kind") == "guest_stderr" and r["trace_id"] == trace]
        assert [r["line"] for r in lines] == ["guest says hello on stderr", 'second "line"'], lines
        assert all(r["span_id"] == req["span_id"] for r in lines), lines
    finally:
        s.stop()


def test_trace_wasi_per_request():
    """--trace-wasi: every WASI call of a request is a "wasi" log line with that request's trace
    and span ids; six concurrent requests with bodies of different lengths each see only their
    own fd_read of the body and fd_write of the answer."""
    s = serve("--trace-wasi")
    try:
        traces = ["%032x" % (0xabc0 + i) for i in range(6)]
        bodies = [b"x" * (100 + 37 * i) for i in range(6)]

        def one(i):
            tp = "00-%s-%016x-01" % (traces[i], 0x1234 + i)
            return s.get("/?echo", method="POST", body=bodies[i], headers={"traceparent": tp})
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(one, range(6)))
        assert all(st == 200 and out == bodies[i] for i, (st, _, out) in enumerate(results)), results
        recs = s.records()
        reqs = {r["trace_id"]: r for r in recs if r.get("kind") == "request"}
        calls = [r for r in recs if r.get("kind") == "wasi"]
        assert calls and all(r["trace_id"] in reqs and r["span_id"] == reqs[r["trace_id"]]["span_id"] and
                             r["component"] == "wagi_echo.wasm" for r in calls), calls[:5]
        for i, t in enumerate(traces):
            mine = [r["call"] for r in calls if r["trace_id"] == t]
            n = len(bodies[i])
            reads = [int(m) for c in mine for m in re.findall(r"^fd_read\(0, .*\) = 0 \(\*0x[0-9a-f]+=(\d+)\)$", c)]
            writes = [int(m) for c in mine for m in re.findall(r"^fd_write\(1, .*\) = 0 \(\*0x[0-9a-f]+=(\d+)\)$", c)]
            assert n in reads and set(reads) <= {n, 0}, (i, mine)
            assert sum(writes) > n, (i, mine)  # the header block and the body
        # Without the flag, no call is logged.
        s2 = serve()
        try:
            assert s2.get("/?echo", method="POST", body=b"quiet")[0] == 200
            assert not [r for r in s2.records() if r.get("kind") == "wasi"]
        finally:
            s2.stop()
    finally:
        s.stop()


def test_perf_map():
    """--perf-map: with --tier native, /tmp/perf-PID.map names each compiled function of the
    component ("wagi_echo.wasm::...") inside the server's executable mappings; the interpreter
    has no code to map, so the flag is refused there."""
    if not NATIVE:
        r = subprocess.run([KAPSUL, "serve", "--perf-map", GUEST], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 2 and "a perf map needs native code" in r.stderr, r
        return
    s = serve("--perf-map")
    path = "/tmp/perf-%d.map" % s.proc.pid  # kapsul execs kapsul-serve: the same process
    try:
        assert s.get("/?env")[0] == 200
        code = []
        with open("/proc/%d/maps" % s.proc.pid) as f:
            for l in f:
                addr, perms = l.split()[:2]
                if "x" in perms:
                    code.append(tuple(int(a, 16) for a in addr.split("-")))
        rows = [re.fullmatch(r"([0-9a-f]+) ([0-9a-f]+) (wagi_echo\.wasm::.+)", l)
                for l in open(path).read().splitlines()]
        assert len(rows) > 10 and all(rows), rows[:5]
        for m in rows:
            a, n = int(m.group(1), 16), int(m.group(2), 16)
            assert n > 0 and any(lo <= a and a + n <= hi for lo, hi in code), (m.group(0), code)
    finally:
        s.stop()
        if os.path.exists(path):
            os.unlink(path)


def test_client_gone_interrupts_guest():
    s = serve()    # no --timeout: only the client's leaving can stop the endless guest
    try:
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        sock.sendall(b"GET /?loop HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.5)
        sock.close()
        rec = None
        for _ in range(400):     # the front notices within its probe interval; bounded wait
            recs = [r for r in s.records() if r.get("kind") == "request" and r["outcome"] == "cancelled"]
            if recs:
                rec = recs[0]
                break
            time.sleep(0.05)
        assert rec, "the endless guest was not interrupted"
        st, _, out = s.get("/?env")
        assert st == 200, (st, out)
    finally:
        s.stop()


def test_tls():
    cert, key = os.path.join(TMP, "cert.pem"), os.path.join(TMP, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True, timeout=120)
    s = Server("serve", "--tls-cert", cert, "--tls-key", key, GUEST, listen_scheme="https")
    try:
        r = subprocess.run(["curl", "-sk", "--http2", "-w", "\n%{http_version} %{http_code}",
                            "https://127.0.0.1:%d/x?env" % s.port], capture_output=True, text=True, timeout=60)
        assert r.stdout.endswith("2 200"), r
        assert "env SERVER_PROTOCOL=HTTP/2.0" in r.stdout, r.stdout
    finally:
        s.stop()


def test_metrics():
    s = serve("--metrics", "127.0.0.1:0", "--timeout", "1s")
    try:
        url = [r["message"] for r in s.records() if r.get("message", "").startswith("metrics on ")]
        port = int(re.search(r":(\d+)/metrics$", url[0]).group(1))
        for q in ("env", "env", "status=201", "loop"):
            s.get("/?" + q)
        s.get("/.well-known/spin/health")
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/metrics")
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        assert r.status == 200 and r.getheader("content-type").startswith("text/plain"), r.status
        for want in ('kapsul_requests_total{component="wagi_echo.wasm",status="200"} 2',
                     'kapsul_requests_total{component="wagi_echo.wasm",status="201"} 1',
                     'kapsul_requests_total{component="wagi_echo.wasm",status="504"} 1',
                     'kapsul_requests_total{component="",status="200"} 1',
                     'kapsul_request_duration_seconds_count{component="wagi_echo.wasm"} 4',
                     'kapsul_request_duration_seconds_bucket{component="wagi_echo.wasm",le="+Inf"} 4',
                     "kapsul_instances_live 0"):
            assert want in text.splitlines(), (want, text)
    finally:
        s.stop()


def test_otlp_spans():
    import http.server
    got = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *a):
            pass
    col = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    t = threading.Thread(target=col.serve_forever, daemon=True)
    t.start()
    try:
        s = serve("--otlp-endpoint", "http://127.0.0.1:%d/v1/traces" % col.server_address[1])
        ids = []
        try:
            for q in ("env", "status=503", "env"):
                st, h, _ = s.get("/o?" + q)
                ids.append(TRACEPARENT.match(h["traceparent"]).groups())
        finally:
            s.stop()      # flushes what is queued
        spans = [sp for req in got for rs in req["resourceSpans"] for ss in rs["scopeSpans"] for sp in ss["spans"]]
        assert sorted((sp["traceId"], sp["spanId"]) for sp in spans) == sorted(ids), (spans, ids)
        sp = spans[0]
        attrs = {a["key"]: a["value"] for a in sp["attributes"]}
        assert sp["kind"] == 2 and attrs["http.request.method"] == {"stringValue": "GET"}, sp
        assert attrs["kapsul.component"] == {"stringValue": "wagi_echo.wasm"}, attrs
        assert int(sp["endTimeUnixNano"]) >= int(sp["startTimeUnixNano"]) > 0, sp
        codes = sorted(int({a["key"]: a["value"] for a in x["attributes"]}["http.response.status_code"]["intValue"])
                       for x in spans)
        assert codes == [200, 200, 503], codes
        assert [x["status"]["code"] for x in spans if x["status"]["code"] == 2], "5xx marked as error"
    finally:
        col.shutdown()


# ---- kapsul up: manifests ------------------------------------------------------------------------

MANIFEST = """spin_manifest_version = 2
[application]
name = "routes"
version = "0.1.0"

[[trigger.http]]
route = "/hello"
component = "exact"
executor = { type = "wagi" }

[[trigger.http]]
route = "/api/..."
component = "wild"
executor = { type = "wagi" }

[[trigger.http]]
route = "/api/v2/..."
component = "longer"
executor = { type = "wagi", argv = "${SCRIPT_NAME} files ${ARGS}" }

[component.exact]
source = "guest.wasm"
environment = { WHO = "exact" }

[component.wild]
source = "guest.wasm"
environment = { WHO = "wild" }
allowed_outbound_hosts = ["https://example.com"]

[component.longer]
source = "guest.wasm"
environment = { WHO = "longer" }
files = ["static/*.txt", { source = "data", destination = "/data" }]
exclude_files = ["static/secret.txt"]
"""


def make_app(text):
    d = tempfile.mkdtemp(dir=TMP)
    shutil.copy(GUEST, os.path.join(d, "guest.wasm"))
    os.makedirs(os.path.join(d, "static"))
    os.makedirs(os.path.join(d, "data"))
    with open(os.path.join(d, "static", "a.txt"), "w") as f:
        f.write("static a\n")
    with open(os.path.join(d, "static", "secret.txt"), "w") as f:
        f.write("secret\n")
    with open(os.path.join(d, "data", "hello.txt"), "w") as f:
        f.write("hello data\n")
    with open(os.path.join(d, "spin.toml"), "w") as f:
        f.write(text)
    return d


def test_up_routing_and_files():
    d = make_app(MANIFEST)
    s = Server("up", "-f", d)
    try:
        def who(path):
            st, _, out = s.get(path)
            if st != 200:
                return st, None, None
            _, env, _ = env_of(out)
            return st, env.get("WHO"), (env.get("SCRIPT_NAME"), env.get("PATH_INFO"))
        assert who("/hello?env") == (200, "exact", ("/hello", "")), who("/hello?env")
        assert who("/hello/?env")[1] == "exact"
        assert who("/hello/x?env")[0] == 404
        assert who("/api?env") == (200, "wild", ("/api", "")), who("/api?env")
        assert who("/api/x/y?env") == (200, "wild", ("/api", "/x/y")), who("/api/x/y?env")
        assert who("/api/v2x?env")[1] == "wild"
        assert who("/other")[0] == 404 and who("/")[0] == 404
        st, _, out = s.get("/.well-known/spin/health")
        assert st == 200, st
        st, _, out = s.get("/api/v2/files")
        assert st == 200, (st, out)
        text = out.decode()
        assert "read hello data" in text and "write refused" in text, text
        assert "static static a" in text and "excluded absent" in text, text
        recs = [r for r in s.records() if r.get("kind") == "request"]
        assert {r["component"] for r in recs} >= {"exact", "wild", "longer"}, recs
        assert any("allowed_outbound_hosts" in (r.get("message") or "") for r in s.records()), "outbound hosts logged"
    finally:
        s.stop()
    assert not [p for p in os.listdir(os.environ.get("TMPDIR", "/tmp")) if p.startswith("kapsul-up-") and
                os.path.getmtime(os.path.join(os.environ.get("TMPDIR", "/tmp"), p)) > time.time() - 2]


def test_info_escapes_name():
    d = make_app(MANIFEST.replace('name = "routes"', r'name = "say \"hi\" \\ back\u00e9"'))
    s = Server("up", "-f", d)
    try:
        st, h, out = s.get("/.well-known/spin/info")
        assert st == 200 and h["content-type"] == "application/json", (st, h)
        info = json.loads(out)
        assert info["name"] == 'say "hi" \\ back\u00e9' and info["version"] == "0.1.0", info
        assert info["runtime"].startswith("kapsul "), info
    finally:
        s.stop()


def test_up_refuses_module_under_spin_executor():
    """Spin's default executor runs wasi:http components (tests/serve/test_components.py); a WAGI
    module under it is refused at start-up, by the trigger's position."""
    d = make_app(MANIFEST.replace('component = "wild"\nexecutor = { type = "wagi" }', 'component = "wild"'))
    r = subprocess.run([KAPSUL, "up", "-f", d, "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    path = os.path.join(d, "spin.toml")
    assert r.returncode == 1, r
    assert re.search("^" + re.escape(path) + r":11:1: component 'wild' is a core module: .*wagi", r.stderr, re.M), r.stderr


def test_up_bad_manifests():
    cases = [
        ("spin_manifest_version = 2\n[application\n", ":2:"),
        (MANIFEST.replace('route = "/hello"', 'route = "/hello"\nroot = 1'), ":8:1: unknown field 'root'"),
        (MANIFEST.replace('source = "guest.wasm"\nenvironment = { WHO = "exact" }', 'source = "missing.wasm"'),
         "component 'exact'"),
    ]
    for text, want in cases:
        d = make_app(text)
        r = subprocess.run([KAPSUL, "up", "-f", os.path.join(d, "spin.toml"), "--listen", "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and want in r.stderr, (want, r.returncode, r.stderr)


def test_missing_kapsul_serve():
    d = tempfile.mkdtemp(dir=TMP)
    shutil.copy(KAPSUL, os.path.join(d, "kapsul"))
    r = subprocess.run([os.path.join(d, "kapsul"), "serve", GUEST], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "cannot run %s/kapsul-serve" % d in r.stderr, r


def main():
    build_guest()
    tests = [(k, v) for k, v in globals().items() if k.startswith("test_") and callable(v)]
    only = os.environ.get("KAPSUL_SERVE_TEST")
    passed = failed = 0
    for name, fn in tests:
        if (only and only not in name) or (NATIVE and name not in NATIVE_TESTS):
            continue
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
