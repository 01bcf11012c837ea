/*
 * cli_io.c -- a component guest for what cli_hello cannot pin in its output: clocks, random bytes,
 * writing into a preopened directory and stdin (recipe: build.sh). run-components.py checks the
 * properties of its output under kapsul and jco alike.
 *
 * usage: cli_io clock            "monotonic: ok" when the monotonic clock advances, "wall: SECONDS"
 *        cli_io random N         N random bytes (getentropy) in hex
 *        cli_io write PATH TEXT  write TEXT to PATH, append "+" to it, read it back and print it
 *        cli_io stdin            the number of bytes read from stdin and the first line
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static int clocks(void) {
    struct timespec a, b, w;
    clock_gettime(CLOCK_MONOTONIC, &a);
    volatile unsigned x = 0;
    do {
        for (int i = 0; i < 100000; i++) x += (unsigned)i;
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while (b.tv_sec == a.tv_sec && b.tv_nsec == a.tv_nsec);
    int ok = b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec > a.tv_nsec);
    printf("monotonic: %s\n", ok ? "ok" : "bad");
    clock_gettime(CLOCK_REALTIME, &w);
    printf("wall: %lld\n", (long long)w.tv_sec);
    return 0;
}

static int random_bytes(int n) {
    unsigned char buf[256];
    if (n < 0 || n > 256 || getentropy(buf, (size_t)n) != 0) return 3;
    for (int i = 0; i < n; i++) printf("%02x", buf[i]);
    printf("\n");
    return 0;
}

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) {
        printf("open %s for writing: failed\n", path);
        return 4;
    }
    fputs(text, f);
    fclose(f);
    if (!(f = fopen(path, "a"))) return 5;
    fputs("+", f);
    fclose(f);
    char buf[256];
    if (!(f = fopen(path, "r"))) return 6;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    printf("read back %zu bytes: %s\n", n, buf);
    return 0;
}

static int read_stdin(void) {
    char buf[4096], first[256] = "";
    size_t total = 0, n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        if (total == 0) {
            size_t k = 0;
            while (k < n && k < sizeof first - 1 && buf[k] != '\n') k++;
            memcpy(first, buf, k);
            first[k] = 0;
        }
        total += n;
    }
    printf("stdin: %zu bytes, first line: %s\n", total, first);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "clock") == 0) return clocks();
    if (argc >= 3 && strcmp(argv[1], "random") == 0) return random_bytes(atoi(argv[2]));
    if (argc >= 4 && strcmp(argv[1], "write") == 0) return write_file(argv[2], argv[3]);
    if (argc >= 2 && strcmp(argv[1], "stdin") == 0) return read_stdin();
    fprintf(stderr, "usage: cli_io clock | random N | write PATH TEXT | stdin\n");
    return 2;
}
