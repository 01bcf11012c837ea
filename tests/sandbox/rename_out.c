/* rename_out.c -- hostile guest: rename from inside to outside the preopen. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    REFUSED(__wasi_path_rename(box, "file.txt", box, "../outside/stolen"));
    REFUSED(__wasi_path_rename(box, "sub", box, "../outside/stolen_dir"));
    REFUSED(__wasi_path_rename(box, "file.txt", box, "middir/stolen"));
    return hostile_finish();
}
