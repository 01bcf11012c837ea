/* sock_no_grant.c -- hostile guest: socket calls with no --tcplisten granted. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    REFUSED(__wasi_sock_accept(box, 0, &fd));
    REFUSED(__wasi_sock_accept(1, 0, &fd));
    REFUSED(__wasi_sock_shutdown(1, __WASI_SDFLAGS_WR));
    for (__wasi_fd_t s = 3; s < 64; s++)
        if (__wasi_sock_accept(s, __WASI_FDFLAGS_NONBLOCK, &fd) == 0) {
            printf("ESCAPED: accepted on fd %u\n", (unsigned)s);
            hostile_failures++;
        }
    return hostile_finish();
}
