/* link_out.c -- hostile guest: hard link from inside to a name outside. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    REFUSED(__wasi_path_link(box, 0, "file.txt", box, "../outside/linked"));
    REFUSED(__wasi_path_link(box, 0, "file.txt", box, "middir/linked"));
    return hostile_finish();
}
