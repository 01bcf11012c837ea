/* rights_inherit.c -- hostile guest: a directory fd whose inheriting rights lack write hands out no writers. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t dir, fd;
    __wasi_size_t n;
    __wasi_ciovec_t iov = { (const uint8_t *)"x", 1 };
    MUST(hopen(box, "sub", 0, __WASI_OFLAGS_DIRECTORY, DIR_RIGHTS, &dir));
    __wasi_fdstat_t st;
    MUST(__wasi_fd_fdstat_get(dir, &st));
    MUST(__wasi_fd_fdstat_set_rights(
        dir, st.fs_rights_base & ~(__wasi_rights_t)__WASI_RIGHTS_PATH_CREATE_FILE, READ_RIGHTS));
    REFUSED(hopen(dir, "new.txt", 0, __WASI_OFLAGS_CREAT, WRITE_RIGHTS, &fd));
    MUST(__wasi_path_open(box, 0, "file.txt", 0, READ_RIGHTS, READ_RIGHTS, 0, &fd));
    REFUSED(__wasi_fd_write(fd, &iov, 1, &n));
    MUST(__wasi_fd_fdstat_set_rights(box, __WASI_RIGHTS_PATH_OPEN, 0));
    REFUSED(__wasi_path_unlink_file(box, "file.txt"));
    return hostile_finish();
}
