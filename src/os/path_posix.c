/*
 * path_posix.c -- whole-path file services for the tools that work on a user's own files (the
 * OCI client: image layouts, pulled applications, its cache): make a directory with its parents,
 * remove a tree, rename, make a fresh temporary directory, read and write a whole file. Never for
 * a guest's paths: those resolve beneath a directory (file_posix.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "os/posix.h"

kpOs_err kpOs_mkdirs(const char *path) {
    char buf[KP_OS_PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) return KP_OS_ENAMETOOLONG;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return kpOsPosix_lastErr();
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0) return kpOsPosix_lastErr();
    return S_ISDIR(st.st_mode) ? KP_OS_OK : KP_OS_ENOTDIR;
}

/* Depth-first, never following a symlink (one is removed as the entry it is). */
static int remove_at(int dir, const char *name) {
    if (unlinkat(dir, name, 0) == 0) return 0;
    if (errno != EISDIR && errno != EPERM) return errno == ENOENT ? 0 : -1;
    int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        remove_at(dirfd(d), e->d_name);
    }
    closedir(d);
    return unlinkat(dir, name, AT_REMOVEDIR);
}

kpOs_err kpOs_removeTree(const char *path) {
    if (remove_at(AT_FDCWD, path) != 0 && errno != ENOENT) return kpOsPosix_lastErr();
    return KP_OS_OK;
}

kpOs_err kpOs_rename(const char *from, const char *to) {
    return rename(from, to) == 0 ? KP_OS_OK : kpOsPosix_lastErr();
}

kpOs_err kpOs_tempDir(const char *parent, const char *prefix, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/%sXXXXXX", parent, prefix);
    if (n < 0 || (size_t)n >= cap) return KP_OS_ENAMETOOLONG;
    return mkdtemp(out) ? KP_OS_OK : kpOsPosix_lastErr();
}

kpOs_err kpOs_readPath(const char *path, size_t max, void **data, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kpOsPosix_lastErr();
    struct stat st;
    kpOs_err e = KP_OS_OK;
    char *buf = NULL;
    size_t have = 0;
    if (fstat(fd, &st) != 0) goto fail_errno;
    if (!S_ISREG(st.st_mode)) {
        e = S_ISDIR(st.st_mode) ? KP_OS_EISDIR : KP_OS_EINVAL;
        goto fail;
    }
    if ((uint64_t)st.st_size > max) {
        e = KP_OS_EFBIG;
        goto fail;
    }
    size_t cap = (size_t)st.st_size + 1;
    if (!(buf = malloc(cap))) {
        e = KP_OS_ENOMEM;
        goto fail;
    }
    for (;;) {
        if (have == cap) { /* the file grew while we read it */
            e = KP_OS_EFBIG;
            goto fail;
        }
        ssize_t r = read(fd, buf + have, cap - have);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) goto fail_errno;
        if (r == 0) break;
        have += (size_t)r;
    }
    close(fd);
    *data = buf;
    *len = have;
    return KP_OS_OK;
fail_errno:
    e = kpOsPosix_lastErr();
fail:
    free(buf);
    close(fd);
    return e;
}

kpOs_err kpOs_writePathAtomic(const char *path, const void *data, size_t len) {
    char tmp[KP_OS_PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof tmp) return KP_OS_ENAMETOOLONG;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) return kpOsPosix_lastErr();
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) goto fail;
        p += w;
        left -= (size_t)w;
    }
    /* mkostemp made it 0600; a pulled file is as readable as any file the user writes. */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0 || fsync(fd) != 0) goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        fd = -1;
        goto fail;
    }
    return KP_OS_OK;
fail:;
    kpOs_err e = kpOsPosix_lastErr();
    if (fd >= 0) close(fd);
    unlink(tmp);
    return e;
}
