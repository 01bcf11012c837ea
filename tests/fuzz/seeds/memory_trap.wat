(module
  (memory 0)
  (data (i32.const 0) "")
  (func (export "grow_store") (result i32)
    (drop (memory.grow (i32.const 1)))
    (i32.store (i32.const 65532) (i32.const 7))
    (i32.load (i32.const 65532)))
  (func (export "fill_oob") (memory.fill (i32.const 65000) (i32.const 1) (i32.const 1000)))
  (func (export "copy_overlap") (memory.copy (i32.const 1) (i32.const 0) (i32.const 100))))
