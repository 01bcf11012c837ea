/* symlink_dangling_create.c -- hostile guest: O_CREAT through a dangling symlink that points outside. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    REFUSED(
        hopen(box, "dangling", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, __WASI_OFLAGS_CREAT, WRITE_RIGHTS, &fd));
    REFUSED(hopen(box, "dangling", 0, __WASI_OFLAGS_CREAT, WRITE_RIGHTS, &fd));
    return hostile_finish();
}
