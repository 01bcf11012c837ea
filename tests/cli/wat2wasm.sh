# wat2wasm.sh -- text to binary: round trip through validate and inspect, stdout output, the
# default output name, and errors.
cp sample.wat ill-typed.wat bad-syntax.wat "$T/"
cd "$T"
k wat2wasm sample.wat -o sample.wasm
k validate sample.wasm
# the binary lists exactly like the text it came from
"$KAPSUL" inspect sample.wat | tail -n +2 > from-text.txt
"$KAPSUL" inspect sample.wasm | tail -n +2 > from-binary.txt
cmp from-text.txt from-binary.txt && echo "inspect: text and binary listings identical"
# -o - writes the same bytes to stdout
"$KAPSUL" wat2wasm sample.wat -o - | cmp - sample.wasm && echo "-o -: same bytes as the file"
rm sample.wasm
k wat2wasm sample.wat
test -f sample.wasm && echo "default output: sample.wasm written"
k wat2wasm ill-typed.wat -o ill.wasm
test -f ill.wasm || echo "no output written for an invalid module"
k wat2wasm --no-check ill-typed.wat -o ill.wasm
k validate ill.wasm
k wat2wasm bad-syntax.wat -o bad.wasm
k wat2wasm no-such-file.wat -o x.wasm
k wat2wasm sample.wat -o no-such-dir/x.wasm
