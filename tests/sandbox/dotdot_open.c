/* dotdot_open.c -- hostile guest: '..' above the preopen root, for reading. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    EXPECT_ERRNO(hopen(box, "../outside/sentinel.txt", 0, 0, READ_RIGHTS, &fd), __WASI_ERRNO_NOTCAPABLE);
    EXPECT_ERRNO(hopen(box, "..", 0, 0, READ_RIGHTS, &fd), __WASI_ERRNO_NOTCAPABLE);
    return hostile_finish();
}
