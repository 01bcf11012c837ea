/* preopen_close.c -- hostile guest: closing a preopen, then using its number. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    MUST(__wasi_fd_close(box));
    EXPECT_ERRNO(hopen(box, "file.txt", 0, 0, READ_RIGHTS, &fd), __WASI_ERRNO_BADF);
    EXPECT_ERRNO(__wasi_fd_close(box), __WASI_ERRNO_BADF);
    return hostile_finish();
}
