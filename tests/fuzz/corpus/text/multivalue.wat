(module
  (func $swap (param i32 i64) (result i64 i32) (local.get 1) (local.get 0))
  (func (export "swap") (param i32 i64) (result i64 i32) (call $swap (local.get 0) (local.get 1)))
  (func (export "blk") (result i32 i32)
    (block (result i32 i32) (i32.const 1) (i32.const 2)))
  (func (export "params") (result i32)
    (i32.const 5) (i32.const 6)
    (block (param i32 i32) (result i32) (i32.add))))
