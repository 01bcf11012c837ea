/* ro_rights_regain.c -- hostile guest: regaining write rights beneath a read-only preopen. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t sub, fd;
    REFUSED(__wasi_fd_fdstat_set_rights(ro, ALL_RIGHTS, ALL_RIGHTS));
    MUST(hopen(ro, "subdir", 0, __WASI_OFLAGS_DIRECTORY, READ_RIGHTS, &sub));
    REFUSED(hopen(sub, "../data.txt", 0, 0, WRITE_RIGHTS, &fd));
    REFUSED(hopen(sub, "x", 0, __WASI_OFLAGS_CREAT, WRITE_RIGHTS, &fd));
    return hostile_finish();
}
