# component.sh -- components (layer 1) in inspect and validate: the WIT-level listing of the pinned
# jco-built components (tests/component, recipe build.sh), and the errors for a truncated
# component, an older component version, a dangling alias and --ir.
comp=../../component
k inspect $comp/exit_code.wasm
k inspect $comp/cli_hello.wasm
k validate -v $comp/exit_code.wasm $comp/cli_hello.wasm
head -c 3000 $comp/exit_code.wasm > "$T/truncated.wasm"
printf '\0asm\x0a\0\1\0' > "$T/old.wasm"
# an alias of export "x" of instance 0 when there is no instance
printf '\0asm\x0d\0\1\0\x06\x06\x01\x01\x00\x00\x01x' > "$T/dangling.wasm"
cd "$T"
k validate truncated.wasm
k inspect old.wasm
k validate dangling.wasm
k inspect --ir dangling.wasm
cd - >/dev/null
k run $comp/exit_code.wasm
