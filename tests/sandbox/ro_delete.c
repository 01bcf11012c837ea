/* ro_delete.c -- hostile guest: unlink, rmdir and rename beneath a read-only preopen. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    REFUSED(__wasi_path_unlink_file(ro, "data.txt"));
    REFUSED(__wasi_path_remove_directory(ro, "subdir"));
    REFUSED(__wasi_path_rename(ro, "data.txt", ro, "moved.txt"));
    REFUSED(__wasi_path_rename(ro, "data.txt", box, "moved.txt"));
    REFUSED(__wasi_path_rename(box, "file.txt", ro, "data.txt"));
    return hostile_finish();
}
