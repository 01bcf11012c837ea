;; runaway.wast -- an endless loop must end at the command deadline, and the script goes on.
(module
  (func (export "spin") (loop $l (br $l)))
  (func (export "one") (result i32) (i32.const 1)))
(invoke "spin")
(assert_return (invoke "one") (i32.const 1))
