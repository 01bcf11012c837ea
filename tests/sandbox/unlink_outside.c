/* unlink_outside.c -- hostile guest: unlink and rmdir above the root. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    REFUSED(__wasi_path_unlink_file(box, "../outside/sentinel.txt"));
    REFUSED(__wasi_path_remove_directory(box, "../outside/secret"));
    REFUSED(__wasi_path_remove_directory(box, "sub/../../outside/secret"));
    return hostile_finish();
}
