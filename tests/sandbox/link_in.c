/* link_in.c -- hostile guest: hard link to the sentinel from a name inside. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    REFUSED(__wasi_path_link(box, 0, "../outside/sentinel.txt", box, "hard"));
    REFUSED(__wasi_path_link(box, 0, "middir/sentinel.txt", box, "hard2"));
    REFUSED(__wasi_path_link(box, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "abs_link", box, "hard3"));
    REFUSED(__wasi_path_link(box, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "rel_link", box, "hard4"));
    return hostile_finish();
}
