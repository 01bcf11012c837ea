#!/usr/bin/env python3
"""test_oci.py -- `kapsul oci` against a real registry, OCI layouts, skopeo, and a fake registry
that serves corrupt images.

usage: tests/oci/test_oci.py BUILD/kapsul

Starts Debian's docker-registry on 127.0.0.1 (a free port, filesystem storage and config in a
temporary directory) and stops it by PID at the end; the fake registry (http.server, in this
process) serves hand-made manifests and blobs for the bad-input cases and a token-auth flow.
Round trips: the wasm artifact, the compat image and a Spin application through the registry and
through an OCI layout; a compat image for two platforms under an image index; skopeo inspect of
each; skopeo copy registry -> layout -> kapsul pull; kapsul run REF and kapsul up -f REF (through
the cache, offline for a cached digest); Bearer-token and Basic authentication with config.json
credentials; an index followed to the --platform entry. Bad input: digest and size mismatches (registry and layout),
a truncated layer, a missing config, unknown media types, a file name leaving the application;
each a clear error with nothing left in the output directory.
Ends with "N passed, N failed"."""
import base64
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

KAPSUL = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="kapsul-oci-")
ENV = dict(os.environ, XDG_CACHE_HOME=os.path.join(TMP, "cache"), HOME=TMP, DOCKER_CONFIG=os.path.join(TMP, "docker"))
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def run(*args, timeout=120):
    return subprocess.run([KAPSUL, *args], capture_output=True, text=True, timeout=timeout, env=ENV, cwd=TMP)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ---- guests ----------------------------------------------------------------------------------

HELLO_WAT = r"""(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from oci\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 15))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $exit (i32.const 7))))
"""
WAGI_WAT = HELLO_WAT.replace('"hello from oci\\n"', '"Content-Type: text/plain\\n\\nhi oci\\n"') \
    .replace("(i32.const 15)", "(i32.const 33)").replace("(call $exit (i32.const 7))", "")


def wat2wasm(text, out):
    src = os.path.join(TMP, os.path.basename(out) + ".wat")
    with open(src, "w") as f:
        f.write(text)
    r = run("wat2wasm", src, "-o", out)
    assert r.returncode == 0, r.stderr
    return open(out, "rb").read()


# ---- the registries ----------------------------------------------------------------------------

def start_registry():
    port = free_port()
    cfg = os.path.join(TMP, "registry.yml")
    with open(cfg, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {TMP}/registry\n"
                f"http:\n  addr: 127.0.0.1:{port}\n")
    log = open(os.path.join(TMP, "registry.log"), "w")
    proc = subprocess.Popen(["docker-registry", "serve", cfg], stdout=log, stderr=log)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            return proc, f"127.0.0.1:{port}"
        except Exception:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("docker-registry did not start: " + open(os.path.join(TMP, "registry.log")).read())


class Fake:
    """What the fake registry serves: manifests by reference, blobs by digest, optional auth."""
    manifests = {}  # "repo/ref" -> (bytes, media type)
    blobs = {}      # digest -> bytes served (whatever their real hash)
    token = None    # require "Bearer token" when set
    basic_only = False  # require the Basic credential itself (a Basic challenge)
    basic = None    # the Basic credential the token endpoint wants
    port = 0


class FakeHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, code, body=b"", ctype="application/json", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        p = self.path
        if p.startswith("/token"):
            ok = self.headers.get("Authorization") == "Basic " + Fake.basic
            return self.send(200 if ok else 401, json.dumps({"token": Fake.token}).encode() if ok else b"{}")
        if Fake.basic_only and self.headers.get("Authorization") != "Basic " + Fake.basic:
            return self.send(401, b"{}", extra={"WWW-Authenticate": 'Basic realm="fake"'})
        if Fake.token and self.headers.get("Authorization") != "Bearer " + Fake.token:
            chal = f'Bearer realm="http://127.0.0.1:{Fake.port}/token",service="fake",scope="repository:x:pull"'
            return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"login"}]}',
                             extra={"WWW-Authenticate": chal})
        parts = p.split("/")
        if len(parts) >= 5 and parts[1] == "v2" and parts[-2] == "manifests":
            key = "/".join(parts[2:-2]) + "/" + parts[-1]
            if key in Fake.manifests:
                body, mt = Fake.manifests[key]
                return self.send(200, body, mt)
        if len(parts) >= 5 and parts[1] == "v2" and parts[-2] == "blobs" and parts[-1] in Fake.blobs:
            return self.send(200, Fake.blobs[parts[-1]], "application/octet-stream")
        self.send(404, b'{"errors":[{"code":"NOT_FOUND","message":"unknown"}]}')

    do_HEAD = do_GET


