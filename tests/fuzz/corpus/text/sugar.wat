(module
  (type $t (func (param i32) (result i32)))
  (import "spectest" "print_i32" (func $print (type 1)))
  (type (func (param i32)))
  (global $g (export "g") (import "spectest" "global_i32") i32)
  (memory $m (data "\de\ad\be\ef" "\u{1F600}"))
  (table funcref (elem $f $f))
  (func $f (export "f") (export "f2") (type $t) (param $p i32) (result i32)
    ;; folded, flat and mixed forms
    local.get $p
    local.get $p
    (if (result i32) (then i32.const 1) (else (i32.const 2)))
    i32.add
    block $b (result i32) i32.const 0x7fff_ffff br $b end
    drop
    (;
      nested (; block ;) comment
    ;)
    (loop $l (result i32) (br_if $l (i32.const 0)) (i32.const -0x8000_0000))
    i32.add))
