;; trace.wat -- WASI calls with known arguments and results for run-debug.py's --trace-wasi test.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello, trace!\n")          ;; 14 bytes at 16
  (data (i32.const 64) "\10\00\00\00\0e\00\00\00")  ;; iovec {16, 14} at 64
  (data (i32.const 96) "no-such-file.txt")          ;; 16 bytes at 96
  (func $main (export "_start")
    (drop (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 128)))
    (drop (call $fd_write (i32.const 99) (i32.const 64) (i32.const 1) (i32.const 128)))
    (drop (call $path_open (i32.const 3) (i32.const 0) (i32.const 96) (i32.const 16) (i32.const 0)
                           (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 132)))))
