;; recurse.wat -- unbounded recursion for run-debug.py (--max-call-depth, deep backtraces).
(module
  (func $down (param i32) (result i32)
    (i32.add (call $down (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func $main (export "_start") (drop (call $down (i32.const 0)))))
