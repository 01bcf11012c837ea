/* rename_over_outside.c -- hostile guest: rename onto the sentinel to replace it. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    REFUSED(__wasi_path_rename(box, "file.txt", box, "rel_link/../sentinel.txt"));
    REFUSED(__wasi_path_rename(box, "file.txt", box, "../outside/sentinel.txt"));
    return hostile_finish();
}
