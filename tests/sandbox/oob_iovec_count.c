/* oob_iovec_count.c -- hostile guest: an iovec count whose byte size overflows 32 bits. */
#include "hostile.h"

#include "raw.h"

int main(void) {
    BOX_AND_RO();
    static uint32_t iov[2] = { 0, 1 };
    int32_t n;
    EXPECT_ERRNO(raw_fd_write(1, (int32_t)(uintptr_t)iov, 0x20000001, (int32_t)(uintptr_t)&n),
                 __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_fd_write(1, (int32_t)(uintptr_t)iov, (int32_t)0xFFFFFFFFu, (int32_t)(uintptr_t)&n),
                 __WASI_ERRNO_FAULT);
    return hostile_finish();
}
