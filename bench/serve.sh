#!/usr/bin/env bash
# serve.sh -- `kapsul serve` with a hello WAGI guest (interpreter, and --tier native when
# build/kapsul-llvmc exists) against Debian's nginx serving a static hello file, and against the
# same guest as a CGI process per request (`kapsul run` spawned for each request by a small Python
# http.server), on this machine, in one run.
#
#   bench/serve.sh [SECONDS] [CONNECTIONS]      (defaults: 5 s, 64 connections)
#
# wrk -t2 with keep-alive against each server in turn. kapsul serve runs a fresh instance per
# request and writes its JSON log to a file (as a deployment would); nginx runs with access_log off
# on its own configuration in a temporary directory; every server is stopped by PID. Prints
# requests/s and the 99th percentile latency of each. Not a test: nothing fails because of a number.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
conns=${2:-64}
for tool in wrk nginx python3 clang; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "serve.sh: needs $tool (scripts/setup.sh)" >&2; exit 1; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

cmake --build build --target kapsul kapsul-serve -j2 >/dev/null
native=no
[ -x build/kapsul-llvmc ] && native=yes
tmp=$(mktemp -d /tmp/kapsul-bench-serve.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1200); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "serve.sh: nothing listens on port $1" >&2; exit 1
}
run_wrk() {
    wrk -t2 -c"$conns" -d"${secs}s" --timeout 10s --latency "$1" > "$tmp/wrk.out"
    local rps p99 errors
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out")
    p99=$(awk '$1 == "99%" {print $2}' "$tmp/wrk.out")
    errors=$(awk '/Non-2xx|Socket errors/' "$tmp/wrk.out")
    echo "$rps $p99${errors:+ ($errors)}"
}
stop_last() { local p=${pids[-1]}; kill -TERM "$p"; wait "$p" 2>/dev/null || true; unset 'pids[-1]'; }

# The handler: a WASI command that answers as WAGI does.
cat > "$tmp/hello.c" <<'C'
#include <stdio.h>
int main(void) { printf("Content-Type: text/plain\n\nhello\n"); return 0; }
C
clang --target=wasm32-wasi -O2 -o "$tmp/hello.wasm" "$tmp/hello.c"

# 1. kapsul serve.
port=$(free_port)
build/kapsul serve --listen "127.0.0.1:$port" --log-file "$tmp/serve.log" "$tmp/hello.wasm" &
pids+=($!)
wait_port "$port"
kapsul=$(run_wrk "http://127.0.0.1:$port/hello")
stop_last

# 1b. kapsul serve --tier native (compiled once at start-up; the cache is this run's own).
knative="n/a"
if [ "$native" = yes ]; then
    port=$(free_port)
    build/kapsul serve --tier native --cache "$tmp/cache" --listen "127.0.0.1:$port" --log-file "$tmp/native.log" \
        "$tmp/hello.wasm" &
    pids+=($!)
    wait_port "$port"
    knative=$(run_wrk "http://127.0.0.1:$port/hello")
    stop_last
fi

# 2. nginx, a static file with the same body, one worker per CPU.
port=$(free_port)
mkdir -p "$tmp/www" "$tmp/tmp"
chmod a+rx "$tmp" "$tmp/www"   # nginx started as root serves as its unprivileged user
printf 'hello\n' > "$tmp/www/hello"
cat > "$tmp/nginx.conf" <<CONF
worker_processes auto;
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/tmp/body;
    proxy_temp_path $tmp/tmp/proxy;
    fastcgi_temp_path $tmp/tmp/fastcgi;
    scgi_temp_path $tmp/tmp/scgi;
    uwsgi_temp_path $tmp/tmp/uwsgi;
    default_type text/plain;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$port; root $tmp/www; }
}
CONF
"$nginx_bin" -e "$tmp/error.log" -p "$tmp" -c "$tmp/nginx.conf" -g 'daemon off;' &
pids+=($!)
wait_port "$port"
nginx=$(run_wrk "http://127.0.0.1:$port/hello")
kill -QUIT "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'

# 3. CGI: one `kapsul run` process per request behind a threading Python server (HTTP/1.1,
#    keep-alive), the guest's stdout split into headers and body.
port=$(free_port)
cat > "$tmp/cgi.py" <<'PY'
import http.server, subprocess, sys
kapsul, wasm, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        out = subprocess.run([kapsul, "run", wasm], capture_output=True).stdout
        head, _, body = out.partition(b"\n\n")
        self.send_response(200)
        for line in head.decode().splitlines():
            k, _, v = line.partition(":")
            self.send_header(k.strip(), v.strip())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer.request_queue_size = 1024
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
python3 "$tmp/cgi.py" "$PWD/build/kapsul" "$tmp/hello.wasm" "$port" 2>/dev/null &
pids+=($!)
wait_port "$port"
cgi=$(run_wrk "http://127.0.0.1:$port/hello")
stop_last

read -r k_rps k_p99 k_rest <<<"$kapsul"
read -r kn_rps kn_p99 kn_rest <<<"$knative"
read -r n_rps n_p99 n_rest <<<"$nginx"
read -r c_rps c_p99 c_rest <<<"$cgi"
echo "wrk -t2 -c$conns -d${secs}s keep-alive, $(nproc) CPUs"
printf '%-44s %10s req/s   p99 %s %s\n' "kapsul serve (fresh instance per request)" "$k_rps" "$k_p99" "${k_rest:-}"
printf '%-44s %10s req/s   p99 %s %s\n' "kapsul serve --tier native" "$kn_rps" "${kn_p99:-}" "${kn_rest:-}"
printf '%-44s %10s req/s   p99 %s %s\n' "nginx $("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///') static file" "$n_rps" "$n_p99" "${n_rest:-}"
printf '%-44s %10s req/s   p99 %s %s\n' "CGI: kapsul run per request (python server)" "$c_rps" "$c_p99" "${c_rest:-}"
python3 -c "print('kapsul serve / nginx: %.2f   kapsul serve / CGI: %.1f' % ($k_rps / $n_rps, $k_rps / $c_rps))"
[ "$native" = yes ] && python3 -c "print('kapsul serve --tier native / nginx: %.2f   native / interpreter: %.2f' % ($kn_rps / $n_rps, $kn_rps / $k_rps))"
