;; v128 values through every place a value can live in the engine's frames: locals (params,
;; declared, tee), globals, block/loop/if params and results, br/br_if/br_table copies, select,
;; direct and indirect calls (arguments among scalars, multi-value results), and deep operand
;; stacks around calls. Each v128 takes two slots; a mistake in any height computation shows up
;; as a wrong lane or a clobbered scalar neighbour.
(module
  (type $vv (func (param v128 i32 v128) (result v128 i32 v128)))
  (table 2 funcref)
  (elem (i32.const 0) $swap $mix)
  (global $g (mut v128) (v128.const i32x4 1 2 3 4))
  (global $gi (mut i32) (i32.const 7))

  (func $swap (type $vv) (local.get 2) (i32.add (local.get 1) (i32.const 1)) (local.get 0))
  (func $mix (type $vv)
    (i32x4.add (local.get 0) (local.get 2)) (local.get 1) (i32x4.sub (local.get 0) (local.get 2)))

  ;; params and declared locals interleaved with scalars
  (func (export "locals") (param i32 v128 i64 v128) (result v128)
    (local f32 v128 i32 v128)
    (local.set 5 (i32x4.add (local.get 1) (local.get 3)))
    (local.set 7 (local.tee 5 (i32x4.mul (local.get 5) (i32x4.splat (local.get 0)))))
    (local.set 6 (i32.wrap_i64 (local.get 2)))
    (i32x4.replace_lane 3 (local.get 7) (local.get 6)))

  (func (export "global") (param v128) (result v128 i32)
    (global.set $g (i32x4.add (global.get $g) (local.get 0)))
    (global.set $gi (i32.add (global.get $gi) (i32.const 1)))
    (global.get $g) (global.get $gi))

  ;; block and if results, br with values, br_if keeping a v128 below
  (func (export "blocks") (param i32) (result v128)
    (block $out (result v128)
      (block $b (result v128)
        (v128.const i32x4 10 20 30 40)
        (br_if $out (v128.const i32x4 -1 -2 -3 -4) (i32.eqz (local.get 0)))
        (drop)
        (i32x4.add
          (if (result v128) (i32.eq (local.get 0) (i32.const 1))
            (then (v128.const i32x4 1 1 1 1))
            (else (br $b (v128.const i32x4 2 2 2 2))))))
      (i32x4.add (v128.const i32x4 100 100 100 100))))

  ;; br_table with a v128 and an i32 carried to every target
  (func (export "table") (param i32) (result v128 i32)
    (block $c (result v128 i32)
      (block $b (result v128 i32)
        (block $a (result v128 i32)
          (v128.const i64x2 5 6) (i32.const 9) (local.get 0)
          (br_table $a $b $c))
        (i32.add (i32.const 100))
        (return))
      (drop) (drop) (v128.const i64x2 7 8) (i32.const 1) (return))
    (i32.mul (i32.const -1)))

  ;; a loop whose parameter is a v128, summed lane-wise n times
  (func (export "loop") (param i32) (result v128)
    (v128.const i32x4 0 0 0 0)
    (loop $l (param v128) (result v128)
      (i32x4.add (v128.const i32x4 1 2 3 4))
      (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if $l)))

  ;; select of v128 with the condition and operands in every arrangement
  (func (export "select") (param v128 v128 i32) (result v128 v128)
    (select (local.get 0) (local.get 1) (local.get 2))
    (select (result v128) (i32x4.neg (local.get 0)) (local.get 1) (i32.eqz (local.get 2))))

  ;; calls with v128 args among scalars, values deep in the stack across them, multi-value results
  (func (export "calls") (param v128 v128) (result v128 i32 v128 i64)
    (local $i i32) (local $k i64)
    (i64.const 77)
    (v128.const i32x4 9 9 9 9)
    (call $swap (local.get 0) (i32.const 41) (local.get 1))   ;; p1 42 p0
    (call_indirect (type $vv) (i32.const 1))                  ;; p1+p0 42 p1-p0
    (i32.const 0)
    (call_indirect (type $vv))                                ;; p1-p0 43 p1+p0
    (local.set 1) (local.set $i) (local.set 0)
    (local.set 0 (i32x4.add (local.get 0)))                   ;; 9s + (p1-p0)
    (local.set $k)
    (local.get 0) (local.get $i) (local.get 1) (local.get $k))
)

