# usage.sh -- top-level help, version, and the usage errors that must exit 2.
k
k --version
k -V
k --help
k help validate
k frobnicate
k --frobnicate
k validate --frobnicate sample.wat
k inspect --frobnicate sample.wat
k wat2wasm --frobnicate sample.wat
k wast --frobnicate pass.wast
k validate
k inspect
k inspect sample.wat sample.wat
k wat2wasm
k wat2wasm sample.wat -o
k wast
k wast --timeout never pass.wast
# serve and up run build/kapsul-serve, found beside kapsul.
k serve --help
k up --help
k serve
k up -f missing.toml
