/*
 * path.c -- resolving guest paths beneath a directory fd, never above it.
 *
 * Two strategies with one contract (see wasi.h):
 *   - kpOs_openBeneath (os.h): the kernel walks the path and refuses the moment ".." or a
 *     symlink (absolute, relative, chained) would leave the directory (Linux 5.6+ openat2 with
 *     RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS). Race-free against concurrent renames.
 *   - a component-by-component walk where the host cannot (kpOs_openBeneath says KP_OS_ENOSYS):
 *     each component is opened with KP_OS_O_PATH | KP_OS_O_NOFOLLOW relative to the previous one,
 *     symlinks are expanded by hand (at most KP_MAX_SYMLINKS), ".." pops our own stack of
 *     directory fds and fails at the root. The kernel never sees more than one component, so it
 *     never resolves anything we did not check.
 * Escapes become ENOTCAPABLE, too many symlinks ELOOP.
 */
#include "wasi/wasi.h"

uint16_t kpWasiPath_read(kpWasiCall *c, uint32_t ptr, uint32_t len, char *buf) {
    const uint8_t *p = kpWasi_mem(c, ptr, len);
    if (!p) return KP_WE_FAULT;
    if (len >= KP_OS_PATH_MAX) return KP_WE_NAMETOOLONG;
    if (memchr(p, 0, len)) return KP_WE_INVAL;
    if (!kp_utf8_valid(p, len)) return KP_WE_ILSEQ;
    memcpy(buf, p, len);
    buf[len] = 0;
    return KP_WE_SUCCESS;
}

/* ---- The portable walk ----------------------------------------------------------------------- */

typedef struct kpWalk {
    kpOs_fd fds[KP_MAX_DEPTH]; /* fds[0] is the root (not owned); the rest KP_OS_O_PATH dirs */
    int depth;
} kpWalk;

static void walk_release(kpWalk *wk, kpOs_fd keep) {
    for (int i = 1; i <= wk->depth; i++)
        if (wk->fds[i] != keep) kpOs_close(wk->fds[i]);
}

/* Replace the first `used` bytes of rest with the target of the symlink (top, comp). */
static uint16_t walk_expand(kpWalk *wk, const char *comp, char *rest, size_t used, int *nlinks) {
    char target[KP_OS_PATH_MAX];
    size_t n;
    if (++*nlinks > KP_MAX_SYMLINKS) return KP_WE_LOOP;
    kpOs_err oe = kpOs_readlinkAt(wk->fds[wk->depth], comp, target, sizeof target - 1, &n);
    if (oe != KP_OS_OK) return kpWasi_errno(oe);
    if (n == 0) return KP_WE_NOENT;
    if (target[0] == '/') return KP_WE_NOTCAPABLE;
    size_t tail = strlen(rest + used);
    if (n + 1 + tail + 1 > KP_OS_PATH_MAX) return KP_WE_NAMETOOLONG;
    memmove(rest + n + 1, rest + used, tail + 1);
    memcpy(rest, target, n);
    rest[n] = '/';
    if (tail == 0) rest[n] = 0; /* a final symlink: no trailing slash added */
    return KP_WE_SUCCESS;
}

/* Walk path beneath root; stop at the last component, following it too when follow is set.
 * On success *parent is a new fd (dup of root when needed) and name the last component. */
