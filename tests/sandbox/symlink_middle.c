/* symlink_middle.c -- hostile guest: a directory symlink in a middle component. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    __wasi_filestat_t st;
    REFUSED(hopen(box, "middir/sentinel.txt", 0, 0, READ_RIGHTS, &fd));
    REFUSED(hopen(box, "absdir/sentinel.txt", 0, 0, READ_RIGHTS, &fd));
    REFUSED(__wasi_path_filestat_get(box, 0, "middir/sentinel.txt", &st));
    REFUSED(hopen(box, "sub/up/outside/sentinel.txt", 0, 0, READ_RIGHTS, &fd));
    return hostile_finish();
}
