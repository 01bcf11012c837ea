#!/usr/bin/env bash
# oci.sh -- `kapsul oci push` and `pull` of a 1 MB and a 10 MB module to Debian's docker-registry
# on 127.0.0.1 (started in a temporary directory, stopped by PID), and the size each image format
# takes in the registry (manifest + config + layers).
#
#   bench/oci.sh [REPS]      (default 5; the median wall time of REPS runs is printed)
#
# The modules are valid: one memory and one data segment of the size (random bytes, so gzip cannot
# shrink the compat layer). Every push after the first finds the blobs there (HEAD) and uploads only
# the manifest, so "push" is timed to a fresh repository each rep; "pull" writes to a fresh
# directory each rep. Not a test: nothing fails because of a number.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-5}
[ -x /usr/bin/time ] && command -v docker-registry >/dev/null || { echo "oci.sh: needs docker-registry and /usr/bin/time (scripts/setup.sh)" >&2; exit 1; }
cmake --build build --target kapsul kapsul-oci -j2 >/dev/null
tmp=$(mktemp -d /tmp/kapsul-bench-oci.XXXXXX)
reg_pid=
cleanup() {
    [ -n "$reg_pid" ] && kill -TERM "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$tmp/reg.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $tmp/data
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$tmp/reg.yml" >"$tmp/reg.log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

python3 - "$tmp" <<'PY'
import os, sys
def leb(n):
    out = bytearray()
    while True:
        b = n & 0x7F; n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n: return bytes(out)
def sec(i, body): return bytes([i]) + leb(len(body)) + body
for mb in (1, 10):
    data = os.urandom(mb << 20)
    pages = (len(data) >> 16) + 1
    mem = sec(5, b"\x01\x00" + leb(pages))
    seg = sec(11, b"\x01\x00\x41\x00\x0b" + leb(len(data)) + data)
    open(f"{sys.argv[1]}/m{mb}.wasm", "wb").write(b"\0asm\1\0\0\0" + mem + seg)
PY

K=build/kapsul
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# One table row: REPS pushes of SOURCE (to fresh repositories NAME-i) and pulls, then the size of
# the first image in the registry.
measure() {
    local label=$1 name=$2 src=$3; shift 3
    local push=() pull=() pushc=() pullc=() i ref size
    for i in $(seq "$reps"); do
        ref="127.0.0.1:$port/$name-$i:v1"
        /usr/bin/time -f "%e %U %S" -o "$tmp/t" $K oci push --plain-http "$@" "$src" "$ref" >/dev/null
        push+=("$(awk '{print $1}' "$tmp/t")"); pushc+=("$(awk '{print $2 + $3}' "$tmp/t")")
        /usr/bin/time -f "%e %U %S" -o "$tmp/t" $K oci pull --plain-http "$ref" -o "$tmp/out-$name-$i" >/dev/null 2>&1
        pull+=("$(awk '{print $1}' "$tmp/t")"); pullc+=("$(awk '{print $2 + $3}' "$tmp/t")")
    done
    size=$(python3 - "$port" "$name-1" <<'PY'
import json, sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}/v2/{sys.argv[2]}"
req = urllib.request.Request(base + "/manifests/v1", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
m = urllib.request.urlopen(req).read()
doc = json.loads(m)
print(len(m) + doc["config"]["size"] + sum(l["size"] for l in doc["layers"]))
PY
)
    printf '| %s | %.2f (%.2f) | %.2f (%.2f) | %s |\n' "$label" "$(printf '%s\n' "${push[@]}" | median)" \
        "$(printf '%s\n' "${pushc[@]}" | median)" "$(printf '%s\n' "${pull[@]}" | median)" \
        "$(printf '%s\n' "${pullc[@]}" | median)" "$size"
}

echo "| module, format | push: wall s (kapsul CPU s), median of $reps | pull: wall s (CPU s) | image size (bytes) |"
echo "|---|---|---|---|"
for mb in 1 10; do
    for fmt in wasm compat; do measure "$mb MB, $fmt" "b$mb-$fmt" "$tmp/m$mb.wasm" --format "$fmt"; done
done
# A Spin application: spin.toml plus the 1 MB module as its one component.
mkdir -p "$tmp/app"
cp "$tmp/m1.wasm" "$tmp/app/app.wasm"
printf 'spin_manifest_version = 2\n[application]\nname = "app"\n[[trigger.http]]\nroute = "/..."\ncomponent = "app"\nexecutor = { type = "wagi" }\n[component.app]\nsource = "app.wasm"\n' > "$tmp/app/spin.toml"
measure "1 MB, spin app" b1-spin "$tmp/app"

# The baseline: skopeo moving the same 10 MB wasm artifact between an OCI layout and the registry
# (push: layout -> registry, pull: registry -> layout), beside kapsul doing the same two moves.
if command -v skopeo >/dev/null; then
    $K oci push "$tmp/m10.wasm" "oci:$tmp/lay:v1" >/dev/null
    kp=() ks=() pp=() ps=()
    for i in $(seq "$reps"); do
        /usr/bin/time -f "%e" -o "$tmp/t" skopeo copy -q --dest-tls-verify=false "oci:$tmp/lay:v1" \
            "docker://127.0.0.1:$port/sk-$i:v1" >/dev/null
        ks+=("$(cat "$tmp/t")")
        /usr/bin/time -f "%e" -o "$tmp/t" skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$port/sk-$i:v1" \
            "oci:$tmp/sk-out-$i:v1" >/dev/null
        ps+=("$(cat "$tmp/t")")
        /usr/bin/time -f "%e" -o "$tmp/t" $K oci push --plain-http "$tmp/m10.wasm" "127.0.0.1:$port/kp-$i:v1" >/dev/null
        kp+=("$(cat "$tmp/t")")
        /usr/bin/time -f "%e" -o "$tmp/t" $K oci pull --plain-http "127.0.0.1:$port/kp-$i:v1" -o "$tmp/kp-out-$i" \
            >/dev/null 2>&1
        pp+=("$(cat "$tmp/t")")
    done
    printf '\n10 MB wasm artifact, median wall s of %s: kapsul push %s, skopeo copy layout->registry %s; ' "$reps" \
        "$(printf '%s\n' "${kp[@]}" | median)" "$(printf '%s\n' "${ks[@]}" | median)"
    printf 'kapsul pull %s, skopeo copy registry->layout %s\n' "$(printf '%s\n' "${pp[@]}" | median)" \
        "$(printf '%s\n' "${ps[@]}" | median)"
fi
