/* hello_native.c -- the native twin of hello.c's default path, linked statically (gcc -static)
 * into a one-file image: the delegated container of the containerd test and the runc baseline of
 * bench/containers.sh. */
#include <stdio.h>

int main(int argc, char **argv) {
    puts("hello from native");
    for (int i = 1; i < argc; i++) printf("arg[%d]=%s\n", i, argv[i]);
    return 0;
}
