/* dotdot_write.c -- hostile guest: '..' with create and truncate: the sentinel must stay as it is. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    REFUSED(hopen(box, "../outside/sentinel.txt", 0, __WASI_OFLAGS_TRUNC, WRITE_RIGHTS, &fd));
    REFUSED(hopen(box, "../outside/created_by_guest", 0, __WASI_OFLAGS_CREAT, WRITE_RIGHTS, &fd));
    return hostile_finish();
}
