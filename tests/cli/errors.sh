# errors.sh -- one case per error kind of the validator, the linker and the decoder's checks for
# proposals kapsul does not run: each message names what is wrong and where (offset, function).
# The modules are written here, so each case reads next to its expected message.
v() { # v NAME 'WAT TEXT': validate a text module
    printf '%s\n' "$2" > "$T/$1.wat"
    (cd "$T" && k validate "$1.wat")
}
b() { # b NAME 'printf BYTES': validate a binary module
    printf "$2" > "$T/$1.wasm"
    (cd "$T" && k validate "$1.wasm")
}
# ---- validation: operand and result types
v operand-type '(module (func $add_one (param i32) (result i32) local.get 0 i64.const 1 i32.add))'
v empty-stack '(module (func $f (result i32) i32.eqz))'
v block-results '(module (func $two (result i32) i32.const 1 i32.const 2))'
v if-arms '(module (func $g (param i32) (result i32) (if (result i32) (local.get 0) (then i32.const 1) (else i64.const 2))))'
v branch-value '(module (func $br (result i32) (block (result i32) (br 0 (f32.const 1)))))'
v call-args '(module (func $callee (param i64)) (func $caller (call $callee (i32.const 1))))'
v select-types '(module (func $sel (result i32) (select (i32.const 1) (i64.const 2) (i32.const 0))))'
v return-type '(module (func $ret (result f64) (return (f32.const 1))))'
# ---- validation: indices
v unknown-local '(module (func $l local.get 3 drop))'
v unknown-global '(module (func $gl global.get 0 drop))'
v unknown-function '(module (func $c call 7))'
v unknown-table '(module (func $t i32.const 0 table.get 0 drop))'
v unknown-memory '(module (func $m i32.const 0 i32.load drop))'
v unknown-type '(module (func $ci i32.const 0 call_indirect (type 9)) (table 1 funcref))'
v unknown-label '(module (func $lb br 2))'
v unknown-data '(module (memory 1) (func $d data.drop 0))'
v unknown-elem '(module (func $e elem.drop 0))'
# ---- validation: other rules
v alignment '(module (memory 1) (func $a i32.const 0 i32.load align=8 drop))'
v lane-index '(module (func $ln (result i32) v128.const i64x2 0 0 i32x4.extract_lane 4))'
v result-arity '(module (func $s (result i32) (select (result i32 i32) (i32.const 1) (i32.const 1) (i32.const 0))))'
v immutable-global '(module (global $g i32 (i32.const 0)) (func $set i32.const 1 global.set $g))'
v undeclared-ref '(module (func $h) (func $r ref.func $h drop))'
v constant-expr '(module (global i32 (i32.add (i32.const 1) (i32.const 2))))'
v limits '(module (memory 2 1))'
v memory-size '(module (memory 65537))'
v multiple-memories '(module (memory 1) (memory 1))'
v duplicate-export '(module (func (export "f")) (func (export "f")))'
v start-type '(module (func $main (param i32)) (start $main))'
# ---- linking: the import's type and what was provided
printf '(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32) (result i64))))\n' > "$T/bad-import.wat"
printf '(module (import "wasi_snapshot_preview1" "no_such_call" (func)))\n' > "$T/unknown-import.wat"
(cd "$T" && k run bad-import.wat && k run unknown-import.wat)
# ---- proposals kapsul does not run, named
b component '\0asm\15\0\1\0'   # a valid empty component: validate accepts it, run refuses it by name
(cd "$T" && k run component.wasm)
b memory64 '\0asm\1\0\0\0\5\3\1\4\1'
b shared-memory '\0asm\1\0\0\0\5\4\1\3\1\1'
b tag-section '\0asm\1\0\0\0\15\1\0'
b gc-struct '\0asm\1\0\0\0\1\5\1\137\1\177\0'
b tail-call '\0asm\1\0\0\0\1\4\1\140\0\0\3\2\1\0\12\6\1\4\0\22\0\13'
b atomics '\0asm\1\0\0\0\1\4\1\140\0\0\3\2\1\0\12\7\1\5\0\376\3\0\13'
b exceptions '\0asm\1\0\0\0\1\4\1\140\0\0\3\2\1\0\12\6\1\4\0\10\0\13'
