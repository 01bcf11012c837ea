/* symlink_loop.c -- hostile guest: symlink loops end with ELOOP, not a hang. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    __wasi_filestat_t st;
    EXPECT_ERRNO(hopen(box, "loop1", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0, READ_RIGHTS, &fd),
                 __WASI_ERRNO_LOOP);
    EXPECT_ERRNO(__wasi_path_filestat_get(box, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "loop1", &st),
                 __WASI_ERRNO_LOOP);
    REFUSED(hopen(box, "loop1/x", 0, 0, READ_RIGHTS, &fd));
    return hostile_finish();
}
