/* guest_symlink_absolute.c -- hostile guest: the guest creating an absolute symlink. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    REFUSED(__wasi_path_symlink("/etc/passwd", box, "evil_abs"));
    REFUSED(hopen(box, "evil_abs", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0, READ_RIGHTS, &fd));
    return hostile_finish();
}
