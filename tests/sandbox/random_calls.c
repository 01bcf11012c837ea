/* random_calls.c -- hostile guest: 30,000 WASI calls with random arguments (fixed seed).
 *
 * Every import except proc_exit and poll_oneoff (which could sleep for a random, possibly huge,
 * time) is called through its raw import with random fds, flags, offsets and pointers. Pointers
 * land in a scratch area, whose words are themselves pointers into the scratch area or small
 * lengths (so iovecs and results never overwrite this program), or beyond the end of memory, or
 * at the edge of it; paths come from a list of tricky names or are random bytes. The host must
 * survive all of it, nothing outside the box may change (the runner checks), and no call may
 * trap or kill the process. */
#include "hostile.h"

#define RAW(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))
RAW(args_get) int32_t r_args_get(int32_t, int32_t);
RAW(args_sizes_get) int32_t r_args_sizes_get(int32_t, int32_t);
RAW(environ_get) int32_t r_environ_get(int32_t, int32_t);
RAW(environ_sizes_get) int32_t r_environ_sizes_get(int32_t, int32_t);
RAW(clock_res_get) int32_t r_clock_res_get(int32_t, int32_t);
RAW(clock_time_get) int32_t r_clock_time_get(int32_t, int64_t, int32_t);
RAW(fd_advise) int32_t r_fd_advise(int32_t, int64_t, int64_t, int32_t);
RAW(fd_allocate) int32_t r_fd_allocate(int32_t, int64_t, int64_t);
RAW(fd_close) int32_t r_fd_close(int32_t);
RAW(fd_datasync) int32_t r_fd_datasync(int32_t);
RAW(fd_fdstat_get) int32_t r_fd_fdstat_get(int32_t, int32_t);
RAW(fd_fdstat_set_flags) int32_t r_fd_fdstat_set_flags(int32_t, int32_t);
RAW(fd_fdstat_set_rights) int32_t r_fd_fdstat_set_rights(int32_t, int64_t, int64_t);
RAW(fd_filestat_get) int32_t r_fd_filestat_get(int32_t, int32_t);
RAW(fd_filestat_set_size) int32_t r_fd_filestat_set_size(int32_t, int64_t);
RAW(fd_filestat_set_times) int32_t r_fd_filestat_set_times(int32_t, int64_t, int64_t, int32_t);
RAW(fd_pread) int32_t r_fd_pread(int32_t, int32_t, int32_t, int64_t, int32_t);
RAW(fd_prestat_get) int32_t r_fd_prestat_get(int32_t, int32_t);
RAW(fd_prestat_dir_name) int32_t r_fd_prestat_dir_name(int32_t, int32_t, int32_t);
RAW(fd_pwrite) int32_t r_fd_pwrite(int32_t, int32_t, int32_t, int64_t, int32_t);
RAW(fd_read) int32_t r_fd_read(int32_t, int32_t, int32_t, int32_t);
RAW(fd_readdir) int32_t r_fd_readdir(int32_t, int32_t, int32_t, int64_t, int32_t);
RAW(fd_renumber) int32_t r_fd_renumber(int32_t, int32_t);
RAW(fd_seek) int32_t r_fd_seek(int32_t, int64_t, int32_t, int32_t);
RAW(fd_sync) int32_t r_fd_sync(int32_t);
RAW(fd_tell) int32_t r_fd_tell(int32_t, int32_t);
RAW(fd_write) int32_t r_fd_write(int32_t, int32_t, int32_t, int32_t);
RAW(path_create_directory) int32_t r_path_create_directory(int32_t, int32_t, int32_t);
RAW(path_filestat_get) int32_t r_path_filestat_get(int32_t, int32_t, int32_t, int32_t, int32_t);
RAW(path_filestat_set_times)
int32_t r_path_filestat_set_times(int32_t, int32_t, int32_t, int32_t, int64_t, int64_t, int32_t);
RAW(path_link) int32_t r_path_link(int32_t, int32_t, int32_t, int32_t, int32_t, int32_t, int32_t);
RAW(path_open)
int32_t r_path_open(int32_t, int32_t, int32_t, int32_t, int32_t, int64_t, int64_t, int32_t, int32_t);
RAW(path_readlink) int32_t r_path_readlink(int32_t, int32_t, int32_t, int32_t, int32_t, int32_t);
RAW(path_remove_directory) int32_t r_path_remove_directory(int32_t, int32_t, int32_t);
RAW(path_rename) int32_t r_path_rename(int32_t, int32_t, int32_t, int32_t, int32_t, int32_t);
RAW(path_symlink) int32_t r_path_symlink(int32_t, int32_t, int32_t, int32_t, int32_t);
RAW(path_unlink_file) int32_t r_path_unlink_file(int32_t, int32_t, int32_t);
RAW(proc_raise) int32_t r_proc_raise(int32_t);
RAW(sched_yield) int32_t r_sched_yield(void);
RAW(random_get) int32_t r_random_get(int32_t, int32_t);
RAW(sock_accept) int32_t r_sock_accept(int32_t, int32_t, int32_t);
RAW(sock_recv) int32_t r_sock_recv(int32_t, int32_t, int32_t, int32_t, int32_t, int32_t);
RAW(sock_send) int32_t r_sock_send(int32_t, int32_t, int32_t, int32_t, int32_t);
RAW(sock_shutdown) int32_t r_sock_shutdown(int32_t, int32_t);

