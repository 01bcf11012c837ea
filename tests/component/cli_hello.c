/*
 * cli_hello.c -- the first component guest: a C program built with clang for wasm32-wasi and
 * adapted by `jco new --wasi-command` into a wasi:cli/run component (recipe: build.sh). It
 * exercises what a CLI program needs from WASI 0.2: arguments, one environment variable, stdout and
 * stderr, a file read through a preopened directory, the wall clock, randomness and the exit status.
 * Output is deterministic so run-components.py can compare runs of different hosts.
 *
 * usage: cli_hello [FILE [STATUS]]   FILE is read and printed; STATUS is passed to exit().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int main(int argc, char **argv) {
    printf("argc %d\n", argc);
    for (int i = 1; i < argc; i++) printf("arg %d: %s\n", i, argv[i]);
    const char *e = getenv("KAPSUL_GREETING");
    printf("KAPSUL_GREETING=%s\n", e ? e : "(unset)");
    fprintf(stderr, "to stderr\n");

    struct timespec ts;
    int clock_ok = clock_gettime(CLOCK_REALTIME, &ts) == 0 && ts.tv_sec > 1600000000;
    printf("wall clock: %s\n", clock_ok ? "ok" : "bad");

    unsigned char rnd[32];
    int nonzero = 0;
    if (getentropy(rnd, sizeof rnd) == 0)
        for (size_t i = 0; i < sizeof rnd; i++) nonzero += rnd[i] != 0;
    printf("random: %s\n", nonzero > 8 ? "ok" : "bad");

    if (argc > 1) {
        FILE *f = fopen(argv[1], "r");
        if (!f) {
            printf("open %s: failed\n", argv[1]);
        } else {
            char buf[256];
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            buf[n] = 0;
            fclose(f);
            printf("file: %zu bytes: %s", n, buf);
        }
    }
    fflush(stdout);
    return argc > 2 ? atoi(argv[2]) : 0;
}
