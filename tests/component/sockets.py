#!/usr/bin/env python3
"""sockets.py -- wasi:sockets in kapsul's WASI 0.2 host (issue 16), through sockets.wasm
(sockets.wat, built by build.sh): each export runs one scenario and returns a log of its steps
(the legend is at the top of sockets.wat), which `kapsul run --invoke` prints in WAVE.

The peers (a TCP server, a TCP client, a UDP echo server) are threads of this script on
127.0.0.1, each with a socket timeout, so nothing outlives a case. Every grant case, every
denied case (no grant, wrong port, wrong host), the state machine's errors, name lookup (of
localhost and literals only: a test sends no query to a DNS server), a poll
over a socket and a timer, the run's --timeout ending a blocked wait, and a lying handle.

usage: sockets.py KAPSUL_BINARY TESTS_COMPONENT_DIR
"""
import os
import socket
import subprocess
import sys
import threading
import time

KAPSUL, HERE = sys.argv[1], sys.argv[2]
WASM = os.path.join(HERE, "sockets.wasm")
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def run(args, invoke, timeout=20):
    p = subprocess.run([KAPSUL, "run", *args, "--invoke", invoke, WASM], capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout.strip(), p.stderr


def expect(name, args, invoke, want_out, want_rc=0):
    rc, out, errs = run(args, invoke)
    check(name, rc == want_rc and out == want_out, f"rc={rc} out={out!r} stderr={errs.strip()[-300:]!r}")
    return out


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class TcpServer:
    """Accepts one client: answers "pong:" + what it read, then records whether the client shut
    its send side down (EOF) before closing."""

    def __init__(self, v6=False):
        self.sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
        self.sock.bind(("::1" if v6 else "127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.got_eof = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            c, _ = self.sock.accept()
            c.settimeout(10)
            d = c.recv(100)
            c.sendall(b"pong:" + d)
            self.got_eof = c.recv(100) == b""
            c.close()
        except OSError:
            pass

    def pending(self):
        """A connection is waiting (or was taken): the guest reached the server."""
        self.sock.settimeout(0.2)
        try:
            c, _ = self.sock.accept()
            c.close()
            return True
        except OSError:
            return False

    def close(self):
        self.sock.close()


def tcp_cases():
    esc = "\\n"
    srv = TcpServer()
    p = srv.port
    expect("tcp-client: connect, send, receive, shutdown", ["--allow-tcp-connect", f"127.0.0.1:{p}"],
           f"tcp-client({p})", f'"Tok Cok Fok aok Wok R:pong:ping{esc} Sok Rclosed "')
    srv.thread.join(10)
    check("tcp-client: the server saw the shutdown as EOF", srv.got_eof)
    srv.close()

    srv = TcpServer(v6=True)
    p = srv.port
    expect("tcp-client6: the same over IPv6", ["--allow-tcp-connect", f"[::1]:{p}"], f"tcp-client6({p})",
           f'"Tok Cok Fok aok Wok R:pong:ping{esc} Sok Rclosed "')
    srv.thread.join(10)
    check("tcp-client6: the server saw the shutdown as EOF", srv.got_eof)
    expect("tcp-client6 denied: an IPv4 grant", ["--allow-tcp-connect", f"127.0.0.1:{p}"], f"tcp-client6({p})",
           '"Tok Ce1 "')
    srv.close()

    for label, grant in (("host *", f"*:{{p}}"), ("port *", "127.0.0.1:*"), ("port range", "127.0.0.1:{lo}-{hi}"),
                         ("localhost", "localhost:{p}")):
        srv = TcpServer()
        p = srv.port
        g = grant.format(p=p, lo=p - 1, hi=p + 1)
        expect(f"tcp-client: grant {label} ({g})", ["--allow-tcp-connect", g], f"tcp-client({p})",
               f'"Tok Cok Fok aok Wok R:pong:ping{esc} Sok Rclosed "')
        srv.thread.join(10)
        srv.close()

    srv = TcpServer()
    p = srv.port
    srv.thread = None
    denied = [("no grant at all", [], '"Te1 "'),
              ("a bind grant only", ["--allow-tcp-bind", "127.0.0.1:*"], '"Tok Ce1 "'),
              ("wrong port", ["--allow-tcp-connect", f"127.0.0.1:{p + 1}"], '"Tok Ce1 "'),
              ("wrong host", ["--allow-tcp-connect", f"127.0.0.2:{p}"], '"Tok Ce1 "'),
              ("udp grants only", ["--allow-udp-send", f"127.0.0.1:{p}"], '"Te1 "')]
    for label, args, want in denied:
        expect(f"tcp-client denied: {label}", args, f"tcp-client({p})", want)
    check("tcp-client denied: no connection ever reached the server", not srv.pending())
    srv.close()

    # refused: granted, but nobody listens there
    p = free_port()
    expect("tcp-client: connection-refused", ["--allow-tcp-connect", f"127.0.0.1:{p}"], f"tcp-client({p})",
           '"Tok Cok Fe14 "')


def tcp_server_case():
    p = free_port()
    reply = {}

    def client():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                c = socket.create_connection(("127.0.0.1", p), timeout=5)
            except OSError:
                time.sleep(0.05)
                continue
            c.sendall(b"ping\n")
            reply["data"] = c.recv(100)
            c.close()
            return

    t = threading.Thread(target=client, daemon=True)
    t.start()
    expect("tcp-server: bind, listen, accept, receive, send", ["--allow-tcp-bind", f"127.0.0.1:{p}"],
           f"tcp-server({p})", '"Tok Bok bok Lok lok Aok R:ping\\n Wok Rclosed "')
    t.join(10)
    check("tcp-server: the client got the answer", reply.get("data") == b"pong\n", repr(reply))
    expect("tcp-server denied: connect grant only", ["--allow-tcp-connect", f"127.0.0.1:{p}"], f"tcp-server({p})",
           '"Tok Be1 "')
    expect("tcp-server denied: another port", ["--allow-tcp-bind", f"127.0.0.1:{p + 1}"], f"tcp-server({p})",
           '"Tok Be1 "')


def udp_cases():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(10)
    p = s.getsockname()[1]

    def echo():
        try:
            d, a = s.recvfrom(2000)
            s.sendto(b"pong:" + d, a)
        except OSError:
            pass

    t = threading.Thread(target=echo, daemon=True)
    t.start()
    expect("udp: bind, stream, check-send, send, receive",
           ["--allow-udp-bind", "127.0.0.1:0", "--allow-udp-send", f"127.0.0.1:{p}"], f"udp({p})",
           '"Uok Bok bok Qok K64 N1 V1:pong:ping\\n"')
    t.join(10)
    expect("udp denied: no grant", [], f"udp({p})", '"Ue1 "')
    expect("udp denied: no bind grant", ["--allow-udp-send", f"127.0.0.1:{p}"], f"udp({p})", '"Uok Be1 "')
    expect("udp denied: send to another port",
           ["--allow-udp-bind", "127.0.0.1:0", "--allow-udp-send", f"127.0.0.1:{p + 1}"], f"udp({p})",
           '"Uok Bok bok Qe1 "')
    s.settimeout(0.2)
    try:
        s.recvfrom(2000)
        check("udp denied: no datagram reached the server", False)
    except OSError:
        check("udp denied: no datagram reached the server", True)
    s.close()


def lookup_cases():
    rc, out, errs = run(["--allow-ip-name-lookup"], 'lookup("localhost")')
    check("lookup: localhost", rc == 0 and out.startswith('"Xok ') and "4:127.0.0.1 " in out, f"{rc} {out!r} {errs!r}")
    expect("lookup denied: no grant", ["--allow-tcp-connect", "*:*"], 'lookup("localhost")', '"Xe1 "')
    expect("lookup: an IPv6 literal", ["--allow-ip-name-lookup"], 'lookup("[::1]")', '"Xok 6:0:0:0:0:0:0:0:1 "')
    expect("lookup: an IPv4 literal", ["--allow-ip-name-lookup"], 'lookup("10.1.2.3")', '"Xok 4:10.1.2.3 "')
    for label, name in (("empty label", "bad..name"), ("empty", ""), ("space", "a b"), ("300 bytes", "a" * 300),
                        ("non-ASCII", "\u00e9t\u00e9"), ("NUL", "a\\u{0}b"), ("bracketed name", "[localhost]")):
        expect(f"lookup: invalid name ({label})", ["--allow-ip-name-lookup"], f'lookup("{name}")', '"Xe3 "')
    # (no lookup of a name outside /etc/hosts: that would send a query to the machine's DNS server)


def state_cases():
    expect("states: not-in-progress, invalid-state, invalid-argument", ["--allow-tcp-bind", "127.0.0.1:0"], "states()",
           '"Tok Fe7 be7 Le9 Ae9 Se9 ae9 Bok Be9 bok be7 le7 Tok Be3 Ce3 Ce3 Ce3 "')
    expect("wait: poll of a listener and a 50 ms timer", ["--allow-tcp-bind", "127.0.0.1:0"], "wait(50, false)",
           '"Tok Bok lok P1:1 "')
    rc, out, errs = run(["--allow-tcp-bind", "127.0.0.1:0", "--timeout", "300ms"], "wait(50, true)")
    check("wait: --timeout ends a blocked accept", rc == 134 and "deadline exceeded" in errs, f"{rc} {errs!r}")
    rc, out, errs = run([], "lie()")
    check("lie: a network handle as a tcp-socket traps", rc == 134 and "resource handle" in errs, f"{rc} {errs!r}")


def flag_cases():
    for bad in ("127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:9-8", "[::1:80", "[::g]:80",
                "ex ample:80", "a_b:80", ":80", "127.0.0.1:-1"):
        p = subprocess.run([KAPSUL, "run", "--allow-tcp-connect", bad, WASM], capture_output=True, text=True, timeout=20)
        check(f"flag: --allow-tcp-connect {bad!r} is refused", p.returncode == 2 and "socket grant" in p.stderr,
              f"{p.returncode} {p.stderr!r}")
    p = subprocess.run([KAPSUL, "run", "--allow-tcp-everything", "x", WASM], capture_output=True, text=True, timeout=20)
    check("flag: an unknown --allow- flag is refused", p.returncode == 2 and "unknown option" in p.stderr, p.stderr)


def main():
    for f in (tcp_cases, tcp_server_case, udp_cases, lookup_cases, state_cases, flag_cases):
        try:
            f()
        except Exception as e:  # a case that crashed the runner is a failure, not a skip
            check(f.__name__, False, repr(e))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
