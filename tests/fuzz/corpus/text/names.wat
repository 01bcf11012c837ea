(module $named
  (func $alpha (export "alpha") (param $x i32) (result i32) (local $y i32)
    (local.set $y (i32.const 2)) (i32.shl (local.get $x) (local.get $y)))
  (func $beta (export "beta") (unreachable))
  (func $gamma (export "gamma") (call $beta)))
