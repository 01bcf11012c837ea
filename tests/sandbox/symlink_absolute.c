/* symlink_absolute.c -- hostile guest: a host-made symlink with an absolute target outside. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    REFUSED(hopen(box, "abs_link", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0, READ_RIGHTS, &fd));
    REFUSED(
        hopen(box, "abs_link", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, __WASI_OFLAGS_TRUNC, WRITE_RIGHTS, &fd));
    return hostile_finish();
}
