/*
 * os.h -- every operating-system service the runtime uses, behind one header. Each OS is one set
 * of files named for it: os_posix.c (memory, faults, clocks, watchdog, locks, randomness, errors),
 * file_posix.c (files, directories, paths beneath a directory), net_posix.c (sockets, polling)
 * and proc_posix.c (child processes) for Linux and other POSIX systems. wasi/ reaches the OS only through here and includes only
 * the C standard library's headers.
 *
 * Errors. A fallible call returns a kpOs_err: 0 (KP_OS_OK) on success, else one of the names of
 * errors.def. The OS files translate their host's error numbers into it (an unlisted one becomes
 * KP_OS_EIO), so no caller ever sees errno or a host's numbering: a host's numbers differ between
 * systems and mean nothing to a guest, and a portable enum lets wasi/ map errors to WASI's errnos
 * by name (one switch generated from the same list) and the CLI print them (kpOs_strerror) without
 * either knowing which OS is below. The list is POSIX's errno names because every host kapsul
 * targets speaks them and WASI preview1 was built on them; KP_OS_ENOTCAPABLE is kapsul's own, for a
 * path whose resolution would leave its directory.
 *
 * Handles. A file, directory or socket is a kpOs_fd (an int on POSIX; KP_OS_NO_FD is none); every
 * handle is opened close-on-exec. Stat results, iovecs, times, addresses and poll sets are kapsul
 * structs, converted at the system call.
 *
 * Services: address-space reservation with page commit (linear memories with guard regions),
 * the fault handler that turns a guest's out-of-bounds access into a trap, clocks, a watchdog that
 * raises interrupt flags at deadlines, a mutex, randomness, files and paths beneath a directory,
 * vectored I/O, directory listing, TCP listeners, polling, and shell commands (kapsul build).
 */
#ifndef KP_OS_H
#define KP_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* ---- Errors (see above) ---------------------------------------------------------------------- */

typedef enum kpOs_err {
    KP_OS_OK = 0,
#define KP_OS_ERR(name, message) KP_OS_E##name,
#include "os/errors.def"
#undef KP_OS_ERR
    KP_OS_ENOTCAPABLE /* the path would resolve outside its directory */
} kpOs_err;

/* A short English description of err, for error messages ("No such file or directory"). */
const char *kpOs_strerror(kpOs_err err);

/* A file, directory or socket handle (see Handles above). */
typedef int kpOs_fd;
#define KP_OS_NO_FD (-1)

/* ---- Virtual memory ------------------------------------------------------------------------ */

/* Reserve `size` bytes of address space with no access (nothing committed). NULL on failure
 * (e.g. RLIMIT_AS), in which case callers fall back to explicitly bounds-checked memory. */
void *kpOs_reserve(size_t size);
/* Make [base+from, base+to) readable and writable. The pages read as zero the first time.
 * Returns false if the system refuses (out of memory). */
bool kpOs_commit(void *base, size_t from, size_t to);
void kpOs_release(void *base, size_t size);
size_t kpOs_pageSize(void);
/* Copy-on-write images (module templates' memory pool). kpOs_imageCreate makes an anonymous
 * in-memory file (Linux memfd) holding the len bytes of data (len a multiple of the page size);
 * with pages (one byte per page, NULL for all) only the pages marked are written, the others
 * are holes that read as zero and take no memory until touched;
 * kpOs_mapImage maps its first len bytes read-write and private over [base, base+len), inside
 * a reservation, replacing what was there: writes go to private copies, the file never changes.
 * kpOs_discard drops the pages of [base, base+len): anonymous pages read as zero again and
 * private copies of an image read as the image again (Linux MADV_DONTNEED semantics; false where
 * the host cannot promise that, and the caller then copies). kpOs_decommit makes [base+from,
 * base+to) inaccessible and drops its pages, undoing kpOs_commit. */
kpOs_err kpOs_imageCreate(const void *data, size_t len, const uint8_t *pages, kpOs_fd *out);
/* Map the pages of [p, p+len) in now, writable, in one call (Linux MADV_POPULATE_WRITE), for
 * memory about to be written: on this project's virtual machines a page fault costs 10-20 us and
 * populating a page less than 1 us. Best effort (a no-op where the host cannot); the pages must
 * lie in one read-write mapping, and the page-aligned range around [p, p+len) is populated. */
