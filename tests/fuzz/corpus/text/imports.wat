(module
  (import "env" "log" (func $log (param i32)))
  (import "env" "f" (func $f (param i64 f32) (result f64)))
  (import "env" "mem" (memory 1))
  (import "env" "tab" (table 2 funcref))
  (func (export "run") (result f64)
    (call $log (i32.const 42))
    (call $f (i64.const 1) (f32.const 2)))
  (func (export "peek") (result i32) (i32.load8_u (i32.const 0))))
