;; nested.wat -- a component instantiating a nested component: an outer alias of a type, a function
;; passed as an instantiation argument (lifted in the outer component, lowered in the inner), the
;; inner instance's export aliased and re-exported (scale), and a call that would re-enter the
;; outer instance (twice -> scale -> double), which the canonical ABI forbids: a trap; square calls
;; the inner instance's area from the outer's core code (guest to guest through the host's values).
;; Recipe: build.sh (`jco parse`).
(component
  (type $point (record (field "x" s32) (field "y" s32)))
  (component $inner
    (alias outer 1 $point (type $p))
    (import "double" (func $double (param "n" s32) (result s32)))
    (core module $m
      (import "h" "double" (func $d (param i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "scale") (param i32 i32 i32) (result i32)
        (i32.store (i32.const 16) (i32.mul (local.get 0) (local.get 2)))
        (i32.store (i32.const 20) (call $d (local.get 1)))
        (i32.const 16))
      (func (export "area") (param i32 i32) (result i32) (i32.mul (local.get 0) (local.get 1))))
    (core func $dl (canon lower (func $double)))
    (core instance $i (instantiate $m (with "h" (instance (export "double" (func $dl))))))
    (func (export "scale") (param "p" $p) (param "k" s32) (result $p)
      (canon lift (core func $i "scale") (memory (core memory $i "memory"))))
    (func (export "area") (param "p" $p) (result s32) (canon lift (core func $i "area"))))
  (core module $o (func (export "double") (param i32) (result i32) (i32.shl (local.get 0) (i32.const 1))))
  (core instance $oi (instantiate $o))
  (func $double (param "n" s32) (result s32) (canon lift (core func $oi "double")))
  (instance $in (instantiate $inner (with "double" (func $double))))
  (alias export $in "scale" (func $scale))
  (export "scale" (func $scale))
  (alias export $in "area" (func $area))
  (core func $area_l (canon lower (func $area)))
  (core module $mem (memory (export "memory") 1))
  (core instance $mi (instantiate $mem))
  (core func $scale_l (canon lower (func $scale) (memory (core memory $mi "memory"))))
  (core module $c
    (import "s" "scale" (func $s (param i32 i32 i32 i32)))
    (import "m" "memory" (memory 1))
    (import "s" "area" (func $a (param i32 i32) (result i32)))
    (func (export "square") (param i32) (result i32) (call $a (local.get 0) (local.get 0)))
    (func (export "twice") (param i32) (result i32)
      (call $s (local.get 0) (local.get 0) (i32.const 2) (i32.const 32))
      (i32.add (i32.load (i32.const 32)) (i32.load (i32.const 36)))))
  (core instance $ci (instantiate $c (with "s" (instance (export "scale" (func $scale_l)) (export "area" (func $area_l)))) (with "m" (instance $mi))))
  (func (export "twice") (param "n" s32) (result s32) (canon lift (core func $ci "twice")))
  (func (export "square") (param "n" s32) (result s32) (canon lift (core func $ci "square"))))
