;; Fused instruction forms of the interpreter (src/engine/ir.h): address sums folded into loads
;; and stores (<access>_X), i32.shl+i32.add (I32_ADDSHL), and loop back edges that jump past their
;; loop's CHECK. Each function is written so lowering makes the fused form (checked by hand with
;; KAPSUL_DUMP_IR=1); the expected results are what the unfused instructions give, including the
;; 32-bit wrap of the address sum before the memarg offset is added.

(module
  (memory 1)
  (data (i32.const 0) "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10")
  (data (i32.const 65528) "\a1\a2\a3\a4\a5\a6\a7\a8")

  ;; I32_ADDSHL, both operand orders; the shift count is taken mod 32
  (func (export "addshl") (param i32 i32) (result i32)
    (i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 2))))
  (func (export "shladd") (param i32 i32) (result i32)
    (i32.add (i32.shl (local.get 1) (i32.const 35)) (local.get 0)))

  ;; other fused pairs: a ^ rotl(x, k), a ^ (x >> k), a + x * y, a - x * y (floats round twice)
  (func (export "xorrotl") (param i32 i32) (result i32)
    (i32.xor (local.get 0) (i32.rotl (local.get 1) (i32.const 35))))
  (func (export "rotlxor") (param i32 i32) (result i32)
    (i32.xor (i32.rotl (local.get 1) (i32.const 8)) (local.get 0)))
  (func (export "xorshru") (param i32 i32) (result i32)
    (i32.xor (local.get 0) (i32.shr_u (local.get 1) (i32.const 3))))
  (func (export "muladd") (param i32 i32 i32) (result i32)
    (i32.add (local.get 0) (i32.mul (local.get 1) (local.get 2))))
  (func (export "f64muladd") (param f64 f64 f64) (result f64)
    (f64.add (f64.mul (local.get 1) (local.get 2)) (local.get 0)))
  (func (export "f64mulsub") (param f64 f64 f64) (result f64)
    (f64.sub (local.get 0) (f64.mul (local.get 1) (local.get 2))))
  (func (export "f64submul") (param f64 f64 f64) (result f64)
    (f64.sub (f64.mul (local.get 1) (local.get 2)) (local.get 0)))
  (func (export "f32muladd") (param f32 f32 f32) (result f32)
    (f32.add (local.get 0) (f32.mul (local.get 1) (local.get 2))))
  (func (export "f32mulsub") (param f32 f32 f32) (result f32)
    (f32.sub (local.get 0) (f32.mul (local.get 1) (local.get 2))))

  ;; loads: x + y, x + (y << 2), with a memarg offset
  (func (export "ld32") (param i32 i32) (result i32)
    (i32.load (i32.add (local.get 0) (local.get 1))))
  (func (export "ld8s") (param i32 i32) (result i32)
    (i32.load8_s offset=2 (i32.add (local.get 0) (local.get 1))))
  (func (export "ld16u_idx") (param i32 i32) (result i32)
    (i32.load16_u (i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 1)))))
  (func (export "ld64_idx") (param i32 i32) (result i64)
    (i64.load offset=8 (i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 3)))))
  (func (export "ldf64") (param i32 i32) (result f64)
    (f64.load (i32.add (local.get 0) (local.get 1))))
  (func (export "ld32_64u") (param i32 i32) (result i64)
    (i64.load32_u (i32.add (local.get 0) (local.get 1))))

  ;; stores of a local's value and of constants
  (func (export "st32") (param i32 i32 i32)
    (i32.store (i32.add (local.get 0) (local.get 1)) (local.get 2)))
  (func (export "st8_idx") (param i32 i32 i32)
    (i32.store8 offset=1 (i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 2))) (local.get 2)))
  (func (export "st64k") (param i32 i32)
    (i64.store (i32.add (local.get 0) (local.get 1)) (i64.const -2)))
  (func (export "st8k") (param i32 i32)
    (i32.store8 offset=3 (i32.add (local.get 0) (local.get 1)) (i32.const 0x1ff)))
  (func (export "st16k_idx") (param i32 i32)
    (i32.store16 (i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 1))) (i32.const 0xbeef)))

  ;; a sieve-like loop: store a constant at base + j, j += step, until j >= n; returns the sum of
  ;; the bytes in [base, base + n) read back through load_X
  (func (export "fill") (param $base i32) (param $step i32) (param $n i32) (result i32)
    (local $j i32) (local $sum i32)
    (loop $l
      (i32.store8 (i32.add (local.get $base) (local.get $j)) (i32.const 1))
      (local.set $j (i32.add (local.get $j) (local.get $step)))
      (br_if $l (i32.lt_u (local.get $j) (local.get $n))))
    (local.set $j (i32.const 0))
    (loop $m
      (local.set $sum (i32.add (local.get $sum)
        (i32.load8_u (i32.add (local.get $base) (local.get $j)))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br_if $m (i32.lt_u (local.get $j) (local.get $n))))
    (local.get $sum))

  ;; back edges from br, br_if, a fused compare-and-branch and br_table, and a loop with a parameter
  (func (export "loops") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $a
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (local.set $acc (i32.add (local.get $acc) (local.get $i)))
      (if (i32.lt_s (local.get $i) (local.get $n)) (then (br $a))))
    (local.set $i (i32.const 0))
    (block $out
      (loop $b
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_table $b $out (i32.ge_u (local.get $i) (local.get $n)))))
    ;; counts n + 1 iterations in its parameter: i = n, n-1, ..., 0 continue; -1 (unsigned) stops
    (local.get $acc)
    (i32.const 0)
    (loop $c (param i32) (result i32)
      (i32.add (i32.const 1))
      (br_if $c (i32.lt_u (local.tee $i (i32.sub (local.get $i) (i32.const 1))) (i32.const 1000000))))
    (i32.add)))

