/*
 * file_posix.c -- os.h's files for Linux and other POSIX systems: opening (beneath a directory
 * with openat2 where the kernel has it), the *at() calls on one directory entry, stat, vectored
 * I/O, and directory streams.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "os/posix.h"

_Static_assert(KP_OS_PATH_MAX <= PATH_MAX, "KP_OS_PATH_MAX exceeds the host's PATH_MAX");
_Static_assert(KP_OS_MAX_IOV <= IOV_MAX, "KP_OS_MAX_IOV exceeds the host's IOV_MAX");

#define KP_ERR(r) ((r) == 0 ? KP_OS_OK : kpOsPosix_lastErr())

/* KP_OS_O_* -> open(2) flags. An O_PATH handle takes only O_DIRECTORY and O_NOFOLLOW beside it
 * (openat2 refuses anything else); every handle is close-on-exec and never a controlling tty. */
static int host_flags(unsigned f) {
    int fl = O_CLOEXEC;
    if (f & KP_OS_O_DIRECTORY) fl |= O_DIRECTORY;
    if (f & KP_OS_O_NOFOLLOW) fl |= O_NOFOLLOW;
    if (f & KP_OS_O_PATH) return fl | O_PATH;
    fl |= O_NOCTTY;
    if ((f & KP_OS_O_READ) && (f & KP_OS_O_WRITE)) fl |= O_RDWR;
    else if (f & KP_OS_O_WRITE) fl |= O_WRONLY;
    else fl |= O_RDONLY;
    if (f & KP_OS_O_CREAT) fl |= O_CREAT;
    if (f & KP_OS_O_EXCL) fl |= O_EXCL;
    if (f & KP_OS_O_TRUNC) fl |= O_TRUNC;
    if (f & KP_OS_O_APPEND) fl |= O_APPEND;
    if (f & KP_OS_O_NONBLOCK) fl |= O_NONBLOCK;
    if (f & KP_OS_O_DSYNC) fl |= O_DSYNC;
    if (f & KP_OS_O_SYNC) fl |= O_SYNC;
    if (f & KP_OS_O_RSYNC) fl |= O_RSYNC;
    return fl;
}

static kpOs_ftype mode_type(mode_t mode) {
    switch (mode & S_IFMT) {
    case S_IFREG: return KP_OS_FT_FILE;
    case S_IFDIR: return KP_OS_FT_DIR;
    case S_IFLNK: return KP_OS_FT_SYMLINK;
    case S_IFCHR: return KP_OS_FT_CHAR;
    case S_IFBLK: return KP_OS_FT_BLOCK;
    case S_IFSOCK: return KP_OS_FT_SOCKET;
    case S_IFIFO: return KP_OS_FT_FIFO;
    default: return KP_OS_FT_UNKNOWN;
    }
}

static uint64_t ts_ns(struct timespec t) { return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec; }

static void from_stat(const struct stat *st, kpOs_stat *out) {
    *out = (kpOs_stat){ .dev = (uint64_t)st->st_dev,
                        .ino = (uint64_t)st->st_ino,
                        .nlink = (uint64_t)st->st_nlink,
                        .size = (uint64_t)st->st_size,
                        .atim = ts_ns(st->st_atim),
                        .mtim = ts_ns(st->st_mtim),
                        .ctim = ts_ns(st->st_ctim),
                        .type = mode_type(st->st_mode) };
}

/* ---- Opening --------------------------------------------------------------------------------- */

kpOs_err kpOs_openDir(const char *path, kpOs_fd *out) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return kpOsPosix_lastErr();
    *out = fd;
    return KP_OS_OK;
}

kpOs_err kpOs_memFile(const char *name, kpOs_fd *out) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) return kpOsPosix_lastErr();
    *out = fd;
    return KP_OS_OK;
}

kpOs_err kpOs_openAt(kpOs_fd dir, const char *name, unsigned flags, kpOs_fd *out) {
    int fd = openat(dir, name, host_flags(flags), 0666);
    if (fd < 0) return kpOsPosix_lastErr();
    *out = fd;
    return KP_OS_OK;
}

/* openat2(2) is called through syscall(): glibc 2.36 has no wrapper, and the constants are
 * spelled out since older kernel headers lack them. */
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#define KP_RESOLVE_NO_MAGICLINKS 0x02
#define KP_RESOLVE_BENEATH 0x08
struct kp_open_how {
    uint64_t flags, mode, resolve;
};

/* The kernel answers EAGAIN when a rename elsewhere raced the lookup; a few retries settle it. */
static int openat2_beneath(int dirfd, const char *path, int flags) {
    struct kp_open_how how = { .flags = (uint64_t)(unsigned)flags,
                               .mode = 0,
                               .resolve = KP_RESOLVE_BENEATH | KP_RESOLVE_NO_MAGICLINKS };
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
        how.mode = 0666; /* openat2 refuses a mode without them */
    for (int tries = 0;; tries++) {
        long r = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
        if (r >= 0 || errno != EAGAIN || tries >= 8) return (int)r;
    }
}