void kpOs_prefault(void *p, size_t len);
bool kpOs_mapImage(void *base, size_t len, kpOs_fd image);
bool kpOs_discard(void *base, size_t len);
bool kpOs_decommit(void *base, size_t from, size_t to);
/* Which of the n pages from base hold data of this process's own: out[i] = 1 for a page that is
 * present and anonymous (a private copy of an image page: the guest wrote it since the mapping
 * was made; or an anonymous page) or swapped out, 0 for a page not present or still the file's.
 * From Linux's /proc/self/pagemap (opened per call, so a forked child reads its own). false
 * where the host cannot tell: the caller then treats every page as written. */
bool kpOs_privatePages(const void *base, size_t n, uint8_t *out);

/* ---- Faults ---------------------------------------------------------------------------------- */

/* Install (once per process; later calls are no-ops) a SIGSEGV/SIGBUS handler running on an
 * alternate signal stack. On a fault it calls `is_guest` with the faulting address; when that
 * returns it does not return (it siglongjmps back into the runtime). Otherwise the handler
 * restores the default action and returns, so the fault repeats and kills the process as usual.
 * Each thread that runs wasm calls kpOs_threadInit() to get its alternate signal stack. */
/* The general registers at the fault (x86-64 and AArch64; n = 0 elsewhere), for the runtime's
 * best-effort guess of where in its code the fault happened (a backtrace's offset). */
typedef struct kpOs_faultRegs {
    uintptr_t r[40];
    int n;
} kpOs_faultRegs;
typedef void (*kpOs_faultFn)(void *addr, const kpOs_faultRegs *regs);
bool kpOs_installFaultHandler(kpOs_faultFn on_fault);
bool kpOs_threadInit(void);

/* ---- Time and the watchdog ------------------------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t kpOs_monotonicNs(void);
/* Sleep the calling thread for ns nanoseconds (a sleep a signal interrupts resumes). */
void kpOs_sleepNs(uint64_t ns);

/* The clocks a guest may read (WASI's four, in its order). */
typedef enum kpOs_clock {
    KP_OS_CLOCK_REALTIME,
    KP_OS_CLOCK_MONOTONIC,
    KP_OS_CLOCK_PROCESS,
    KP_OS_CLOCK_THREAD
} kpOs_clock;
/* The clock's time and resolution in nanoseconds; KP_OS_EINVAL for a clock the host lacks. */
kpOs_err kpOs_clockNow(kpOs_clock clock, uint64_t *ns);
kpOs_err kpOs_clockRes(kpOs_clock clock, uint64_t *ns);

/* Arm a one-shot timer: at time deadline_ns (CLOCK_MONOTONIC), `*flag |= bits` atomically (from
 * the watchdog thread). Returns a handle > 0, or 0 if the watchdog could not start. */
typedef uint64_t kpOs_timer;
kpOs_timer kpOs_timerArm(uint64_t deadline_ns, int *flag, int bits);
/* Disarm (no-op if it already fired). After this returns, the flag is no longer touched. */
void kpOs_timerDisarm(kpOs_timer timer);

/* ---- Locks ----------------------------------------------------------------------------------- */

typedef struct kpOs_mutex kpOs_mutex;
kpOs_mutex *kpOs_mutexNew(void);
void kpOs_mutexFree(kpOs_mutex *m);
void kpOs_mutexLock(kpOs_mutex *m);
void kpOs_mutexUnlock(kpOs_mutex *m);

/* ---- Randomness and scheduling ------------------------------------------------------------- */

/* Fill buf from the system's cryptographically secure generator (any length). */
kpOs_err kpOs_random(void *buf, size_t len);
/* Give the processor to another thread. */
void kpOs_yield(void);

/* ---- Files ----------------------------------------------------------------------------------- */

/* The longest path (with its NUL) and path component the host accepts. */
#define KP_OS_PATH_MAX 4096
#define KP_OS_NAME_MAX 255

typedef enum kpOs_ftype {
    KP_OS_FT_UNKNOWN,
    KP_OS_FT_BLOCK,
    KP_OS_FT_CHAR,
    KP_OS_FT_DIR,
    KP_OS_FT_FILE,
    KP_OS_FT_SOCKET,
    KP_OS_FT_SYMLINK,
    KP_OS_FT_FIFO
} kpOs_ftype;

