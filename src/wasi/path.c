/*
 * path.c -- resolving guest paths beneath a directory fd, never above it.
 *
 * Two strategies with one contract (see wasi.h):
 *   - openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS (Linux 5.6+): the kernel walks the
 *     path and fails with EXDEV the moment ".." or a symlink (absolute, relative, chained) would
 *     leave the directory. Race-free against concurrent renames.
 *   - a component-by-component walk otherwise: each component is opened with O_PATH|O_NOFOLLOW
 *     relative to the previous one, symlinks are expanded by hand (at most KP_MAX_SYMLINKS), ".."
 *     pops our own stack of directory fds and fails at the root. The kernel never sees more than
 *     one component, so it never resolves anything we did not check.
 * Escapes become ENOTCAPABLE, too many symlinks ELOOP.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wasi/wasi.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#define KP_RESOLVE_NO_MAGICLINKS 0x02
#define KP_RESOLVE_BENEATH 0x08
#define KP_MAX_SYMLINKS 40
#define KP_MAX_DEPTH 256

struct kp_open_how { uint64_t flags, mode, resolve; };

/* -1 unknown, 0 no openat2, 1 openat2 works. Tests may force the walk with KAPSUL_WASI_NO_OPENAT2. */
static int kp_have_openat2 = -1;

uint16_t kpWasiPath_read(kpWasiCall *c, uint32_t ptr, uint32_t len, char *buf) {
    const uint8_t *p = kpWasi_mem(c, ptr, len);
    if (!p)
        return KP_WE_FAULT;
    if (len >= PATH_MAX)
        return KP_WE_NAMETOOLONG;
    if (memchr(p, 0, len))
        return KP_WE_INVAL;
    if (!kp_utf8_valid(p, len))
        return KP_WE_ILSEQ;
    memcpy(buf, p, len);
    buf[len] = 0;
    return KP_WE_SUCCESS;
}

static int openat2_beneath(int dirfd, const char *path, int flags, mode_t mode) {
    struct kp_open_how how = { .flags = (uint64_t)(unsigned)(flags | O_CLOEXEC), .mode = mode,
                               .resolve = KP_RESOLVE_BENEATH | KP_RESOLVE_NO_MAGICLINKS };
    if (!(flags & O_CREAT) && (flags & O_TMPFILE) != O_TMPFILE)
        how.mode = 0;
    for (int tries = 0;; tries++) {
        long r = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
        if (r >= 0 || errno != EAGAIN || tries >= 8)
            return (int)r;
    }
}

static bool use_openat2(void) {
    if (kp_have_openat2 < 0) {
        const char *force = getenv("KAPSUL_WASI_NO_OPENAT2");
        kp_have_openat2 = 0;
        if (!(force && *force)) {
            int fd = openat2_beneath(AT_FDCWD, ".", O_PATH | O_DIRECTORY, 0);
            if (fd >= 0) {
                close(fd);
                kp_have_openat2 = 1;
            }
        }
    }
    return kp_have_openat2 == 1;
}

static uint16_t resolve_errno(int e) {
    return e == EXDEV ? KP_WE_NOTCAPABLE : kpWasi_errno(e);
}

/* ---- The portable walk ------------------------------------------------------------------------ */

typedef struct kpWalk {
    int fds[KP_MAX_DEPTH];   /* fds[0] is the root (not owned); the rest are O_PATH dirs */
    int depth;
} kpWalk;

static void walk_release(kpWalk *wk, int keep) {
    for (int i = 1; i <= wk->depth; i++)
        if (wk->fds[i] != keep)
            close(wk->fds[i]);
}

/* Replace the first `used` bytes of rest with the target of the symlink (top, comp). */
static uint16_t walk_expand(kpWalk *wk, const char *comp, char *rest, size_t used, int *nlinks) {
    char target[PATH_MAX];
    if (++*nlinks > KP_MAX_SYMLINKS)
        return KP_WE_LOOP;
    ssize_t n = readlinkat(wk->fds[wk->depth], comp, target, sizeof target - 1);
    if (n < 0)
        return kpWasi_errno(errno);
    if (n == 0)
        return KP_WE_NOENT;
    if (target[0] == '/')
        return KP_WE_NOTCAPABLE;
    size_t tail = strlen(rest + used);
    if ((size_t)n + 1 + tail + 1 > PATH_MAX)
        return KP_WE_NAMETOOLONG;
    memmove(rest + n + 1, rest + used, tail + 1);
    memcpy(rest, target, (size_t)n);
    rest[n] = '/';
    if (tail == 0)
        rest[n] = 0;    /* a final symlink: no trailing slash added */
    return KP_WE_SUCCESS;
}

/* Walk path beneath root; stop at the last component, following it too when follow is set.
 * On success *parent is a new fd (dup of root when needed) and name the last component. */
