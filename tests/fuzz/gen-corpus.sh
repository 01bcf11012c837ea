#!/usr/bin/env bash
# gen-corpus.sh -- regenerate the checked-in seed corpora and dictionaries from tests/fuzz/seeds:
#   corpus/module  every seed assembled by wat2wasm, near-valid variants of each (truncated,
#                  one byte flipped, a section size off by one), and modules that binaryen's
#                  `wasm-opt -ttf` builds from fixed byte strings
#   corpus/exec    the valid modules of corpus/module
#   corpus/text    the .wat and .wast seeds themselves
#   text.dict      every instruction name from src/module/opcodes.def plus the text keywords
# Deterministic: the same seeds give the same files. Needs wabt (wat2wasm) and binaryen.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf corpus && mkdir -p corpus/module corpus/exec corpus/text
ln -s exec corpus/native # fuzz_native starts from the same modules as fuzz_exec
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

for wat in seeds/*.wat; do
    name=$(basename "$wat" .wat)
    # sugar.wat imports from "spectest"; it is a text seed only when wat2wasm disagrees.
    wat2wasm "$wat" -o "corpus/module/$name.wasm"
    cp "corpus/module/$name.wasm" "corpus/exec/$name.wasm"
done
cp seeds/*.wat seeds/*.wast corpus/text/

# binaryen's random-module generator, fed fixed inputs.
for i in 1 2 3 4 5 6; do
    seq "$i" 7 4000 | sha256sum | head -c 64 > "$tmp/in"
    for k in $(seq 1 40); do seq "$k" "$i" 900 | sha256sum | head -c 64 >> "$tmp/in"; done
    wasm-opt -ttf "$tmp/in" -o "corpus/module/ttf-$i.wasm" 2>/dev/null
    cp "corpus/module/ttf-$i.wasm" "corpus/exec/ttf-$i.wasm"
done

# Near-valid variants of each hand-written seed.
for f in corpus/exec/*.wasm; do
    name=$(basename "$f" .wasm)
    case $name in ttf-*) continue ;; esac
    len=$(stat -c %s "$f")
    [ "$len" -gt 12 ] || continue
    head -c $((len / 2)) "$f" > "corpus/module/$name-trunc.wasm"
    for pos in $((len / 3)) $((2 * len / 3)); do
        cp "$f" "corpus/module/$name-flip$pos.wasm"
        byte=$(od -An -tu1 -j "$pos" -N1 "$f" | tr -d ' ')
        printf "$(printf '\\%03o' $((byte ^ 0x41)))" |
            dd of="corpus/module/$name-flip$pos.wasm" bs=1 seek="$pos" conv=notrunc status=none
    done
    # The first section's size byte (offset 9) one larger.
    cp "$f" "corpus/module/$name-size.wasm"
    byte=$(od -An -tu1 -j 9 -N1 "$f" | tr -d ' ')
    printf "$(printf '\\%03o' $(((byte + 1) & 0x7f)))" |
        dd of="corpus/module/$name-size.wasm" bs=1 seek=9 conv=notrunc status=none
done

# Dictionary for the text target: instruction names and keywords.
{
    sed -n 's/^KP_OP([A-Z0-9_]*, *"\([^"]*\)".*/"\1"/p' ../../src/module/opcodes.def | sort -u
    for k in module func param result local global table memory elem data type import export \
             start mut funcref externref offset item declare then else end block loop if \
             register invoke get assert_return assert_trap assert_invalid assert_malformed \
             assert_unlinkable assert_exhaustion binary quote ref.extern nan:canonical \
             nan:arithmetic i8x16 i16x8 i32x4 i64x2 f32x4 f64x2 align= offset= inf nan:0x; do
        echo "\"$k\""
    done
} > text.dict
echo "corpus: $(ls corpus/module | wc -l) module, $(ls corpus/exec | wc -l) exec, $(ls corpus/text | wc -l) text inputs; text.dict: $(wc -l < text.dict) entries"

# WASI call sequences (see fuzz_wasi.c for the encoding: a byte of memory-data length, then per
# call a function byte and one selector per argument). Function numbers follow funcs.def.
mkdir -p corpus/wasi
ff8='\xff\xff\xff\xff\xff\xff\xff\xff'
ptr3000='\xc0\xb8\x0b\x00\x00'; ptr3004='\xc0\xbc\x0b\x00\x00'
# path_open(3, follow, "file.txt", 8, 0, all rights, all rights, 0, &fd) then fd_read(5, iovs, 2, &n)
open_file="\x1f\x03\x01\x80\x41\x00\xff$ff8\xff$ff8\x00$ptr3000"
printf "\x00$open_file\x14\x05\x48\x02$ptr3004" > corpus/wasi/open-read
# the same through "../outside/kpcanary-name" (24 bytes) and through symlinks out
printf "\x00\x1f\x03\x01\x82\x45\x00\xff$ff8\xff$ff8\x00$ptr3000\x14\x05\x48\x02$ptr3004" > corpus/wasi/escape-dotdot
printf "\x00\x1f\x03\x01\x83\x41\x00\xff$ff8\xff$ff8\x00$ptr3000\x14\x05\x48\x02$ptr3004" > corpus/wasi/escape-link
printf "\x00\x1f\x03\x01\x85\x1d\x00\xff$ff8\xff$ff8\x00$ptr3000\x14\x05\x48\x02$ptr3004" > corpus/wasi/escape-link-up
# fd_write to stdout, prestat queries, args, environ, random, clock, readdir of the preopen
printf "\x05hello\x1a\x01\x48\x01$ptr3000\x11\x03$ptr3000\x12\x03\xc0\xd0\x0b\x00\x00\x04\x00\x00\x48$ptr3000\x02\x48\xc0\x00\x09\x00\x00\x29\x49\x3f\x05\x01\x01$ptr3000\x15\x03\x49\x3f\x00$ptr3000" > corpus/wasi/misc
# create, rename, link, symlink, unlink, rmdir beneath the preopen and in the read-only one
printf "\x00\x1b\x03\x86\x03\x22\x03\x86\x03\x03\x87\x07\x24\x80\x08\x03\x8a\x10\x1e\x03\x00\x80\x08\x03\x87\x07\x24\x03\x87\x07\x21\x03\x86\x03\x1b\x04\x86\x03" > corpus/wasi/mutate
# fd juggling: renumber, close, seek/tell, fdstat set rights, close the preopen itself
printf "\x00$open_file\x16\x05\x03\x17\x03\xff\x05\x00\x00\x00\x00\x00\x00\x00\x00$ptr3000\x19\x03$ptr3000\x0c\x04\x00\x00\x08\x03\x08\x04\x0a\x04$ptr3000" > corpus/wasi/fds
echo "wasi corpus: $(ls corpus/wasi | wc -l) inputs"

# Compiled artifacts for fuzz_kwasm, made by this tree's build/kapsul-llvmc (the target rewrites
# their version and CPU fields, so they load on any host).
mkdir -p corpus/kwasm
llvmc=../../build/kapsul-llvmc
for m in fuel backtrace control memory_trap imports; do "$llvmc" "corpus/exec/$m.wasm" -o "corpus/kwasm/$m.kwasm"; done
"$llvmc" --bounds-checks corpus/exec/memory.wasm -o corpus/kwasm/memory-checked.kwasm