typedef struct kpOs_stat {
    uint64_t dev, ino, nlink, size;
    uint64_t atim, mtim, ctim; /* nanoseconds since the epoch */
    kpOs_ftype type;
} kpOs_stat;

/* Open flags. Neither READ nor WRITE opens for reading. PATH opens a handle good only for
 * resolving, stat and *At calls (Linux O_PATH), with only DIRECTORY and NOFOLLOW beside it.
 * APPEND, NONBLOCK, DSYNC, SYNC and RSYNC are also the status flags of kpOs_getFlags. */
enum {
    KP_OS_O_READ = 1 << 0,
    KP_OS_O_WRITE = 1 << 1,
    KP_OS_O_CREAT = 1 << 2,
    KP_OS_O_EXCL = 1 << 3,
    KP_OS_O_TRUNC = 1 << 4,
    KP_OS_O_DIRECTORY = 1 << 5,
    KP_OS_O_APPEND = 1 << 6,
    KP_OS_O_NONBLOCK = 1 << 7,
    KP_OS_O_DSYNC = 1 << 8,
    KP_OS_O_SYNC = 1 << 9,
    KP_OS_O_RSYNC = 1 << 10,
    KP_OS_O_NOFOLLOW = 1 << 11,
    KP_OS_O_PATH = 1 << 12
};

/* Open a directory by host path (a preopen the embedder chose; never a guest's path). */
kpOs_err kpOs_openDir(const char *path, kpOs_fd *out);
/* Open name relative to dir with KP_OS_O_* flags. The kernel resolves every component of name
 * itself: callers pass one component they checked (wasi/path.c's walk), never a guest's path.
 * New files are created 0666 less the umask. */
kpOs_err kpOs_openAt(kpOs_fd dir, const char *name, unsigned flags, kpOs_fd *out);
/* Open path relative to dir so that its resolution never leaves dir: an absolute path, a ".."
 * above dir, a symlink out of it (absolute, relative or chained) or a magic /proc link fails with
 * KP_OS_ENOTCAPABLE, decided by the kernel in one race-free lookup (Linux 5.6+ openat2 with
 * RESOLVE_BENEATH). KP_OS_ENOSYS when the host cannot do that (older kernels, seccomp filters):
 * the caller then walks the path one checked component at a time with kpOs_openAt. Whether the
 * host can is found out once per process, safely from any thread; builds with KP_TESTING let the
 * environment variable KAPSUL_WASI_NO_OPENAT2=1 say it cannot, so tests cover both ways. */
kpOs_err kpOs_openBeneath(kpOs_fd dir, const char *path, unsigned flags, kpOs_fd *out);
/* An anonymous file in memory (memfd on Linux), read-write at position 0, gone when the last
 * handle closes. name is a label for /proc only. The serve layer hands these to a guest as stdin,
 * stdout and stderr: a regular file never blocks, and its bytes are read back with kpOs_pread. */
kpOs_err kpOs_memFile(const char *name, kpOs_fd *out);
/* A second handle on fd's open file (never one of the numbers 0-2). */
kpOs_err kpOs_dup(kpOs_fd fd, kpOs_fd *out);
void kpOs_close(kpOs_fd fd);

kpOs_err kpOs_fstat(kpOs_fd fd, kpOs_stat *out);
/* stat of the entry name in dir itself: a symlink is not followed. */
kpOs_err kpOs_lstatAt(kpOs_fd dir, const char *name, kpOs_stat *out);
/* stat of a host path a user named (a manifest's file, a build's output), following symlinks.
 * Never a guest's path: those resolve beneath a directory (kpOs_openBeneath). */
kpOs_err kpOs_statPath(const char *path, kpOs_stat *out);

/* Copy the regular file `from` (a host path a user named: a manifest's file, never a guest's
 * path) to the new file `to` (created exclusively, read-only 0444), making the directories of
 * `to` that are missing (kpOs_mkdirs). For kapsul up's private tree of mounted files. */
kpOs_err kpOs_copyPath(const char *from, const char *to);

