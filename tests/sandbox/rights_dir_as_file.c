/* rights_dir_as_file.c -- hostile guest: reading, writing and seeking a directory fd. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_size_t n;
    __wasi_filesize_t off;
    char buf[16];
    __wasi_iovec_t iov = { (uint8_t *)buf, sizeof buf };
    __wasi_ciovec_t ciov = { (const uint8_t *)"x", 1 };
    REFUSED(__wasi_fd_read(box, &iov, 1, &n));
    REFUSED(__wasi_fd_write(box, &ciov, 1, &n));
    REFUSED(__wasi_fd_seek(box, 0, __WASI_WHENCE_END, &off));
    REFUSED(__wasi_fd_filestat_set_size(box, 0));
    return hostile_finish();
}
