/*
 * pathops.c -- the path_* calls. Each takes a directory fd (rights checked) and a guest path,
 * which path.c resolves beneath that directory; the operation itself then runs on (parent fd,
 * last component) with the *at() calls, so the kernel never looks a path up from anywhere else.
 */
#include "wasi/wasi.h"

/* The directory fd named by argument `fd_arg`, holding `need`. */
static uint16_t get_dir(kpWasiCall *c, int fd_arg, uint64_t need, kpWasiFd **out) {
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, fd_arg), need, out);
    if (e) return e;
    return (*out)->filetype == KP_FT_DIR ? KP_WE_SUCCESS : KP_WE_NOTDIR;
}

/* Directory fd + path arguments (ptr, len at path_arg) -> parent fd and last component. */
static uint16_t parent_of(kpWasiCall *c, int fd_arg, uint64_t need, int path_arg, kpOs_fd *parent,
                          char *name) {
    kpWasiFd *f;
    char path[KP_OS_PATH_MAX];
    uint16_t e = get_dir(c, fd_arg, need, &f);
    if (e || (e = kpWasiPath_read(c, kpWasi_u32(c, path_arg), kpWasi_u32(c, path_arg + 1), path))) return e;
    return kpWasiPath_parent(f->host, path, parent, name);
}

/* Directory fd + path -> a KP_OS_O_PATH handle on the object itself (following a final symlink
 * only when asked or when the path ends in '/', as POSIX does). */
static uint16_t object_of(kpWasiCall *c, int fd_arg, uint64_t need, int flags_arg, int path_arg,
                          kpOs_fd *out) {
    kpWasiFd *f;
    char path[KP_OS_PATH_MAX];
    uint16_t e = get_dir(c, fd_arg, need, &f);
    if (e || (e = kpWasiPath_read(c, kpWasi_u32(c, path_arg), kpWasi_u32(c, path_arg + 1), path))) return e;
    size_t len = strlen(path);
    bool follow = (kpWasi_u32(c, flags_arg) & KP_LOOKUP_FOLLOW) || (len && path[len - 1] == '/');
    return kpWasiPath_open(f->host, path, KP_OS_O_PATH, follow, out);
}

uint16_t kpWasi_pathCreateDirectory(kpWasiCall *c) {
    kpOs_fd parent;
    char name[KP_OS_PATH_MAX];
    uint16_t e = parent_of(c, 0, KP_R_PATH_CREATE_DIRECTORY, 1, &parent, name);
    if (e) return e;
    e = kpWasi_errno(kpOs_mkdirAt(parent, name));
    kpOs_close(parent);
    return e;
}

uint16_t kpWasi_pathRemoveDirectory(kpWasiCall *c) {
    kpOs_fd parent;
    char name[KP_OS_PATH_MAX];
    uint16_t e = parent_of(c, 0, KP_R_PATH_REMOVE_DIRECTORY, 1, &parent, name);
    if (e) return e;
    e = kpWasi_errno(kpOs_unlinkAt(parent, name, true));
    kpOs_close(parent);
    return e;
}

uint16_t kpWasi_pathUnlinkFile(kpWasiCall *c) {
    kpOs_fd parent;
    char name[KP_OS_PATH_MAX];
    uint16_t e = parent_of(c, 0, KP_R_PATH_UNLINK_FILE, 1, &parent, name);
    if (e) return e;
    e = kpWasi_errno(kpOs_unlinkAt(parent, name, false));
    kpOs_close(parent);
    return e;
}

uint16_t kpWasi_pathFilestatGet(kpWasiCall *c) {
    kpOs_fd fd;
    kpOs_stat st;
    uint16_t e = object_of(c, 0, KP_R_PATH_FILESTAT_GET, 1, 2, &fd);
    if (e) return e;
    kpOs_err oe = kpOs_fstat(fd, &st);
    kpOs_close(fd);
    if (oe != KP_OS_OK) return kpWasi_errno(oe);
    return kpWasi_putFilestat(c, kpWasi_u32(c, 4), &st);
}

/* kpOs_setTimesAt(parent, name) on the entry itself; following, (parent, name) is first taken
 * to the object the symlinks lead to, resolved beneath the preopen by the walk. */
uint16_t kpWasi_pathFilestatSetTimes(kpWasiCall *c) {
    kpOs_time ts[2];
    kpOs_fd fd;
    char path[KP_OS_PATH_MAX], name[KP_OS_PATH_MAX];
    kpWasiFd *dir;
    uint16_t e = kpWasi_times(kpWasi_u64(c, 4), kpWasi_u64(c, 5), kpWasi_u32(c, 6), ts);
    if (e || (e = get_dir(c, 0, KP_R_PATH_FILESTAT_SET_TIMES, &dir)) ||
        (e = kpWasiPath_read(c, kpWasi_u32(c, 2), kpWasi_u32(c, 3), path)))
        return e;
    size_t len = strlen(path);
    bool follow = (kpWasi_u32(c, 1) & KP_LOOKUP_FOLLOW) || (len && path[len - 1] == '/');
    if (path[0] == '/') return KP_WE_NOTCAPABLE;
    e = follow ? kpWasiPath_parentFollow(dir->host, path, &fd, name)
               : kpWasiPath_parent(dir->host, path, &fd, name);
    if (e) return e;
    e = kpWasi_errno(kpOs_setTimesAt(fd, name, ts));
    kpOs_close(fd);
    return e;
}

