/*
 * sock_echo.c -- a C guest serving one TCP connection on the listener the user preopened with
 * --tcplisten (the first fd after stdio when no --dir is given): it polls until a client is
 * waiting, accepts, reads one line, answers it in upper case, shuts the connection down, and
 * checks that a second, non-blocking accept finds nobody (EAGAIN). run-guests.py is the client.
 */
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

int main(void) {
    const __wasi_fd_t listener = 3;
    __wasi_fdstat_t st;
    if (__wasi_fd_fdstat_get(listener, &st) != 0 || st.fs_filetype != __WASI_FILETYPE_SOCKET_STREAM) {
        printf("fd 3 is not a socket\n");
        return 1;
    }
    __wasi_subscription_t sub = { .userdata = 42,
                                  .u.tag = __WASI_EVENTTYPE_FD_READ,
                                  .u.u.fd_read.file_descriptor = listener };
    __wasi_event_t ev;
    __wasi_size_t nev;
    if (__wasi_poll_oneoff(&sub, &ev, 1, &nev) != 0 || nev != 1 || ev.userdata != 42 || ev.error) {
        printf("poll_oneoff failed\n");
        return 1;
    }
    __wasi_fd_t conn;
    __wasi_errno_t e = __wasi_sock_accept(listener, 0, &conn);
    if (e) {
        printf("accept: errno %u\n", (unsigned)e);
        return 1;
    }
    char buf[128];
    size_t got = 0;
    while (got < sizeof buf - 1 && (got == 0 || buf[got - 1] != '\n')) {
        __wasi_iovec_t iov = { (uint8_t *)buf + got, sizeof buf - 1 - got };
        __wasi_size_t n;
        __wasi_roflags_t rof;
        if (__wasi_sock_recv(conn, &iov, 1, 0, &n, &rof) != 0 || n == 0) break;
        got += n;
    }
    for (size_t i = 0; i < got; i++)
        if (buf[i] >= 'a' && buf[i] <= 'z') buf[i] = (char)(buf[i] - 32);
    __wasi_ciovec_t out = { (const uint8_t *)buf, got };
    __wasi_size_t sent;
    if (__wasi_sock_send(conn, &out, 1, 0, &sent) != 0 || sent != got) {
        printf("send failed\n");
        return 1;
    }
    if (__wasi_sock_shutdown(conn, __WASI_SDFLAGS_RD | __WASI_SDFLAGS_WR) != 0) {
        printf("shutdown failed\n");
        return 1;
    }
    __wasi_fd_t none;
    e = __wasi_sock_accept(listener, __WASI_FDFLAGS_NONBLOCK, &none);
    printf("served %zu bytes; second accept: errno %u\n", got, (unsigned)e);
    return e == __WASI_ERRNO_AGAIN ? 0 : 1;
}
