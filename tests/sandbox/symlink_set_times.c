/* symlink_set_times.c -- hostile guest: path_filestat_set_times following a link onto the sentinel. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    REFUSED(__wasi_path_filestat_set_times(box, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "abs_link", 0, 0,
                                           __WASI_FSTFLAGS_ATIM_NOW | __WASI_FSTFLAGS_MTIM_NOW));
    REFUSED(__wasi_path_filestat_set_times(box, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "rel_link", 1, 1,
                                           __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    REFUSED(__wasi_path_filestat_set_times(box, 0, "../outside/sentinel.txt", 1, 1,
                                           __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    return hostile_finish();
}
