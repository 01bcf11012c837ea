/*
 * wasi.h -- the WASI layer's internal API, shared by the files of src/wasi.
 *
 * The layer talks to the runtime only through kapsul.h: host functions receive a kapsul_caller and
 * reach guest memory through kapsul_caller_memory. Every handler returns a WASI errno (uint16) and
 * checks every guest pointer with kpWasi_mem before touching it.
 *
 * Sandbox invariants (see docs/RATIONALE.md, "WASI and kapsul run"):
 *   - guest fd numbers index a per-context table; host fd numbers never reach the guest;
 *   - every call checks the rights of the fd it uses (kpWasiFd_get);
 *   - every path is resolved beneath its directory fd by path.c, never by the host's own lookup
 *     from the process root or cwd.
 * The layer reaches the host only through os/os.h: it makes no system call and sees no host errno.
 */
#ifndef KP_WASI_H
#define KP_WASI_H

#include "base/base.h"
#include "os/os.h"

/* ---- WASI preview1 constants (witx values) ---------------------------------------------------- */

enum {
    KP_WE_SUCCESS = 0,
    KP_WE_2BIG = 1,
    KP_WE_ACCES = 2,
    KP_WE_ADDRINUSE = 3,
    KP_WE_ADDRNOTAVAIL = 4,
    KP_WE_AFNOSUPPORT = 5,
    KP_WE_AGAIN = 6,
    KP_WE_ALREADY = 7,
    KP_WE_BADF = 8,
    KP_WE_BADMSG = 9,
    KP_WE_BUSY = 10,
    KP_WE_CANCELED = 11,
    KP_WE_CHILD = 12,
    KP_WE_CONNABORTED = 13,
    KP_WE_CONNREFUSED = 14,
    KP_WE_CONNRESET = 15,
    KP_WE_DEADLK = 16,
    KP_WE_DESTADDRREQ = 17,
    KP_WE_DOM = 18,
    KP_WE_DQUOT = 19,
    KP_WE_EXIST = 20,
    KP_WE_FAULT = 21,
    KP_WE_FBIG = 22,
    KP_WE_HOSTUNREACH = 23,
    KP_WE_IDRM = 24,
    KP_WE_ILSEQ = 25,
    KP_WE_INPROGRESS = 26,
    KP_WE_INTR = 27,
    KP_WE_INVAL = 28,
    KP_WE_IO = 29,
    KP_WE_ISCONN = 30,
    KP_WE_ISDIR = 31,
    KP_WE_LOOP = 32,
    KP_WE_MFILE = 33,
    KP_WE_MLINK = 34,
    KP_WE_MSGSIZE = 35,
    KP_WE_MULTIHOP = 36,
    KP_WE_NAMETOOLONG = 37,
    KP_WE_NETDOWN = 38,
    KP_WE_NETRESET = 39,
    KP_WE_NETUNREACH = 40,
    KP_WE_NFILE = 41,
    KP_WE_NOBUFS = 42,
    KP_WE_NODEV = 43,
    KP_WE_NOENT = 44,
    KP_WE_NOEXEC = 45,
    KP_WE_NOLCK = 46,
    KP_WE_NOLINK = 47,
    KP_WE_NOMEM = 48,
    KP_WE_NOMSG = 49,
    KP_WE_NOPROTOOPT = 50,
    KP_WE_NOSPC = 51,
    KP_WE_NOSYS = 52,
    KP_WE_NOTCONN = 53,
    KP_WE_NOTDIR = 54,
    KP_WE_NOTEMPTY = 55,
    KP_WE_NOTRECOVERABLE = 56,
    KP_WE_NOTSOCK = 57,
    KP_WE_NOTSUP = 58,
    KP_WE_NOTTY = 59,
    KP_WE_NXIO = 60,
    KP_WE_OVERFLOW = 61,
    KP_WE_OWNERDEAD = 62,
    KP_WE_PERM = 63,
    KP_WE_PIPE = 64,
    KP_WE_PROTO = 65,
    KP_WE_PROTONOSUPPORT = 66,
    KP_WE_PROTOTYPE = 67,
    KP_WE_RANGE = 68,
    KP_WE_ROFS = 69,
    KP_WE_SPIPE = 70,
    KP_WE_SRCH = 71,
    KP_WE_STALE = 72,
    KP_WE_TIMEDOUT = 73,
    KP_WE_TXTBSY = 74,
    KP_WE_XDEV = 75,
    KP_WE_NOTCAPABLE = 76
};