def start_fake():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHandler)
    Fake.port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def layout_image(layout, tag):
    """(manifest bytes, {digest: blob}) of oci:layout:tag, read from disk."""
    index = json.load(open(os.path.join(layout, "index.json")))
    d = [m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag][0]
    blob = lambda dg: open(os.path.join(layout, "blobs", "sha256", dg[7:]), "rb").read()
    m = blob(d["digest"])
    doc = json.loads(m)
    blobs = {x["digest"]: blob(x["digest"]) for x in [doc["config"], *doc["layers"]]}
    return m, blobs


def serve_fake(name, manifest, blobs, mt="application/vnd.oci.image.manifest.v1+json"):
    if isinstance(manifest, dict):
        manifest = json.dumps(manifest).encode()
    Fake.manifests[f"bad/{name}/v1"] = (manifest, mt)
    Fake.manifests[f"bad/{name}/{sha(manifest)}"] = (manifest, mt)
    Fake.blobs.update(blobs)
    return f"127.0.0.1:{Fake.port}/bad/{name}"


def expect_pull_error(name, ref, needle, args=()):
    out = os.path.join(TMP, "bad-out", name)
    r = run("oci", "pull", "--plain-http", *args, ref, "-o", out)
    left = os.listdir(out) if os.path.isdir(out) else []
    stray = [f for f in os.listdir(os.path.dirname(out)) if f.startswith(".kapsul-pull-")] \
        if os.path.isdir(os.path.dirname(out)) else []
    check(f"bad.{name}", r.returncode == 1 and needle in r.stderr and not left and not stray,
          f"rc={r.returncode} stderr={r.stderr!r} left={left} stray={stray}")


# ---- the tests ---------------------------------------------------------------------------------

def main():
    reg, host = start_registry()
    fake = start_fake()
    try:
        tests(host)
    finally:
        reg.terminate()
        try:
            reg.wait(10)
        except subprocess.TimeoutExpired:
            reg.kill()
        fake.shutdown()
        shutil.rmtree(TMP, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def skopeo(*args):
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)


