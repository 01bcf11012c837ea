/* readlink_outside.c -- hostile guest: readlink of a link outside the root. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    char buf[256];
    __wasi_size_t n;
    REFUSED(__wasi_path_readlink(box, "../outside/sentinel.txt", (uint8_t *)buf, sizeof buf, &n));
    REFUSED(__wasi_path_readlink(box, "middir/anything", (uint8_t *)buf, sizeof buf, &n));
    return hostile_finish();
}