(assert_return (invoke "addshl" (i32.const 100) (i32.const 3)) (i32.const 112))
(assert_return (invoke "addshl" (i32.const -4) (i32.const 2)) (i32.const 4))
(assert_return (invoke "shladd" (i32.const 1) (i32.const 5)) (i32.const 41))
(assert_return (invoke "shladd" (i32.const 0) (i32.const 0x20000000)) (i32.const 0))

(assert_return (invoke "xorrotl" (i32.const 0xf0) (i32.const 0x80000001)) (i32.const 0xfc))
(assert_return (invoke "rotlxor" (i32.const 1) (i32.const 0x12345678)) (i32.const 0x34567813))
(assert_return (invoke "xorshru" (i32.const 0) (i32.const 0x80000000)) (i32.const 0x10000000))
(assert_return (invoke "muladd" (i32.const 1) (i32.const 0x10000) (i32.const 0x10001)) (i32.const 0x10001))
;; (1 + 2^-30)^2 rounds to 1 + 2^-29 before the add; a fused multiply-add would keep 2^-60
(assert_return (invoke "f64muladd" (f64.const -1) (f64.const 0x1.00000004p+0) (f64.const 0x1.00000004p+0)) (f64.const 0x1p-29))
(assert_return (invoke "f64mulsub" (f64.const 1) (f64.const 0x1.00000004p+0) (f64.const 0x1.00000004p+0)) (f64.const -0x1p-29))
(assert_return (invoke "f64submul" (f64.const 1) (f64.const 0x1.00000004p+0) (f64.const 0x1.00000004p+0)) (f64.const 0x1p-29))
(assert_return (invoke "f64muladd" (f64.const 1) (f64.const inf) (f64.const 0)) (f64.const nan:canonical))
(assert_return (invoke "f32muladd" (f32.const -1) (f32.const 0x1.001p+0) (f32.const 0x1.001p+0)) (f32.const 0x1p-11))
(assert_return (invoke "f32mulsub" (f32.const 1) (f32.const 0x1.001p+0) (f32.const 0x1.001p+0)) (f32.const -0x1p-11))

