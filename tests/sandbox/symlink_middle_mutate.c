/* symlink_middle_mutate.c -- hostile guest: mutations through a directory symlink in a middle component. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    REFUSED(__wasi_path_unlink_file(box, "middir/sentinel.txt"));
    REFUSED(__wasi_path_create_directory(box, "middir/newdir"));
    REFUSED(__wasi_path_remove_directory(box, "middir/secret"));
    REFUSED(__wasi_path_symlink("x", box, "middir/newlink"));
    REFUSED(__wasi_path_rename(box, "middir/sentinel.txt", box, "stolen"));
    return hostile_finish();
}