/* Operations on the entry name in directory dir; the kernel looks up only that entry. */
kpOs_err kpOs_mkdirAt(kpOs_fd dir, const char *name); /* mode 0777 less the umask */
kpOs_err kpOs_unlinkAt(kpOs_fd dir, const char *name, bool is_dir);
kpOs_err kpOs_linkAt(kpOs_fd odir, const char *oname, kpOs_fd ndir, const char *nname);
kpOs_err kpOs_renameAt(kpOs_fd odir, const char *oname, kpOs_fd ndir, const char *nname);
kpOs_err kpOs_symlinkAt(const char *target, kpOs_fd dir, const char *name);
/* The link's text (not NUL-terminated), cut to cap bytes; *len receives its length. */
kpOs_err kpOs_readlinkAt(kpOs_fd dir, const char *name, char *buf, size_t cap, size_t *len);

/* A time to set: the given ns since the epoch, now, or leave it as it is. */
enum {
    KP_OS_TIME_SET,
    KP_OS_TIME_NOW,
    KP_OS_TIME_OMIT
};
typedef struct kpOs_time {
    uint64_t ns;
    int how;
} kpOs_time;
/* Set access and modification times (t[0], t[1]) of fd's file, or of the entry name in dir
 * without following a symlink. */
kpOs_err kpOs_setTimes(kpOs_fd fd, const kpOs_time t[2]);
kpOs_err kpOs_setTimesAt(kpOs_fd dir, const char *name, const kpOs_time t[2]);

/* ---- I/O on an open handle ------------------------------------------------------------------- */

typedef struct kpOs_iov {
    void *base;
    size_t len;
} kpOs_iov;
/* The most iovecs one call takes (the host's IOV_MAX is at least this). */
#define KP_OS_MAX_IOV KP_MAX_IOVS /* config.h */

/* Vectored read and write at the file position, or at offset (which leaves the position alone;
 * kpOs_pwrite writes at offset even on an append-mode handle). *done receives the bytes moved;
 * a short transfer is not an error. */
kpOs_err kpOs_read(kpOs_fd fd, const kpOs_iov *iov, int n, size_t *done);
kpOs_err kpOs_write(kpOs_fd fd, const kpOs_iov *iov, int n, size_t *done);
kpOs_err kpOs_pread(kpOs_fd fd, const kpOs_iov *iov, int n, uint64_t offset, size_t *done);
kpOs_err kpOs_pwrite(kpOs_fd fd, const kpOs_iov *iov, int n, uint64_t offset, size_t *done);
/* A write to a pipe or socket whose reader has gone raises SIGPIPE on POSIX, which kills the
 * process unless it is ignored. kpOs_writeQuiet is kpOs_write that reports KP_OS_EPIPE instead
 * and leaves no signal behind (it costs a few system calls); kpOs_sigpipeIgnored says whether
 * plain writes are quiet anyway. */
kpOs_err kpOs_writeQuiet(kpOs_fd fd, const kpOs_iov *iov, int n, size_t *done);
bool kpOs_sigpipeIgnored(void);

enum {
    KP_OS_SEEK_SET,
    KP_OS_SEEK_CUR,
    KP_OS_SEEK_END
};
kpOs_err kpOs_seek(kpOs_fd fd, int64_t offset, int whence, uint64_t *pos);
kpOs_err kpOs_sync(kpOs_fd fd, bool data_only);
kpOs_err kpOs_truncate(kpOs_fd fd, uint64_t size);
/* Reserve [offset, offset+len) on disk (offset + len <= INT64_MAX). */
kpOs_err kpOs_allocate(kpOs_fd fd, uint64_t offset, uint64_t len);
enum {
    KP_OS_ADV_NORMAL,
    KP_OS_ADV_SEQUENTIAL,
    KP_OS_ADV_RANDOM,
    KP_OS_ADV_WILLNEED,
    KP_OS_ADV_DONTNEED,
    KP_OS_ADV_NOREUSE
};
kpOs_err kpOs_advise(kpOs_fd fd, uint64_t offset, uint64_t len, int advice);
/* The handle's status flags (KP_OS_O_APPEND, NONBLOCK, DSYNC, SYNC); kpOs_setFlags changes
 * APPEND and NONBLOCK, the only ones an open handle can change, to what flags says. */
kpOs_err kpOs_getFlags(kpOs_fd fd, unsigned *flags);
kpOs_err kpOs_setFlags(kpOs_fd fd, unsigned flags);

