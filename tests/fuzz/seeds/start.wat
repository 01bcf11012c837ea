(module
  (memory 1)
  (global $n (mut i32) (i32.const 0))
  (func $start (global.set $n (i32.const 99)) (i32.store (i32.const 8) (global.get $n)))
  (start $start)
  (func (export "n") (result i32) (global.get $n)))
