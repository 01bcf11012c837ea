/* rename_in.c -- hostile guest: rename from outside to inside (stealing the sentinel). */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    REFUSED(__wasi_path_rename(box, "../outside/sentinel.txt", box, "got"));
    REFUSED(__wasi_path_rename(box, "abs_link/", box, "got2"));
    REFUSED(__wasi_path_rename(box, "../outside", box, "got_dir"));
    return hostile_finish();
}
