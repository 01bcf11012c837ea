/* oob_args_env.c -- hostile guest: args_get and environ_get into buffers past memory. */
#include "hostile.h"

#include "raw.h"

int main(void) {
    BOX_AND_RO();
    static uint32_t ptrs[16];
    EXPECT_ERRNO(raw_args_get((int32_t)(uintptr_t)ptrs, (int32_t)0xFFFFFFF0u), __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_args_get((int32_t)0xFFFFFFF0u, (int32_t)(uintptr_t)ptrs), __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_environ_get((int32_t)0xFFFFFFF0u, (int32_t)(uintptr_t)ptrs), __WASI_ERRNO_FAULT);
    return hostile_finish();
}
