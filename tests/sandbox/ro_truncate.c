/* ro_truncate.c -- hostile guest: truncating beneath a read-only preopen, by open and by fd. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    REFUSED(hopen(ro, "data.txt", 0, __WASI_OFLAGS_TRUNC, READ_RIGHTS, &fd));
    MUST(hopen(ro, "data.txt", 0, 0, READ_RIGHTS, &fd));
    REFUSED(__wasi_fd_filestat_set_size(fd, 0));
    REFUSED(__wasi_fd_allocate(fd, 0, 4096));
    return hostile_finish();
}