#define SCRATCH_WORDS 4096
static uint32_t scratch[SCRATCH_WORDS];
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static uint32_t scratch_base(void) { return (uint32_t)(uintptr_t)scratch; }

/* A pointer: mostly inside the scratch area, sometimes past memory or across its end. */
static int32_t ptr(void) {
    uint32_t k = rnd() % 16;
    uint32_t mem_end = (uint32_t)(__builtin_wasm_memory_size(0) * 65536u);
    if (k == 0) return (int32_t)rnd();
    if (k == 1) return (int32_t)(mem_end - (rnd() % 64));
    if (k == 2) return (int32_t)0xFFFFFFF0u;
    return (int32_t)(scratch_base() + (rnd() % (SCRATCH_WORDS * 4 - 256)));
}

/* A length or count: mostly small, sometimes huge. */
static int32_t len(void) {
    uint32_t k = rnd() % 8;
    if (k == 0) return (int32_t)rnd();
    if (k == 1) return (int32_t)0x7FFFFFFF;
    return (int32_t)(rnd() % 64);
}

/* An fd: the preopens and what the calls open (3..9), or any number; never stdio, which this
 * program needs to report (stdio is the guest's own to wreck, not a sandbox question). */
static int32_t fd(void) {
    int32_t f = rnd() % 10 == 0 ? (int32_t)rnd() : (int32_t)(3 + rnd() % 7);
    return (f >= 0 && f <= 2) ? f + 3 : f;
}
static int64_t r64(void) {
    uint32_t k = rnd() % 4;
    if (k == 0) return (int64_t)(((uint64_t)rnd() << 32) | rnd());
    if (k == 1) return -(int64_t)(rnd() % 100);
    return rnd() % 4096;
}

/* Refill the scratch words with pointers into the scratch area and small lengths. */
static void refill(void) {
    for (int i = 0; i < SCRATCH_WORDS; i++)
        scratch[i] = (i & 1) ? rnd() % 48 : scratch_base() + rnd() % (SCRATCH_WORDS * 4 - 64);
}

static const char *const kPaths[] = {
    "file.txt",
    "sub",
    "sub/",
    "..",
    "../outside",
    "../outside/sentinel.txt",
    ".",
    "abs_link",
    "rel_link",
    "chain1",
    "loop1",
    "dangling",
    "middir/sentinel.txt",
    "absdir/",
    "sub/up/outside",
    "/etc/passwd",
    "new",
    "new/",
    "sub/new",
    "a/b/c",
    "middir",
    "sub/..",
    "sub/../..",
    "x\xff\xfe",
};

/* Put a path in the scratch area and return (pointer, length). */
static void path(int32_t *p, int32_t *n) {
    uint32_t k = rnd() % 8;
    if (k == 0) {
        *p = ptr();
        *n = len();
        return;
    }
    const char *s = kPaths[rnd() % (sizeof kPaths / sizeof kPaths[0])];
    size_t l = strlen(s);
    char *dst = (char *)scratch + 8 * (rnd() % 64);
    memcpy(dst, s, l);
    *p = (int32_t)(uintptr_t)dst;
    *n = (int32_t)l;
}

