/* bad_values.c -- hostile guest: out-of-range enums, offsets and flags get EINVAL, not host behaviour. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_filesize_t off;
    __wasi_fd_t fd;
    __wasi_timestamp_t t;
    MUST(hopen(box, "file.txt", 0, 0, READ_RIGHTS | WRITE_RIGHTS, &fd));
    REFUSED(__wasi_fd_seek(fd, 0, 7, &off));
    REFUSED(__wasi_fd_seek(fd, -1000, __WASI_WHENCE_SET, &off));
    REFUSED(__wasi_clock_time_get(99, 0, &t));
    REFUSED(__wasi_fd_filestat_set_size(fd, (__wasi_filesize_t)-1));
    REFUSED(__wasi_fd_advise(fd, 0, 0, 99));
    REFUSED(__wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));
    return hostile_finish();
}
