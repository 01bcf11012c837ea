/*
 * fs.c -- the fd_* calls: reading, writing, seeking and describing an open fd. Each handler first
 * looks the fd up with the rights it needs (kpWasiFd_get), then checks every guest range.
 */
#include "wasi/wasi.h"

/* Turn a guest iovec array (buf u32, len u32 pairs) into host iovecs. Every range is checked;
 * the total is capped at UINT32_MAX so the count written back always fits. Arrays beyond
 * KP_MAX_IOVS are shortened: a short read or write is always allowed. */
uint16_t kpWasi_iovs(kpWasiCall *c, uint32_t iovs, uint32_t n, kpOs_iov *out, int *count) {
    const uint8_t *p = kpWasi_mem(c, iovs, (uint64_t)n * 8);
    uint64_t total = 0;
    if (!p) return KP_WE_FAULT;
    if (n > KP_MAX_IOVS) n = KP_MAX_IOVS;
    *count = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t buf = kp_ld32(p + 8 * i), len = kp_ld32(p + 8 * i + 4);
        uint8_t *b = kpWasi_mem(c, buf, len);
        if (!b) return KP_WE_FAULT;
        if (total + len > UINT32_MAX) len = (uint32_t)(UINT32_MAX - total);
        total += len;
        out[i].base = b;
        out[i].len = len;
        *count = (int)i + 1;
    }
    return KP_WE_SUCCESS;
}

/* The shared body of fd_read/fd_write/fd_pread/fd_pwrite. offset < 0 means "at the file position".
 * Writing to a pipe or socket whose reader has gone must not raise SIGPIPE in the host process
 * (an embedder, a server) on a guest's behalf: unless the host ignores it anyway, such writes go
 * through kpOs_writeQuiet and the guest gets EPIPE, like any error. */
static uint16_t do_io(kpWasiCall *c, bool write, int64_t offset, int result_arg) {
    kpWasiFd *f;
    uint64_t need = write ? KP_R_FD_WRITE : KP_R_FD_READ;
    if (offset >= 0) need |= KP_R_FD_SEEK;
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), need, &f);
    if (e) return e;
    kpOs_iov iov[KP_MAX_IOVS];
    int n;
    if ((e = kpWasi_iovs(c, kpWasi_u32(c, 1), kpWasi_u32(c, 2), iov, &n))) return e;
    uint32_t res = kpWasi_u32(c, result_arg);
    if (!kpWasi_mem(c, res, 4)) return KP_WE_FAULT;
    size_t done = 0;
    kpOs_err oe;
    if (f->mem) { /* in-memory stdio (memio.c); no seek right, so offset < 0 here */
        e = write ? kpWasiMem_write(c->w, f->mem, iov, n, &done) : kpWasiMem_read(c->w, iov, n, &done);
        /* End of stdin is a success with 0 bytes, which must be written too (a guest reading
         * to EOF would otherwise see its previous count again and never stop). */
        if (done || e == KP_WE_SUCCESS) kpWasi_put32(c, res, (uint32_t)done);
        return done ? KP_WE_SUCCESS : e;
    }
    if (offset < 0 && !write && !kpWasi_waitReady(c, f->host, KP_OS_POLL_IN)) return KP_WE_SUCCESS;
    bool stream = offset < 0 && write && f->filetype != KP_FT_FILE;
    if (stream && c->w->sigpipe_ignored < 0) c->w->sigpipe_ignored = kpOs_sigpipeIgnored();
    if (stream && !c->w->sigpipe_ignored) oe = kpOs_writeQuiet(f->host, iov, n, &done);
    else if (offset < 0) oe = write ? kpOs_write(f->host, iov, n, &done) : kpOs_read(f->host, iov, n, &done);
    else if (!write) oe = kpOs_pread(f->host, iov, n, (uint64_t)offset, &done);
    else oe = kpOs_pwrite(f->host, iov, n, (uint64_t)offset, &done);
    if (oe != KP_OS_OK) return kpWasi_errno(oe);
    kpWasi_put32(c, res, (uint32_t)done);
    return KP_WE_SUCCESS;
}

