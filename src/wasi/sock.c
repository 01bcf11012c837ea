/*
 * sock.c -- preopened listening sockets (--tcplisten ADDR:PORT) and the four socket calls of
 * preview1: accept on a listener, then recv/send/shutdown on what it returned. A guest cannot
 * create, bind or connect sockets: it only ever uses the listeners the user granted.
 */
#include "wasi/wasi.h"

kapsul_status kpWasiSock_listen(const char *addr, kpOs_fd *out, kapsul_error *err);

/* Parse "A.B.C.D:PORT", "[v6]:PORT" or "localhost:PORT" into a socket address. */
static bool parse_addr(const char *addr, kpOs_addr *out) {
    char host[128];
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof host || colon[1] == 0) return false;
    uint32_t port = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9' || (port = port * 10 + (uint32_t)(*p - '0')) > 65535) return false;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
    out->port = (uint16_t)port;
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n < 3 || host[n - 1] != ']') return false;
        host[n - 1] = 0;
        return kpOs_parseIp(host + 1, 6, out);
    }
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    return kpOs_parseIp(host, 4, out);
}

kapsul_status kpWasiSock_listen(const char *addr, kpOs_fd *out, kapsul_error *err) {
    kpOs_addr a;
    if (!parse_addr(addr, &a))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "bad listen address '%s' (want ADDR:PORT)", addr);
    kpOs_err oe = kpOs_listen(&a, 128, out);
    if (oe != KP_OS_OK)
        return kpError_set(err, KAPSUL_ERR_IO, 0, "cannot listen on %s: %s", addr, kpOs_strerror(oe));
    return KAPSUL_OK;
}

/* A socket call's fd: EBADF if not open, ENOTSOCK if open but not a socket, then the rights. */
static uint16_t get_sock(kpWasiCall *c, uint64_t need, kpWasiFd **out) {
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), 0, out);
    if (e) return e;
    if ((*out)->filetype != KP_FT_STREAM && (*out)->filetype != KP_FT_DGRAM) return KP_WE_NOTSOCK;
    return kpWasiFd_get(c->w, kpWasi_u32(c, 0), need, out);
}

/* sock_accept(fd, fdflags, fd_out): only on a --tcplisten listener. */
uint16_t kpWasi_sockAccept(kpWasiCall *c) {
    kpWasiFd *f;
    uint16_t e = get_sock(c, KP_R_SOCK_ACCEPT, &f);
    if (e) return e;
    uint32_t flags = kpWasi_u32(c, 1), out_ptr = kpWasi_u32(c, 2);
    if (flags & ~(uint32_t)KP_FDF_NONBLOCK) return KP_WE_INVAL;
    if (!f->listener) return KP_WE_NOTSUP;
    if (!kpWasi_mem(c, out_ptr, 4)) return KP_WE_FAULT;
    if (flags & KP_FDF_NONBLOCK) {
        /* The flag is about this call (and the new socket): a listener with nobody waiting
         * answers EAGAIN instead of blocking. */
        kpOs_pollfd p = { .fd = f->host, .events = KP_OS_POLL_IN };
        int ready;
        if (kpOs_poll(&p, 1, 0, &ready) == KP_OS_OK && ready == 0) return KP_WE_AGAIN;
    } else if (!kpWasi_waitReady(c, f->host, KP_OS_POLL_IN)) {
        return KP_WE_SUCCESS;
    }
    kpOs_fd fd;
    kpOs_err oe = kpOs_accept(f->host, flags != 0, &fd);
    if (oe != KP_OS_OK) return kpWasi_errno(oe);
    uint32_t slot;
    if ((e = kpWasiFd_add(c->w, fd, KP_FT_STREAM, KP_R_SOCK, 0, false, &slot))) return e;
    kpWasi_put32(c, out_ptr, slot);
    return KP_WE_SUCCESS;
}

/* sock_recv(fd, ri_data, ri_data_len, ri_flags, ro_datalen_out, ro_flags_out). */
uint16_t kpWasi_sockRecv(kpWasiCall *c) {
    kpWasiFd *f;
    kpOs_iov iov[KP_MAX_IOVS];
    int n;
    uint16_t e = get_sock(c, KP_R_FD_READ, &f);
    if (e || (e = kpWasi_iovs(c, kpWasi_u32(c, 1), kpWasi_u32(c, 2), iov, &n))) return e;
    uint32_t riflags = kpWasi_u32(c, 3);
    uint8_t *len_out = kpWasi_mem(c, kpWasi_u32(c, 4), 4);
    uint8_t *flags_out = kpWasi_mem(c, kpWasi_u32(c, 5), 2);
    if (!len_out || !flags_out) return KP_WE_FAULT;
    if (riflags & ~3u) return KP_WE_INVAL;
    if (!kpWasi_waitReady(c, f->host, KP_OS_POLL_IN)) return KP_WE_SUCCESS;
    size_t done;
    bool truncated;
    unsigned fl = ((riflags & 1) ? KP_OS_RECV_PEEK : 0) | ((riflags & 2) ? KP_OS_RECV_WAITALL : 0);
    kpOs_err oe = kpOs_recv(f->host, iov, n, fl, &done, &truncated);
    if (oe != KP_OS_OK) return kpWasi_errno(oe);
    kp_st32(len_out, (uint32_t)done);
    kp_st16(flags_out, truncated ? 1 : 0);
    return KP_WE_SUCCESS;
}

/* sock_send(fd, si_data, si_data_len, si_flags, so_datalen_out). A closed peer is EPIPE for the
 * guest, never SIGPIPE for the host (kpOs_send). */
uint16_t kpWasi_sockSend(kpWasiCall *c) {
    kpWasiFd *f;
    kpOs_iov iov[KP_MAX_IOVS];
    int n;
    uint16_t e = get_sock(c, KP_R_FD_WRITE, &f);
    if (e || (e = kpWasi_iovs(c, kpWasi_u32(c, 1), kpWasi_u32(c, 2), iov, &n))) return e;
    uint8_t *len_out = kpWasi_mem(c, kpWasi_u32(c, 4), 4);
    if (!len_out) return KP_WE_FAULT;
    if (kpWasi_u32(c, 3) != 0) return KP_WE_INVAL;
    size_t done;
    kpOs_err oe = kpOs_send(f->host, iov, n, &done);
    if (oe != KP_OS_OK) return kpWasi_errno(oe);
    kp_st32(len_out, (uint32_t)done);
    return KP_WE_SUCCESS;
}

/* sock_shutdown(fd, sdflags): RD = 1, WR = 2. */
uint16_t kpWasi_sockShutdown(kpWasiCall *c) {
    kpWasiFd *f;
    uint16_t e = get_sock(c, KP_R_SOCK_SHUTDOWN, &f);
    if (e) return e;
    uint32_t how = kpWasi_u32(c, 1);
    if (how == 0 || how > 3) return KP_WE_INVAL;
    return kpWasi_errno(kpOs_shutdown(f->host, how & 1, how & 2));
}