(assert_return (invoke "locals" (i32.const 3) (v128.const i32x4 1 2 3 4) (i64.const 0x1_0000_0005)
                                (v128.const i32x4 10 20 30 40))
               (v128.const i32x4 33 66 99 5))
(assert_return (invoke "global" (v128.const i32x4 10 10 10 10)) (v128.const i32x4 11 12 13 14) (i32.const 8))
(assert_return (invoke "global" (v128.const i32x4 -1 0 0 1)) (v128.const i32x4 10 12 13 15) (i32.const 9))
(assert_return (invoke "blocks" (i32.const 0)) (v128.const i32x4 -1 -2 -3 -4))
(assert_return (invoke "blocks" (i32.const 1)) (v128.const i32x4 111 121 131 141))
(assert_return (invoke "blocks" (i32.const 2)) (v128.const i32x4 102 102 102 102))
(assert_return (invoke "table" (i32.const 0)) (v128.const i64x2 5 6) (i32.const 109))
(assert_return (invoke "table" (i32.const 1)) (v128.const i64x2 7 8) (i32.const 1))
(assert_return (invoke "table" (i32.const 2)) (v128.const i64x2 5 6) (i32.const -9))
(assert_return (invoke "table" (i32.const 99)) (v128.const i64x2 5 6) (i32.const -9))
(assert_return (invoke "loop" (i32.const 5)) (v128.const i32x4 5 10 15 20))
(assert_return (invoke "select" (v128.const i32x4 1 2 3 4) (v128.const i32x4 5 6 7 8) (i32.const 1))
               (v128.const i32x4 1 2 3 4) (v128.const i32x4 5 6 7 8))
(assert_return (invoke "select" (v128.const i32x4 1 2 3 4) (v128.const i32x4 5 6 7 8) (i32.const 0))
               (v128.const i32x4 5 6 7 8) (v128.const i32x4 -1 -2 -3 -4))
(assert_return (invoke "calls" (v128.const i32x4 1 2 3 4) (v128.const i32x4 10 20 30 40))
               (v128.const i32x4 18 27 36 45) (i32.const 43) (v128.const i32x4 11 22 33 44) (i64.const 77))

;; Out-of-bounds vector accesses trap and leave memory untouched, even when part of the access
;; would be in bounds; address + offset is computed without wrapping.
(module
  (memory 1)
  (func (export "fill") (i64.store (i32.const 65528) (i64.const 0x0807060504030201)))
  (func (export "peek") (result i64) (i64.load (i32.const 65528)))
  (func (export "store") (param i32)
    (v128.store (local.get 0) (v128.const i8x16 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1)))
  (func (export "store_lane") (param i32)
    (v128.store64_lane offset=2 1 (local.get 0) (v128.const i64x2 -1 -1)))
  (func (export "load") (param i32) (result v128) (v128.load offset=0xffffffff (local.get 0)))
  (func (export "load_lane") (param i32) (result v128)
    (v128.load32_lane 3 (local.get 0) (v128.const i32x4 0 0 0 0)))
  (func (export "load_splat") (param i32) (result v128) (v128.load16_splat (local.get 0)))
)
(invoke "fill")
(assert_trap (invoke "store" (i32.const 65528)) "out of bounds memory access")
(assert_trap (invoke "store" (i32.const 65521)) "out of bounds memory access")
(assert_trap (invoke "store_lane" (i32.const 65528)) "out of bounds memory access")
(assert_return (invoke "peek") (i64.const 0x0807060504030201))
(assert_return (invoke "store" (i32.const 65520)))
(assert_return (invoke "peek") (i64.const -1))
(assert_trap (invoke "load" (i32.const 1)) "out of bounds memory access")
(assert_trap (invoke "load" (i32.const -1)) "out of bounds memory access")
(assert_return (invoke "load_lane" (i32.const 65532)) (v128.const i32x4 0 0 0 -1))
(assert_trap (invoke "load_lane" (i32.const 65533)) "out of bounds memory access")
(assert_return (invoke "load_splat" (i32.const 65534)) (v128.const i16x8 -1 -1 -1 -1 -1 -1 -1 -1))
(assert_trap (invoke "load_splat" (i32.const 65535)) "out of bounds memory access")