static uint16_t walk(int root, const char *path, bool follow, int *parent, char *name) {
    kpWalk wk = { .depth = 0 };
    char rest[PATH_MAX];
    int nlinks = 0;
    uint16_t e = KP_WE_SUCCESS;
    wk.fds[0] = root;
    if (path[0] == '/')
        return KP_WE_NOTCAPABLE;
    strcpy(rest, path);
    for (;;) {
        size_t clen = strcspn(rest, "/"), end = clen;
        while (rest[end] == '/')
            end++;
        bool last = rest[end] == 0;
        char comp[NAME_MAX + 1];
        if (clen > NAME_MAX) {
            e = KP_WE_NAMETOOLONG;
            goto fail;
        }
        memcpy(comp, rest, clen);
        comp[clen] = 0;
        int top = wk.fds[wk.depth];
        if (clen == 0 || strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
            if (clen == 2) {
                if (wk.depth == 0) {
                    e = KP_WE_NOTCAPABLE;
                    goto fail;
                }
                close(wk.fds[wk.depth--]);
            }
            if (last) {
                strcpy(name, ".");
                break;
            }
            memmove(rest, rest + end, strlen(rest + end) + 1);
            continue;
        }
        struct stat st;
        int lr = fstatat(top, comp, &st, AT_SYMLINK_NOFOLLOW);
        bool is_link = lr == 0 && S_ISLNK(st.st_mode);
        /* A trailing slash makes even a no-follow lookup resolve a final symlink (POSIX), so
         * the walk must expand it itself rather than let the kernel do it unchecked. */
        bool follow_here = follow || end > clen;
        if (last && (!follow_here || !is_link)) {
            memcpy(name, rest, strlen(rest) + 1);   /* keep trailing slashes for the kernel */
            break;
        }
        if (lr != 0) {
            e = kpWasi_errno(errno);
            goto fail;
        }
        if (is_link) {
            if ((e = walk_expand(&wk, comp, rest, end, &nlinks)) != KP_WE_SUCCESS)
                goto fail;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            e = KP_WE_NOTDIR;
            goto fail;
        }
        if (wk.depth + 1 >= KP_MAX_DEPTH) {
            e = KP_WE_NAMETOOLONG;
            goto fail;
        }
        int fd = openat(top, comp, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            e = kpWasi_errno(errno);
            goto fail;
        }
        wk.fds[++wk.depth] = fd;
        memmove(rest, rest + end, strlen(rest + end) + 1);
    }
    if (wk.depth == 0) {
        *parent = fcntl(root, F_DUPFD_CLOEXEC, 0);
        if (*parent < 0)
            return kpWasi_errno(errno);
    } else {
        *parent = wk.fds[wk.depth];
    }
    walk_release(&wk, *parent);
    return KP_WE_SUCCESS;
fail:
    walk_release(&wk, -1);
    return e;
}

/* ---- The contract --------------------------------------------------------------------------- */

uint16_t kpWasiPath_parent(int dirfd, const char *path, int *parent, char *name) {
    if (path[0] == 0)
        return KP_WE_NOENT;
    if (path[0] == '/')
        return KP_WE_NOTCAPABLE;
    if (!use_openat2())
        return walk(dirfd, path, false, parent, name);
    size_t len = strlen(path), end = len;
    while (end > 0 && path[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    char dir[PATH_MAX];
    bool dotty = (end - start == 1 && path[start] == '.') ||
                 (end - start == 2 && path[start] == '.' && path[start + 1] == '.');
    if (dotty) {
        /* "a/.." or ".": the path names a directory; resolve all of it (beneath) and act on ".". */
        memcpy(dir, path, len + 1);
        strcpy(name, ".");
    } else {
        memcpy(dir, path, start);
        dir[start] = 0;
        if (start == 0)
            strcpy(dir, ".");
        memcpy(name, path + start, len - start + 1);
    }
    int fd = openat2_beneath(dirfd, dir, O_PATH | O_DIRECTORY, 0);
    if (fd < 0)
        return resolve_errno(errno);
    *parent = fd;
    return KP_WE_SUCCESS;
}

uint16_t kpWasiPath_parentFollow(int dirfd, const char *path, int *parent, char *name) {
    if (path[0] == 0)
        return KP_WE_NOENT;
    uint16_t e = walk(dirfd, path, true, parent, name);
    if (e)
        return e;
    size_t n = strlen(name);
    while (n > 1 && name[n - 1] == '/')
        name[--n] = 0;
    return KP_WE_SUCCESS;
}

uint16_t kpWasiPath_open(int dirfd, const char *path, int flags, mode_t mode, bool follow, int *out) {
    if (path[0] == 0)
        return KP_WE_NOENT;
    if (path[0] == '/')
        return KP_WE_NOTCAPABLE;
    if (!follow)
        flags |= O_NOFOLLOW;
    if (use_openat2()) {
        int fd = openat2_beneath(dirfd, path, flags, mode);
        if (fd < 0)
            return resolve_errno(errno);
        *out = fd;
        return KP_WE_SUCCESS;
    }
    int parent;
    char name[PATH_MAX];
    uint16_t e = walk(dirfd, path, follow, &parent, name);
    if (e != KP_WE_SUCCESS)
        return e;
    /* The walk checked that the last component is not a symlink; O_NOFOLLOW keeps it so even if
     * the entry is swapped meanwhile. A trailing slash would make the kernel follow regardless,
     * so it is dropped and expressed as O_DIRECTORY instead. */
    size_t nlen = strlen(name);
    while (nlen > 1 && name[nlen - 1] == '/') {
        name[--nlen] = 0;
        flags |= O_DIRECTORY;
    }
    int fd = openat(parent, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    int saved = errno;
    close(parent);
    if (fd < 0)
        return kpWasi_errno(saved);
    *out = fd;
    return KP_WE_SUCCESS;
}
