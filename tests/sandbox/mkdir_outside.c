/* mkdir_outside.c -- hostile guest: mkdir above the root. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    REFUSED(__wasi_path_create_directory(box, "../outside/newdir"));
    REFUSED(__wasi_path_create_directory(box, "../newdir"));
    return hostile_finish();
}
