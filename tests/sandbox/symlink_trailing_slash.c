/* symlink_trailing_slash.c -- hostile guest: a trailing slash forces a final symlink to be followed. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    __wasi_filestat_t st;
    REFUSED(hopen(box, "absdir/", 0, __WASI_OFLAGS_DIRECTORY, READ_RIGHTS, &fd));
    REFUSED(__wasi_path_filestat_get(box, 0, "middir/", &st));
    REFUSED(__wasi_path_filestat_set_times(box, 0, "middir/", 0, 0,
                                           __WASI_FSTFLAGS_ATIM_NOW | __WASI_FSTFLAGS_MTIM_NOW));
    return hostile_finish();
}
