;; version.wat -- like mismatch.wat, but asking for wasi:random 0.3.0, which no 0.2.x host provides.
(component
  (import "wasi:random/random@0.3.0" (instance $r
    (export "get-random-bytes" (func (param "len" u64) (result (list u8))))))
  (core module $mem (memory (export "memory") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 64)))
  (core instance $m (instantiate $mem))
  (alias export $r "get-random-bytes" (func $f))
  (core func $g (canon lower (func $f) (memory (core memory $m "memory")) (realloc (core func $m "realloc"))))
  (core module $main (import "r" "g" (func (param i64 i32))) (func (export "run")))
  (core instance $i (instantiate $main (with "r" (instance (export "g" (func $g))))))
  (func (export "run") (canon lift (core func $i "run"))))
