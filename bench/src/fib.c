/* fib: naive doubly recursive Fibonacci. Measures call and return cost,
 * which an interpreter pays in frame set-up and argument passing. */
#include "bench.h"

static uint32_t fib(uint32_t n) {
    if (n < 2) return n;
    return fib(n - 1) + fib(n - 2);
}

int main(int argc, char **argv) {
    uint32_t n = (uint32_t)bench_param(argc, argv, 43);
    uint32_t r = fib(n);
    printf("fib(%u) = %u\n", n, r);
    return 0;
}
