/* hello_native.c -- the native twin of hello.c's default path, linked statically (gcc -static)
 * into a one-file image: the delegated container of the containerd test and the runc baseline of
 * bench/containers.sh (which also
 * runs it with "loop" to sample a running container's memory). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "loop") == 0) { /* bench/containers.sh samples memory meanwhile */
        puts("looping");
        fflush(stdout);
        volatile unsigned long n = 0;
        for (;;) n++;
    }
    puts("hello from native");
    for (int i = 1; i < argc; i++) printf("arg[%d]=%s\n", i, argv[i]);
    return 0;
}
