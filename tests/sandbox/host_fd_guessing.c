/* host_fd_guessing.c -- hostile guest: using fd numbers the guest was never given (host fds stay invisible). */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    __wasi_size_t n;
    __wasi_fdstat_t st;
    __wasi_ciovec_t iov = { (const uint8_t *)"x", 1 };
    int hits = 0;
    for (__wasi_fd_t fd = 5; fd < 1024; fd++)
        if (__wasi_fd_fdstat_get(fd, &st) == 0 || __wasi_fd_write(fd, &iov, 1, &n) == 0) hits++;
    printf("open fds found beyond the preopens: %d\n", hits);
    if (hits) hostile_failures++;
    return hostile_finish();
}
