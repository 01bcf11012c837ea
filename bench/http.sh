#!/usr/bin/env bash
# http.sh -- the HTTP front's throughput against Debian's nginx, on this machine, in one run.
#
#   bench/http.sh [SECONDS] [CONNECTIONS]      (defaults: 5 s, 64 connections)
#
# wrk (2 threads, keep-alive) asks build/tests/http_echo for /hello (the handler runs on a worker
# thread, the response goes back through the loop) and then nginx for a static file holding the
# same 6 bytes. nginx runs with its own configuration in a temporary directory on a free loopback
# port, as the invoking user; both servers are stopped by PID. Prints requests/s and the 99th
# percentile latency of each, and their ratio. Not a test: nothing here fails because of a number.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
conns=${2:-64}
for tool in wrk nginx python3; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "http.sh: needs $tool (scripts/setup.sh)" >&2; exit 1; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

cmake --build build --target http_echo -j2 >/dev/null
tmp=$(mktemp -d /tmp/kapsul-bench-http.XXXXXX)
echo_pid=""
nginx_pid=""
cleanup() {
    [ -n "$echo_pid" ] && kill -TERM "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null || true
    [ -n "$nginx_pid" ] && kill -QUIT "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# wrk's summary: "Requests/sec: N" and, with --latency, the "99%" line of the distribution.
run_wrk() {
    wrk -t2 -c"$conns" -d"${secs}s" --latency "$1" > "$tmp/wrk.out"
    local rps p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out")
    p99=$(awk '$1 == "99%" {print $2}' "$tmp/wrk.out")
    local errors
    errors=$(awk '/Non-2xx|Socket errors/' "$tmp/wrk.out")
    echo "$rps $p99${errors:+ ($errors)}"
}

# kapsul's HTTP front (http_echo prints the port it got).
mkfifo "$tmp/echo.fifo"
build/tests/http_echo --port 0 > "$tmp/echo.fifo" &
echo_pid=$!
read -r _ echo_port < "$tmp/echo.fifo"
kapsul=$(run_wrk "http://127.0.0.1:$echo_port/hello")
kill -TERM "$echo_pid"; wait "$echo_pid" || true; echo_pid=""

# nginx with a static file, one worker per CPU.
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
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
    server {
        listen 127.0.0.1:$nginx_port;
        root $tmp/www;
    }
}
CONF
"$nginx_bin" -e "$tmp/error.log" -p "$tmp" -c "$tmp/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $nginx_port), 1)" 2>/dev/null && break
    sleep 0.05
done
nginx=$(run_wrk "http://127.0.0.1:$nginx_port/hello")

read -r k_rps k_p99 k_rest <<<"$kapsul"
read -r n_rps n_p99 n_rest <<<"$nginx"
echo "wrk -t2 -c$conns -d${secs}s, $(nproc) CPUs"
printf '%-28s %12s req/s   p99 %s %s\n' "kapsul http_echo /hello" "$k_rps" "$k_p99" "${k_rest:-}"
printf '%-28s %12s req/s   p99 %s %s\n' "nginx $("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///') static file" "$n_rps" "$n_p99" "${n_rest:-}"
python3 -c "print('kapsul / nginx requests/s: %.2f' % ($k_rps / $n_rps))"