uint16_t kpWasi_fdRead(kpWasiCall *c) { return do_io(c, false, -1, 3); }
uint16_t kpWasi_fdWrite(kpWasiCall *c) { return do_io(c, true, -1, 3); }

uint16_t kpWasi_fdPread(kpWasiCall *c) {
    uint64_t off = kpWasi_u64(c, 3);
    if (off > INT64_MAX) return KP_WE_INVAL;
    return do_io(c, false, (int64_t)off, 4);
}

uint16_t kpWasi_fdPwrite(kpWasiCall *c) {
    uint64_t off = kpWasi_u64(c, 3);
    if (off > INT64_MAX) return KP_WE_INVAL;
    return do_io(c, true, (int64_t)off, 4);
}

uint16_t kpWasi_fdSeek(kpWasiCall *c) {
    kpWasiFd *f;
    int64_t off = (int64_t)kpWasi_u64(c, 1);
    uint32_t whence = kpWasi_u32(c, 2);
    uint64_t need = (off == 0 && whence == 1) ? KP_R_FD_TELL : KP_R_FD_SEEK;
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), need, &f);
    if (e) return e;
    if (whence > 2) return KP_WE_INVAL;
    if (!kpWasi_mem(c, kpWasi_u32(c, 3), 8)) return KP_WE_FAULT;
    static const int how[] = { KP_OS_SEEK_SET, KP_OS_SEEK_CUR, KP_OS_SEEK_END };
    uint64_t pos;
    kpOs_err oe = kpOs_seek(f->host, off, how[whence], &pos);
    if (oe != KP_OS_OK) return kpWasi_errno(oe);
    kpWasi_put64(c, kpWasi_u32(c, 3), pos);
    return KP_WE_SUCCESS;
}

uint16_t kpWasi_fdTell(kpWasiCall *c) {
    kpWasiFd *f;
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), KP_R_FD_TELL, &f);
    if (e) return e;
    if (!kpWasi_mem(c, kpWasi_u32(c, 1), 8)) return KP_WE_FAULT;
    uint64_t pos;
    kpOs_err oe = kpOs_seek(f->host, 0, KP_OS_SEEK_CUR, &pos);
    if (oe != KP_OS_OK) return kpWasi_errno(oe);
    kpWasi_put64(c, kpWasi_u32(c, 1), pos);
    return KP_WE_SUCCESS;
}

uint16_t kpWasi_fdClose(kpWasiCall *c) {
    kpWasiFd *f;
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), 0, &f);
    if (e) return e;
    kpWasiFd_close(f);
    return KP_WE_SUCCESS;
}

/* fd_renumber moves `from` onto `to` (closing what `to` held); both must be open. The guest can
 * shuffle its own table but never name a host fd. */
uint16_t kpWasi_fdRenumber(kpWasiCall *c) {
    kpWasiFd *from, *to;
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), 0, &from);
    if (e || (e = kpWasiFd_get(c->w, kpWasi_u32(c, 1), 0, &to))) return e;
    if (from == to) return KP_WE_SUCCESS;
    kpWasiFd_close(to);
    *to = *from;
    *from = (kpWasiFd){ .host = KP_OS_NO_FD };
    return KP_WE_SUCCESS;
}

static uint16_t do_sync(kpWasiCall *c, bool data) {
    kpWasiFd *f;
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), data ? KP_R_FD_DATASYNC : KP_R_FD_SYNC, &f);
    if (e) return e;
    return kpWasi_errno(kpOs_sync(f->host, data));
}

uint16_t kpWasi_fdSync(kpWasiCall *c) { return do_sync(c, false); }
uint16_t kpWasi_fdDatasync(kpWasiCall *c) { return do_sync(c, true); }

