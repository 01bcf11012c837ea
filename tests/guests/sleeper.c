/*
 * sleeper.c -- a C guest that blocks inside the host: with no argument it sleeps 60 s
 * (poll_oneoff on a clock), with "read" it waits for stdin (a pipe nobody writes to). Run with
 * --timeout, kapsul must stop it with a timeout trap (exit 134) instead of waiting.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "read") == 0) {
        char buf[16];
        ssize_t n = read(0, buf, sizeof buf);
        printf("read returned %zd\n", n);
        return 0;
    }
    sleep(60);
    puts("woke up");
    return 0;
}
