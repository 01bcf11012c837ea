;; hot.wat -- a known hot loop for run-debug.py's --profile test: $hot runs about 20 times as
;; long as $cold, both called from $main.
(module
  (func $spin (param $n i32) (result i32) (local $acc i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const 31)) (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again)))
    (local.get $acc))
  (func $hot (param $n i32) (result i32) (call $spin (local.get $n)))
  (func $cold (param $n i32) (result i32) (call $spin (local.get $n)))
  (func $main (export "_start")
    (drop (call $cold (i32.const 10000000)))
    (drop (call $hot (i32.const 200000000)))))
