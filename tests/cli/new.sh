# new.sh -- kapsul new: help, --list, the files it writes, and every refusal (bad names, unknown
# templates, an existing directory, a missing parent), each of which must leave nothing behind.
cd "$T"
k new --help
k new --list
k new
k new http-c
k new http-c hello extra
k new --frobnicate
k new --list http-c
k new -o
k new no-such-template hello
k new http-c Hello
k new http-c 2fast
k new http-c -dash
k new http-c -- -dash
k new http-c a--b
k new http-c trailing_
k new http-c 'sp ace'
k new http-c a1234567890123456789012345678901234567890123456789012345678901234
ls
k new http-c hello-world_b2
find hello-world_b2 -type f | sort
sed -n '/^\[\[trigger/,$p' hello-world_b2/spin.toml
cat hello-world_b2/.gitignore
grep 'Hello from' hello-world_b2/src/main.c
k new http-rust hello-world_b2
mkdir taken
k new http-c taken
ls taken
k new http-c x -o no-such-parent/x
k new --output=out/app http-rust x
mkdir out
k new --output=out/app/ http-rust rusty
find out -type f | sort
grep -n 'rusty' out/app/spin.toml
touch plainfile
k new http-c plainfile
ls
