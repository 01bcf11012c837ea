;; `if` on a constant condition: lowering drops the test and treats the arm never taken as dead
;; code. Every shape here must behave exactly as the unfolded `if`.

(module
  (func (export "true-else") (result i32)
    (if (result i32) (i32.const 1) (then (i32.const 10)) (else (i32.const 20))))
  (func (export "false-else") (result i32)
    (if (result i32) (i32.const 0) (then (i32.const 10)) (else (i32.const 20))))
  (func (export "minus-one") (result i32)
    (if (result i32) (i32.const -1) (then (i32.const 10)) (else (i32.const 20))))
  (func (export "min-int") (result i32)
    (if (result i32) (i32.const 0x80000000) (then (i32.const 10)) (else (i32.const 20))))

  ;; No else: the parameter passes through when the condition is false.
  (func (export "param-true") (result i32)
    (i32.const 5) (i32.const 1)
    (if (param i32) (result i32) (then (i32.const 1) (i32.add))))
  (func (export "param-false") (result i32)
    (i32.const 5) (i32.const 0)
    (if (param i32) (result i32) (then (i32.const 1) (i32.add))))
  (func (export "param-else-false") (param i32) (result i32)
    (local.get 0) (i32.const 0)
    (if (param i32) (result i32) (then (i32.const 1) (i32.add)) (else (i32.const 100) (i32.add))))
  (func (export "param-else-true") (param i32) (result i32)
    (local.get 0) (i32.const 7)
    (if (param i32) (result i32) (then (i32.const 1) (i32.add)) (else (i32.const 100) (i32.add))))

  ;; Dead arms that would trap.
  (func (export "dead-then-trap") (result i32)
    (if (i32.const 0) (then (unreachable)))
    (i32.const 3))
  (func (export "dead-else-trap") (result i32)
    (if (result i32) (i32.const 1) (then (i32.const 4)) (else (unreachable))))

  ;; The live arm leaves by a branch or a return.
  (func (export "then-br") (result i32)
    (block $out (result i32)
      (if (result i32) (i32.const 1)
        (then (br $out (i32.const 30)))
        (else (i32.const 31)))
      (i32.const 1) (i32.add)))
  (func (export "then-return") (result i32)
    (if (i32.const 1) (then (return (i32.const 7))) (else (unreachable)))
    (i32.const 8))
  (func (export "else-br-if") (param i32) (result i32)
    (if (result i32) (i32.const 0)
      (then (i32.const 1))
      (else (br_if 0 (i32.const 40) (local.get 0)) (drop) (i32.const 41))))
  (func (export "then-br-if-self") (param i32) (result i32)
    (if (result i32) (i32.const 1)
      (then (br_if 0 (i32.const 50) (local.get 0)) (drop) (i32.const 51))
      (else (i32.const 52))))

  ;; Dead arms with nesting of their own: skipping must find the right else/end.
  (func (export "dead-nested") (result i32)
    (if (result i32) (i32.const 0)
      (then
        (block (loop (if (i32.const 1) (then (br 2)) (else (nop)))))
        (if (result i32) (i32.const 1) (then (i32.const 1)) (else (i32.const 2))))
      (else (i32.const 60))))
  (func (export "nested-consts") (result i32)
    (if (result i32) (i32.const 1)
      (then
        (if (result i32) (i32.const 0)
          (then (i32.const 1))
          (else (if (result i32) (i32.const 2) (then (i32.const 70)) (else (i32.const 3))))))
      (else (i32.const 4))))

  ;; A constant condition inside a loop, and a loop in a folded arm.
  (func (export "loop-sum") (param $n i32) (result i32) (local $s i32)
    (loop $l
      (if (i32.const 1)
        (then (local.set $s (i32.add (local.get $s) (local.get $n)))))
      (if (i32.const 0) (then (local.set $s (i32.const -1))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))
    (local.get $s))

  ;; A local read before the constant: its copy comes first, the folding must still hold.
  (func (export "lazy-local") (param i32) (result i32)
    (local.get 0) (i32.const 1)
    (if (param i32) (result i32) (then (local.set 0 (i32.const 9)) (local.get 0) (i32.add)) (else)))
  ;; The condition is a constant that a local.set changes afterwards: still a constant here.
  (func (export "const-then-set") (param i32) (result i32)
    (if (result i32) (i32.const 1)
      (then (local.set 0 (i32.const 2)) (local.get 0))
      (else (local.get 0))))
  ;; Not a constant: the folding must not apply to a computed zero.
  (func (export "computed") (param i32) (result i32)
    (if (result i32) (i32.sub (local.get 0) (local.get 0))
      (then (i32.const 1)) (else (i32.const 2))))
)

(assert_return (invoke "true-else") (i32.const 10))
(assert_return (invoke "false-else") (i32.const 20))
(assert_return (invoke "minus-one") (i32.const 10))
(assert_return (invoke "min-int") (i32.const 10))
(assert_return (invoke "param-true") (i32.const 6))
(assert_return (invoke "param-false") (i32.const 5))
(assert_return (invoke "param-else-false" (i32.const 1)) (i32.const 101))
(assert_return (invoke "param-else-true" (i32.const 1)) (i32.const 2))
(assert_return (invoke "dead-then-trap") (i32.const 3))
(assert_return (invoke "dead-else-trap") (i32.const 4))
(assert_return (invoke "then-br") (i32.const 30))
(assert_return (invoke "then-return") (i32.const 7))
(assert_return (invoke "else-br-if" (i32.const 1)) (i32.const 40))
(assert_return (invoke "else-br-if" (i32.const 0)) (i32.const 41))
(assert_return (invoke "then-br-if-self" (i32.const 1)) (i32.const 50))
(assert_return (invoke "then-br-if-self" (i32.const 0)) (i32.const 51))
(assert_return (invoke "dead-nested") (i32.const 60))
(assert_return (invoke "nested-consts") (i32.const 70))
(assert_return (invoke "loop-sum" (i32.const 10)) (i32.const 55))
(assert_return (invoke "lazy-local" (i32.const 5)) (i32.const 14))
(assert_return (invoke "const-then-set" (i32.const 5)) (i32.const 2))
(assert_return (invoke "computed" (i32.const 5)) (i32.const 2))

;; Dead arms are still validated.
(assert_invalid
  (module (func (if (i32.const 0) (then (i32.add (i32.const 1) (f32.const 0))))))
  "type mismatch")
(assert_invalid
  (module (func (result i32) (if (result i32) (i32.const 1) (then (i32.const 1)) (else (f32.const 0)))))
  "type mismatch")