static uint16_t walk(kpOs_fd root, const char *path, bool follow, kpOs_fd *parent, char *name) {
    kpWalk wk = { .depth = 0 };
    char rest[KP_OS_PATH_MAX];
    int nlinks = 0;
    uint16_t e = KP_WE_SUCCESS;
    wk.fds[0] = root;
    if (path[0] == '/') return KP_WE_NOTCAPABLE;
    strcpy(rest, path);
    for (;;) {
        size_t clen = strcspn(rest, "/"), end = clen;
        while (rest[end] == '/') end++;
        bool last = rest[end] == 0;
        char comp[KP_OS_NAME_MAX + 1];
        if (clen > KP_OS_NAME_MAX) {
            e = KP_WE_NAMETOOLONG;
            goto fail;
        }
        memcpy(comp, rest, clen);
        comp[clen] = 0;
        kpOs_fd top = wk.fds[wk.depth];
        if (clen == 0 || strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
            if (clen == 2) {
                if (wk.depth == 0) {
                    e = KP_WE_NOTCAPABLE;
                    goto fail;
                }
                kpOs_close(wk.fds[wk.depth--]);
            }
            if (last) {
                strcpy(name, ".");
                break;
            }
            memmove(rest, rest + end, strlen(rest + end) + 1);
            continue;
        }
        kpOs_stat st;
        kpOs_err lr = kpOs_lstatAt(top, comp, &st);
        bool is_link = lr == KP_OS_OK && st.type == KP_OS_FT_SYMLINK;
        /* A trailing slash makes even a no-follow lookup resolve a final symlink (POSIX), so
         * the walk must expand it itself rather than let the kernel do it unchecked. */
        bool follow_here = follow || end > clen;
        if (last && (!follow_here || !is_link)) {
            memcpy(name, rest, strlen(rest) + 1); /* keep trailing slashes for the kernel */
            break;
        }
        if (lr != KP_OS_OK) {
            e = kpWasi_errno(lr);
            goto fail;
        }
        if (is_link) {
            if ((e = walk_expand(&wk, comp, rest, end, &nlinks)) != KP_WE_SUCCESS) goto fail;
            continue;
        }
        if (st.type != KP_OS_FT_DIR) {
            e = KP_WE_NOTDIR;
            goto fail;
        }
        if (wk.depth + 1 >= KP_MAX_DEPTH) {
            e = KP_WE_NAMETOOLONG;
            goto fail;
        }
        kpOs_fd fd;
        kpOs_err oe = kpOs_openAt(top, comp, KP_OS_O_PATH | KP_OS_O_NOFOLLOW | KP_OS_O_DIRECTORY, &fd);
        if (oe != KP_OS_OK) {
            e = kpWasi_errno(oe);
            goto fail;
        }
        wk.fds[++wk.depth] = fd;
        memmove(rest, rest + end, strlen(rest + end) + 1);
    }
    if (wk.depth == 0) {
        kpOs_err oe = kpOs_dup(root, parent);
        if (oe != KP_OS_OK) return kpWasi_errno(oe);
    } else {
        *parent = wk.fds[wk.depth];
    }
    walk_release(&wk, *parent);
    return KP_WE_SUCCESS;
fail:
    walk_release(&wk, KP_OS_NO_FD);
    return e;
}

/* ---- The contract --------------------------------------------------------------------------- */

uint16_t kpWasiPath_parent(kpOs_fd dirfd, const char *path, kpOs_fd *parent, char *name) {
    if (path[0] == 0) return KP_WE_NOENT;
    if (path[0] == '/') return KP_WE_NOTCAPABLE;
    size_t len = strlen(path), end = len;
    while (end > 0 && path[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/') start--;
    char dir[KP_OS_PATH_MAX], last[KP_OS_PATH_MAX];
    bool dotty = (end - start == 1 && path[start] == '.') ||
                 (end - start == 2 && path[start] == '.' && path[start + 1] == '.');
    if (dotty) {
        /* "a/.." or ".": the path names a directory; resolve all of it (beneath) and act on ".". */
        memcpy(dir, path, len + 1);
        strcpy(last, ".");
    } else {
        memcpy(dir, path, start);
        dir[start] = 0;
        if (start == 0) strcpy(dir, ".");
        memcpy(last, path + start, len - start + 1);
    }
    kpOs_err oe = kpOs_openBeneath(dirfd, dir, KP_OS_O_PATH | KP_OS_O_DIRECTORY, parent);
    if (oe == KP_OS_ENOSYS) return walk(dirfd, path, false, parent, name);
    if (oe != KP_OS_OK) return kpWasi_errno(oe);
    strcpy(name, last);
    return KP_WE_SUCCESS;
}

uint16_t kpWasiPath_parentFollow(kpOs_fd dirfd, const char *path, kpOs_fd *parent, char *name) {
    if (path[0] == 0) return KP_WE_NOENT;
    uint16_t e = walk(dirfd, path, true, parent, name);
    if (e) return e;
    size_t n = strlen(name);
    while (n > 1 && name[n - 1] == '/') name[--n] = 0;
    return KP_WE_SUCCESS;
}

uint16_t kpWasiPath_open(kpOs_fd dirfd, const char *path, unsigned flags, bool follow, kpOs_fd *out) {
    if (path[0] == 0) return KP_WE_NOENT;
    if (path[0] == '/') return KP_WE_NOTCAPABLE;
    if (!follow) flags |= KP_OS_O_NOFOLLOW;
    kpOs_err oe = kpOs_openBeneath(dirfd, path, flags, out);
    if (oe != KP_OS_ENOSYS) return kpWasi_errno(oe);
    kpOs_fd parent;
    char name[KP_OS_PATH_MAX];
    uint16_t e = walk(dirfd, path, follow, &parent, name);
    if (e != KP_WE_SUCCESS) return e;
    /* The walk checked that the last component is not a symlink; KP_OS_O_NOFOLLOW keeps it so
     * even if the entry is swapped meanwhile. A trailing slash would make the kernel follow
     * regardless, so it is dropped and expressed as KP_OS_O_DIRECTORY instead. */
    size_t nlen = strlen(name);
    while (nlen > 1 && name[nlen - 1] == '/') {
        name[--nlen] = 0;
        flags |= KP_OS_O_DIRECTORY;
    }
    oe = kpOs_openAt(parent, name, flags | KP_OS_O_NOFOLLOW, out);
    kpOs_close(parent);
    return kpWasi_errno(oe);
}