/* Rights: one bit per operation an fd may be used for. */
#define KP_R_FD_DATASYNC (1ull << 0)
#define KP_R_FD_READ (1ull << 1)
#define KP_R_FD_SEEK (1ull << 2)
#define KP_R_FD_FDSTAT_SET_FLAGS (1ull << 3)
#define KP_R_FD_SYNC (1ull << 4)
#define KP_R_FD_TELL (1ull << 5)
#define KP_R_FD_WRITE (1ull << 6)
#define KP_R_FD_ADVISE (1ull << 7)
#define KP_R_FD_ALLOCATE (1ull << 8)
#define KP_R_PATH_CREATE_DIRECTORY (1ull << 9)
#define KP_R_PATH_CREATE_FILE (1ull << 10)
#define KP_R_PATH_LINK_SOURCE (1ull << 11)
#define KP_R_PATH_LINK_TARGET (1ull << 12)
#define KP_R_PATH_OPEN (1ull << 13)
#define KP_R_FD_READDIR (1ull << 14)
#define KP_R_PATH_READLINK (1ull << 15)
#define KP_R_PATH_RENAME_SOURCE (1ull << 16)
#define KP_R_PATH_RENAME_TARGET (1ull << 17)
#define KP_R_PATH_FILESTAT_GET (1ull << 18)
#define KP_R_PATH_FILESTAT_SET_SIZE (1ull << 19)
#define KP_R_PATH_FILESTAT_SET_TIMES (1ull << 20)
#define KP_R_FD_FILESTAT_GET (1ull << 21)
#define KP_R_FD_FILESTAT_SET_SIZE (1ull << 22)
#define KP_R_FD_FILESTAT_SET_TIMES (1ull << 23)
#define KP_R_PATH_SYMLINK (1ull << 24)
#define KP_R_PATH_REMOVE_DIRECTORY (1ull << 25)
#define KP_R_PATH_UNLINK_FILE (1ull << 26)
#define KP_R_POLL_FD_READWRITE (1ull << 27)
#define KP_R_SOCK_SHUTDOWN (1ull << 28)
#define KP_R_SOCK_ACCEPT (1ull << 29)
#define KP_R_ALL ((1ull << 30) - 1)

/* The rights of each kind of fd when created with full access. */
#define KP_R_FILE                                                                               \
    (KP_R_FD_DATASYNC | KP_R_FD_READ | KP_R_FD_SEEK | KP_R_FD_FDSTAT_SET_FLAGS | KP_R_FD_SYNC | \
     KP_R_FD_TELL | KP_R_FD_WRITE | KP_R_FD_ADVISE | KP_R_FD_ALLOCATE | KP_R_FD_FILESTAT_GET |  \
     KP_R_FD_FILESTAT_SET_SIZE | KP_R_FD_FILESTAT_SET_TIMES | KP_R_POLL_FD_READWRITE)
#define KP_R_DIR                                                                                          \
    (KP_R_FD_DATASYNC | KP_R_FD_FDSTAT_SET_FLAGS | KP_R_FD_SYNC | KP_R_PATH_CREATE_DIRECTORY |            \
     KP_R_PATH_CREATE_FILE | KP_R_PATH_LINK_SOURCE | KP_R_PATH_LINK_TARGET | KP_R_PATH_OPEN |             \
     KP_R_FD_READDIR | KP_R_PATH_READLINK | KP_R_PATH_RENAME_SOURCE | KP_R_PATH_RENAME_TARGET |           \
     KP_R_PATH_FILESTAT_GET | KP_R_PATH_FILESTAT_SET_SIZE | KP_R_PATH_FILESTAT_SET_TIMES |                \
     KP_R_FD_FILESTAT_GET | KP_R_FD_FILESTAT_SET_TIMES | KP_R_PATH_SYMLINK | KP_R_PATH_REMOVE_DIRECTORY | \
     KP_R_PATH_UNLINK_FILE)