/* path_link(old_fd, old_flags, old_path, old_len, new_fd, new_path, new_len). */
uint16_t kpWasi_pathLink(kpWasiCall *c) {
    kpOs_fd np = KP_OS_NO_FD, op = KP_OS_NO_FD;
    char name[KP_OS_PATH_MAX], oname[KP_OS_PATH_MAX];
    bool follow = kpWasi_u32(c, 1) & KP_LOOKUP_FOLLOW;
    uint16_t e;
    kpWasiFd *src_dir;
    if ((e = get_dir(c, 0, KP_R_PATH_LINK_SOURCE, &src_dir)) ||
        (e = parent_of(c, 4, KP_R_PATH_LINK_TARGET, 5, &np, name)))
        goto fail;
    if (follow) {
        /* Link to what the symlinks lead to: resolve it beneath the preopen first. The table
         * cannot have moved since get_dir (nothing was added), so src_dir is still valid. */
        char path[KP_OS_PATH_MAX];
        if ((e = kpWasiPath_read(c, kpWasi_u32(c, 2), kpWasi_u32(c, 3), path))) goto fail;
        if (path[0] == '/') {
            e = KP_WE_NOTCAPABLE;
            goto fail;
        }
        if ((e = kpWasiPath_parentFollow(src_dir->host, path, &op, oname))) goto fail;
    } else if ((e = parent_of(c, 0, KP_R_PATH_LINK_SOURCE, 2, &op, oname))) {
        goto fail;
    }
    e = kpWasi_errno(kpOs_linkAt(op, oname, np, name));
fail:
    kpOs_close(np);
    kpOs_close(op);
    return e;
}

/* path_rename(fd, old_path, old_len, new_fd, new_path, new_len). */
uint16_t kpWasi_pathRename(kpWasiCall *c) {
    kpOs_fd op = KP_OS_NO_FD, np = KP_OS_NO_FD;
    char oname[KP_OS_PATH_MAX], nname[KP_OS_PATH_MAX];
    uint16_t e;
    if ((e = parent_of(c, 0, KP_R_PATH_RENAME_SOURCE, 1, &op, oname)) ||
        (e = parent_of(c, 3, KP_R_PATH_RENAME_TARGET, 4, &np, nname)))
        goto fail;
    e = kpWasi_errno(kpOs_renameAt(op, oname, np, nname));
fail:
    kpOs_close(op);
    kpOs_close(np);
    return e;
}

/* path_symlink(old_path, old_len, fd, new_path, new_len). The link's text is not resolved now,
 * and every later lookup through it is confined by path.c; an absolute target could only ever
 * point out of the sandbox, so it is refused outright. */
uint16_t kpWasi_pathSymlink(kpWasiCall *c) {
    kpOs_fd parent;
    char target[KP_OS_PATH_MAX], name[KP_OS_PATH_MAX];
    uint16_t e = kpWasiPath_read(c, kpWasi_u32(c, 0), kpWasi_u32(c, 1), target);
    if (e) return e;
    if ((e = parent_of(c, 2, KP_R_PATH_SYMLINK, 3, &parent, name))) return e;
    if (target[0] == '/') e = KP_WE_NOTCAPABLE;
    else e = kpWasi_errno(kpOs_symlinkAt(target, parent, name));
    kpOs_close(parent);
    return e;
}

/* path_readlink(fd, path, path_len, buf, buf_len, bufused): the text is cut to buf_len. */
uint16_t kpWasi_pathReadlink(kpWasiCall *c) {
    kpOs_fd parent;
    char name[KP_OS_PATH_MAX], text[KP_OS_PATH_MAX];
    uint32_t blen = kpWasi_u32(c, 4);
    uint8_t *buf = kpWasi_mem(c, kpWasi_u32(c, 3), blen);
    if (!buf || !kpWasi_mem(c, kpWasi_u32(c, 5), 4)) return KP_WE_FAULT;
    uint16_t e = parent_of(c, 0, KP_R_PATH_READLINK, 1, &parent, name);
    if (e) return e;
    size_t nl = strlen(name);
    if (nl > 1 && name[nl - 1] == '/') {
        /* "link/" would make the kernel follow the link unchecked; a path ending in '/' names
         * a directory, which is never a symlink. */
        kpOs_close(parent);
        return KP_WE_NOTDIR;
    }
    size_t n;
    kpOs_err oe = kpOs_readlinkAt(parent, name, text, sizeof text, &n);
    kpOs_close(parent);
    if (oe != KP_OS_OK) return kpWasi_errno(oe);
    uint32_t k = (uint64_t)n < blen ? (uint32_t)n : blen;
    memcpy(buf, text, k);
    kpWasi_put32(c, kpWasi_u32(c, 5), k);
    return KP_WE_SUCCESS;
}

