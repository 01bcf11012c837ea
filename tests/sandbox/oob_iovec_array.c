/* oob_iovec_array.c -- hostile guest: an iovec array past the end of memory. */
#include "hostile.h"

#include "raw.h"

int main(void) {
    BOX_AND_RO();
    int32_t n;
    EXPECT_ERRNO(raw_fd_write(1, 0x7FFFFFF0, 1, (int32_t)(uintptr_t)&n), __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_fd_write(1, (int32_t)0xFFFFFFF8u, 1, (int32_t)(uintptr_t)&n), __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_fd_read(0, (int32_t)0xFFFFFFFFu, 2, (int32_t)(uintptr_t)&n), __WASI_ERRNO_FAULT);
    return hostile_finish();
}
