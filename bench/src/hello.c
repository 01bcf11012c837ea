/* hello: the smallest WASI program, for start-up time and peak RSS. */
#include <stdio.h>

int main(void) {
    puts("hello, world");
    return 0;
}
