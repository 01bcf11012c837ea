/* symlink_stat_follow.c -- hostile guest: path_filestat_get following links that leave. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_filestat_t st;
    REFUSED(__wasi_path_filestat_get(box, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "abs_link", &st));
    REFUSED(__wasi_path_filestat_get(box, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "rel_link", &st));
    REFUSED(__wasi_path_filestat_get(box, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "chain1", &st));
    return hostile_finish();
}
