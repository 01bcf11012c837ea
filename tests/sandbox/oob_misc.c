/* oob_misc.c -- hostile guest: random_get, prestat names, readdir and poll buffers outside memory. */
#include "hostile.h"

#include "raw.h"

int main(void) {
    BOX_AND_RO();
    int32_t n;
    EXPECT_ERRNO(raw_random_get((int32_t)0xFFFFFF00u, 0x200), __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_random_get(16, (int32_t)0xFFFFFFFFu), __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_fd_prestat_dir_name(box, 16, (int32_t)0xFFFFFFFFu), __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_fd_readdir(box, (int32_t)0xFFFFFF00u, 0x1000, 0, (int32_t)(uintptr_t)&n),
                 __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_poll_oneoff(16, 16, 0x10000000, (int32_t)(uintptr_t)&n), __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_poll_oneoff(16, 16, (int32_t)0xFFFFFFFFu, (int32_t)(uintptr_t)&n), __WASI_ERRNO_FAULT);
    return hostile_finish();
}
