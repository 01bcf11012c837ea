;; fuel.wat -- fuel segments the tiers must count alike: loops in dead code (after br, in the
;; arm of a constant if), nested loops, calls in loops, loops with parameters.
(module
  (func $leaf (param i32) (result i32)
    local.get 0
    i32.const 3
    i32.mul)
  (func (export "nested") (result i32)
    (local i32 i32 i32)
    (loop $outer
      (local.set 1 (i32.const 0))
      (loop $inner
        (local.set 2 (i32.add (local.get 2) (call $leaf (local.get 1))))
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br_if $inner (i32.lt_u (local.get 1) (i32.const 7))))
      (local.set 0 (i32.add (local.get 0) (i32.const 1)))
      (br_if $outer (i32.lt_u (local.get 0) (i32.const 5))))
    local.get 2)
  (func (export "dead_loops") (result i32)
    (local i32)
    (block $b
      (loop $l
        (local.set 0 (i32.add (local.get 0) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get 0) (i32.const 10)))
        (br $b)
        (loop $never (br $never))
        (drop (i32.const 1)))
      (loop $never2 (nop)))
    (if (i32.const 0)
      (then (loop $dead (br $dead)))
      (else (local.set 0 (i32.add (local.get 0) (i32.const 100)))))
    (if (i32.const 1)
      (then (local.set 0 (i32.add (local.get 0) (i32.const 1000))))
      (else (loop $dead2 (br $dead2))))
    (loop $after (nop) (nop) (nop))
    local.get 0)
  (func (export "loop_params") (result i32) (local i32)
    i32.const 0
    (loop $l (param i32) (result i32)
      i32.const 1
      i32.add
      local.tee 0
      local.get 0
      i32.const 50
      i32.lt_u
      br_if $l)
    return
    (loop (nop))
    unreachable)
  (func (export "recurse") (result i32)
    i32.const 20
    call $fib)
  (func $fib (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2))))))))