/* Whether openat2 works is decided once per process by pthread_once, which also publishes the
 * answer to every thread that reads it after its own pthread_once call: no thread ever sees a
 * half-made decision, and no two threads probe at once. The probe opens "." beneath the cwd;
 * ENOSYS (old kernel) or EPERM (a seccomp filter) says no. The environment variable is a test
 * seam, compiled only into KP_TESTING builds so that a release build reads no environment here. */
static pthread_once_t beneath_once = PTHREAD_ONCE_INIT;
static bool beneath_ok;

static void beneath_detect(void) {
#ifdef KP_TESTING
    const char *force = getenv("KAPSUL_WASI_NO_OPENAT2");
    if (force && *force) return;
#endif
    int fd = openat2_beneath(AT_FDCWD, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        beneath_ok = true;
    }
}

kpOs_err kpOs_openBeneath(kpOs_fd dir, const char *path, unsigned flags, kpOs_fd *out) {
    if (pthread_once(&beneath_once, beneath_detect) != 0 || !beneath_ok) return KP_OS_ENOSYS;
    int fd = openat2_beneath(dir, path, host_flags(flags));
    if (fd < 0) return errno == EXDEV ? KP_OS_ENOTCAPABLE : kpOsPosix_lastErr();
    *out = fd;
    return KP_OS_OK;
}

kpOs_err kpOs_dup(kpOs_fd fd, kpOs_fd *out) {
    int r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (r < 0) return kpOsPosix_lastErr();
    *out = r;
    return KP_OS_OK;
}

void kpOs_close(kpOs_fd fd) {
    if (fd >= 0) close(fd);
}

/* ---- stat and the *at() calls ---------------------------------------------------------------- */

kpOs_err kpOs_fstat(kpOs_fd fd, kpOs_stat *out) {
    struct stat st;
    if (fstat(fd, &st) != 0) return kpOsPosix_lastErr();
    from_stat(&st, out);
    return KP_OS_OK;
}

kpOs_err kpOs_lstatAt(kpOs_fd dir, const char *name, kpOs_stat *out) {
    struct stat st;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return kpOsPosix_lastErr();
    from_stat(&st, out);
    return KP_OS_OK;
}

kpOs_err kpOs_statPath(const char *path, kpOs_stat *out) {
    struct stat st;
    if (stat(path, &st) != 0) return kpOsPosix_lastErr();
    from_stat(&st, out);
    return KP_OS_OK;
}

kpOs_err kpOs_mkdirAt(kpOs_fd dir, const char *name) { return KP_ERR(mkdirat(dir, name, 0777)); }

kpOs_err kpOs_unlinkAt(kpOs_fd dir, const char *name, bool is_dir) {
    return KP_ERR(unlinkat(dir, name, is_dir ? AT_REMOVEDIR : 0));
}

kpOs_err kpOs_linkAt(kpOs_fd odir, const char *oname, kpOs_fd ndir, const char *nname) {
    return KP_ERR(linkat(odir, oname, ndir, nname, 0));
}

kpOs_err kpOs_renameAt(kpOs_fd odir, const char *oname, kpOs_fd ndir, const char *nname) {
    return KP_ERR(renameat(odir, oname, ndir, nname));
}

kpOs_err kpOs_symlinkAt(const char *target, kpOs_fd dir, const char *name) {
    return KP_ERR(symlinkat(target, dir, name));
}

kpOs_err kpOs_readlinkAt(kpOs_fd dir, const char *name, char *buf, size_t cap, size_t *len) {
    ssize_t n = readlinkat(dir, name, buf, cap);
    if (n < 0) return kpOsPosix_lastErr();
    *len = (size_t)n;
    return KP_OS_OK;
}

static void host_times(const kpOs_time t[2], struct timespec ts[2]) {
    for (int i = 0; i < 2; i++) {
        if (t[i].how == KP_OS_TIME_SET) {
            ts[i].tv_sec = (time_t)(t[i].ns / 1000000000u);
            ts[i].tv_nsec = (long)(t[i].ns % 1000000000u);
        } else {
            ts[i].tv_sec = 0;
            ts[i].tv_nsec = t[i].how == KP_OS_TIME_NOW ? UTIME_NOW : UTIME_OMIT;
        }
    }
}

kpOs_err kpOs_setTimes(kpOs_fd fd, const kpOs_time t[2]) {
    struct timespec ts[2];
    host_times(t, ts);
    return KP_ERR(futimens(fd, ts));
}

