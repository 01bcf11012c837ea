#!/usr/bin/env python3
"""test_http.py -- the HTTP front (src/serve/http*.c) through tests/serve/http_echo.c.

Usage: test_http.py PATH/TO/http_echo

Every test starts its own http_echo on 127.0.0.1 (port 0: the server picks a free port and prints
it), talks to it with http.client, raw sockets or curl, checks the server is still up, and stops
it by PID with SIGTERM. Request counts and waits are bounded; nothing asserts how long anything
took. Ends with "N passed, N failed".
"""
import concurrent.futures
import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

ECHO = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="kapsul-http-")


class Server:
    """One http_echo process; `port` is where it listens."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([ECHO, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "listening":
            raise AssertionError("server did not start: %r %s" % (line, self.proc.stderr.read()))
        self.port = int(line[1])

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

    def alive(self):
        assert self.proc.poll() is None, "server exited with %s" % self.proc.returncode
        status, _, body = self.get("/hello")
        assert (status, body) == (200, b"hello\n"), (status, body)

    def stop(self, expect=0):
        """SIGTERM and wait for the exit status `expect`."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise AssertionError("server did not exit after SIGTERM")
        assert self.proc.returncode == expect, (self.proc.returncode, out, err)
        return out, err


def raw(port, data, timeout=10, shut=False):
    """Send raw bytes, return everything the server answers until it closes or goes quiet."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass    # the server answered (and closed) before reading everything
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and not shut:
                s.settimeout(0.5)
        return out
    finally:
        s.close()


def status_of(response):
    line = response.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 and line[0].startswith(b"HTTP/") else None


def curl(*args):
    r = subprocess.run(["curl", "-s", "-S", "--max-time", "30", *args], capture_output=True, timeout=60)
    assert r.returncode == 0, (args, r.returncode, r.stderr)
    return r.stdout


# ---- tests -----------------------------------------------------------------------------------------

def test_routes():
    s = Server()
    try:
        assert s.get("/hello")[0::2] == (200, b"hello\n")
        st, h, b = s.get("/status?code=418&name=X-Teapot&value=short%20and%20stout")
        assert st == 418 and h["x-teapot"] == "short%20and%20stout", (st, h)
        st, _, b = s.get("/badheader")
        assert b == b"refused\n" * 6, b
        assert s.get("/fail")[0] == 500
        assert s.get("/pending?ms=50")[2] == b"pending done\n"
        st, h, b = s.get("/big?n=5000000")
        assert st == 200 and len(b) == 5000000 and b[:26] == b"abcdefghijklmnopqrstuvwxyz"
        st, h, b = s.get("/hello", method="HEAD")
        assert st == 200 and b == b"" and h["content-length"] == "6", (st, h, b)
        assert s.get("/status?code=204")[0:3:2] == (204, b"")
        assert s.get("/nothing")[0] == 404
        st, _, b = s.get("/headers?x=1&y=2", headers={"X-Mixed-Case": "Value"})
        assert b"query x=1&y=2\n" in b and b"header x-mixed-case: Value\n" in b and b"version 101\n" in b, b
        assert b"client 127.0.0.1 " in b and ("local 127.0.0.1 %d\n" % s.port).encode() in b, b
        st, _, b = s.get("/a/../headers")
        assert b"normalized /headers\n" in b, b
        s.alive()
    finally:
        s.stop()


def test_keepalive_reuse():
    s = Server()
    try:
        c = s.conn()
        ports = set()
        for i in range(20):
            c.request("GET", "/headers")
            r = c.getresponse()
            body = r.read()
            assert r.status == 200
            ports.update(l for l in body.split(b"\n") if l.startswith(b"client "))
        c.close()
        assert len(ports) == 1, ports   # one TCP connection for all 20
        out = curl("-v", "http://127.0.0.1:%d/hello" % s.port, "http://127.0.0.1:%d/hello" % s.port)
        assert out == b"hello\nhello\n"
        s.alive()
    finally:
        s.stop()


def test_binary_body_1mib():
    s = Server()
    try:
        data = os.urandom(1 << 20)
        st, h, b = s.get("/echo", method="POST", body=data, headers={"Content-Type": "application/octet-stream"})
        assert st == 200 and b == data and h["content-type"] == "application/octet-stream"
        path = os.path.join(TMP, "body.bin")
        with open(path, "wb") as f:
            f.write(data)
        assert curl("--data-binary", "@" + path, "http://127.0.0.1:%d/echo" % s.port) == data
        # chunked request body
        assert curl("-H", "Transfer-Encoding: chunked", "--data-binary", "@" + path,
                    "http://127.0.0.1:%d/echo" % s.port) == data
        s.alive()
    finally:
        s.stop()


def test_400_concurrent():
    s = Server("--workers", 16)
    try:
        def one(i):
            body = ("request %d" % i).encode()
            st, _, b = s.get("/echo", method="POST", body=body, timeout=60)
            return (st, b) == (200, body)
        with concurrent.futures.ThreadPoolExecutor(max_workers=400) as ex:
            results = list(ex.map(one, range(400)))
        assert all(results), results.count(False)
        s.alive()
    finally:
        s.stop()


def test_malformed():
    s = Server()
    try:
        cases = [
            os.urandom(4096),
            b"\x00\x01\x02\x03garbage\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET / HTTP/9.9.9\r\n\r\n",
            b"GET /hello HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
            b"GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            b"GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n",
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
            b"GET /hello HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n",   # more headers than h2o keeps
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + os.urandom(512),          # h2c preface then garbage
        ]
        for data in cases:
            out = raw(s.port, data, shut=True)
            st = status_of(out)
            assert st is None or 400 <= st < 500 or out.startswith(b"\x00") or st == 200, (data[:40], out[:200])
            s.alive()
        # a chunked body with bad framing never reaches the handler as an echo of garbage
        out = raw(s.port, cases[7], shut=True)
        assert status_of(out) in (None, 400), out[:200]
    finally:
        s.stop()


def test_oversized_header():
    s = Server("--max-header", 16384)
    try:
        st, _, _ = s.get("/hello", headers={"X-Big": "a" * 20000})
        assert st == 431, st
        out = raw(s.port, b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"a" * (600 << 10) + b"\r\n\r\n")
        assert status_of(out) in (None, 400, 413, 431), out[:200]
        out = raw(s.port, b"GET /" + b"a" * (600 << 10) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(out) in (None, 400, 413, 414, 431), out[:200]
        s.alive()
    finally:
        s.stop()


def test_oversized_body():
    s = Server("--max-body", 1 << 20)
    try:
        # one byte over: refused when the header arrives (no need to send the body)
        out = raw(s.port, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nxyz" % ((1 << 20) + 1))
        assert status_of(out) == 413, out[:200]
        # a huge Content-Length is refused before the body arrives
        out = raw(s.port, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nabc")
        assert status_of(out) == 413, out[:200]
        # a chunked body that grows past the cap
        chunk = b"10000\r\n" + b"y" * 0x10000 + b"\r\n"
        s2 = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        s2.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        out = b""
        try:
            for _ in range(40):
                s2.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            out = s2.recv(4096)
        except (socket.timeout, ConnectionResetError):
            pass
        s2.close()
        assert status_of(out) in (None, 413), out[:200]
        st, _, b = s.get("/echo", method="POST", body=b"z" * (1 << 20))
        assert st == 200 and len(b) == 1 << 20
        s.alive()
    finally:
        s.stop()


def test_slowloris():
    s = Server("--header-timeout-ms", 1500)
    socks = []
    try:
        for i in range(200):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            socks.append(c)
        for i in range(20):   # normal requests still answer while 200 connections stall
            assert s.get("/hello", timeout=10)[2] == b"hello\n"
        # the header timeout closes the stalled connections (bounded wait, no timing assertion)
        closed = 0
        for c in socks:
            c.settimeout(20)
            try:
                data = c.recv(4096)
                closed += 1 if data == b"" or status_of(data) is not None else 0
            except (ConnectionResetError, socket.timeout):
                closed += 1
        assert closed == 200, closed
        s.alive()
    finally:
        for c in socks:
            c.close()
        s.stop()


def test_slow_body_times_out():
    """A body sent a byte at a time does not hold the connection past the request timeout."""
    s = Server("--header-timeout-ms", 1000)
    try:
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        c.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        closed = False
        for _ in range(200):      # bounded: at most 200 bytes, 0.1 s apart
            try:
                c.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.1)
        c.close()
        assert closed
        s.alive()
    finally:
        s.stop()


def test_client_gone_cancels_handler():
    """With one worker, a handler looping for a client that went away must be cancelled, or
    nothing else would ever be answered; over HTTP/1 and HTTP/2."""
    s = Server("--workers", 1)
    try:
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        c.sendall(b"GET /loop HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        c.close()
        assert s.get("/hello", timeout=60)[2] == b"hello\n"
        r = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "--max-time", "1",
                            "http://127.0.0.1:%d/loop" % s.port], capture_output=True, timeout=60)
        assert r.returncode == 28, r      # curl gave up (timeout) and reset the stream
        assert s.get("/hello", timeout=60)[2] == b"hello\n"
        out, _ = s.stop(expect=0)
        assert "stopped drained" in out, out
    finally:
        s.stop()


def test_slow_handler_does_not_stall():
    s = Server("--workers", 4, "--loops", 1)
    try:
        done = threading.Event()
        result = {}

        def slow():
            result["slow"] = s.get("/sleep?ms=4000")
            done.set()
        t = threading.Thread(target=slow)
        t.start()
        while True:    # wait until the slow request is at a worker (its connection is open)
            st, _, b = s.get("/hello")
            if st == 200:
                break
        answered = 0
        for i in range(50):
            if s.get("/hello")[2] == b"hello\n" and not done.is_set():
                answered += 1
        assert answered > 0 and not done.is_set() or answered == 50, answered
        t.join(60)
        assert result["slow"][2] == b"slept 4000\n"
        s.alive()
    finally:
        s.stop()


def test_queue_full_503():
    s = Server("--workers", 1, "--queue", 1)
    try:
        results = []
        threads = [threading.Thread(target=lambda: results.append(s.get("/sleep?ms=1500")[0])) for _ in range(2)]
        for t in threads:
            t.start()
            time.sleep(0.3)     # let each reach the worker / the queue before the next
        statuses = [s.get("/hello")[0] for _ in range(3)]
        for t in threads:
            t.join(60)
        assert 503 in statuses, statuses
        assert sorted(results) == [200, 200], results
        s.alive()
    finally:
        s.stop()


def test_max_connections():
    s = Server("--max-conns", 8, "--loops", 2)
    idle = []
    try:
        for i in range(8):
            idle.append(socket.create_connection(("127.0.0.1", s.port), timeout=10))
        for c in idle:          # make sure each is accepted (answers a request)
            c.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status_of(c.recv(4096)) == 200
        extra = []
        t = threading.Thread(target=lambda: extra.append(s.get("/hello", timeout=30)))
        t.start()
        time.sleep(0.5)
        waited = not extra      # the ninth is not accepted while eight are open
        idle.pop().close()
        t.join(40)
        assert extra and extra[0][2] == b"hello\n", extra
        assert waited
        for c in idle:
            c.close()
        idle.clear()
        s.alive()
    finally:
        for c in idle:
            c.close()
        s.stop()


def make_cert():
    cert, key = os.path.join(TMP, "cert.pem"), os.path.join(TMP, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=120)
    return cert, key


def test_http2_tls():
    cert, key = make_cert()
    s = Server("--tls-cert", cert, "--tls-key", key)
    try:
        url = "https://127.0.0.1:%d" % s.port
        out = curl("--http2", "--cacert", cert, "-w", "%{http_version}", url + "/hello")
        assert out == b"hello\n2", out
        data = os.urandom(300000)
        path = os.path.join(TMP, "h2body.bin")
        with open(path, "wb") as f:
            f.write(data)
        assert curl("--http2", "--cacert", cert, "--data-binary", "@" + path, url + "/echo") == data
        out = curl("--http2", "--cacert", cert, url + "/headers")
        assert b"version 200\n" in out and b"scheme https\n" in out, out
        # several streams over one connection
        out = curl("--http2", "--cacert", cert, "-w", "%{http_version}\n", *[url + "/hello"] * 5)
        assert out == b"hello\n2\n" * 5, out
        # HTTP/1.1 over TLS still works (ALPN http/1.1)
        out = curl("--http1.1", "--cacert", cert, "-w", "%{http_version}", url + "/hello")
        assert out == b"hello\n1.1", out
        ctx = ssl.create_default_context(cafile=cert)
        c = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx, timeout=30)
        c.request("GET", "/hello")
        assert c.getresponse().read() == b"hello\n"
        c.close()
        # garbage instead of a TLS handshake
        raw(s.port, os.urandom(2048), shut=True)
        assert curl("--http2", "--cacert", cert, url + "/hello") == b"hello\n"
    finally:
        s.stop()


def test_h2c_prior_knowledge():
    s = Server("--max-header", 16384, "--max-body", 100000)
    try:
        url = "http://127.0.0.1:%d" % s.port
        out = curl("--http2-prior-knowledge", "-w", "%{http_version}", url + "/hello")
        assert out == b"hello\n2", out
        # the same limits over HTTP/2
        out = curl("--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}", "-H", "X-Big: " + "a" * 20000,
                   url + "/hello")
        assert out == b"431", out
        path = os.path.join(TMP, "h2c-big.bin")
        with open(path, "wb") as f:
            f.write(b"b" * 200000)
        r = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}",
                            "--data-binary", "@" + path, url + "/echo"], capture_output=True, timeout=60)
        assert r.stdout in (b"413", b"000"), r    # 413, or the stream reset before curl read it
        s.alive()
    finally:
        s.stop()


def test_sigterm_drains_in_flight():
    s = Server()
    result = {}

    def slow():
        result["r"] = s.get("/sleep?ms=1500")
    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)     # the request reaches the worker
    s.proc.send_signal(signal.SIGTERM)
    t.join(60)
    out, err = s.stop(expect=0)
    assert result.get("r", (0,))[0] == 200 and result["r"][2] == b"slept 1500\n", result
    assert "stopped drained" in out, out


def test_sigterm_closes_idle_keepalive():
    """Idle keep-alive connections (HTTP/1 and HTTP/2) do not hold the drain: it ends "drained"
    long before its 60 s would run out, while a request in flight on another connection completes."""
    s = Server("--drain-ms", 60000)
    idle = s.conn()
    idle.request("GET", "/hello")
    assert idle.getresponse().read() == b"hello\n"
    h2 = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    h2.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))   # preface + SETTINGS
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", s.get("/sleep?ms=1000")))
    t.start()
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGTERM)
    t.join(60)
    out, _ = s.stop(expect=0)
    assert "stopped drained" in out and result["r"][0] == 200, (out, result)
    idle.close()
    h2.close()


def test_sigterm_cancels_after_drain():
    s = Server("--drain-ms", 500)
    result = {}

    def forever():
        try:
            result["r"] = s.get("/loop")[0]
        except (http.client.HTTPException, OSError) as e:
            result["r"] = type(e).__name__
    t = threading.Thread(target=forever)
    t.start()
    time.sleep(0.5)
    s.proc.send_signal(signal.SIGTERM)
    t.join(60)
    out, err = s.stop(expect=2)
    assert "stopped cancelled" in out, out
    assert result.get("r") in (503, "RemoteDisconnected", "ConnectionResetError", "BadStatusLine"), result


def test_bad_config():
    r = subprocess.run([ECHO, "--host", "not-an-address"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "numeric IP" in r.stderr, r
    r = subprocess.run([ECHO, "--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.pem"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "certificate" in r.stderr, r
    s = Server()
    try:
        r = subprocess.run([ECHO, "--port", str(s.port)], capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and "cannot listen" in r.stderr, r
    finally:
        s.stop()


def main():
    tests = [(k, v) for k, v in globals().items() if k.startswith("test_") and callable(v)]
    only = os.environ.get("KAPSUL_HTTP_TEST")
    passed = failed = 0
    for name, fn in tests:
        if only and only not in name:
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
