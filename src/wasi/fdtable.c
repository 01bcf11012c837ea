/*
 * fdtable.c -- the per-context fd table. Guest fd numbers are indices into it; the host fd lives
 * only in the slot. Every handler goes through kpWasiFd_get, which is where rights are checked.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasi/wasi.h"

/* A guest may open many files, but not unboundedly many slots: the host's own RLIMIT_NOFILE is
 * the real limit; this keeps a hostile guest from growing the table past it. */
#define KP_WASI_MAX_FDS 65536u

uint16_t kpWasiFd_get(kapsul_wasi *w, uint32_t fd, uint64_t need, kpWasiFd **out) {
    if (fd >= w->nfds || w->fds[fd].host < 0)
        return KP_WE_BADF;
    if ((w->fds[fd].base & need) != need)
        return KP_WE_NOTCAPABLE;
    *out = &w->fds[fd];
    return KP_WE_SUCCESS;
}

uint16_t kpWasiFd_add(kapsul_wasi *w, int host, uint8_t filetype, uint64_t base, uint64_t inh,
                      bool read_only, uint32_t *out) {
    uint32_t slot = 3;
    while (slot < w->nfds && w->fds[slot].host >= 0)
        slot++;
    if (slot >= w->nfds) {
        if (w->nfds >= KP_WASI_MAX_FDS) {
            close(host);
            return KP_WE_NFILE;
        }
        uint32_t n = w->nfds * 2 < 8 ? 8 : w->nfds * 2;
        kpWasiFd *v = kp_realloc(w->fds, (size_t)n * sizeof *v);
        if (!v) {
            close(host);
            return KP_WE_NOMEM;
        }
        for (uint32_t i = w->nfds; i < n; i++)
            v[i] = (kpWasiFd){ .host = -1 };
        w->fds = v;
        w->nfds = n;
    }
    if (read_only) {
        base &= ~KP_R_MUTATE;
        inh &= ~KP_R_MUTATE;
    }
    w->fds[slot] = (kpWasiFd){ .host = host, .filetype = filetype, .read_only = read_only,
                               .base = base, .inh = inh };
    *out = slot;
    return KP_WE_SUCCESS;
}

void kpWasiFd_close(kpWasiFd *f) {
    if (f->host >= 0)
        close(f->host);
    if (f->dir)
        closedir(f->dir);
    kp_free(f->preopen);
    *f = (kpWasiFd){ .host = -1 };
}

uint8_t kpWasi_modeType(mode_t mode) {
    switch (mode & S_IFMT) {
    case S_IFREG: return KP_FT_FILE;
    case S_IFDIR: return KP_FT_DIR;
    case S_IFLNK: return KP_FT_SYMLINK;
    case S_IFCHR: return KP_FT_CHAR;
    case S_IFBLK: return KP_FT_BLOCK;
    case S_IFSOCK: return KP_FT_STREAM;
    default: return KP_FT_UNKNOWN;
    }
}

uint8_t kpWasiFd_typeOf(int host) {
    struct stat st;
    if (fstat(host, &st) != 0)
        return KP_FT_UNKNOWN;
    return kpWasi_modeType(st.st_mode);
}

/* filestat: dev u64 @0, ino u64 @8, filetype u8 @16, nlink u64 @24, size u64 @32,
 * atim/mtim/ctim u64 ns @40/48/56. */
uint16_t kpWasi_putFilestat(kpWasiCall *c, uint32_t ptr, const void *stat_buf) {
    const struct stat *st = stat_buf;
    uint8_t *p = kpWasi_mem(c, ptr, 64);
    if (!p)
        return KP_WE_FAULT;
    memset(p, 0, 64);
    kp_st64(p, (uint64_t)st->st_dev);
    kp_st64(p + 8, (uint64_t)st->st_ino);
    p[16] = kpWasi_modeType(st->st_mode);
    kp_st64(p + 24, (uint64_t)st->st_nlink);
    kp_st64(p + 32, (uint64_t)st->st_size);
    kp_st64(p + 40, (uint64_t)st->st_atim.tv_sec * 1000000000u + (uint64_t)st->st_atim.tv_nsec);
    kp_st64(p + 48, (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec);
    kp_st64(p + 56, (uint64_t)st->st_ctim.tv_sec * 1000000000u + (uint64_t)st->st_ctim.tv_nsec);
    return KP_WE_SUCCESS;
}
