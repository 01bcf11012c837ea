/* raw.h -- the raw wasi_snapshot_preview1 imports the out-of-bounds programs call: pointers and
 * lengths reach the host exactly as given, with no libc in between. */
#ifndef KP_SANDBOX_RAW_H
#define KP_SANDBOX_RAW_H

#include <stdint.h>

#define RAW(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))
RAW(fd_write) int32_t raw_fd_write(int32_t fd, int32_t iovs, int32_t n, int32_t out);
RAW(fd_read) int32_t raw_fd_read(int32_t fd, int32_t iovs, int32_t n, int32_t out);
RAW(path_open)
int32_t raw_path_open(int32_t fd, int32_t dirflags, int32_t path, int32_t len, int32_t oflags, int64_t base,
                      int64_t inh, int32_t fdflags, int32_t out);
RAW(path_unlink_file) int32_t raw_path_unlink_file(int32_t fd, int32_t path, int32_t len);
RAW(clock_time_get) int32_t raw_clock_time_get(int32_t id, int64_t precision, int32_t out);
RAW(args_get) int32_t raw_args_get(int32_t argv, int32_t buf);
RAW(args_sizes_get) int32_t raw_args_sizes_get(int32_t argc, int32_t size);
RAW(environ_get) int32_t raw_environ_get(int32_t env, int32_t buf);
RAW(environ_sizes_get) int32_t raw_environ_sizes_get(int32_t n, int32_t size);
RAW(random_get) int32_t raw_random_get(int32_t buf, int32_t len);
RAW(fd_prestat_dir_name) int32_t raw_fd_prestat_dir_name(int32_t fd, int32_t buf, int32_t len);
RAW(fd_readdir) int32_t raw_fd_readdir(int32_t fd, int32_t buf, int32_t len, int64_t cookie, int32_t out);
RAW(proc_raise) int32_t raw_proc_raise(int32_t sig);
RAW(poll_oneoff) int32_t raw_poll_oneoff(int32_t in, int32_t out, int32_t n, int32_t nout);

#endif
