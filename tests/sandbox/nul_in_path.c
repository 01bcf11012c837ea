/* nul_in_path.c -- hostile guest: a NUL byte inside a path (the host must not cut the path there). */
#include "hostile.h"

#include "raw.h"

int main(void) {
    BOX_AND_RO();
    static const char path[] = "file.txt\0../../outside/sentinel.txt";
    __wasi_fd_t fd;
    REFUSED(raw_path_open(box, 0, (int32_t)(uintptr_t)path, (int32_t)(sizeof path - 1), 0,
                          (int64_t)READ_RIGHTS, 0, 0, (int32_t)(uintptr_t)&fd));
    return hostile_finish();
}
