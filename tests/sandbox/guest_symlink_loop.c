/* guest_symlink_loop.c -- hostile guest: a loop the guest builds itself. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    MUST(__wasi_path_symlink("gl2", box, "gl1"));
    MUST(__wasi_path_symlink("gl1", box, "gl2"));
    EXPECT_ERRNO(hopen(box, "gl1", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0, READ_RIGHTS, &fd),
                 __WASI_ERRNO_LOOP);
    return hostile_finish();
}
