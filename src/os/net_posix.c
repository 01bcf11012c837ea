/*
 * net_posix.c -- os.h's TCP listeners, socket I/O and polling for Linux and other POSIX systems.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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
