(module
  (func (export "bt") (param i32) (result i32)
    (block $b3 (block $b2 (block $b1 (block $b0
      (br_table $b0 $b1 $b2 $b1 $b0 $b2 $b3 $b0 $b1 $b2 $b3 $b0 $b1 $b2 $b3 $b3 (local.get 0)))
      (return (i32.const 0)))
      (return (i32.const 1)))
      (return (i32.const 2)))
    (i32.const 3)))
