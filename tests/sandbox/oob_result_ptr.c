/* oob_result_ptr.c -- hostile guest: result pointers outside memory (nothing may be written anywhere). */
#include "hostile.h"

#include "raw.h"

int main(void) {
    BOX_AND_RO();
    static uint32_t iov[2];
    iov[0] = (uint32_t)(uintptr_t) "x";
    iov[1] = 1;
    EXPECT_ERRNO(raw_fd_write(1, (int32_t)(uintptr_t)iov, 1, (int32_t)0xFFFFFFFEu), __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_clock_time_get(1, 0, (int32_t)0xFFFFFFFCu), __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_args_sizes_get((int32_t)0xFFFFFFFFu, 0), __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_environ_sizes_get(0, (int32_t)0xFFFFFFFDu), __WASI_ERRNO_FAULT);
    return hostile_finish();
}
