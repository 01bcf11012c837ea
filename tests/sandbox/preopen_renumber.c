/* preopen_renumber.c -- hostile guest: renumbering a preopen onto stdout, then writing to it. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_size_t n;
    __wasi_ciovec_t iov = { (const uint8_t *)"x", 1 };
    MUST(__wasi_fd_renumber(ro, 1));
    REFUSED(__wasi_fd_write(1, &iov, 1, &n));
    __wasi_fd_t fd;
    REFUSED(hopen(1, "data.txt", 0, __WASI_OFLAGS_TRUNC, WRITE_RIGHTS, &fd));
    EXPECT_ERRNO(__wasi_fd_renumber(ro, 2), __WASI_ERRNO_BADF);
    return hostile_finish();
}