def tests(host):
    hello = wat2wasm(HELLO_WAT, os.path.join(TMP, "hello.wasm"))
    app = os.path.join(TMP, "app")
    os.makedirs(os.path.join(app, "static", "sub"))
    os.makedirs(os.path.join(app, "target"))
    wagi = wat2wasm(WAGI_WAT, os.path.join(app, "target", "app.wasm"))
    open(os.path.join(app, "static", "a.txt"), "w").write("file a\n")
    open(os.path.join(app, "static", "sub", "b.txt"), "w").write("file b\n")
    open(os.path.join(app, "notes.txt"), "w").write("notes\n")
    open(os.path.join(app, "spin.toml"), "w").write(
        'spin_manifest_version = 2\n[application]\nname = "app"\nversion = "1.0.0"\n'
        '[[trigger.http]]\nroute = "/..."\ncomponent = "app"\nexecutor = { type = "wagi" }\n'
        '[component.app]\nsource = "target/app.wasm"\n'
        'files = [{ source = "static", destination = "/static" }, "notes.txt"]\n')
    app_files = sorted(os.path.relpath(os.path.join(d, f), app) for d, _, fs in os.walk(app) for f in fs)

    layout = os.path.join(TMP, "layout")
    digests = {}
    # Push every format to the registry and to a layout.
    for fmt, src in (("wasm", "hello.wasm"), ("compat", "hello.wasm"), ("spin", app)):
        for where, ref in (("registry", f"{host}/kapsul/{fmt}:v1"), ("layout", f"oci:{layout}:{fmt}")):
            r = run("oci", "push", "--plain-http", "--format", fmt, src, ref)
            ok = r.returncode == 0 and r.stdout.startswith("sha256:") and len(r.stdout.strip()) == 71
            digests[(fmt, where)] = r.stdout.strip()
            check(f"push.{fmt}.{where}", ok, r.stderr)

    # skopeo reads what kapsul wrote. The compat image is an image (inspect reads its config);
    # the artifacts are not, so skopeo inspects their manifests (--raw) and configs (--config --raw).
    for where, base in (("registry", ("--tls-verify=false", f"docker://{host}/kapsul/")), ("layout", ("", f"oci:{layout}:"))):
        tls = [base[0]] if base[0] else []
        name = lambda fmt: base[1] + (f"{fmt}:v1" if where == "registry" else fmt)
        r = skopeo("inspect", *tls, name("compat"))
        info = json.loads(r.stdout) if r.returncode == 0 else {}
        check(f"skopeo.inspect.compat.{where}", info.get("Os") == "linux" and info.get("Digest") == digests[("compat", where)],
              r.stderr)
        for fmt, cfg_type in (("wasm", "application/vnd.wasm.config.v0+json"),
                              ("spin", "application/vnd.fermyon.spin.application.v1+config")):
            r = skopeo("inspect", "--raw", *tls, name(fmt))
            m = json.loads(r.stdout) if r.returncode == 0 else {}
            ok = m.get("config", {}).get("mediaType") == cfg_type and sha(r.stdout.encode()) == digests[(fmt, where)]
            r2 = skopeo("inspect", "--config", "--raw", *tls, name(fmt))
            ok = ok and r2.returncode == 0 and json.loads(r2.stdout).get("architecture", "wasm") == "wasm"
            check(f"skopeo.inspect.{fmt}.{where}", ok, r.stderr + r2.stderr)

    # Pull everything back.
    for where, ref in (("registry", f"{host}/kapsul/%s:v1"), ("layout", f"oci:{layout}:%s")):
        for fmt in ("wasm", "compat"):
            out = os.path.join(TMP, "pull", where, fmt)
            r = run("oci", "pull", "--plain-http", ref % fmt, "-o", out)
            path = os.path.join(out, "hello.wasm")
            check(f"pull.{fmt}.{where}", r.returncode == 0 and r.stdout.strip() == path and
                  open(path, "rb").read() == hello, r.stderr)
        out = os.path.join(TMP, "pull", where, "app")
        r = run("oci", "pull", "--plain-http", ref % "spin", "-o", out)
        got = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs) \
            if r.returncode == 0 else []
        same = got == app_files and all(open(os.path.join(out, f), "rb").read() == open(os.path.join(app, f), "rb").read()
                                        for f in got)
        check(f"pull.spin.{where}", same, f"{r.stderr} {got} {app_files}")

    # A compat image for two platforms: an image index (registry and layout); skopeo picks the
    # amd64 entry, kapsul pulls either.
    for where, ref, sk in (("registry", f"{host}/kapsul/multi:v1", ["--tls-verify=false", f"docker://{host}/kapsul/multi:v1"]),
                           ("layout", f"oci:{layout}:multi", [f"oci:{layout}:multi"])):
        r = run("oci", "push", "--plain-http", "--format", "compat", "--platform", "linux/amd64,linux/arm64",
                "hello.wasm", ref)
        raw = skopeo("inspect", "--raw", *sk)
        idx = json.loads(raw.stdout) if raw.returncode == 0 else {}
        plats = [m.get("platform", {}).get("architecture") for m in idx.get("manifests", [])]
        info = skopeo("inspect", "--override-arch", "arm64", *sk)
        arch = json.loads(info.stdout).get("Architecture") if info.returncode == 0 else None
        check(f"push.compat-index.{where}", r.returncode == 0 and sha(raw.stdout.encode()) == r.stdout.strip() and
              plats == ["amd64", "arm64"] and arch == "arm64", r.stderr + raw.stderr + info.stderr)
        out = os.path.join(TMP, "pull", where, "multi-arm")
        r = run("oci", "pull", "--plain-http", "--platform", "linux/arm64", ref, "-o", out)
        check(f"pull.compat-index.{where}", r.returncode == 0 and open(os.path.join(out, "hello.wasm"), "rb").read() == hello,
              r.stderr)

    # An application is not pulled over a directory that has files.
    out = os.path.join(TMP, "pull", "registry", "app")
    before = sorted(os.listdir(out))
    r = run("oci", "pull", "--plain-http", f"{host}/kapsul/spin:v1", "-o", out)
    check("pull.spin.not-over-files", r.returncode == 1 and "not empty" in r.stderr and sorted(os.listdir(out)) == before,
          r.stderr)

    # skopeo copy registry -> layout, then kapsul pulls the copy.
    copy = os.path.join(TMP, "copied")
    for fmt in ("compat", "wasm"):
        r = skopeo("copy", "--src-tls-verify=false", f"docker://{host}/kapsul/{fmt}:v1", f"oci:{copy}:{fmt}")
        r2 = run("oci", "pull", f"oci:{copy}:{fmt}", "-o", os.path.join(TMP, "pull", "copied", fmt))
        ok = r.returncode == 0 and r2.returncode == 0 and \
            open(os.path.join(TMP, "pull", "copied", fmt, "hello.wasm"), "rb").read() == hello
        check(f"skopeo.copy.{fmt}", ok, r.stderr + r2.stderr)

    # Pinned by digest; a second push skips existing blobs and gives the same digest for the
    # same manifest bytes.
    r = run("oci", "pull", "--plain-http", f"{host}/kapsul/wasm@{digests[('wasm', 'registry')]}", "-o",
            os.path.join(TMP, "pull", "bydigest"))
    check("pull.by-digest", r.returncode == 0, r.stderr)

    # kapsul run REF and kapsul up -f REF (loopback registries: plain HTTP), through the cache.
    for name, ref in (("registry.compat", f"{host}/kapsul/compat:v1"), ("registry.wasm", f"{host}/kapsul/wasm:v1"),
                      ("layout", f"oci:{layout}:wasm")):
        r = run("run", ref)
        check(f"run.{name}", r.returncode == 7 and r.stdout == "hello from oci\n", f"rc={r.returncode} {r.stderr}")
    r = run("run", f"{host}/kapsul/compat:v1")
    entries = os.listdir(os.path.join(TMP, "cache", "kapsul", "oci", "sha256"))
    check("run.cache", r.returncode == 7 and digests[("compat", "registry")][7:] in entries and
          not [e for e in entries if e.startswith(".tmp")], str(entries))
    r = run("run", f"{host}/kapsul/spin:v1")
    check("run.spin-app", r.returncode == 1 and "a Spin application, not a module" in r.stderr, r.stderr)
    r = run("up", "-f", f"{host}/kapsul/wasm:v1")
    check("up.module", r.returncode == 1 and "a module, not a Spin application" in r.stderr, r.stderr)
    # Pinned by a cached digest: no registry needed (an address nothing listens on).
    pinned = f"127.0.0.1:{free_port()}/kapsul/compat@{digests[('compat', 'registry')]}"
    r = run("run", pinned)
    check("run.cached-digest-offline", r.returncode == 7 and r.stdout == "hello from oci\n", r.stderr)
    r = run("run", f"127.0.0.1:{free_port()}/kapsul/compat:v1")
    check("run.unreachable", r.returncode == 1 and "Couldn't connect" in r.stderr, r.stderr)
    port = free_port()
    up = subprocess.Popen([KAPSUL, "up", "-f", f"{host}/kapsul/spin:v1", "--listen", f"127.0.0.1:{port}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    body = b""
    try:
        for _ in range(100):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/x", timeout=2).read()
                break
            except Exception:
                if up.poll() is not None:
                    break
                time.sleep(0.1)
    finally:
        up.terminate()
        up.wait(10)
    check("up.registry", body == b"hi oci\n", repr(body) + up.stderr.read().decode())

    # Credentials: a token realm that wants the Basic credential of config.json.
    Fake.token, Fake.basic = "tok-123", base64.b64encode(b"user:secret").decode()
    m, blobs = layout_image(layout, "wasm")
    ref = serve_fake("auth", m, blobs)
    r = run("oci", "pull", "--plain-http", ref + ":v1", "-o", os.path.join(TMP, "pull", "auth0"))
    check("auth.without-credentials", r.returncode == 1 and "401" in r.stderr, r.stderr)
    os.makedirs(ENV["DOCKER_CONFIG"])
    json.dump({"auths": {f"127.0.0.1:{Fake.port}": {"auth": Fake.basic}}},
              open(os.path.join(ENV["DOCKER_CONFIG"], "config.json"), "w"))
    r = run("oci", "pull", "--plain-http", ref + ":v1", "-o", os.path.join(TMP, "pull", "auth1"))
    check("auth.token", r.returncode == 0, r.stderr)
    Fake.token, Fake.basic_only = None, True
    r = run("oci", "pull", "--plain-http", ref + ":v1", "-o", os.path.join(TMP, "pull", "auth2"))
    check("auth.basic", r.returncode == 0, r.stderr)
    Fake.basic_only = False

    index_follow(layout, hello)
    bad_inputs(layout, hello)

    # Bad references and flags are usage errors.
    for args in (["pull", "UPPER/Case:1"], ["push", "--platform", "linux", "hello.wasm", "oci:x"],
                 ["push", "--platform", "linux/amd64,", "hello.wasm", "oci:x"], ["pull", "h:99999999/x"], ["push", "hello.wasm", "x@sha256:12"],
                 ["push", "hello.wasm", "oci:x@sha256:" + "0" * 64],
                 ["push", "--format", "tar", "hello.wasm", "oci:x"], ["pull"], ["frob"]):
        r = run("oci", *args)
        check("usage." + "-".join(a.replace("/", "_") for a in args)[:40], r.returncode == 2 and r.stderr, r.stderr)
    r = run("oci", "push", os.path.join(app, "notes.txt"), f"oci:{layout}:x")
    check("usage.not-a-module", r.returncode == 2 and "not a WebAssembly module" in r.stderr, r.stderr)


def index_follow(layout, hello):
    """An image index (as multi-arch images are pushed): kapsul picks the --platform entry."""
    m, blobs = layout_image(layout, "compat")
    other = json.dumps({"schemaVersion": 2, "config": {"mediaType": "application/x-nothing", "digest": sha(b"x"),
                                                          "size": 1}, "layers": []}).encode()
    desc = lambda body, arch: {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(body),
                               "size": len(body), "platform": {"os": "linux", "architecture": arch}}
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [desc(other, "arm64"), desc(m, "amd64")]}).encode()
    ref = serve_fake("index", index, blobs, "application/vnd.oci.image.index.v1+json")
    Fake.manifests[f"bad/index/{sha(m)}"] = (m, "application/vnd.oci.image.manifest.v1+json")
    Fake.manifests[f"bad/index/{sha(other)}"] = (other, "application/vnd.oci.image.manifest.v1+json")
    out = os.path.join(TMP, "pull", "index")
    r = run("oci", "pull", "--plain-http", "--platform", "linux/amd64", ref + ":v1", "-o", out)
    check("index.platform", r.returncode == 0 and open(os.path.join(out, "hello.wasm"), "rb").read() == hello, r.stderr)
    r = run("oci", "pull", "--plain-http", "--platform", "linux/arm64", ref + ":v1", "-o", out + "-arm")
    check("index.other-platform", r.returncode == 1 and "unknown config media type" in r.stderr, r.stderr)
    expect_pull_error("index-no-platform", ref + ":v1", "no manifest for linux/s390x", ("--platform", "linux/s390x"))


