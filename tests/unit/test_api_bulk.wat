(module
  (import "env" "interrupt" (func $interrupt))
  (memory (export "memory") 512)
  (func (export "fill_after_interrupt")
    (call $interrupt)
    (memory.fill (i32.const 0) (i32.const 1) (i32.const 33554432))))