/* ---- Directory listing ----------------------------------------------------------------------- */

/* A stream over a directory's entries, on its own open of the directory (the handle it came
 * from keeps its offset). An entry's name lives until the next kpOs_dirRead on the stream. */
typedef struct kpOs_dir kpOs_dir;
typedef struct kpOs_dirent {
    const char *name;
    uint64_t ino;
    kpOs_ftype type;
} kpOs_dirent;
kpOs_err kpOs_dirOpen(kpOs_fd dir, kpOs_dir **out);
/* The next entry; *end is set (and out untouched) when there is none. */
kpOs_err kpOs_dirRead(kpOs_dir *d, kpOs_dirent *out, bool *end);
/* Where the stream stands, to go back there with kpOs_dirSeek; kpOs_dirRewind goes to the start. */
uint64_t kpOs_dirTell(kpOs_dir *d);
void kpOs_dirSeek(kpOs_dir *d, uint64_t pos);
void kpOs_dirRewind(kpOs_dir *d);
void kpOs_dirClose(kpOs_dir *d);

/* ---- Sockets --------------------------------------------------------------------------------- */

typedef struct kpOs_addr {
    int family;     /* 4 or 6 */
    uint8_t ip[16]; /* network order; the first 4 bytes for IPv4 */
    uint16_t port;
    uint32_t flowinfo, scope_id; /* IPv6 only (kpOs_bind, kpOs_connect, kpOs_sendTo and the
                                    addresses they report; other calls leave them alone) */
} kpOs_addr;
/* A numeric IPv4 ("127.0.0.1", family 4) or IPv6 ("::1", family 6) address; false if text is
 * not one. The port is left alone. */
bool kpOs_parseIp(const char *text, int family, kpOs_addr *out);
/* A TCP socket bound to addr (address reuse on) and listening. */
kpOs_err kpOs_listen(const kpOs_addr *addr, int backlog, kpOs_fd *out);
/* The next connection on a listener; nonblock makes the new socket non-blocking. */
kpOs_err kpOs_accept(kpOs_fd fd, bool nonblock, kpOs_fd *out);
enum {
    KP_OS_RECV_PEEK = 1,
    KP_OS_RECV_WAITALL = 2
};
/* Receive into iov; *truncated is set when a datagram did not fit. */
kpOs_err kpOs_recv(kpOs_fd fd, const kpOs_iov *iov, int n, unsigned flags, size_t *done, bool *truncated);
/* Send iov; a peer that has gone is KP_OS_EPIPE, never a signal. */
kpOs_err kpOs_send(kpOs_fd fd, const kpOs_iov *iov, int n, size_t *done);
kpOs_err kpOs_shutdown(kpOs_fd fd, bool read, bool write);

/* Sockets a guest drives step by step (wasi:sockets): a non-blocking, close-on-exec TCP or UDP
 * socket of family 4 or 6 (an IPv6 one is IPv6-only: no IPv4-mapped traffic). */
kpOs_err kpOs_socket(int family, bool udp, kpOs_fd *out);
kpOs_err kpOs_bind(kpOs_fd fd, const kpOs_addr *addr);
/* Start connecting (KP_OS_EINPROGRESS while a TCP handshake goes on; kpOs_sockError then tells
 * how it ended). addr NULL dissolves a UDP socket's association. */
kpOs_err kpOs_connect(kpOs_fd fd, const kpOs_addr *addr);
kpOs_err kpOs_listenOn(kpOs_fd fd, int backlog);
/* The local (peer false) or remote address of a socket. */
kpOs_err kpOs_sockName(kpOs_fd fd, bool peer, kpOs_addr *out);
/* The pending error of a socket (SO_ERROR), cleared by reading it; KP_OS_OK for none. */
kpOs_err kpOs_sockError(kpOs_fd fd);
/* One datagram to `to` (NULL: the connected peer) / from whoever sent it; *truncated when it
 * did not fit in cap. Never blocks on these non-blocking sockets (KP_OS_EAGAIN). */
