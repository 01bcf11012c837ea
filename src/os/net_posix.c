/*
 * net_posix.c -- os.h's TCP listeners, socket I/O and polling for Linux and other POSIX systems.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "os/posix.h"

/* ---- Sockets --------------------------------------------------------------------------------- */

bool kpOs_parseIp(const char *text, int family, kpOs_addr *out) {
    memset(out->ip, 0, sizeof out->ip);
    out->family = family;
    if (family == 4) return inet_pton(AF_INET, text, out->ip) == 1;
    if (family == 6) return inet_pton(AF_INET6, text, out->ip) == 1;
    return false;
}

kpOs_err kpOs_listen(const kpOs_addr *addr, int backlog, kpOs_fd *out) {
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1;
    kpOs_err e;
    memset(&ss, 0, sizeof ss);
    if (addr->family == 6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(addr->port);
        memcpy(&s6->sin6_addr, addr->ip, 16);
        len = sizeof *s6;
    } else if (addr->family == 4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(addr->port);
        memcpy(&s4->sin_addr, addr->ip, 4);
        len = sizeof *s4;
    } else {
        return KP_OS_EAFNOSUPPORT;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return kpOsPosix_lastErr();
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, backlog) != 0) goto fail;
    *out = fd;
    return KP_OS_OK;
fail:
    e = kpOsPosix_lastErr();
    close(fd);
    return e;
}

kpOs_err kpOs_accept(kpOs_fd fd, bool nonblock, kpOs_fd *out) {
    int r = accept4(fd, NULL, NULL, SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0));
    if (r < 0) return kpOsPosix_lastErr();
    *out = r;
    return KP_OS_OK;
}

kpOs_err kpOs_recv(kpOs_fd fd, const kpOs_iov *iov, int n, unsigned flags, size_t *done, bool *truncated) {
    struct iovec v[KP_OS_MAX_IOV];
    struct msghdr msg = { .msg_iov = v, .msg_iovlen = (size_t)kpOsPosix_iovs(iov, n, v) };
    int fl = ((flags & KP_OS_RECV_PEEK) ? MSG_PEEK : 0) | ((flags & KP_OS_RECV_WAITALL) ? MSG_WAITALL : 0);
    ssize_t r = recvmsg(fd, &msg, fl);
    if (r < 0) return kpOsPosix_lastErr();
    *done = (size_t)r;
    *truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    return KP_OS_OK;
}

/* MSG_NOSIGNAL: a closed peer is EPIPE, never SIGPIPE for the host. */
kpOs_err kpOs_send(kpOs_fd fd, const kpOs_iov *iov, int n, size_t *done) {
    struct iovec v[KP_OS_MAX_IOV];
    struct msghdr msg = { .msg_iov = v, .msg_iovlen = (size_t)kpOsPosix_iovs(iov, n, v) };
    ssize_t r = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (r < 0) return kpOsPosix_lastErr();
    *done = (size_t)r;
    return KP_OS_OK;
}

kpOs_err kpOs_shutdown(kpOs_fd fd, bool read, bool write) {
    if (!read && !write) return KP_OS_EINVAL;
    int how = read && write ? SHUT_RDWR : read ? SHUT_RD : SHUT_WR;
    return shutdown(fd, how) == 0 ? KP_OS_OK : kpOsPosix_lastErr();
}

/* ---- Sockets a guest drives (wasi:sockets) --------------------------------------------------- */

static socklen_t to_sockaddr(const kpOs_addr *a, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    if (a->family == 6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a->port);
        s6->sin6_flowinfo = htonl(a->flowinfo);
        s6->sin6_scope_id = a->scope_id;
        memcpy(&s6->sin6_addr, a->ip, 16);
        return sizeof *s6;
    }
    if (a->family == 4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(a->port);
        memcpy(&s4->sin_addr, a->ip, 4);
        return sizeof *s4;
    }
    return 0;
}

static bool from_sockaddr(const struct sockaddr_storage *ss, kpOs_addr *a) {
    memset(a, 0, sizeof *a);
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        a->family = 6, a->port = ntohs(s6->sin6_port);
        a->flowinfo = ntohl(s6->sin6_flowinfo), a->scope_id = s6->sin6_scope_id;
        memcpy(a->ip, &s6->sin6_addr, 16);
        return true;
    }
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        a->family = 4, a->port = ntohs(s4->sin_port);
        memcpy(a->ip, &s4->sin_addr, 4);
        return true;
    }
    return false;
}

