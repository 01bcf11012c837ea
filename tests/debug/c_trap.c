/* c_trap.c -- traps at known source lines for tests/debug/run-debug.py (built with clang -g -O0).
 * Line numbers are checked by the test: keep the lines of the marked statements where they are. */
#include <stdio.h>
#include <stdlib.h>

static inline __attribute__((always_inline)) int check_positive(int x) {
    if (x < 0) __builtin_trap(); /* TRAP-INLINED: line 7 */
    return x;
}

__attribute__((noinline)) int descend(int n) {
    if (n == 0) __builtin_trap(); /* TRAP-DEEP: line 12 */
    return descend(n - 1) + 1;    /* CALL-DEEP: line 13 */
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "deep";
    if (mode[0] == 'd') return descend(3);                     /* line 18 */
    if (mode[0] == 'i') return check_positive(-atoi("5"));     /* line 19 */
    if (mode[0] == 'r') return descend(100000);                /* line 20 */
    if (mode[0] == 'o') return *(volatile int *)(unsigned long)0xfffffff0u; /* OOB: line 21 */
    if (mode[0] == 'a') return printf("%s\n", argv[0]) < 0;
    printf("unknown mode\n");
    return 0;
}