uint16_t kpWasi_fdAdvise(kpWasiCall *c) {
    kpWasiFd *f;
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), KP_R_FD_ADVISE, &f);
    if (e) return e;
    uint64_t off = kpWasi_u64(c, 1), len = kpWasi_u64(c, 2);
    uint32_t advice = kpWasi_u32(c, 3);
    static const int adv[] = { KP_OS_ADV_NORMAL,   KP_OS_ADV_SEQUENTIAL, KP_OS_ADV_RANDOM,
                               KP_OS_ADV_WILLNEED, KP_OS_ADV_DONTNEED,   KP_OS_ADV_NOREUSE };
    if (advice > 5 || off > INT64_MAX || len > INT64_MAX) return KP_WE_INVAL;
    return kpWasi_errno(kpOs_advise(f->host, off, len, adv[advice]));
}

uint16_t kpWasi_fdAllocate(kpWasiCall *c) {
    kpWasiFd *f;
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), KP_R_FD_ALLOCATE, &f);
    if (e) return e;
    uint64_t off = kpWasi_u64(c, 1), len = kpWasi_u64(c, 2);
    if (off > INT64_MAX || len > INT64_MAX || off + len > INT64_MAX) return KP_WE_INVAL;
    return kpWasi_errno(kpOs_allocate(f->host, off, len));
}

/* ---- fdstat and filestat --------------------------------------------------------------------- */

/* fdstat: filetype u8 @0, flags u16 @2, rights_base u64 @8, rights_inheriting u64 @16. */
uint16_t kpWasi_fdFdstatGet(kpWasiCall *c) {
    kpWasiFd *f;
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), 0, &f);
    if (e) return e;
    uint8_t *p = kpWasi_mem(c, kpWasi_u32(c, 1), 24);
    if (!p) return KP_WE_FAULT;
    unsigned fl;
    uint16_t flags = 0;
    if (!f->mem && kpOs_getFlags(f->host, &fl) == KP_OS_OK) {
        if (fl & KP_OS_O_APPEND) flags |= KP_FDF_APPEND;
        if (fl & KP_OS_O_NONBLOCK) flags |= KP_FDF_NONBLOCK;
        if (fl & KP_OS_O_SYNC) flags |= KP_FDF_SYNC;
        if (fl & KP_OS_O_DSYNC) flags |= KP_FDF_DSYNC;
    }
    memset(p, 0, 24);
    p[0] = f->filetype;
    kp_st16(p + 2, flags);
    kp_st64(p + 8, f->base);
    kp_st64(p + 16, f->inh);
    return KP_WE_SUCCESS;
}

/* Only APPEND and NONBLOCK can change on an open fd under Linux; the sync flags are fixed at
 * open time, so asking for them is ENOTSUP rather than a silent no-op. */
uint16_t kpWasi_fdFdstatSetFlags(kpWasiCall *c) {
    kpWasiFd *f;
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), KP_R_FD_FDSTAT_SET_FLAGS, &f);
    if (e) return e;
    uint32_t flags = kpWasi_u32(c, 1);
    if (flags & ~(uint32_t)(KP_FDF_APPEND | KP_FDF_NONBLOCK))
        return (flags & ~(uint32_t)31) ? KP_WE_INVAL : KP_WE_NOTSUP;
    unsigned fl = 0;
    if (flags & KP_FDF_APPEND) fl |= KP_OS_O_APPEND;
    if (flags & KP_FDF_NONBLOCK) fl |= KP_OS_O_NONBLOCK;
    return kpWasi_errno(kpOs_setFlags(f->host, fl));
}

/* Rights only shrink: asking for a right the fd does not hold is ENOTCAPABLE. */
uint16_t kpWasi_fdFdstatSetRights(kpWasiCall *c) {
    kpWasiFd *f;
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), 0, &f);
    if (e) return e;
    uint64_t base = kpWasi_u64(c, 1), inh = kpWasi_u64(c, 2);
    if ((base & ~f->base) || (inh & ~f->inh)) return KP_WE_NOTCAPABLE;
    f->base = base;
    f->inh = inh;
    return KP_WE_SUCCESS;
}