int main(void) {
    BOX_AND_RO();
    unsigned calls = 0, succeeded = 0;
    for (int i = 0; i < 30000; i++) {
        if (i % 64 == 0) refill();
        int32_t p1, n1, p2, n2;
        path(&p1, &n1);
        path(&p2, &n2);
        int32_t r = -1;
        switch (rnd() % 44) {
        case 0: r = r_args_get(ptr(), ptr()); break;
        case 1: r = r_args_sizes_get(ptr(), ptr()); break;
        case 2: r = r_environ_get(ptr(), ptr()); break;
        case 3: r = r_environ_sizes_get(ptr(), ptr()); break;
        case 4: r = r_clock_res_get((int32_t)(rnd() % 6), ptr()); break;
        case 5: r = r_clock_time_get((int32_t)(rnd() % 6), r64(), ptr()); break;
        case 6: r = r_fd_advise(fd(), r64(), r64(), (int32_t)(rnd() % 8)); break;
        case 7: r = r_fd_allocate(fd(), rnd() % 65536, rnd() % 65536); break; /* no huge files */
        case 8:
            if (rnd() % 8 == 0) r = r_fd_close(fd());
            break;
        case 9: r = r_fd_datasync(fd()); break;
        case 10: r = r_fd_fdstat_get(fd(), ptr()); break;
        case 11: r = r_fd_fdstat_set_flags(fd(), (int32_t)(rnd() % 64)); break;
        case 12: r = r_fd_fdstat_set_rights(fd(), r64(), r64()); break;
        case 13: r = r_fd_filestat_get(fd(), ptr()); break;
        case 14: r = r_fd_filestat_set_size(fd(), rnd() % 100000); break;
        case 15: r = r_fd_filestat_set_times(fd(), r64(), r64(), (int32_t)(rnd() % 32)); break;
        case 16: r = r_fd_pread(fd(), ptr(), len(), r64(), ptr()); break;
        case 17: r = r_fd_prestat_get(fd(), ptr()); break;
        case 18: r = r_fd_prestat_dir_name(fd(), ptr(), len()); break;
        case 19: r = r_fd_pwrite(fd(), ptr(), len(), rnd() % 100000, ptr()); break;
        case 20: r = r_fd_read(fd(), ptr(), len(), ptr()); break;
        case 21: r = r_fd_readdir(fd(), ptr(), len(), r64(), ptr()); break;
        case 22:
            if (rnd() % 8 == 0) r = r_fd_renumber(fd(), fd());
            break;
        case 23: r = r_fd_seek(fd(), r64(), (int32_t)(rnd() % 4), ptr()); break;
        case 24: r = r_fd_sync(fd()); break;
        case 25: r = r_fd_tell(fd(), ptr()); break;
        case 26: r = r_fd_write(fd(), ptr(), len(), ptr()); break;
        case 27: r = r_path_create_directory(fd(), p1, n1); break;
        case 28: r = r_path_filestat_get(fd(), (int32_t)(rnd() % 3), p1, n1, ptr()); break;
        case 29:
            r = r_path_filestat_set_times(fd(), (int32_t)(rnd() % 3), p1, n1, r64(), r64(),
                                          (int32_t)(rnd() % 32));
            break;
        case 30: r = r_path_link(fd(), (int32_t)(rnd() % 3), p1, n1, fd(), p2, n2); break;
        case 31:
            r = r_path_open(fd(), (int32_t)(rnd() % 3), p1, n1, (int32_t)(rnd() % 32), r64(), r64(),
                            (int32_t)(rnd() % 32), ptr());
            break;
        case 32: r = r_path_readlink(fd(), p1, n1, ptr(), len(), ptr()); break;
        case 33: r = r_path_remove_directory(fd(), p1, n1); break;
        case 34: r = r_path_rename(fd(), p1, n1, fd(), p2, n2); break;
        case 35: r = r_path_symlink(p1, n1, fd(), p2, n2); break;
        case 36: r = r_path_unlink_file(fd(), p1, n1); break;
        case 37: r = r_proc_raise((int32_t)(rnd() % 32)); break;
        case 38: r = r_sched_yield(); break;
        case 39: r = r_random_get(ptr(), len()); break;
        case 40: r = r_sock_accept(fd(), (int32_t)(rnd() % 8), ptr()); break;
        case 41: r = r_sock_recv(fd(), ptr(), len(), (int32_t)(rnd() % 4), ptr(), ptr()); break;
        case 42: r = r_sock_send(fd(), ptr(), len(), 0, ptr()); break;
        case 43: r = r_sock_shutdown(fd(), (int32_t)(rnd() % 4)); break;
        }
        calls++;
        succeeded += r == 0;
    }
    /* stdout may have been renumbered away: report on stderr too. */
    fprintf(stderr, "survived %u random calls, %u of them succeeded\n", calls, succeeded);
    return hostile_finish();
}
