/* ro_times.c -- hostile guest: changing timestamps beneath a read-only preopen. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    REFUSED(
        __wasi_path_filestat_set_times(ro, 0, "data.txt", 1, 1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    MUST(hopen(ro, "data.txt", 0, 0, READ_RIGHTS, &fd));
    REFUSED(__wasi_fd_filestat_set_times(fd, 1, 1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    return hostile_finish();
}
