(module
  (func (export "many") (param i32) (result i64)
    (local i32 i32 i64 i64 f32 f64 v128 externref funcref)
    (local.set 1 (local.get 0))
    (local.set 3 (i64.extend_i32_s (local.tee 2 (i32.mul (local.get 1) (i32.const 3)))))
    (local.set 7 (i64x2.splat (local.get 3)))
    (i64.add (local.get 3) (i64x2.extract_lane 1 (local.get 7)))))
