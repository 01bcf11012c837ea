;; mixed.wast -- passes and failures, to pin the runner's failure lines and counts.
(module
  (func (export "one") (result i32) (i32.const 1))
  (func (export "pi") (result f64) (f64.const 3.14159))
  (func (export "ok") (param i32) (result i32) (local.get 0)))
(assert_return (invoke "one") (i32.const 1))
(assert_return (invoke "one") (i32.const 2))
(assert_return (invoke "pi") (f64.const 3.14))
(assert_return (invoke "missing") (i32.const 0))
(assert_trap (invoke "one") "unreachable")
(assert_invalid (module (func (result i32) (i32.const 0))) "type mismatch")
;; This module cannot be linked, so it fails, and so does the command after it that uses it.
(module (import "nowhere" "f" (func)) (func (export "ok") (result i32) (i32.const 0)))
(assert_return (invoke "ok") (i32.const 0))
(module $back (func (export "ok") (result i32) (i32.const 5)))
(assert_return (invoke $back "ok") (i32.const 5))
;; Refused, so it passes; --verbose notes that the reason differs from the expected one.
(assert_invalid (module (func (result i32) (i64.const 0))) "unknown label")