uint16_t kpWasi_fdFilestatGet(kpWasiCall *c) {
    kpWasiFd *f;
    kpOs_stat st;
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), KP_R_FD_FILESTAT_GET, &f);
    if (e) return e;
    if (!kpWasi_mem(c, kpWasi_u32(c, 1), 64)) return KP_WE_FAULT;
    if (f->mem) { /* a pipe-like buffer: its size is what it holds */
        st = (kpOs_stat){ .nlink = 1, .size = kpWasiMem_size(c->w, f->mem), .type = KP_OS_FT_UNKNOWN };
        return kpWasi_putFilestat(c, kpWasi_u32(c, 1), &st);
    }
    kpOs_err oe = kpOs_fstat(f->host, &st);
    if (oe != KP_OS_OK) return kpWasi_errno(oe);
    return kpWasi_putFilestat(c, kpWasi_u32(c, 1), &st);
}

uint16_t kpWasi_fdFilestatSetSize(kpWasiCall *c) {
    kpWasiFd *f;
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), KP_R_FD_FILESTAT_SET_SIZE, &f);
    if (e) return e;
    uint64_t size = kpWasi_u64(c, 1);
    if (size > INT64_MAX) return KP_WE_INVAL;
    return kpWasi_errno(kpOs_truncate(f->host, size));
}

/* Shared with path_filestat_set_times: the OS's time pair from WASI's times and flags. */
uint16_t kpWasi_times(uint64_t atim, uint64_t mtim, uint32_t fst, kpOs_time ts[2]) {
    if ((fst & ~15u) || ((fst & KP_FST_ATIM) && (fst & KP_FST_ATIM_NOW)) ||
        ((fst & KP_FST_MTIM) && (fst & KP_FST_MTIM_NOW)))
        return KP_WE_INVAL;
    uint64_t t[2] = { atim, mtim };
    uint32_t set[2] = { KP_FST_ATIM, KP_FST_MTIM }, now[2] = { KP_FST_ATIM_NOW, KP_FST_MTIM_NOW };
    for (int i = 0; i < 2; i++) {
        ts[i].ns = t[i];
        ts[i].how = (fst & set[i]) ? KP_OS_TIME_SET : (fst & now[i]) ? KP_OS_TIME_NOW : KP_OS_TIME_OMIT;
    }
    return KP_WE_SUCCESS;
}

uint16_t kpWasi_fdFilestatSetTimes(kpWasiCall *c) {
    kpWasiFd *f;
    kpOs_time ts[2];
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), KP_R_FD_FILESTAT_SET_TIMES, &f);
    if (e) return e;
    if ((e = kpWasi_times(kpWasi_u64(c, 1), kpWasi_u64(c, 2), kpWasi_u32(c, 3), ts))) return e;
    return kpWasi_errno(kpOs_setTimes(f->host, ts));
}

/* ---- Preopens -------------------------------------------------------------------------------- */

/* prestat: tag u8 @0 (0 = directory), name length u32 @4. */
uint16_t kpWasi_fdPrestatGet(kpWasiCall *c) {
    kpWasiFd *f;
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), 0, &f);
    if (e) return e;
    if (!f->preopen) return KP_WE_BADF;
    uint8_t *p = kpWasi_mem(c, kpWasi_u32(c, 1), 8);
    if (!p) return KP_WE_FAULT;
    memset(p, 0, 8);
    kp_st32(p + 4, (uint32_t)strlen(f->preopen));
    return KP_WE_SUCCESS;
}

