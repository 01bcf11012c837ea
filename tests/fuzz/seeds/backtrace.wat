;; backtrace.wat -- traps three calls deep (unreachable, division, out-of-bounds load) and unbounded
;; recursion: both tiers must report the same frames (native.differential).
(module
  (memory 1)
  (func $inner (param i32) (result i32)
    local.get 0
    i32.eqz
    if unreachable end
    i32.const 10
    local.get 0
    i32.div_u)
  (func $middle (param i32) (result i32)
    i32.const 1
    drop
    local.get 0
    call $inner)
  (func $oob (param i32) (result i32)
    local.get 0
    i32.load)
  (func $rec (param i32) (result i32)
    local.get 0
    call $rec)
  (func (export "unreach") (result i32) i32.const 0 call $middle)
  (func (export "ok") (result i32) i32.const 2 call $middle)
  (func (export "oob") (result i32) i32.const 70000 call $oob)
  (func (export "deep") (result i32) i32.const 0 call $rec))
