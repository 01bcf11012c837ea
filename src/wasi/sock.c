/*
 * sock.c -- preopened listening sockets (--tcplisten ADDR:PORT) and the four socket calls of
 * preview1: accept on a listener, then recv/send/shutdown on what it returned. A guest cannot
 * create, bind or connect sockets: it only ever uses the listeners the user granted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wasi/wasi.h"

kapsul_status kpWasiSock_listen(const char *addr, int *out, kapsul_error *err);

/* Parse "A.B.C.D:PORT", "[v6]:PORT" or "localhost:PORT" into a socket address. */
static bool parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len) {
    char host[128];
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof host)
        return false;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (*end || colon[1] == 0 || errno || port < 0 || port > 65535)
        return false;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
    memset(ss, 0, sizeof *ss);
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n < 3 || host[n - 1] != ']')
            return false;
        host[n - 1] = 0;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof *s6;
        return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    *len = sizeof *s4;
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    return inet_pton(AF_INET, host, &s4->sin_addr) == 1;
}

kapsul_status kpWasiSock_listen(const char *addr, int *out, kapsul_error *err) {
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1;
    if (!parse_addr(addr, &ss, &len))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "bad listen address '%s' (want ADDR:PORT)", addr);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0)
        goto fail;
    *out = fd;
    return KAPSUL_OK;
fail:;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    return kpError_set(err, KAPSUL_ERR_IO, 0, "cannot listen on %s: %s", addr, strerror(saved));
}

/* A socket call's fd: EBADF if not open, ENOTSOCK if open but not a socket, then the rights. */
static uint16_t get_sock(kpWasiCall *c, uint64_t need, kpWasiFd **out) {
    uint16_t e = kpWasiFd_get(c->w, kpWasi_u32(c, 0), 0, out);
    if (e)
        return e;
    if ((*out)->filetype != KP_FT_STREAM && (*out)->filetype != KP_FT_DGRAM)
        return KP_WE_NOTSOCK;
    return kpWasiFd_get(c->w, kpWasi_u32(c, 0), need, out);
}

/* sock_accept(fd, fdflags, fd_out): only on a --tcplisten listener. */
uint16_t kpWasi_sockAccept(kpWasiCall *c) {
    kpWasiFd *f;
    uint16_t e = get_sock(c, KP_R_SOCK_ACCEPT, &f);
    if (e)
        return e;
    uint32_t flags = kpWasi_u32(c, 1), out_ptr = kpWasi_u32(c, 2);
    if (flags & ~(uint32_t)KP_FDF_NONBLOCK)
        return KP_WE_INVAL;
    if (!f->listener)
        return KP_WE_NOTSUP;
    if (!kpWasi_mem(c, out_ptr, 4))
        return KP_WE_FAULT;
    if (flags & KP_FDF_NONBLOCK) {
        /* The flag is about this call (and the new socket): a listener with nobody waiting
         * answers EAGAIN instead of blocking. */
        struct pollfd p = { .fd = f->host, .events = POLLIN };
        if (poll(&p, 1, 0) == 0)
            return KP_WE_AGAIN;
    } else if (!kpWasi_waitReady(c, f->host, POLLIN)) {
        return KP_WE_SUCCESS;
    }
    int fd = accept4(f->host, NULL, NULL, SOCK_CLOEXEC | (flags ? SOCK_NONBLOCK : 0));
    if (fd < 0)
        return kpWasi_errno(errno);
    uint32_t slot;
    if ((e = kpWasiFd_add(c->w, fd, KP_FT_STREAM, KP_R_SOCK, 0, false, &slot)))
        return e;
    kpWasi_put32(c, out_ptr, slot);
    return KP_WE_SUCCESS;
}

/* sock_recv(fd, ri_data, ri_data_len, ri_flags, ro_datalen_out, ro_flags_out). */
uint16_t kpWasi_sockRecv(kpWasiCall *c) {
    kpWasiFd *f;
    struct iovec iov[KP_MAX_IOVS];
    int n;
    uint16_t e = get_sock(c, KP_R_FD_READ, &f);
    if (e || (e = kpWasi_iovs(c, kpWasi_u32(c, 1), kpWasi_u32(c, 2), iov, &n)))
        return e;
    uint32_t riflags = kpWasi_u32(c, 3);
    uint8_t *len_out = kpWasi_mem(c, kpWasi_u32(c, 4), 4);
    uint8_t *flags_out = kpWasi_mem(c, kpWasi_u32(c, 5), 2);
    if (!len_out || !flags_out)
        return KP_WE_FAULT;
    if (riflags & ~3u)
        return KP_WE_INVAL;
    if (!kpWasi_waitReady(c, f->host, POLLIN))
        return KP_WE_SUCCESS;
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };
    ssize_t r = recvmsg(f->host, &msg, ((riflags & 1) ? MSG_PEEK : 0) | ((riflags & 2) ? MSG_WAITALL : 0));
    if (r < 0)
        return kpWasi_errno(errno);
    kp_st32(len_out, (uint32_t)r);
    kp_st16(flags_out, (msg.msg_flags & MSG_TRUNC) ? 1 : 0);
    return KP_WE_SUCCESS;
}

/* sock_send(fd, si_data, si_data_len, si_flags, so_datalen_out). MSG_NOSIGNAL: a closed peer is
 * EPIPE for the guest, never SIGPIPE for the host. */
uint16_t kpWasi_sockSend(kpWasiCall *c) {
    kpWasiFd *f;
    struct iovec iov[KP_MAX_IOVS];
    int n;
    uint16_t e = get_sock(c, KP_R_FD_WRITE, &f);
    if (e || (e = kpWasi_iovs(c, kpWasi_u32(c, 1), kpWasi_u32(c, 2), iov, &n)))
        return e;
    uint8_t *len_out = kpWasi_mem(c, kpWasi_u32(c, 4), 4);
    if (!len_out)
        return KP_WE_FAULT;
    if (kpWasi_u32(c, 3) != 0)
        return KP_WE_INVAL;
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };
    ssize_t r = sendmsg(f->host, &msg, MSG_NOSIGNAL);
    if (r < 0)
        return kpWasi_errno(errno);
    kp_st32(len_out, (uint32_t)r);
    return KP_WE_SUCCESS;
}

/* sock_shutdown(fd, sdflags): RD = 1, WR = 2. */
uint16_t kpWasi_sockShutdown(kpWasiCall *c) {
    kpWasiFd *f;
    uint16_t e = get_sock(c, KP_R_SOCK_SHUTDOWN, &f);
    if (e)
        return e;
    uint32_t how = kpWasi_u32(c, 1);
    if (how == 0 || how > 3)
        return KP_WE_INVAL;
    int h = how == 1 ? SHUT_RD : how == 2 ? SHUT_WR : SHUT_RDWR;
    if (shutdown(f->host, h) != 0)
        return kpWasi_errno(errno);
    return KP_WE_SUCCESS;
}
