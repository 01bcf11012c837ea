# validate.sh -- silence on success, one error line per bad file, exit 1; unreadable files exit 2.
printf '\0asm\1\0\0\0' > "$T/empty.wasm"
printf '\0asX\1\0\0\0' > "$T/bad-magic.wasm"
printf '\0asm\2\0\0\0' > "$T/bad-version.wasm"
# a type section that claims 5 bytes but the file ends after 2
printf '\0asm\1\0\0\0\1\5\1\x60' > "$T/truncated.wasm"
cd "$T"
k validate empty.wasm
k validate -v empty.wasm
k validate bad-magic.wasm
k validate bad-version.wasm
k validate truncated.wasm
cd - >/dev/null
k validate ../../../examples/fib.wat
k validate ill-typed.wat
k validate bad-syntax.wat
k validate -v sample.wat ill-typed.wat
k validate no-such-file.wasm
k validate .