(assert_return (invoke "ld32" (i32.const 1) (i32.const 2)) (i32.const 0x07060504))
(assert_return (invoke "ld32" (i32.const -1) (i32.const 5)) (i32.const 0x08070605))
(assert_return (invoke "ld32" (i32.const 65530) (i32.const 2)) (i32.const 0xa8a7a6a5))
(assert_trap (invoke "ld32" (i32.const 65530) (i32.const 3)) "out of bounds memory access")
(assert_trap (invoke "ld32" (i32.const 0x7fffffff) (i32.const 0x7fffffff)) "out of bounds memory access")
(assert_return (invoke "ld8s" (i32.const 65530) (i32.const 0)) (i32.const -91))
;; the sum wraps at 32 bits, the memarg offset is added after it without wrapping
(assert_return (invoke "ld8s" (i32.const -3) (i32.const 4)) (i32.const 4))
(assert_trap (invoke "ld8s" (i32.const -3) (i32.const 1)) "out of bounds memory access")
(assert_trap (invoke "ld8s" (i32.const 65534) (i32.const 0)) "out of bounds memory access")
(assert_return (invoke "ld16u_idx" (i32.const 2) (i32.const 1)) (i32.const 0x0605))
(assert_return (invoke "ld16u_idx" (i32.const 4) (i32.const 0x7fffffff)) (i32.const 0x0403))
(assert_trap (invoke "ld16u_idx" (i32.const 65535) (i32.const 0)) "out of bounds memory access")
(assert_return (invoke "ld64_idx" (i32.const 0) (i32.const 0)) (i64.const 0x100f0e0d0c0b0a09))
(assert_return (invoke "ld64_idx" (i32.const 65520) (i32.const 0)) (i64.const 0xa8a7a6a5a4a3a2a1))
(assert_trap (invoke "ld64_idx" (i32.const 65521) (i32.const 0)) "out of bounds memory access")
(assert_return (invoke "ld64_idx" (i32.const 0) (i32.const 0x20000000)) (i64.const 0x100f0e0d0c0b0a09))
(assert_trap (invoke "ld64_idx" (i32.const 65528) (i32.const 0x20000000)) "out of bounds memory access")
(assert_return (invoke "ldf64" (i32.const 100) (i32.const 0)) (f64.const 0))
(assert_return (invoke "ld32_64u" (i32.const 65528) (i32.const 4)) (i64.const 0xa8a7a6a5))

(assert_return (invoke "st32" (i32.const 200) (i32.const 8) (i32.const 0x11223344)))
(assert_return (invoke "ld32" (i32.const 208) (i32.const 0)) (i32.const 0x11223344))
(assert_return (invoke "st32" (i32.const -16) (i32.const 16) (i32.const 0x55667788)))
(assert_return (invoke "ld32" (i32.const 0) (i32.const 0)) (i32.const 0x55667788))
(assert_trap (invoke "st32" (i32.const 65533) (i32.const 0) (i32.const 0)) "out of bounds memory access")
(assert_return (invoke "ld32" (i32.const 65532) (i32.const 0)) (i32.const 0xa8a7a6a5))
(assert_return (invoke "st8_idx" (i32.const 300) (i32.const 2) (i32.const 0x1ab)))
(assert_return (invoke "ld32" (i32.const 308) (i32.const 0)) (i32.const 0xab00))
(assert_trap (invoke "st8_idx" (i32.const 65535) (i32.const 0) (i32.const 0)) "out of bounds memory access")
(assert_return (invoke "st64k" (i32.const 400) (i32.const 0)))
(assert_return (invoke "ld64_idx" (i32.const 392) (i32.const 0)) (i64.const -2))
(assert_trap (invoke "st64k" (i32.const 65529) (i32.const 0)) "out of bounds memory access")
(assert_return (invoke "st8k" (i32.const 500) (i32.const 0)))
(assert_return (invoke "ld32" (i32.const 500) (i32.const 0)) (i32.const 0xff000000))
(assert_trap (invoke "st8k" (i32.const 65532) (i32.const 1)) "out of bounds memory access")
(assert_return (invoke "st16k_idx" (i32.const 600) (i32.const 1)))
(assert_return (invoke "ld32" (i32.const 600) (i32.const 0)) (i32.const 0xbeef0000))
(assert_return (invoke "st16k_idx" (i32.const 2) (i32.const 0x7fffffff)))
(assert_return (invoke "ld32" (i32.const 0) (i32.const 0)) (i32.const 0x5566beef))
(assert_trap (invoke "st16k_idx" (i32.const 65535) (i32.const 0)) "out of bounds memory access")

(assert_return (invoke "fill" (i32.const 1024) (i32.const 3) (i32.const 30)) (i32.const 10))
(assert_return (invoke "fill" (i32.const 2048) (i32.const 1) (i32.const 50)) (i32.const 50))
(assert_trap (invoke "fill" (i32.const 65530) (i32.const 4) (i32.const 12)) "out of bounds memory access")

(assert_return (invoke "loops" (i32.const 10)) (i32.const 66))
(assert_return (invoke "loops" (i32.const 1000)) (i32.const 501501))