/* What a read-only preopen (and everything opened beneath it) can never have. */
#define KP_R_MUTATE                                                                                       \
    (KP_R_FD_WRITE | KP_R_FD_ALLOCATE | KP_R_FD_FILESTAT_SET_SIZE | KP_R_FD_FILESTAT_SET_TIMES |          \
     KP_R_PATH_CREATE_DIRECTORY | KP_R_PATH_CREATE_FILE | KP_R_PATH_LINK_SOURCE | KP_R_PATH_LINK_TARGET | \
     KP_R_PATH_RENAME_SOURCE | KP_R_PATH_RENAME_TARGET | KP_R_PATH_FILESTAT_SET_SIZE |                    \
     KP_R_PATH_FILESTAT_SET_TIMES | KP_R_PATH_SYMLINK | KP_R_PATH_REMOVE_DIRECTORY | KP_R_PATH_UNLINK_FILE)
#define KP_R_SOCK                                                                     \
    (KP_R_FD_READ | KP_R_FD_WRITE | KP_R_FD_FDSTAT_SET_FLAGS | KP_R_FD_FILESTAT_GET | \
     KP_R_POLL_FD_READWRITE | KP_R_SOCK_SHUTDOWN)

enum {
    KP_FT_UNKNOWN = 0,
    KP_FT_BLOCK = 1,
    KP_FT_CHAR = 2,
    KP_FT_DIR = 3,
    KP_FT_FILE = 4,
    KP_FT_DGRAM = 5,
    KP_FT_STREAM = 6,
    KP_FT_SYMLINK = 7
};
enum {
    KP_FDF_APPEND = 1,
    KP_FDF_DSYNC = 2,
    KP_FDF_NONBLOCK = 4,
    KP_FDF_RSYNC = 8,
    KP_FDF_SYNC = 16
};
enum {
    KP_OF_CREAT = 1,
    KP_OF_DIRECTORY = 2,
    KP_OF_EXCL = 4,
    KP_OF_TRUNC = 8
};
enum {
    KP_FST_ATIM = 1,
    KP_FST_ATIM_NOW = 2,
    KP_FST_MTIM = 4,
    KP_FST_MTIM_NOW = 8
};
#define KP_LOOKUP_FOLLOW 1u

/* ---- Context and fd table ------------------------------------------------------------------- */

enum {
    KP_MEMFD_NONE,
    KP_MEMFD_IN,
    KP_MEMFD_OUT,
    KP_MEMFD_ERR
};

typedef struct kpWasiFd {
    kpOs_fd host;       /* host fd; KP_OS_NO_FD marks a free slot unless mem is set */
    uint8_t mem;        /* KP_MEMFD_*: an in-memory stdio buffer of the context (memio.c) */
    uint8_t filetype;   /* KP_FT_* */
    bool read_only;     /* beneath a read-only preopen: KP_R_MUTATE can never come back */
    bool listener;      /* a --tcplisten socket (sock_accept allowed) */
    uint64_t base, inh; /* rights of this fd and of fds opened through it */
    char *preopen;      /* guest name of a preopened directory (owned), else NULL */
    kpOs_dir *dir;      /* fd_readdir's stream on its own open of the directory, or NULL */
    uint64_t dir_next;  /* the cookie at which that stream stands */
} kpWasiFd;

/* An in-memory output (stdout, stderr): bytes kept up to cap, or, for stderr with a line
 * callback, only the current partial line. */
typedef struct kpWasiOut {
    uint8_t *data;
    size_t len, alloc, cap;
    bool full; /* a write was cut or refused at cap */
} kpWasiOut;

