/* hello.c -- the wasm guest of the containerd test and bench/containers.sh (built with clang
 * --target=wasm32-wasi). With no arguments it prints one line and exits 0 (the benchmark's hello).
 *   args        print each argument on its own line: "arg[i]=..."
 *   env NAME    print "NAME=<value>" or "NAME unset"
 *   cat PATH    print the file at PATH (from the preopened rootfs or a mount)
 *   exit N      exit with status N
 *   loop        spin forever (ctr task kill must end it)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        puts("hello from wasm");
        return 0;
    }
    if (strcmp(argv[1], "args") == 0) {
        for (int i = 0; i < argc; i++) printf("arg[%d]=%s\n", i, argv[i]);
        return 0;
    }
    if (strcmp(argv[1], "env") == 0 && argc > 2) {
        const char *v = getenv(argv[2]);
        if (v) printf("%s=%s\n", argv[2], v);
        else printf("%s unset\n", argv[2]);
        return 0;
    }
    if (strcmp(argv[1], "cat") == 0 && argc > 2) {
        FILE *f = fopen(argv[2], "r");
        if (!f) {
            perror(argv[2]);
            return 2;
        }
        char buf[256];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
        fclose(f);
        return 0;
    }
    if (strcmp(argv[1], "exit") == 0 && argc > 2) {
        printf("exiting with %s\n", argv[2]);
        return atoi(argv[2]);
    }
    if (strcmp(argv[1], "loop") == 0) {
        puts("looping");
        fflush(stdout);
        volatile unsigned long n = 0;
        for (;;) n++;
    }
    fprintf(stderr, "hello: unknown command %s\n", argv[1]);
    return 64;
}
