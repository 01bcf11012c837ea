/*
 * instantiate.c -- what a fresh sandbox per request costs in process, through kapsul.h only (no
 * HTTP): a WAGI hello handler (bench/src/wagi_hello.c) instantiated, run to the end of _start
 * with its request environment and in-memory stdio, its output checked, and everything freed,
 * again and again. Three ways:
 *   template       kapsul_template_instantiate: imports resolved once, memory 0 from the pool
 *                  mapped copy-on-write over the data image, reset when the store is freed
 *   template-only  the same without running _start (the floor of the instance itself)
 *   template-madvise  template with keep_resident_bytes = SIZE_MAX: a slot's pages are all
 *                  dropped with madvise on reset instead of rewritten in place
 *   linker         the plain path: kapsul_linker_new + kapsul_wasi_define +
 *                  kapsul_linker_instantiate per request (a new 8 GiB reservation each time)
 * Prints p50, p99 and mean in microseconds for each. Timing only: nothing here is a test.
 *
 *   bench/instantiate.sh [N]      builds this against build/libkapsul.a and runs it
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kapsul.h"

static const char *const kEnv[] = {
    "REQUEST_METHOD=GET",
    "PATH_INFO=/hello",
    "SCRIPT_NAME=/",
    "QUERY_STRING=",
    "SERVER_NAME=localhost",
    "SERVER_PORT=3000",
    "SERVER_PROTOCOL=HTTP/1.1",
    "REMOTE_ADDR=127.0.0.1",
    "HTTP_HOST=localhost:3000",
    "HTTP_USER_AGENT=bench",
};
static const char *const kArgv[] = { "/hello" };
static const char kWant[] = "Content-Type: text/plain\n\nhello";

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, const kapsul_error *err) {
    fprintf(stderr, "instantiate: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

/* _start returns, or ends in proc_exit(0): both are a finished request. */
static void run_start(kapsul_store *s, kapsul_instance *inst, kapsul_wasi *w) {
    kapsul_error err;
    kapsul_status st = kapsul_func_call(s, kapsul_instance_func(inst, "_start"), NULL, 0, NULL, 0, &err);
    if (st != KAPSUL_OK && !(st == KAPSUL_ERR_EXIT && err.exit_code == 0)) die("_start", &err);
    const uint8_t *out;
    size_t len;
    if (kapsul_wasi_output(w, 1, &out, &len, &err) || len != sizeof kWant - 1 || memcmp(out, kWant, len))
        die("the handler's output", NULL);
}

static kapsul_wasi *new_wasi(void) {
    kapsul_wasi_config cfg = { .argv = kArgv,
                               .argc = 1,
                               .env = kEnv,
                               .envc = sizeof kEnv / sizeof kEnv[0],
                               .mem_stdio =
                                   KAPSUL_WASI_MEM_STDIN | KAPSUL_WASI_MEM_STDOUT | KAPSUL_WASI_MEM_STDERR,
                               .output_cap = 1 << 20 };
    kapsul_wasi *w;
    kapsul_error err;
    if (kapsul_wasi_new(&cfg, &w, &err)) die("kapsul_wasi_new", &err);
    return w;
}

enum {
    TEMPLATE,
    TEMPLATE_ONLY,
    LINKER
};

static void one_request(int how, kapsul_engine *e, kapsul_module *mod, kapsul_template *tpl) {
    kapsul_error err;
    kapsul_wasi *w = new_wasi();
    kapsul_store *s;
    kapsul_instance *inst;
    if (kapsul_store_new(e, &s, &err)) die("kapsul_store_new", &err);
    if (how == LINKER) {
        kapsul_linker *l;
        if (kapsul_linker_new(s, &l, &err) || kapsul_wasi_define(w, l, &err) ||
            kapsul_linker_instantiate(l, mod, &inst, &err))
            die("kapsul_linker_instantiate", &err);
        kapsul_linker_free(l);
    } else if (kapsul_template_instantiate(tpl, s, w, &inst, &err)) {
        die("kapsul_template_instantiate", &err);
    }
    if (how != TEMPLATE_ONLY) run_start(s, inst, w);
    kapsul_store_free(s);
    kapsul_wasi_free(w);
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void measure(const char *name, int how, int n, kapsul_engine *e, kapsul_module *mod,
                    kapsul_template *tpl) {
    uint64_t *t = malloc((size_t)n * sizeof *t);
    if (!t) die("malloc", NULL);
    for (int i = 0; i < n / 10 + 10; i++) one_request(how, e, mod, tpl); /* warm-up */
    double sum = 0;
    for (int i = 0; i < n; i++) {
        uint64_t t0 = now_ns();
        one_request(how, e, mod, tpl);
        t[i] = now_ns() - t0;
        sum += (double)t[i];
    }
    qsort(t, (size_t)n, sizeof *t, cmp);
    printf("%-16s n=%-7d p50 %8.2f us   p99 %8.2f us   mean %8.2f us\n", name, n, t[n / 2] / 1e3,
           t[(size_t)n * 99 / 100] / 1e3, sum / n / 1e3);
    free(t);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: instantiate HANDLER.wasm [N [MODE]]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 20000;
    if (n < 10) n = 10;
    FILE *f = fopen(argv[1], "rb");
    if (!f) die(argv[1], NULL);
    static uint8_t buf[16 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    kapsul_error err;
    kapsul_engine *e;
    kapsul_module *mod;
    kapsul_template *tpl, *tpl_madvise;
    const kapsul_template_import *wi;
    size_t nwi;
    if (kapsul_engine_new(NULL, &e, &err) || kapsul_module_new(e, buf, len, &mod, &err) ||
        kapsul_wasi_template_imports(&wi, &nwi, &err) ||
        kapsul_template_new(e, mod, wi, nwi, NULL, &tpl, &err))
        die("setup", &err);
    kapsul_template_config drop_all = { .keep_resident_bytes = SIZE_MAX };
    if (kapsul_template_new(e, mod, wi, nwi, &drop_all, &tpl_madvise, &err)) die("setup", &err);
    const char *only = argc > 3 ? argv[3] : ""; /* a mode's name runs only that mode */
    if (!*only || !strcmp(only, "template")) measure("template", TEMPLATE, n, e, mod, tpl);
    if (!*only || !strcmp(only, "template-only")) measure("template-only", TEMPLATE_ONLY, n, e, mod, tpl);
    if (!*only || !strcmp(only, "template-madvise"))
        measure("template-madvise", TEMPLATE, n, e, mod, tpl_madvise);
    if (!*only || !strcmp(only, "linker")) measure("linker", LINKER, n, e, mod, tpl);
    kapsul_template_free(tpl);
    kapsul_template_free(tpl_madvise);
    kapsul_module_free(mod);
    kapsul_engine_free(e);
    return 0;
}
