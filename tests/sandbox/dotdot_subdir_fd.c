/* dotdot_subdir_fd.c -- hostile guest: '..' from a directory fd opened beneath the preopen. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t sub, fd;
    MUST(hopen(box, "sub", 0, __WASI_OFLAGS_DIRECTORY, DIR_RIGHTS, &sub));
    REFUSED(hopen(sub, "../../outside/sentinel.txt", 0, 0, READ_RIGHTS, &fd));
    REFUSED(hopen(sub, "..", 0, __WASI_OFLAGS_DIRECTORY, DIR_RIGHTS, &fd));
    return hostile_finish();
}