def bad_inputs(layout, hello):
    m, blobs = layout_image(layout, "compat")
    doc = json.loads(m)
    cfg_d, layer_d = doc["config"]["digest"], doc["layers"][0]["digest"]

    # The manifest a digest pins is not the one served.
    ref = serve_fake("mdigest", m, blobs)
    other = sha(b"something else")
    Fake.manifests[f"bad/mdigest/{other}"] = (m, "application/vnd.oci.image.manifest.v1+json")
    expect_pull_error("manifest-digest", f"{ref}@{other}", "digest mismatch")

    # A layer whose bytes do not hash to its digest (same size).
    tampered = bytearray(blobs[layer_d])
    tampered[len(tampered) // 2] ^= 1
    ref = serve_fake("blobdigest", m, {**blobs, layer_d: bytes(tampered)})
    expect_pull_error("blob-digest", ref + ":v1", "digest mismatch")
    Fake.blobs[layer_d] = blobs[layer_d]

    # A blob longer than its descriptor says.
    d2 = json.loads(m)
    d2["layers"][0]["size"] -= 10
    expect_pull_error("blob-size", serve_fake("blobsize", d2, blobs) + ":v1", "size mismatch")

    # A truncated layer with a descriptor that matches it: the gzip stream ends early.
    cut = blobs[layer_d][: len(blobs[layer_d]) // 2]
    d3 = json.loads(m)
    d3["layers"][0].update(digest=sha(cut), size=len(cut))
    expect_pull_error("truncated-layer", serve_fake("trunc", d3, {**blobs, sha(cut): cut}) + ":v1", "truncated")

    # The config is not there.
    gone = sha(b"no such config")
    d4 = json.loads(m)
    d4["config"].update(digest=gone, size=14)
    expect_pull_error("missing-config", serve_fake("noconfig", d4, blobs) + ":v1", "missing")

    # Unknown media types: config, layer, manifest.
    d5 = json.loads(m)
    d5["config"]["mediaType"] = "application/x-unknown+json"
    expect_pull_error("unknown-config-type", serve_fake("cfgtype", d5, blobs) + ":v1", "unknown config media type")
    d6 = json.loads(m)
    d6["layers"][0]["mediaType"] = "application/x-tar-bz9"
    expect_pull_error("unknown-layer-type", serve_fake("layertype", d6, blobs) + ":v1", "unknown media type")
    d7 = json.loads(m)
    d7["mediaType"] = "application/vnd.example.thing+json"
    expect_pull_error("unknown-manifest-type", serve_fake("mtype", d7, blobs, "application/vnd.example.thing+json")
                      + ":v1", "unsupported media type")
    expect_pull_error("not-json", serve_fake("notjson", b"{not json", blobs) + ":v1", "not JSON")

    # A diff_id that does not match the layer.
    cfg = json.loads(blobs[cfg_d])
    cfg["rootfs"]["diff_ids"] = [sha(b"x")]
    cfg_b = json.dumps(cfg).encode()
    d8 = json.loads(m)
    d8["config"].update(digest=sha(cfg_b), size=len(cfg_b))
    expect_pull_error("diff-id", serve_fake("diffid", d8, {**blobs, sha(cfg_b): cfg_b}) + ":v1", "diff_id mismatch")

    # A Spin application whose file would land outside the output directory.
    sm, sblobs = layout_image(layout, "spin")
    d9 = json.loads(sm)
    d9["layers"][-1]["annotations"]["org.opencontainers.image.title"] = "../escape.txt"
    expect_pull_error("spin-escape", serve_fake("escape", d9, sblobs) + ":v1", "'..' component")
    check("bad.spin-escape.nothing-outside", not os.path.exists(os.path.join(TMP, "bad-out", "escape.txt")))

    # A corrupt blob in a layout on disk.
    broken = os.path.join(TMP, "broken")
    shutil.copytree(layout, broken)
    path = os.path.join(broken, "blobs", "sha256", layer_d[7:])
    data = bytearray(open(path, "rb").read())
    data[-1] ^= 0xFF
    open(path, "wb").write(bytes(data))
    expect_pull_error("layout-blob-digest", f"oci:{broken}:compat", "digest mismatch")
    os.remove(path)
    expect_pull_error("layout-missing-blob", f"oci:{broken}:compat", "No such file")


main()
