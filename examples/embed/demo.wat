;; demo.wat -- the module examples/embed/host.c runs in the install test (tests/install/run.sh):
;;   host demo.wat add 2 40                 i32:42
;;   host demo.wat count 3                  the host function host.log prints 0, 1, 2
;;   host demo.wat ratio 1 0                traps (integer divide by zero) with a backtrace
;;   host --fuel 100000 demo.wat spin       stops when the fuel runs out
;;   host --timeout-ms 50 demo.wat spin     stops at the deadline
(module
  (import "host" "log" (func $log (param i32)))

  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))

  (func (export "hypot") (param f64 f64) (result f64)
    (f64.sqrt (f64.add (f64.mul (local.get 0) (local.get 0))
                       (f64.mul (local.get 1) (local.get 1)))))

  (func (export "divmod") (param i64 i64) (result i64 i64)
    (i64.div_s (local.get 0) (local.get 1))
    (i64.rem_s (local.get 0) (local.get 1)))

  (func (export "count") (param $n i32) (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $log (local.get $i))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  ;; Two frames deep, so the trap's backtrace shows both.
  (func $divide (param i32 i32) (result i32)
    (i32.div_u (local.get 0) (local.get 1)))
  (func $ratio (export "ratio") (param i32 i32) (result i32)
    (i32.add (call $divide (local.get 0) (local.get 1)) (i32.const 0)))

  (func (export "spin")
    (loop $forever (br $forever))))
