/* oob_iovec_buffer.c -- hostile guest: an iovec whose buffer runs past memory, or wraps around 2^32. */
#include "hostile.h"

#include "raw.h"

int main(void) {
    BOX_AND_RO();
    static uint32_t iov[2];
    int32_t n;
    iov[0] = 0xFFFFFF00u;
    iov[1] = 0x200; /* ptr + len wraps in 32 bits */
    EXPECT_ERRNO(raw_fd_write(1, (int32_t)(uintptr_t)iov, 1, (int32_t)(uintptr_t)&n), __WASI_ERRNO_FAULT);
    iov[0] = 16;
    iov[1] = 0xFFFFFFFFu; /* length larger than memory */
    EXPECT_ERRNO(raw_fd_write(1, (int32_t)(uintptr_t)iov, 1, (int32_t)(uintptr_t)&n), __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_fd_read(0, (int32_t)(uintptr_t)iov, 1, (int32_t)(uintptr_t)&n), __WASI_ERRNO_FAULT);
    return hostile_finish();
}
