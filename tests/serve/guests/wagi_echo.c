/*
 * wagi_echo.c -- the WAGI test guest of tests/serve/test_serve.py: answers with what it was given.
 *
 * By the first argument after argv[0] (the query's first '&'-separated piece):
 *   (none)/env    text/plain: "argc N", each "argv[i]=...", "env NAME=VALUE" lines, "stdin N" and a
 *                 count of bytes read, "counter 1" (a static incremented once per run: a fresh
 *                 instance always prints 1), "stderr written"; writes two lines to stderr
 *   echo          the body back, byte for byte, application/octet-stream
 *   status=CODE   "Status: CODE" and a short body
 *   location      "Location: /elsewhere" only (302)
 *   bad           output without the blank line (500)
 *   exit3         valid output, then exit(3) (500)
 *   trap          __builtin_trap (500)
 *   loop          loops forever (the timeout)
 *   sleep         sleeps 1.5 s in the host (poll_oneoff), then answers "slept"
 *   grow          grows memory by 16 pages, then answers
 *   hostenv       prints every environment variable (the host's must not be there)
 *   files         prints /data/hello.txt and tries to create /data/new.txt (read-only mount)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char **environ;
static int counter;

static void env_page(int argc, char **argv) {
    static char body[1 << 20];
    size_t n = fread(body, 1, sizeof body, stdin);
    counter++;
    printf("Content-Type: text/plain\n\n");
    printf("argc %d\n", argc);
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    for (char **e = environ; *e; e++) printf("env %s\n", *e);
    printf("stdin %zu\n", n);
    printf("body %.*s\n", (int)n, body);
    printf("counter %d\n", counter);
    fprintf(stderr, "guest says hello on stderr\nsecond \"line\"\n");
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "";
    if (!*what || !strcmp(what, "env")) {
        env_page(argc, argv);
    } else if (!strcmp(what, "echo")) {
        static unsigned char buf[4 << 20];
        size_t n = fread(buf, 1, sizeof buf, stdin);
        printf("Content-Type: application/octet-stream\n\n");
        fwrite(buf, 1, n, stdout);
    } else if (!strncmp(what, "status=", 7)) {
        printf("Content-Type: text/plain\nStatus: %s\nX-Guest: yes\n\nstatus page\n", what + 7);
    } else if (!strcmp(what, "location")) {
        printf("Location: /elsewhere\n\n");
    } else if (!strcmp(what, "bad")) {
        printf("this is not a header block");
    } else if (!strcmp(what, "exit3")) {
        printf("Content-Type: text/plain\n\nbye\n");
        fflush(stdout);
        exit(3);
    } else if (!strcmp(what, "trap")) {
        printf("Content-Type: text/plain\n\nabout to trap\n");
        fflush(stdout);
        __builtin_trap();
    } else if (!strcmp(what, "loop")) {
        for (volatile unsigned i = 0;; i++) {}
    } else if (!strcmp(what, "sleep")) {
        struct timespec ts = { 1, 500000000 };
        nanosleep(&ts, NULL);
        printf("Content-Type: text/plain\n\nslept\n");
    } else if (!strcmp(what, "grow")) {
        __builtin_wasm_memory_grow(0, 16);
        printf("Content-Type: text/plain\n\ngrown\n");
    } else if (!strcmp(what, "hostenv")) {
        printf("Content-Type: text/plain\n\n");
        for (char **e = environ; *e; e++) printf("%s\n", *e);
    } else if (!strcmp(what, "files")) {
        printf("Content-Type: text/plain\n\n");
        FILE *f = fopen("/data/hello.txt", "r");
        char line[128] = "";
        if (f && fgets(line, sizeof line, f)) printf("read %s", line);
        else printf("read failed\n");
        if (f) fclose(f);
        FILE *w = fopen("/data/new.txt", "w");
        printf("write %s\n", w ? "allowed" : "refused");
        if (w) fclose(w);
        FILE *s = fopen("/static/a.txt", "r");
        printf("static %s\n", s && fgets(line, sizeof line, s) ? line : "missing");
        if (s) fclose(s);
        FILE *x = fopen("/static/secret.txt", "r");
        printf("excluded %s\n", x ? "visible" : "absent");
        if (x) fclose(x);
    } else {
        printf("Content-Type: text/plain\n\nunknown %s\n", what);
    }
    return 0;
}
