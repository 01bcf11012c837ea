/* guest_symlink_escape.c -- hostile guest: the guest creating a relative symlink out, then using it. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    __wasi_filestat_t st;
    /* Creating the link itself may be allowed (it is only text); following it never is. */
    __wasi_errno_t e = __wasi_path_symlink("../outside/sentinel.txt", box, "evil_rel");
    printf("symlink creation: errno %u\n", (unsigned)e);
    REFUSED(hopen(box, "evil_rel", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0, READ_RIGHTS, &fd));
    REFUSED(
        hopen(box, "evil_rel", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, __WASI_OFLAGS_TRUNC, WRITE_RIGHTS, &fd));
    REFUSED(__wasi_path_filestat_get(box, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "evil_rel", &st));
    return hostile_finish();
}