kpOs_err kpOs_sendTo(kpOs_fd fd, const void *data, size_t len, const kpOs_addr *to, size_t *done);
kpOs_err kpOs_recvFrom(kpOs_fd fd, void *buf, size_t cap, size_t *done, kpOs_addr *from, bool *truncated);
typedef enum kpOs_sockopt {
    KP_OS_SO_KEEPALIVE, /* 0 or 1 */
    KP_OS_SO_KEEPIDLE,  /* seconds */
    KP_OS_SO_KEEPINTVL, /* seconds */
    KP_OS_SO_KEEPCNT,   /* probes */
    KP_OS_SO_HOPLIMIT,  /* unicast TTL / hop limit of family 4 or 6 */
    KP_OS_SO_RCVBUF,    /* bytes */
    KP_OS_SO_SNDBUF     /* bytes */
} kpOs_sockopt;
kpOs_err kpOs_sockGet(kpOs_fd fd, int family, kpOs_sockopt opt, uint64_t *out);
kpOs_err kpOs_sockSet(kpOs_fd fd, int family, kpOs_sockopt opt, uint64_t val);
/* The IPv4 and IPv6 addresses of a host name through the system's resolver (at most cap, port
 * 0). KP_OS_ENOENT: the name does not exist; KP_OS_EAGAIN: a temporary failure; KP_OS_EIO: any
 * other resolver failure. Blocks for as long as the resolver takes. */
kpOs_err kpOs_resolve(const char *name, kpOs_addr *out, size_t cap, size_t *n);

/* ---- Polling --------------------------------------------------------------------------------- */

enum {
    KP_OS_POLL_IN = 1,
    KP_OS_POLL_OUT = 2,
    KP_OS_POLL_HUP = 4,
    KP_OS_POLL_ERR = 8,
    KP_OS_POLL_NVAL = 16
};
typedef struct kpOs_pollfd {
    kpOs_fd fd;
    unsigned events, revents;
} kpOs_pollfd;
/* Wait until one of the handles is ready for its events (KP_OS_POLL_IN/OUT) or timeout_ns has
 * passed (UINT64_MAX: no timeout). revents receives what happened, including HUP, ERR and NVAL;
 * entries whose fd is KP_OS_NO_FD are skipped. *ready receives how many entries have revents.
 * KP_OS_EINTR when a signal cut the wait short. */
kpOs_err kpOs_poll(kpOs_pollfd *fds, size_t n, uint64_t timeout_ns, int *ready);
/* Bytes that can be read from fd without blocking: the rest of a regular file after the file
 * position, what a pipe or socket holds; 0 when unknown. */
uint64_t kpOs_bytesReady(kpOs_fd fd);

/* ---- Processes ------------------------------------------------------------------------------ */

/* How a child process ended: its exit status 0-255, or the signal that killed it. */
typedef struct kpOs_exit {
    int code;   /* exit status; meaningful when signal is 0 */
    int signal; /* the number of the signal that ended it, or 0 */
} kpOs_exit;

/* Run `/bin/sh -c command` in directory dir (NULL: the caller's) with the caller's environment
 * and standard streams, and wait for it to end. KP_OS_OK means the shell ran (*out says how it
 * ended, successfully or not); an error means it could not start (dir missing, no /bin/sh, out
 * of processes) and *out is untouched. For `kapsul build`: the command comes from the user's own
 * manifest and runs with the user's rights, as `make` would run it; never from a guest. */
kpOs_err kpOs_runShell(const char *command, const char *dir, kpOs_exit *out);

/* Run program `path` with argv (NULL-terminated, argv[0] included) as a filter: `in` on its
 * stdin, its whole stdout into *out (kp_malloc'd, *out_len bytes; the caller kp_frees it, also on
 * error), the first msg_cap-1 bytes of its stderr into msg (NUL-terminated), and wait for it.
 * KP_OS_OK means it ran (*exit says how it ended); an error means it could not start or its pipes
 * failed. For the embedding API's native compiler (kapsul-llvmc): a program the embedder
 * configured or installed beside kapsul, never a guest's. */
kpOs_err kpOs_runFilter(const char *path, char *const argv[], const uint8_t *in, size_t in_len, uint8_t **out,
                        size_t *out_len, char *msg, size_t msg_cap, kpOs_exit *exit);
/* The path of program `name` in the running executable's directory (from /proc/self/exe) into
 * buf; false if unknown or there is no such executable file. */
bool kpOs_besideExe(const char *name, char *buf, size_t cap);

