/* ro_write.c -- hostile guest: opening a file for writing beneath a read-only preopen. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    REFUSED(hopen(ro, "data.txt", 0, 0, WRITE_RIGHTS, &fd));
    REFUSED(__wasi_path_open(ro, 0, "data.txt", 0, READ_RIGHTS, 0, __WASI_FDFLAGS_APPEND, &fd));
    return hostile_finish();
}
