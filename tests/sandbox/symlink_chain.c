/* symlink_chain.c -- hostile guest: a chain of three symlinks whose last hop leaves. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    REFUSED(hopen(box, "chain1", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0, READ_RIGHTS, &fd));
    REFUSED(hopen(box, "chain2", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0, READ_RIGHTS, &fd));
    return hostile_finish();
}
