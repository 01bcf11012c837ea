;; cli.wat -- exports for tests/wasi/run-cli.py: typed --invoke arguments and results, traps,
;; memory growth under --max-memory, an endless loop for --timeout and --fuel, and a reactor
;; _initialize that must run before the invoked export.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (global $init (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $init (i32.const 7)))
  (func (export "initialized") (result i32) (global.get $init))
  (func (export "add64") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
  (func (export "neg32") (param i32) (result i32) (i32.sub (i32.const 0) (local.get 0)))
  (func (export "half") (param f32) (result f32) (f32.mul (local.get 0) (f32.const 0.5)))
  (func (export "third") (param f64) (result f64) (f64.div (local.get 0) (f64.const 3)))
  (func (export "pair") (result i32 f64) (i32.const -1) (f64.const 0.1))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func $inner (unreachable))
  (func $outer (call $inner))
  (func (export "crash") (call $outer))
  (func (export "spin") (loop $l (br $l)))
  (func (export "quit") (call $exit (i32.const 3))))
