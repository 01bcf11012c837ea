#!/usr/bin/env bash
# component_http.sh -- a componentize-js wasi:http handler (tests/component/http/handler.js, 14 MB
# with its JavaScript engine) answered from a fresh component instance per request: `kapsul serve`
# against `jco serve --isolate-requests instance` (node, the same component transpiled to JS), on
# this machine, in one run.
#
#   bench/component_http.sh [REQUESTS] [SECONDS]     (defaults: 200 sequential requests, wrk 5 s)
#
# For each server: REQUESTS sequential GET /hello over one keep-alive connection (http.client;
# p50/p99 of the whole request as the client sees it), then `wrk -t1 -c4 -d SECONDS --latency`
# (requests/s, p50/p99). For kapsul, the median instantiate_us of its JSON log too (store, WASI
# context and component instance per request). There is no core-module build of this handler to
# compare with (componentize-js emits only components). Builds the handler with
# tests/component/http/build-http.mjs (KAPSUL_TEST_HTTP_HANDLER=FILE: use that build), starts every
# server on 127.0.0.1 and stops it by PID. Rewrites its own section of bench/RESULTS.md.
# Not a test: nothing fails because of a number.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
secs=${2:-5}
for tool in wrk node python3; do
    command -v "$tool" >/dev/null || { echo "component_http.sh: needs $tool (scripts/setup.sh)" >&2; exit 1; }
done
jco=tests/component/node_modules/.bin/jco
[ -x "$jco" ] || { echo "component_http.sh: $jco missing (scripts/setup.sh runs npm ci there)" >&2; exit 1; }
cmake --build build --target kapsul kapsul-serve -j2 >/dev/null
tmp=$(mktemp -d /tmp/kapsul-bench-chttp.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
if [ -n "${KAPSUL_TEST_HTTP_HANDLER:-}" ]; then
    cp "$KAPSUL_TEST_HTTP_HANDLER" "$tmp/handler.wasm"
else
    (cd tests/component && node http/build-http.mjs "$tmp/handler.wasm" >/dev/null)
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { # port
    for _ in $(seq 600); do
        curl -s -o /dev/null "http://127.0.0.1:$1/hello" && return 0
        sleep 0.1
    done
    echo "component_http.sh: server on port $1 did not start" >&2
    exit 1
}
kport=$(free_port)
setsid build/kapsul serve --listen "127.0.0.1:$kport" --log-file "$tmp/kapsul.log" "$tmp/handler.wasm" &
pids+=($!)
jport=$(free_port)
(cd "$tmp" && exec setsid "$OLDPWD/$jco" serve --host 127.0.0.1 --port "$jport" --isolate-requests instance \
    handler.wasm >/dev/null 2>&1) &
pids+=($!)
wait_up "$kport"
wait_up "$jport"
for p in "$kport" "$jport"; do
    wrk -t1 -c4 -d"$secs" --latency "http://127.0.0.1:$p/hello" >"$tmp/wrk-$p.txt"
done
load=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$n" "$secs" "$kport" "$jport" "$tmp" "$load" "$(git rev-parse --short HEAD)" <<'PY'
import http.client, json, os, re, statistics, sys, time
n, secs, kport, jport, tmp, load, commit = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]

def sequential(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        c.request("GET", "/hello")
        r = c.getresponse()
        body = r.read()
        ts.append((time.perf_counter() - t) * 1e3)
        assert r.status == 200 and body == b"hello from js\n", (r.status, body)
    c.close()
    ts.sort()
    return statistics.median(ts), ts[min(len(ts) - 1, int(len(ts) * 0.99))]

def wrk(port):
    text = open(os.path.join(tmp, "wrk-%d.txt" % port)).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    def ms(label):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\b" % label, text, re.M)
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    return rps, ms("50"), ms("99")

def logged():
    return [r for r in map(json.loads, open(os.path.join(tmp, "kapsul.log"))) if r.get("kind") == "request"]

res = {}
before = len(logged())
for name, port in (("kapsul", kport), ("jco", jport)):
    res[name] = sequential(port) + wrk(port)
inst = [r["instantiate_us"] / 1000 for r in logged()[before:before + n]]  # the sequential requests
inst_p50 = statistics.median(inst)
k, j = res["kapsul"], res["jco"]
lines = [
    "Measured %s (commit %s) with `bench/component_http.sh %d %s`: the componentize-js handler of "
    "tests/component/http (%.1f MB), GET /hello, a fresh instance per request; load average %s "
    "(2 cores shared with other work: absolute times are inflated, ratios less so)." % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), commit, n, secs,
        os.path.getsize(os.path.join(tmp, "handler.wasm")) / 1e6, load),
    "",
    "| server | sequential p50 | sequential p99 | wrk -c4 req/s | wrk p50 | wrk p99 |",
    "|---|---|---|---|---|---|",
    "| `kapsul serve` (interpreter) | %.1f ms | %.1f ms | %.1f | %.1f ms | %.1f ms |" % k,
    "| `jco serve --isolate-requests instance` (node) | %.1f ms | %.1f ms | %.1f | %.1f ms | %.1f ms |" % j,
    "",
    "kapsul/jco sequential p50: %.2f; wrk req/s: %.1fx. Of kapsul's sequential p50, %.1f ms (p50 of its "
    "log's instantiate_us) is instantiation: store, WASI context and a component instance from the "
    "component's copy-on-write template (kpCTemplate); the rest is the handler's JavaScript, run by the "
    "interpreter. No core-module build of this handler exists to compare with." % (k[0] / j[0], k[2] / j[2], inst_p50),
]
text = "\n".join(lines) + "\n"
print(text)
path = "bench/RESULTS.md"
old = open(path).read()
key = "component-http"
pat = re.compile(r"(<!-- %s:begin -->\n)(.*?)(<!-- %s:end -->)" % (key, key), re.S)
if pat.search(old):
    new = pat.sub(lambda m: m.group(1) + text + m.group(3), old)
else:
    block = "## wasi:http components (`bench/component_http.sh`)\n\n<!-- %s:begin -->\n%s<!-- %s:end -->\n\n" % (
        key, text, key)
    at = old.find("## Measurements behind decisions")
    new = old[:at] + block + old[at:] if at >= 0 else old + "\n" + block
open(path, "w").write(new)
PY
