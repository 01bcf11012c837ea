/* absolute_paths.c -- hostile guest: absolute paths on every kind of call. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    __wasi_filestat_t st;
    REFUSED(hopen(box, "/etc/passwd", 0, 0, READ_RIGHTS, &fd));
    REFUSED(hopen(box, "/", 0, __WASI_OFLAGS_DIRECTORY, READ_RIGHTS, &fd));
    REFUSED(__wasi_path_filestat_get(box, 0, "/etc/passwd", &st));
    REFUSED(__wasi_path_create_directory(box, "/tmp/kapsul-escape"));
    REFUSED(__wasi_path_unlink_file(box, "/tmp/kapsul-escape"));
    return hostile_finish();
}