kpOs_err kpOs_socket(int family, bool udp, kpOs_fd *out) {
    if (family != 4 && family != 6) return KP_OS_EAFNOSUPPORT;
    int fd = socket(family == 6 ? AF_INET6 : AF_INET,
                    (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return kpOsPosix_lastErr();
    int one = 1;
    if (family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
        kpOs_err e = kpOsPosix_lastErr();
        close(fd);
        return e;
    }
    /* a listener that restarts may rebind at once, as every server does */
    if (!udp) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    *out = fd;
    return KP_OS_OK;
}

kpOs_err kpOs_bind(kpOs_fd fd, const kpOs_addr *addr) {
    struct sockaddr_storage ss;
    socklen_t len = to_sockaddr(addr, &ss);
    if (!len) return KP_OS_EAFNOSUPPORT;
    return bind(fd, (struct sockaddr *)&ss, len) == 0 ? KP_OS_OK : kpOsPosix_lastErr();
}

kpOs_err kpOs_connect(kpOs_fd fd, const kpOs_addr *addr) {
    struct sockaddr_storage ss;
    socklen_t len;
    if (addr) {
        if (!(len = to_sockaddr(addr, &ss))) return KP_OS_EAFNOSUPPORT;
    } else {
        memset(&ss, 0, sizeof ss);
        ss.ss_family = AF_UNSPEC;
        len = sizeof(struct sockaddr);
    }
    return connect(fd, (struct sockaddr *)&ss, len) == 0 ? KP_OS_OK : kpOsPosix_lastErr();
}

kpOs_err kpOs_listenOn(kpOs_fd fd, int backlog) {
    return listen(fd, backlog) == 0 ? KP_OS_OK : kpOsPosix_lastErr();
}

kpOs_err kpOs_sockName(kpOs_fd fd, bool peer, kpOs_addr *out) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    int r =
        peer ? getpeername(fd, (struct sockaddr *)&ss, &len) : getsockname(fd, (struct sockaddr *)&ss, &len);
    if (r != 0) return kpOsPosix_lastErr();
    return from_sockaddr(&ss, out) ? KP_OS_OK : KP_OS_EAFNOSUPPORT;
}

kpOs_err kpOs_sockError(kpOs_fd fd) {
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) return kpOsPosix_lastErr();
    return e ? kpOsPosix_err(e) : KP_OS_OK;
}

kpOs_err kpOs_sendTo(kpOs_fd fd, const void *data, size_t len, const kpOs_addr *to, size_t *done) {
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    if (to && !(sl = to_sockaddr(to, &ss))) return KP_OS_EAFNOSUPPORT;
    ssize_t r = sendto(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT, to ? (struct sockaddr *)&ss : NULL, sl);
    if (r < 0) return kpOsPosix_lastErr();
    *done = (size_t)r;
    return KP_OS_OK;
}

kpOs_err kpOs_recvFrom(kpOs_fd fd, void *buf, size_t cap, size_t *done, kpOs_addr *from, bool *truncated) {
    struct sockaddr_storage ss;
    struct iovec v = { buf, cap };
    struct msghdr msg = { .msg_name = &ss, .msg_namelen = sizeof ss, .msg_iov = &v, .msg_iovlen = 1 };
    memset(&ss, 0, sizeof ss);
    ssize_t r = recvmsg(fd, &msg, MSG_DONTWAIT);
    if (r < 0) return kpOsPosix_lastErr();
    *done = (size_t)r;
    *truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    if (!from_sockaddr(&ss, from)) memset(from, 0, sizeof *from);
    return KP_OS_OK;
}

static bool sockopt_of(int family, kpOs_sockopt opt, int *level, int *name) {
    switch (opt) {
    case KP_OS_SO_KEEPALIVE: *level = SOL_SOCKET, *name = SO_KEEPALIVE; return true;
    case KP_OS_SO_KEEPIDLE: *level = IPPROTO_TCP, *name = TCP_KEEPIDLE; return true;
    case KP_OS_SO_KEEPINTVL: *level = IPPROTO_TCP, *name = TCP_KEEPINTVL; return true;
    case KP_OS_SO_KEEPCNT: *level = IPPROTO_TCP, *name = TCP_KEEPCNT; return true;
    case KP_OS_SO_HOPLIMIT:
        if (family == 6) *level = IPPROTO_IPV6, *name = IPV6_UNICAST_HOPS;
        else *level = IPPROTO_IP, *name = IP_TTL;
        return true;
    case KP_OS_SO_RCVBUF: *level = SOL_SOCKET, *name = SO_RCVBUF; return true;
    case KP_OS_SO_SNDBUF: *level = SOL_SOCKET, *name = SO_SNDBUF; return true;
    }
    return false;
}