struct kapsul_wasi {
    char **argv;
    size_t argc;
    size_t argv_bytes; /* argv_bytes includes the NULs */
    char **env;
    size_t envc;
    size_t env_bytes;
    kpWasiFd *fds;
    uint32_t nfds;          /* slot i is guest fd i */
    uint64_t deadline;      /* CLOCK_MONOTONIC ns; 0 = none */
    int8_t sigpipe_ignored; /* SIGPIPE was SIG_IGN at the context's first write to a pipe or
                               socket (1; 0: not, writes are masked); -1 before that write, so
                               a context that never makes one (serve's in-memory stdio) never
                               asks the kernel (a sigaction call per request otherwise) */
    const uint8_t *in;
    size_t in_len, in_pos; /* in-memory stdin (borrowed) */
    kpWasiOut out[2];      /* in-memory stdout, stderr */
    void (*line)(void *env, const char *line, size_t len);
    void *line_env;
};

/* The state of one host-function call: the context, the guest's memory (re-read at each call,
 * since memory.grow may move it), the arguments, and the status to report to the runtime. */
typedef struct kpWasiCall {
    kapsul_wasi *w;
    uint8_t *mem;
    uint64_t memlen;
    const kapsul_val *a;
    kapsul_error *err;
    kapsul_status status; /* KAPSUL_OK unless the call ends the guest (proc_exit) */
} kpWasiCall;

typedef uint16_t (*kpWasiHandler)(kpWasiCall *c);

/* Arguments, as the unsigned values WASI means. */
static inline uint32_t kpWasi_u32(const kpWasiCall *c, int i) { return (uint32_t)c->a[i].of.i32; }
static inline uint64_t kpWasi_u64(const kpWasiCall *c, int i) { return (uint64_t)c->a[i].of.i64; }

/* The guest range [ptr, ptr+len) as a host pointer, or NULL if any byte of it is outside memory.
 * len is 64-bit so callers can pass count * size without overflow (both fit in 32 bits). */
static inline uint8_t *kpWasi_mem(const kpWasiCall *c, uint32_t ptr, uint64_t len) {
    if (!c->mem || (uint64_t)ptr + len > c->memlen)
        return NULL; /* also a module without memory: every pointer is out of bounds */
    return c->mem + ptr;
}
/* Little-endian stores and loads that tolerate any alignment (guest pointers are arbitrary). */
static inline void kp_st16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void kp_st32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void kp_st64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t kp_ld16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t kp_ld32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t kp_ld64(const uint8_t *p) { return kp_ld32(p) | ((uint64_t)kp_ld32(p + 4) << 32); }
/* Store a u32/u64 result at a guest pointer; false (-> EFAULT) when out of bounds. */
bool kpWasi_put32(kpWasiCall *c, uint32_t ptr, uint32_t v);
bool kpWasi_put64(kpWasiCall *c, uint32_t ptr, uint64_t v);

/* poll.c: before a read or accept that may block, wait for host fd to be ready (events are
 * KP_OS_POLL_*) but not past the context's deadline; when the deadline passes, end the guest with
 * KAPSUL_TRAP_TIMEOUT (c->status set) and return false. */
bool kpWasi_waitReady(kpWasiCall *c, kpOs_fd host, unsigned events);
/* End the guest with KAPSUL_TRAP_TIMEOUT. */
void kpWasi_timeout(kpWasiCall *c);

/* An OS error -> the WASI errno of the same name (wasi.c). */
uint16_t kpWasi_errno(kpOs_err err);

/* fdtable.c. kpWasiFd_get looks up a guest fd and checks that it holds every right in `need`:
 * EBADF for a free or out-of-range slot, ENOTCAPABLE for a missing right. */
uint16_t kpWasiFd_get(kapsul_wasi *w, uint32_t fd, uint64_t need, kpWasiFd **out);
/* Put a new host fd in the lowest free slot (>= 3). Takes ownership of host (closed on failure).
 * NOMEM/NFILE on failure. */