/* ---- Whole paths (path_posix.c) -------------------------------------------------------------- */
/* For tools working on the user's own files (the OCI client's layouts, pulls and cache), never a
 * guest's path. */

/* mkdir -p: path and every missing parent (0777 less the umask); KP_OS_ENOTDIR if it exists as
 * something else. */
kpOs_err kpOs_mkdirs(const char *path);
/* rm -r: path and, for a directory, everything beneath it; symlinks are removed, not followed.
 * A missing path is not an error. */
kpOs_err kpOs_removeTree(const char *path);
kpOs_err kpOs_rename(const char *from, const char *to);
/* A new empty directory "PARENT/PREFIXxxxxxx" (0700), its path into out (cap bytes). */
kpOs_err kpOs_tempDir(const char *parent, const char *prefix, char *out, size_t cap);
/* A whole regular file into *data (malloc'd, free()d by the caller), KP_OS_EFBIG past max bytes. */
kpOs_err kpOs_readPath(const char *path, size_t max, void **data, size_t *len);
/* Write data to a temporary file beside path, sync it and rename it over path: a reader sees the
 * old file or the whole new one, never part of it. */
kpOs_err kpOs_writePathAtomic(const char *path, const void *data, size_t len);

/* ---- Container processes (kapsul-runc, src/oci/runc_*.c) ------------------------------------ */

/* A copy of this process (fork); *pid is 0 in the child and the child's id in the parent. */
kpOs_err kpOs_fork(int *pid);
/* A pipe, both ends close-on-exec: fds[0] reads, fds[1] writes. */
kpOs_err kpOs_pipe(kpOs_fd fds[2]);
/* A named pipe at path (mode 0600); the runtime's "wait until start" gate. */
kpOs_err kpOs_mkfifo(const char *path);
/* Send signal sig (a host signal number) to process pid. */
kpOs_err kpOs_signal(int pid, int sig);
/* A signal's host number from "TERM", "SIGTERM" or "15"; 0 when the name is unknown. */
int kpOs_signalNumber(const char *name);
/* Whether process pid lives, and the boot-relative tick at which it started (so a recycled pid
 * is told apart). A zombie counts as gone: it has ended and only waits to be reaped. */
kpOs_err kpOs_procStart(int pid, uint64_t *start, bool *alive);
/* Join the network namespace at path, or (path NULL) make a new empty one (setns/unshare). */
kpOs_err kpOs_netns(const char *path);
/* Leave the caller's session and process group (setsid), and put the signals the parent may have
 * ignored or blocked back to their defaults (SIGPIPE stays ignored: a guest gets EPIPE). */
kpOs_err kpOs_detach(void);
/* Replace this process with path (argv as given, the caller's environment); returns only on error. */
kpOs_err kpOs_exec(const char *path, char *const argv[]);
/* End this process now with code, without running atexit handlers or flushing stdio. */
void kpOs_exitNow(int code) __attribute__((noreturn));
int kpOs_pid(void);
/* The calling process's working directory. */
kpOs_err kpOs_cwd(char *buf, size_t cap);
/* A new pseudo-terminal: its master goes to the unix socket at socket_path (SCM_RIGHTS, with the
 * slave's name as the message, as runc's --console-socket protocol does) and is closed here; the
 * slave becomes the caller's controlling terminal (the caller must lead its session, kpOs_detach)
 * and its fds 0, 1 and 2. */
kpOs_err kpOs_consoleToSocket(const char *socket_path);
/* Put process pid (0 = the caller) into the control group at path (an OCI linux.cgroupsPath:
 * absolute from each hierarchy's root, no ".." component) in every mounted hierarchy, creating
 * its directories: cgroup v2 when /sys/fs/cgroup is the unified hierarchy (the memory and pids
 * controllers enabled down to it), else each v1 hierarchy but cpuset (whose new groups start with
 * no CPUs). memory_limit (bytes; 0 = none) becomes memory.max / memory.limit_in_bytes. */
kpOs_err kpOs_cgroupJoin(const char *path, int pid, uint64_t memory_limit);
/* Remove the directory of path in every hierarchy (it must be empty of processes; a missing one is
 * fine). Only the leaf: parents may be shared with other containers. */
void kpOs_cgroupRemove(const char *path);

#endif /* KP_OS_H */