/* ---- path_open ------------------------------------------------------------------------------- */

/* The OS open flags a WASI open asks for. Access follows the rights: read rights -> read,
 * write-like rights -> write; a directory is always opened read-only. */
static unsigned open_flags(uint32_t oflags, uint64_t base, uint32_t fdflags) {
    bool rd = base & (KP_R_FD_READ | KP_R_FD_READDIR);
    bool wr = base & (KP_R_FD_WRITE | KP_R_FD_ALLOCATE | KP_R_FD_FILESTAT_SET_SIZE);
    unsigned fl = 0;
    if (oflags & KP_OF_DIRECTORY) wr = false;
    if (wr) fl |= KP_OS_O_WRITE | (rd ? KP_OS_O_READ : 0);
    if (oflags & KP_OF_CREAT) fl |= KP_OS_O_CREAT;
    if (oflags & KP_OF_EXCL) fl |= KP_OS_O_EXCL;
    if (oflags & KP_OF_TRUNC) fl |= KP_OS_O_TRUNC;
    if (oflags & KP_OF_DIRECTORY) fl |= KP_OS_O_DIRECTORY;
    if (fdflags & KP_FDF_APPEND) fl |= KP_OS_O_APPEND;
    if (fdflags & KP_FDF_NONBLOCK) fl |= KP_OS_O_NONBLOCK;
    if (fdflags & KP_FDF_DSYNC) fl |= KP_OS_O_DSYNC;
    if (fdflags & KP_FDF_SYNC) fl |= KP_OS_O_SYNC;
    if (fdflags & KP_FDF_RSYNC) fl |= KP_OS_O_RSYNC;
    return fl;
}

/* path_open(fd, dirflags, path, path_len, oflags, rights_base, rights_inh, fdflags, fd_out).
 * The new fd's rights are those asked for, cut to what the directory may hand down; beneath a
 * read-only preopen, asking to write, create or truncate is ENOTCAPABLE. */
uint16_t kpWasi_pathOpen(kpWasiCall *c) {
    kpWasiFd *dir;
    char path[KP_OS_PATH_MAX];
    uint32_t oflags = kpWasi_u32(c, 4), fdflags = kpWasi_u32(c, 7), out_ptr = kpWasi_u32(c, 8);
    uint64_t base = kpWasi_u64(c, 5), inh = kpWasi_u64(c, 6);
    uint64_t need = KP_R_PATH_OPEN;
    if (oflags & KP_OF_CREAT) need |= KP_R_PATH_CREATE_FILE;
    if (oflags & KP_OF_TRUNC) need |= KP_R_PATH_FILESTAT_SET_SIZE;
    uint16_t e = get_dir(c, 0, need, &dir);
    if (e || (e = kpWasiPath_read(c, kpWasi_u32(c, 2), kpWasi_u32(c, 3), path))) return e;
    if (!kpWasi_mem(c, out_ptr, 4)) return KP_WE_FAULT;
    if (oflags & ~15u) return KP_WE_INVAL;
    /* Beneath a read-only preopen, asking for write access is refused outright (other mutating
     * rights, which toolchains ask for by habit, are only cut below). */
    if (dir->read_only && ((base & (KP_R_FD_WRITE | KP_R_FD_ALLOCATE | KP_R_FD_FILESTAT_SET_SIZE)) ||
                           (fdflags & KP_FDF_APPEND)))
        return KP_WE_NOTCAPABLE;
    base &= dir->inh;
    inh &= dir->inh;
    /* Writing a directory is never possible; say so instead of opening it read-only. */
    if ((oflags & KP_OF_DIRECTORY) && (base & KP_R_FD_WRITE)) return KP_WE_ISDIR;
    bool read_only = dir->read_only;
    kpOs_fd fd;
    e = kpWasiPath_open(dir->host, path, open_flags(oflags, base, fdflags),
                        kpWasi_u32(c, 1) & KP_LOOKUP_FOLLOW, &fd);
    if (e) return e;
    uint8_t ft = kpWasiFd_typeOf(fd);
    if (ft == KP_FT_DIR) base &= KP_R_DIR;
    else base &= KP_R_FILE;
    uint32_t slot;
    /* dir may move when the table grows: nothing below uses it. */
    if ((e = kpWasiFd_add(c->w, fd, ft, base, inh, read_only, &slot))) return e;
    kpWasi_put32(c, out_ptr, slot);
    return KP_WE_SUCCESS;
}
