/* ro_symlink_out.c -- hostile guest: a symlink beneath the read-only preopen pointing outside. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    REFUSED(hopen(ro, "out_link", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0, READ_RIGHTS, &fd));
    REFUSED(hopen(ro, "../box/file.txt", 0, 0, WRITE_RIGHTS, &fd));
    return hostile_finish();
}