uint16_t kpWasi_fdPrestatDirName(kpWasiCall *c) {
    kpWasiFd *f;
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), 0, &f);
    if (e) return e;
    if (!f->preopen) return KP_WE_BADF;
    size_t n = strlen(f->preopen);
    uint32_t len = kpWasi_u32(c, 2);
    uint8_t *p = kpWasi_mem(c, kpWasi_u32(c, 1), len);
    if (!p) return KP_WE_FAULT;
    if (len < n) return KP_WE_NAMETOOLONG;
    memcpy(p, f->preopen, n);
    return KP_WE_SUCCESS;
}

/* ---- Directory listing ----------------------------------------------------------------------- */

/* dirent: d_next u64 @0, d_ino u64 @8, d_namlen u32 @16, d_type u8 @20, then the name. A cookie
 * is the index of an entry in the listing. Each fd keeps a directory stream on its own open of the
 * directory (so the guest's fd offset is untouched) and the cookie where it stands: a guest
 * listing in order continues where it stopped, in linear time; any other cookie rewinds and
 * skips. An entry that does not fit is cut, as the spec allows, and the stream steps back to it
 * so the next call starts there. */

/* The fd's stream positioned at `cookie`'s neighbourhood; *index receives its position. */
static uint16_t dir_stream(kpWasiFd *f, uint64_t cookie, uint64_t *index) {
    if (f->dir && cookie == f->dir_next && cookie != 0) {
        *index = cookie;
        return KP_WE_SUCCESS;
    }
    if (!f->dir) {
        kpOs_err oe = kpOs_dirOpen(f->host, &f->dir);
        if (oe != KP_OS_OK) return kpWasi_errno(oe);
    } else {
        kpOs_dirRewind(f->dir);
    }
    f->dir_next = 0;
    *index = 0;
    return KP_WE_SUCCESS;
}

uint16_t kpWasi_fdReaddir(kpWasiCall *c) {
    kpWasiFd *f;
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), KP_R_FD_READDIR, &f);
    if (e) return e;
    uint32_t buf = kpWasi_u32(c, 1), len = kpWasi_u32(c, 2), used_ptr = kpWasi_u32(c, 4);
    uint64_t cookie = kpWasi_u64(c, 3), index = 0;
    uint8_t *out = kpWasi_mem(c, buf, len);
    if (!out || !kpWasi_mem(c, used_ptr, 4)) return KP_WE_FAULT;
    if ((e = dir_stream(f, cookie, &index))) return e;
    kpOs_dir *d = f->dir;
    uint32_t used = 0;
    kpOs_err rerr = KP_OS_OK;
    while (used < len) {
        uint64_t pos = kpOs_dirTell(d);
        kpOs_dirent de;
        bool end;
        if ((rerr = kpOs_dirRead(d, &de, &end)) != KP_OS_OK || end) break;
        if (index < cookie) {
            index++;
            continue;
        }
        size_t nlen = strlen(de.name);
        uint8_t hdr[24] = { 0 };
        kp_st64(hdr, index + 1);
        /* A preopen's ".." is a host directory the guest has no access to: no inode for it. */
        bool hidden = f->preopen && strcmp(de.name, "..") == 0;
        kp_st64(hdr + 8, hidden ? 0 : de.ino);
        kp_st32(hdr + 16, (uint32_t)nlen);
        hdr[20] = kpWasi_fileType(de.type);
        /* Copy what fits of header + name; a cut entry makes the stream step back to it, so
         * the guest's next call (from this entry's cookie) starts with it again. */
        uint8_t *dst = out + used;
        uint32_t room = len - used;
        uint32_t h = room < 24 ? room : 24;
        memcpy(dst, hdr, h);
        uint32_t nm = room - h < nlen ? room - h : (uint32_t)nlen;
        memcpy(dst + h, de.name, nm);
        used += h + nm;
        if ((uint64_t)h + nm < 24 + (uint64_t)nlen) {
            kpOs_dirSeek(d, pos);
            break;
        }
        index++;
    }
    f->dir_next = index;
    if (rerr != KP_OS_OK) return kpWasi_errno(rerr);
    kpWasi_put32(c, used_ptr, used);
    return KP_WE_SUCCESS;
}
