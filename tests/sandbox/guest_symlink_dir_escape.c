/* guest_symlink_dir_escape.c -- hostile guest: the guest making a directory symlink out and walking through it. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_symlink("../outside", box, "evil_dir");
    printf("symlink creation: errno %u\n", (unsigned)e);
    REFUSED(hopen(box, "evil_dir/sentinel.txt", 0, 0, READ_RIGHTS, &fd));
    REFUSED(__wasi_path_create_directory(box, "evil_dir/pwned"));
    REFUSED(__wasi_path_unlink_file(box, "evil_dir/sentinel.txt"));
    return hostile_finish();
}