kpOs_err kpOs_setTimesAt(kpOs_fd dir, const char *name, const kpOs_time t[2]) {
    struct timespec ts[2];
    host_times(t, ts);
    return KP_ERR(utimensat(dir, name, ts, AT_SYMLINK_NOFOLLOW));
}

/* ---- I/O ------------------------------------------------------------------------------------- */

static kpOs_err io_result(ssize_t r, size_t *done) {
    if (r < 0) return kpOsPosix_lastErr();
    *done = (size_t)r;
    return KP_OS_OK;
}

kpOs_err kpOs_read(kpOs_fd fd, const kpOs_iov *iov, int n, size_t *done) {
    struct iovec v[KP_OS_MAX_IOV];
    int k = kpOsPosix_iovs(iov, n, v);
    return io_result(readv(fd, v, k), done);
}

kpOs_err kpOs_write(kpOs_fd fd, const kpOs_iov *iov, int n, size_t *done) {
    struct iovec v[KP_OS_MAX_IOV];
    int k = kpOsPosix_iovs(iov, n, v);
    return io_result(writev(fd, v, k), done);
}

kpOs_err kpOs_pread(kpOs_fd fd, const kpOs_iov *iov, int n, uint64_t offset, size_t *done) {
    struct iovec v[KP_OS_MAX_IOV];
    int k = kpOsPosix_iovs(iov, n, v);
    if (offset > INT64_MAX) return KP_OS_EINVAL;
    return io_result(preadv(fd, v, k, (off_t)offset), done);
}

/* Linux's pwrite appends on an O_APPEND fd; the contract is to write at the offset given, so
 * O_APPEND is lifted for the call. */
kpOs_err kpOs_pwrite(kpOs_fd fd, const kpOs_iov *iov, int n, uint64_t offset, size_t *done) {
    struct iovec v[KP_OS_MAX_IOV];
    int k = kpOsPosix_iovs(iov, n, v);
    if (offset > INT64_MAX) return KP_OS_EINVAL;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_APPEND)) fcntl(fd, F_SETFL, fl & ~O_APPEND);
    ssize_t r = pwritev(fd, v, k, (off_t)offset);
    int saved = errno;
    if (fl >= 0 && (fl & O_APPEND)) fcntl(fd, F_SETFL, fl);
    errno = saved;
    return io_result(r, done);
}

/* Block SIGPIPE for this thread around the write and swallow the one it raised, unless one was
 * already pending before (that one is not ours to take). */
kpOs_err kpOs_writeQuiet(kpOs_fd fd, const kpOs_iov *iov, int n, size_t *done) {
    struct iovec v[KP_OS_MAX_IOV];
    int k = kpOsPosix_iovs(iov, n, v);
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    bool was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t r = writev(fd, v, k);
    int saved = errno;
    if (r < 0 && saved == EPIPE && !was_pending) {
        struct timespec zero = { 0, 0 };
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return io_result(r, done);
}

bool kpOs_sigpipeIgnored(void) {
    struct sigaction sa;
    return sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

kpOs_err kpOs_seek(kpOs_fd fd, int64_t offset, int whence, uint64_t *pos) {
    static const int how[] = { SEEK_SET, SEEK_CUR, SEEK_END };
    if (whence < 0 || whence > 2) return KP_OS_EINVAL;
    off_t r = lseek(fd, (off_t)offset, how[whence]);
    if (r < 0) return kpOsPosix_lastErr();
    *pos = (uint64_t)r;
    return KP_OS_OK;
}

kpOs_err kpOs_sync(kpOs_fd fd, bool data_only) { return KP_ERR(data_only ? fdatasync(fd) : fsync(fd)); }

kpOs_err kpOs_truncate(kpOs_fd fd, uint64_t size) {
    if (size > INT64_MAX) return KP_OS_EINVAL;
    return KP_ERR(ftruncate(fd, (off_t)size));
}

/* posix_fallocate and posix_fadvise return the error instead of setting errno. */
kpOs_err kpOs_allocate(kpOs_fd fd, uint64_t offset, uint64_t len) {
    if (offset > INT64_MAX || len > INT64_MAX || offset + len > INT64_MAX) return KP_OS_EINVAL;
    return kpOsPosix_err(posix_fallocate(fd, (off_t)offset, (off_t)len));
}

kpOs_err kpOs_advise(kpOs_fd fd, uint64_t offset, uint64_t len, int advice) {
    static const int adv[] = { POSIX_FADV_NORMAL,   POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                               POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED,   POSIX_FADV_NOREUSE };
    if (advice < 0 || advice > 5 || offset > INT64_MAX || len > INT64_MAX) return KP_OS_EINVAL;
    return kpOsPosix_err(posix_fadvise(fd, (off_t)offset, (off_t)len, adv[advice]));
}

kpOs_err kpOs_getFlags(kpOs_fd fd, unsigned *flags) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return kpOsPosix_lastErr();
    *flags = 0;
    if (fl & O_APPEND) *flags |= KP_OS_O_APPEND;
    if (fl & O_NONBLOCK) *flags |= KP_OS_O_NONBLOCK;
    if ((fl & O_SYNC) == O_SYNC) *flags |= KP_OS_O_SYNC; /* O_SYNC includes O_DSYNC's bit */
    else if (fl & O_DSYNC) *flags |= KP_OS_O_DSYNC;
    return KP_OS_OK;
}

kpOs_err kpOs_setFlags(kpOs_fd fd, unsigned flags) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return kpOsPosix_lastErr();
    fl &= ~(O_APPEND | O_NONBLOCK);
    if (flags & KP_OS_O_APPEND) fl |= O_APPEND;
    if (flags & KP_OS_O_NONBLOCK) fl |= O_NONBLOCK;
    return KP_ERR(fcntl(fd, F_SETFL, fl));
}

