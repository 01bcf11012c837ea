/* oob_path.c -- hostile guest: path pointers and lengths outside memory. */
#include "hostile.h"

#include "raw.h"

int main(void) {
    BOX_AND_RO();
    int32_t fd;
    EXPECT_ERRNO(raw_path_open(box, 0, (int32_t)0xFFFFFFF0u, 64, 0, (int64_t)READ_RIGHTS, 0, 0,
                               (int32_t)(uintptr_t)&fd),
                 __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_path_open(box, 0, (int32_t)(uintptr_t) "file.txt", (int32_t)0xFFFFFFFFu, 0,
                               (int64_t)READ_RIGHTS, 0, 0, (int32_t)(uintptr_t)&fd),
                 __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_path_open(box, 0, (int32_t)(uintptr_t) "file.txt", 8, 0, (int64_t)READ_RIGHTS, 0, 0,
                               (int32_t)0xFFFFFFFFu),
                 __WASI_ERRNO_FAULT);
    EXPECT_ERRNO(raw_path_unlink_file(box, (int32_t)0xFFFFFF00u, 0x1000), __WASI_ERRNO_FAULT);
    return hostile_finish();
}
