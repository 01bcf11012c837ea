# inspect.sh -- the wasm-objdump -h -x style listing, for a text module and for a binary with a
# custom section; errors as in validate.
k inspect sample.wat
# type ()->(), one function with an empty body, a custom section "meta" holding "hi"
printf '\0asm\1\0\0\0\1\4\1\x60\0\0\3\2\1\0\n\4\1\2\0\x0b\0\7\4metahi' > "$T/custom.wasm"
cd "$T"
k inspect custom.wasm
printf '\0asX\1\0\0\0' > bad-magic.wasm
k inspect bad-magic.wasm
k inspect no-such-file.wasm
