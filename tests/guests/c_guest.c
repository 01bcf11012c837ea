/*
 * c_guest.c -- a real C program built with Debian's clang for wasm32-wasi (wasi-libc), run by
 * run-guests.py: files and directories beneath the preopen "data", arguments, environment,
 * clocks, randomness and the exit code. Output is deterministic; run-guests.py compares it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int failures;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            printf("check failed line %d: %s (errno %d)\n", __LINE__, #cond, errno); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

static void files(void) {
    FILE *f = fopen("data/out.txt", "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("line one\n", f);
    fclose(f);
    f = fopen("data/out.txt", "a");
    CHECK(f != NULL);
    if (f) {
        fputs("line two\n", f);
        fclose(f);
    }
    char buf[64] = { 0 };
    f = fopen("data/out.txt", "r");
    CHECK(f != NULL);
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        printf("file: %zu bytes: %s", n, buf);
    }
    struct stat st;
    CHECK(stat("data/out.txt", &st) == 0 && st.st_size == 18 && S_ISREG(st.st_mode));
    CHECK(mkdir("data/dir", 0755) == 0);
    CHECK(rename("data/out.txt", "data/dir/moved.txt") == 0);
    CHECK(access("data/out.txt", F_OK) != 0 && errno == ENOENT);
    DIR *d = opendir("data/dir");
    CHECK(d != NULL);
    int entries = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            printf("dir entry: %s\n", de->d_name), entries++;
    if (d) closedir(d);
    CHECK(entries == 1);
    CHECK(unlink("data/dir/moved.txt") == 0);
    CHECK(rmdir("data/dir") == 0);
    CHECK(fopen("/etc/passwd", "r") == NULL);
    f = fopen("rodata/notes.txt", "r");
    CHECK(f != NULL);
    if (f) {
        char ro[64] = { 0 };
        CHECK(fgets(ro, sizeof ro, f) != NULL);
        fclose(f);
        printf("read-only: %s", ro);
    }
    CHECK(fopen("rodata/notes.txt", "a") == NULL);
    CHECK(fopen("rodata/new.txt", "w") == NULL);
    CHECK(unlink("rodata/notes.txt") != 0);
    CHECK(fopen("data/../../escape", "w") == NULL);
}

int main(int argc, char **argv) {
    printf("argc: %d\n", argc);
    for (int i = 1; i < argc; i++) printf("arg %d: %s\n", i, argv[i]);
    const char *g = getenv("GREETING");
    printf("GREETING: %s\n", g ? g : "(unset)");
    printf("HOME: %s\n", getenv("HOME") ? "leaked" : "(unset)");
    files();
    struct timespec a, b, r;
    CHECK(clock_gettime(CLOCK_MONOTONIC, &a) == 0);
    CHECK(clock_gettime(CLOCK_MONOTONIC, &b) == 0);
    CHECK(b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec));
    CHECK(clock_gettime(CLOCK_REALTIME, &r) == 0 && r.tv_sec > 1600000000);
    unsigned char rnd[32] = { 0 };
    CHECK(getentropy(rnd, sizeof rnd) == 0);
    int nonzero = 0;
    for (size_t i = 0; i < sizeof rnd; i++) nonzero |= rnd[i];
    CHECK(nonzero);
    printf("clocks and random: ok\n");
    printf("failures: %d\n", failures);
    fflush(stdout);
    return failures ? 1 : 7;
}