/* ---- Directory streams --------------------------------------------------------------------------
 * A DIR on a fresh open of ".", so the handle's own offset is untouched. d_type is trusted when
 * the file system fills it in; otherwise the entry is stat'ed (without following it). */

struct kpOs_dir {
    DIR *d;
};

kpOs_err kpOs_dirOpen(kpOs_fd dir, kpOs_dir **out) {
    kpOs_dir *s = kp_malloc(sizeof *s);
    if (!s) return KP_OS_ENOMEM;
    int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        kp_free(s);
        return kpOsPosix_lastErr();
    }
    if (!(s->d = fdopendir(fd))) {
        kpOs_err e = kpOsPosix_lastErr();
        close(fd);
        kp_free(s);
        return e;
    }
    *out = s;
    return KP_OS_OK;
}

static kpOs_ftype dirent_type(DIR *d, const struct dirent *de) {
    struct stat st;
    switch (de->d_type) {
    case DT_DIR: return KP_OS_FT_DIR;
    case DT_REG: return KP_OS_FT_FILE;
    case DT_LNK: return KP_OS_FT_SYMLINK;
    case DT_CHR: return KP_OS_FT_CHAR;
    case DT_BLK: return KP_OS_FT_BLOCK;
    case DT_SOCK: return KP_OS_FT_SOCKET;
    case DT_FIFO: return KP_OS_FT_FIFO;
    default:
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) return mode_type(st.st_mode);
        return KP_OS_FT_UNKNOWN;
    }
}

kpOs_err kpOs_dirRead(kpOs_dir *s, kpOs_dirent *out, bool *end) {
    errno = 0;
    struct dirent *de = readdir(s->d);
    *end = de == NULL;
    if (!de) return kpOsPosix_err(errno);
    *out = (kpOs_dirent){ .name = de->d_name, .ino = (uint64_t)de->d_ino, .type = dirent_type(s->d, de) };
    return KP_OS_OK;
}

uint64_t kpOs_dirTell(kpOs_dir *s) { return (uint64_t)telldir(s->d); }
void kpOs_dirSeek(kpOs_dir *s, uint64_t pos) { seekdir(s->d, (long)pos); }
void kpOs_dirRewind(kpOs_dir *s) { rewinddir(s->d); }

void kpOs_dirClose(kpOs_dir *s) {
    if (!s) return;
    closedir(s->d);
    kp_free(s);
}

/* ---- Copying a user's file (os.h) ---- */

kpOs_err kpOs_copyPath(const char *from, const char *to) {
    char dir[KP_OS_PATH_MAX];
    const char *slash = strrchr(to, '/');
    if (slash && slash != to) {
        if ((size_t)(slash - to) >= sizeof dir) return KP_OS_ENAMETOOLONG;
        memcpy(dir, to, (size_t)(slash - to));
        dir[slash - to] = 0;
        kpOs_err e = kpOs_mkdirs(dir);
        if (e != KP_OS_OK) return e;
    }
    kpOs_err e = KP_OS_OK;
    int in = open(from, O_RDONLY | O_CLOEXEC | O_NOCTTY), out = -1;
    if (in < 0) return kpOsPosix_lastErr();
    if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444)) < 0) e = kpOsPosix_lastErr();
    char buf[65536];
    while (e == KP_OS_OK) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) e = kpOsPosix_lastErr();
        if (n <= 0) break;
        for (ssize_t done = 0; e == KP_OS_OK && done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) e = w < 0 ? kpOsPosix_lastErr() : KP_OS_EIO;
            else done += w;
        }
    }
    close(in);
    if (out >= 0) close(out);
    return e;
}
