/*
 * fdtable.c -- the per-context fd table. Guest fd numbers are indices into it; the host fd lives
 * only in the slot. Every handler goes through kpWasiFd_get, which is where rights are checked.
 */
#include "wasi/wasi.h"

uint16_t kpWasiFd_get(kapsul_wasi *w, uint32_t fd, uint64_t need, kpWasiFd **out) {
    if (fd >= w->nfds || !kpWasiFd_used(&w->fds[fd])) return KP_WE_BADF;
    if ((w->fds[fd].base & need) != need) return KP_WE_NOTCAPABLE;
    *out = &w->fds[fd];
    return KP_WE_SUCCESS;
}

uint16_t kpWasiFd_add(kapsul_wasi *w, kpOs_fd host, uint8_t filetype, uint64_t base, uint64_t inh,
                      bool read_only, uint32_t *out) {
    uint32_t slot = 3;
    while (slot < w->nfds && kpWasiFd_used(&w->fds[slot])) slot++;
    if (slot >= w->nfds) {
        if (w->nfds >= KP_WASI_MAX_FDS) {
            kpOs_close(host);
            return KP_WE_NFILE;
        }
        uint32_t n = w->nfds * 2 < 8 ? 8 : w->nfds * 2;
        kpWasiFd *v = kp_realloc(w->fds, (size_t)n * sizeof *v);
        if (!v) {
            kpOs_close(host);
            return KP_WE_NOMEM;
        }
        for (uint32_t i = w->nfds; i < n; i++) v[i] = (kpWasiFd){ .host = KP_OS_NO_FD };
        w->fds = v;
        w->nfds = n;
    }
    if (read_only) {
        base &= ~KP_R_MUTATE;
        inh &= ~KP_R_MUTATE;
    }
    w->fds[slot] =
        (kpWasiFd){ .host = host, .filetype = filetype, .read_only = read_only, .base = base, .inh = inh };
    *out = slot;
    return KP_WE_SUCCESS;
}

void kpWasiFd_close(kpWasiFd *f) {
    kpOs_close(f->host);
    kpOs_dirClose(f->dir);
    kp_free(f->preopen);
    *f = (kpWasiFd){ .host = KP_OS_NO_FD };
}

/* WASI has no FIFO type; a socket is reported as a stream socket. */
uint8_t kpWasi_fileType(kpOs_ftype type) {
    switch (type) {
    case KP_OS_FT_FILE: return KP_FT_FILE;
    case KP_OS_FT_DIR: return KP_FT_DIR;
    case KP_OS_FT_SYMLINK: return KP_FT_SYMLINK;
    case KP_OS_FT_CHAR: return KP_FT_CHAR;
    case KP_OS_FT_BLOCK: return KP_FT_BLOCK;
    case KP_OS_FT_SOCKET: return KP_FT_STREAM;
    case KP_OS_FT_FIFO:
    case KP_OS_FT_UNKNOWN: break;
    }
    return KP_FT_UNKNOWN;
}

uint8_t kpWasiFd_typeOf(kpOs_fd host) {
    kpOs_stat st;
    if (kpOs_fstat(host, &st) != KP_OS_OK) return KP_FT_UNKNOWN;
    return kpWasi_fileType(st.type);
}

/* filestat: dev u64 @0, ino u64 @8, filetype u8 @16, nlink u64 @24, size u64 @32,
 * atim/mtim/ctim u64 ns @40/48/56. */
uint16_t kpWasi_putFilestat(kpWasiCall *c, uint32_t ptr, const kpOs_stat *st) {
    uint8_t *p = kpWasi_mem(c, ptr, 64);
    if (!p) return KP_WE_FAULT;
    memset(p, 0, 64);
    kp_st64(p, st->dev);
    kp_st64(p + 8, st->ino);
    p[16] = kpWasi_fileType(st->type);
    kp_st64(p + 24, st->nlink);
    kp_st64(p + 32, st->size);
    kp_st64(p + 40, st->atim);
    kp_st64(p + 48, st->mtim);
    kp_st64(p + 56, st->ctim);
    return KP_WE_SUCCESS;
}
