/* renumber_bad.c -- hostile guest: renumbering to and from fds that do not exist. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    EXPECT_ERRNO(__wasi_fd_renumber(box, 100000), __WASI_ERRNO_BADF);
    EXPECT_ERRNO(__wasi_fd_renumber(100000, box), __WASI_ERRNO_BADF);
    EXPECT_ERRNO(__wasi_fd_renumber(0xFFFFFFFFu, 0), __WASI_ERRNO_BADF);
    return hostile_finish();
}
