#!/bin/sh
# Component templates: a fresh component instance per request, kpCInstance_new against
# kpCTemplate_instantiate (bench/ctemplate.c, in process, against build/libkapsul.a and kapsul's
# internal component API), for the small jco-built CLI component (cli_hello.wasm, wasi:cli/run)
# and a componentize-js component (tests/component/js-counter, about 12 MB, built here into
# bench/out on first use: needs tests/component/node_modules). Rewrites its own marked section
# of bench/RESULTS.md. Usage: bench/ctemplate.sh [N_SMALL [N_JS]]  (defaults 1000 and 100).
# Timing only: nothing here is a test.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out="$here/out"
mkdir -p "$out"
cc -O2 -Wall -Wextra -I"$root/include" -I"$root/build/include" -I"$root/src" -o "$out/ctemplate" \
    "$here/ctemplate.c" "$root/build/libkapsul.a" -ldw -lelf -liberty -lpthread -lm
js="$out/js-counter.wasm"
if [ ! -s "$js" ] || [ "$root/tests/component/js-counter/counter.js" -nt "$js" ]; then
    (cd "$root/tests/component" && node js-counter/build.mjs "$js")
fi
"$out/ctemplate" "$root/tests/component/cli_hello.wasm" "${1:-1000}" run | tee "$out/ctemplate.txt"
"$out/ctemplate" "$js" "${2:-100}" bump | tee -a "$out/ctemplate.txt"
python3 - "$here/RESULTS.md" "$out/ctemplate.txt" "$(git -C "$root" rev-parse --short HEAD)" <<'PY'
import datetime, re, sys
results, raw, commit = sys.argv[1:4]
rows = [l.split("|")[1:] for l in open(raw) if l.startswith("ROW|")]
when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
load = open("/proc/loadavg").read().split()[0]
t = [f"Measured {when} at {commit} with `bench/ctemplate.sh` (load average {load} on 2 cores: p99s",
     "are the machine's). Per request: a store, the WASI 0.2 host on in-memory stdio, the instance,",
     "one call, everything freed; the two ways interleaved. p50 / p99 in microseconds; `instantiate`",
     "is the instantiation alone, `request` the whole of it.", "",
     "| component | prepare, template (once) | call | instantiate: kpCInstance_new | template | ratio (p50) "
     "| request: kpCInstance_new | template | ratio (p50) |",
     "|---|---|---|---|---|---|---|---|---|"]
for name, size, prep, tpl, ni50, ni99, ti50, ti99, nt50, nt99, tt50, tt99, n, call in rows:
    f = float
    t.append(f"| {name} ({int(size) / 1e6:.1f} MB) | {prep} ms, {tpl} ms | {call.strip()} (N={n}) "
             f"| {ni50} / {ni99} | {ti50} / {ti99} | {f(ni50) / f(ti50):.0f}x "
             f"| {nt50} / {nt99} | {tt50} / {tt99} | {f(nt50) / f(tt50):.1f}x |")
t += ["",
      "What is left of a template request (`perf`): for js-counter about 90% is the guest's own code",
      "(SpiderMonkey in the interpreter), the reset of the slot (pagemap read, written pages copied",
      "back) about 1%; for cli_hello the run itself and, in the reset, unmapping the pages the guest",
      "grew (its allocator calls memory.grow: a TLB shootdown, dear on this virtual machine)."]
section = "\n".join(t) + "\n"
text = open(results).read()
begin, end = "<!-- ctemplate:begin -->\n", "<!-- ctemplate:end -->"
if begin in text:
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda m: begin + section + end, text, flags=re.S)
else:
    text = text.replace("## Measurements behind decisions",
                        "## Component templates (`bench/ctemplate.sh`)\n\n" + begin + section + end +
                        "\n\n## Measurements behind decisions", 1)
open(results, "w").write(text)
PY