uint16_t kpWasiFd_add(kapsul_wasi *w, kpOs_fd host, uint8_t filetype, uint64_t base, uint64_t inh,
                      bool read_only, uint32_t *out);
void kpWasiFd_close(kpWasiFd *f);
/* A slot in use: a host fd or an in-memory stdio buffer. */
static inline bool kpWasiFd_used(const kpWasiFd *f) { return f->host >= 0 || f->mem; }

/* memio.c: in-memory stdio. Set up guest fds 0-2 the config makes buffers; I/O, stat and poll on
 * them (the handlers call these when f->mem is set). */
kapsul_status kpWasiMem_setup(kapsul_wasi *w, const kapsul_wasi_config *config);
uint16_t kpWasiMem_read(kapsul_wasi *w, const kpOs_iov *iov, int n, size_t *done);
uint16_t kpWasiMem_write(kapsul_wasi *w, int which, const kpOs_iov *iov, int n, size_t *done);
/* Bytes a read would return now (stdin) or bytes held (outputs): filestat size, poll nbytes. */
uint64_t kpWasiMem_size(const kapsul_wasi *w, int which);
/* Deliver a pending partial stderr line and free the buffers (kapsul_wasi_free). */
void kpWasiMem_free(kapsul_wasi *w);
/* WASI filetype of a host fd (fstat), and of an OS file type. */
uint8_t kpWasiFd_typeOf(kpOs_fd host);
uint8_t kpWasi_fileType(kpOs_ftype type);
/* Write a 64-byte filestat for st at guest pointer ptr. */
uint16_t kpWasi_putFilestat(kpWasiCall *c, uint32_t ptr, const kpOs_stat *st);

/* fs.c: a guest iovec array (buf u32, len u32) as host iovecs, every range checked, at most
 * KP_MAX_IOVS of them and at most UINT32_MAX bytes in all (a short transfer is always allowed). */
uint16_t kpWasi_iovs(kpWasiCall *c, uint32_t iovs, uint32_t n, kpOs_iov *out, int *count);
/* fs.c: the (access, modification) time pair from WASI's (atim, mtim, fstflags); EINVAL for bad
 * flags. */
uint16_t kpWasi_times(uint64_t atim, uint64_t mtim, uint32_t fst, kpOs_time t[2]);

/* path.c. Copy a guest path out of memory (EFAULT, EINVAL for embedded NUL, NAMETOOLONG) into a
 * NUL-terminated host string. The buffer is KP_OS_PATH_MAX bytes. */
uint16_t kpWasiPath_read(kpWasiCall *c, uint32_t ptr, uint32_t len, char *buf);
/* Resolve path beneath dirfd up to its last component: *parent receives a new host fd for the
 * directory holding the last component (caller closes it) and name its last component (with any
 * trailing slashes; "." when the path names dirfd itself). Symlinks in the middle are followed
 * but never out of dirfd (ENOTCAPABLE); absolute paths are ENOTCAPABLE. */
uint16_t kpWasiPath_parent(kpOs_fd dirfd, const char *path, kpOs_fd *parent, char *name);
/* Like kpWasiPath_parent, but a final symlink is followed too (beneath dirfd), so (parent, name)
 * names the object itself and is never a symlink; no trailing slash is left on name. Always the
 * component walk: it yields the (parent, name) pair that openat2 cannot. */
uint16_t kpWasiPath_parentFollow(kpOs_fd dirfd, const char *path, kpOs_fd *parent, char *name);
/* Open path beneath dirfd with KP_OS_O_* flags; the last component's symlink is followed only
 * when follow is true, and never out of dirfd. */
uint16_t kpWasiPath_open(kpOs_fd dirfd, const char *path, unsigned flags, bool follow, kpOs_fd *out);

/* ---- Handlers: one per WASI function, listed in funcs.def -------------------------------------- */
#define KP_WASI_FN(name, params, results, handler) uint16_t handler(kpWasiCall *c);
#include "wasi/funcs.def"
#undef KP_WASI_FN

#endif /* KP_WASI_H */
