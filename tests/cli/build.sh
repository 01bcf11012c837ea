# build.sh -- kapsul build with plain shell commands (no compiler needed): manifest lookup, the
# order of commands, workdirs, selection with -c, streaming output, and every way a build stops:
# a failing or killed command, a source not produced, a missing workdir, a bad manifest.
cd "$T"
manifest() {  # manifest FILE: a two-route application; the components follow on stdin
    printf 'spin_manifest_version = 2\n[application]\nname = "b"\n' > "$1"
    printf '[[trigger.http]]\nroute = "/a"\ncomponent = "first"\n' >> "$1"
    printf '[[trigger.http]]\nroute = "/b/..."\ncomponent = "second"\n' >> "$1"
    cat >> "$1"
}
k build --help
k build
k build -f
k build extra
k build --frobnicate
mkdir app app/sub app/prebuilt
manifest app/spin.toml <<'TOML'
[component.first]
source = "out/first.wasm"
[component.first.build]
command = ["mkdir -p out", "echo first: in $(basename $(pwd))", "echo to stderr >&2", "touch out/first.wasm"]
[component.second]
source = "sub/second.wasm"
[component.second.build]
command = "echo second: in $(basename $(pwd)) && touch second.wasm"
workdir = "sub"
[component.third]
source = "prebuilt/third.wasm"
TOML
touch app/prebuilt/third.wasm
k build -f app
ls app/out app/sub
k build --from=app/spin.toml -c second
k build -f app/ -c second -c first
k build -f app -c nosuch
cd app
k build -c first
cd ..

mkdir fail
manifest fail/spin.toml <<'TOML'
[component.first]
source = "first.wasm"
[component.first.build]
command = ["echo one", "exit 3", "echo never"]
[component.second]
source = "second.wasm"
[component.second.build]
command = "echo never either; touch second.wasm"
TOML
k build -f fail
ls fail

mkdir killed
manifest killed/spin.toml <<'TOML'
[component.first]
source = "first.wasm"
[component.first.build]
command = "kill -9 $$"
[component.second]
source = "second.wasm"
TOML
k build -f killed

mkdir noout
manifest noout/spin.toml <<'TOML'
[component.first]
source = "target/first.wasm"
[component.first.build]
command = "true"
[component.second]
source = "second.wasm"
TOML
k build -f noout
mkdir -p noout/target && touch noout/target/first.wasm
k build -f noout
mkdir noout/second.wasm
k build -f noout -c second

mkdir badwd
manifest badwd/spin.toml <<'TOML'
[component.first]
source = "first.wasm"
[component.first.build]
command = "touch first.wasm"
workdir = "missing"
[component.second]
source = "second.wasm"
TOML
k build -f badwd
touch badwd/missing
k build -f badwd

mkdir bad
manifest bad/spin.toml <<'TOML'
[component.first]
source = "first.wasm"
[component.first.build]
commands = "make"
TOML
k build -f bad/spin.toml
k build -f bad/nosuch.toml
