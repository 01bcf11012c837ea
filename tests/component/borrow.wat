;; borrow.wat -- resources across the component instances of a composition, and borrows. The outer
;; component defines resource $r and gives it to an inner component's type import, so one resource
;; has two decoded types (one identity at run time); `lend-drop` lends a handle to the inner
;; `peek`, which drops the borrow; `lend-keep` lends one to `keep`, which returns without dropping
;; it: the canonical ABI traps. `own-rep` calls `rep-of` of a second inner component that defines
;; its own resource: a borrow lowered into the implementer is the rep itself (42), not a handle.
;; Recipe: build.sh (`jco parse`).
(component
  (type $r (resource (rep i32)))
  (core func $new (canon resource.new $r))
  (component $inner
    (import "r" (type $ri (sub resource)))
    (core func $drop (canon resource.drop $ri))
    (core module $m
      (import "h" "drop" (func $d (param i32)))
      (func (export "peek") (param i32) (result i32) (call $d (local.get 0)) (i32.const 7))
      (func (export "keep") (param i32) (result i32) (local.get 0)))
    (core instance $i (instantiate $m (with "h" (instance (export "drop" (func $drop))))))
    (func (export "peek") (param "x" (borrow $ri)) (result u32) (canon lift (core func $i "peek")))
    (func (export "keep") (param "x" (borrow $ri)) (result u32) (canon lift (core func $i "keep"))))
  (component $impl
    (type $s (resource (rep i32)))
    (core func $snew (canon resource.new $s))
    (core module $m
      (import "h" "new" (func $n (param i32) (result i32)))
      (func (export "make") (result i32) (call $n (i32.const 42)))
      (func (export "rep-of") (param i32) (result i32) (local.get 0)))
    (core instance $i (instantiate $m (with "h" (instance (export "new" (func $snew))))))
    (export $se "s" (type $s))
    (func (export "make") (result (own $se)) (canon lift (core func $i "make")))
    (func (export "rep-of") (param "x" (borrow $se)) (result u32) (canon lift (core func $i "rep-of"))))
  (instance $in (instantiate $inner (with "r" (type $r))))
  (instance $im (instantiate $impl))
  (alias export $in "peek" (func $peek))
  (alias export $in "keep" (func $keep))
  (alias export $im "make" (func $make))
  (alias export $im "rep-of" (func $repof))
  (core func $peek_l (canon lower (func $peek)))
  (core func $keep_l (canon lower (func $keep)))
  (core func $make_l (canon lower (func $make)))
  (core func $repof_l (canon lower (func $repof)))
  (core module $c
    (import "h" "new" (func $new (param i32) (result i32)))
    (import "h" "peek" (func $peek (param i32) (result i32)))
    (import "h" "keep" (func $keep (param i32) (result i32)))
    (import "h" "make" (func $make (result i32)))
    (import "h" "rep-of" (func $repof (param i32) (result i32)))
    (func (export "lend-drop") (result i32) (call $peek (call $new (i32.const 42))))
    (func (export "lend-keep") (result i32) (call $keep (call $new (i32.const 42))))
    (func (export "own-rep") (result i32) (call $repof (call $make))))
  (core instance $ci (instantiate $c (with "h" (instance (export "new" (func $new))
                                                         (export "peek" (func $peek_l))
                                                         (export "keep" (func $keep_l))
                                                         (export "make" (func $make_l))
                                                         (export "rep-of" (func $repof_l))))))
  (func (export "lend-drop") (result u32) (canon lift (core func $ci "lend-drop")))
  (func (export "lend-keep") (result u32) (canon lift (core func $ci "lend-keep")))
  (func (export "own-rep") (result u32) (canon lift (core func $ci "own-rep"))))
