/* rights_regain.c -- hostile guest: dropping a right with fd_fdstat_set_rights, then taking it back. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    __wasi_size_t n;
    __wasi_ciovec_t iov = { (const uint8_t *)"x", 1 };
    MUST(hopen(box, "file.txt", 0, 0, READ_RIGHTS | WRITE_RIGHTS, &fd));
    MUST(__wasi_fd_fdstat_set_rights(fd, READ_RIGHTS, 0));
    REFUSED(__wasi_fd_write(fd, &iov, 1, &n));
    REFUSED(__wasi_fd_fdstat_set_rights(fd, READ_RIGHTS | WRITE_RIGHTS, 0));
    REFUSED(__wasi_fd_write(fd, &iov, 1, &n));
    return hostile_finish();
}
