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
