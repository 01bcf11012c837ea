;; perf.wat -- run-debug.py's perf map test: says "ready", waits for a line on stdin (so the test
;; can compare the map with the live process's mappings), then runs $hot about 20 times as long as
;; $cold. Both are reached through call_indirect, so LLVM cannot inline them into $main and each
;; keeps machine code of its own for `perf report` to name.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (type $loop (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "ready\n")                   ;; 6 bytes at 16
  (data (i32.const 64) "\10\00\00\00\06\00\00\00")  ;; iovec {16, 6} at 64
  (data (i32.const 72) "\00\01\00\00\00\01\00\00")  ;; iovec {256, 256} at 72: the read buffer
  (table 2 funcref)
  (elem (i32.const 0) $hot $cold)
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
    (drop (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 128)))
    (drop (call $fd_read (i32.const 0) (i32.const 72) (i32.const 1) (i32.const 128)))
    (drop (call_indirect (type $loop) (i32.const 20000000) (i32.const 1)))
    (drop (call_indirect (type $loop) (i32.const 400000000) (i32.const 0)))))
