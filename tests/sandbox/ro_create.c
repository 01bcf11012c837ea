/* ro_create.c -- hostile guest: creating files and directories beneath a read-only preopen. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    REFUSED(hopen(ro, "new.txt", 0, __WASI_OFLAGS_CREAT, READ_RIGHTS, &fd));
    REFUSED(__wasi_path_create_directory(ro, "newdir"));
    REFUSED(__wasi_path_symlink("data.txt", ro, "newlink"));
    REFUSED(__wasi_path_link(ro, 0, "data.txt", ro, "hard"));
    return hostile_finish();
}
