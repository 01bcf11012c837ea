/* dotdot_deep.c -- hostile guest: '..' that first descends, then climbs out. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    REFUSED(hopen(box, "sub/../../outside/sentinel.txt", 0, 0, READ_RIGHTS, &fd));
    REFUSED(hopen(box, "sub/./../sub/../../outside", 0, __WASI_OFLAGS_DIRECTORY, READ_RIGHTS, &fd));
    REFUSED(hopen(box, "../../../../../../../../etc/passwd", 0, 0, READ_RIGHTS, &fd));
    return hostile_finish();
}