kpOs_err kpOs_sockGet(kpOs_fd fd, int family, kpOs_sockopt opt, uint64_t *out) {
    int level, name, v = 0;
    socklen_t len = sizeof v;
    if (!sockopt_of(family, opt, &level, &name)) return KP_OS_EINVAL;
    if (getsockopt(fd, level, name, &v, &len) != 0) return kpOsPosix_lastErr();
    *out = v < 0 ? 0 : (uint64_t)v;
    return KP_OS_OK;
}

kpOs_err kpOs_sockSet(kpOs_fd fd, int family, kpOs_sockopt opt, uint64_t val) {
    int level, name, v = val > INT32_MAX ? INT32_MAX : (int)val;
    if (!sockopt_of(family, opt, &level, &name)) return KP_OS_EINVAL;
    return setsockopt(fd, level, name, &v, sizeof v) == 0 ? KP_OS_OK : kpOsPosix_lastErr();
}

kpOs_err kpOs_resolve(const char *name, kpOs_addr *out, size_t cap, size_t *n) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM; /* one entry per address, not one per socket type */
    int r = getaddrinfo(name, NULL, &hints, &res);
    *n = 0;
    if (r != 0) {
#ifdef EAI_NODATA
        if (r == EAI_NODATA) return KP_OS_ENOENT;
#endif
        return r == EAI_NONAME   ? KP_OS_ENOENT
               : r == EAI_AGAIN  ? KP_OS_EAGAIN
               : r == EAI_MEMORY ? KP_OS_ENOMEM
                                 : KP_OS_EIO;
    }
    for (struct addrinfo *ai = res; ai && *n < cap; ai = ai->ai_next) {
        struct sockaddr_storage ss;
        if (ai->ai_addrlen > sizeof ss) continue;
        memset(&ss, 0, sizeof ss);
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        if (from_sockaddr(&ss, &out[*n])) out[*n].port = 0, (*n)++;
    }
    freeaddrinfo(res);
    return KP_OS_OK;
}

/* ---- Polling ------------------------------------------------------------------------------------
 * One ppoll over a host copy of the set (a small one on the stack). ppoll takes a timespec, so a
 * wait of centuries is no overflow, and it skips negative fds as KP_OS_NO_FD asks. */

static unsigned from_revents(short r) {
    return ((r & POLLIN) ? KP_OS_POLL_IN : 0) | ((r & POLLOUT) ? KP_OS_POLL_OUT : 0) |
           ((r & POLLHUP) ? KP_OS_POLL_HUP : 0) | ((r & POLLERR) ? KP_OS_POLL_ERR : 0) |
           ((r & POLLNVAL) ? KP_OS_POLL_NVAL : 0);
}

kpOs_err kpOs_poll(kpOs_pollfd *fds, size_t n, uint64_t timeout_ns, int *ready) {
    struct pollfd small[8], *p = n <= 8 ? small : kp_calloc(n, sizeof *p);
    if (!p) return KP_OS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        p[i].fd = fds[i].fd;
        p[i].events = (short)(((fds[i].events & KP_OS_POLL_IN) ? POLLIN : 0) |
                              ((fds[i].events & KP_OS_POLL_OUT) ? POLLOUT : 0));
        p[i].revents = 0;
    }
    struct timespec ts = { (time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u) };
    int r = ppoll(p, (nfds_t)n, timeout_ns == UINT64_MAX ? NULL : &ts, NULL);
    kpOs_err e = r < 0 ? kpOsPosix_lastErr() : KP_OS_OK;
    for (size_t i = 0; i < n; i++) fds[i].revents = r > 0 ? from_revents(p[i].revents) : 0;
    if (p != small) kp_free(p);
    *ready = r > 0 ? r : 0;
    return e;
}

uint64_t kpOs_bytesReady(kpOs_fd fd) {
    struct stat st;
    int n = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        off_t pos = lseek(fd, 0, SEEK_CUR);
        return (pos >= 0 && st.st_size > pos) ? (uint64_t)(st.st_size - pos) : 0;
    }
    return ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? (uint64_t)n : 0;
}
