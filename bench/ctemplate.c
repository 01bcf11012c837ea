/*
 * ctemplate.c -- a fresh component instance per request, two ways: kpCInstance_new (every core
 * module instantiated, its memory mapped and its data segments copied, the memory unmapped at
 * the end) against kpCTemplate_instantiate (src/cinstance/template.c: pooled copy-on-write
 * memories). Per request: a store, a WASI 0.2 host on in-memory stdio, the instance, one call
 * of a function without parameters, then everything freed. Prints p50/p99 in microseconds of
 * the instantiation alone and of the whole request, each way, and a ROW|... line for
 * bench/ctemplate.sh. Timing only: nothing is a test.
 * usage: ctemplate COMPONENT.wasm N FUNC [template|new]
 *   FUNC: "run" calls wasi:cli/run, else an export; the last argument runs one way only (profiling)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cinstance/cinstance.h"
#include "wasip2/wasip2.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p) {
    qsort(v, (size_t)n, sizeof *v, cmp);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

/* One request; inst and total get its times in microseconds. 0 on success. */
static int request(kapsul_engine *e, kpCPre *pre, kpCTemplate *tpl, const char *func, double *inst,
                   double *total) {
    kapsul_error err;
    kapsul_wasi_config wc = { .stdin_fd = -1, .mem_stdio = 7 };
    kapsul_wasi *w;
    kpP2 *host;
    kapsul_store *store;
    kpCInstance *ci;
    double t0 = now();
    if (kapsul_wasi_new(&wc, &w, &err) || kpP2_new(w, &host, &err) || kapsul_store_new(e, &store, &err))
        return 1;
    double a = now();
    kapsul_status st = tpl ? kpCTemplate_instantiate(tpl, store, kpP2_resolve, host, &ci, &err)
                           : kpCInstance_new(pre, store, kpP2_resolve, host, &ci, &err);
    *inst = now() - a;
    if (st) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    kpCFunc *fn = strcmp(func, "run") == 0 ? kpCInstance_func(ci, "wasi:cli/run@0.2.0", "run")
                                           : kpCInstance_func(ci, func, NULL);
    kpCArena arena = { 0 };
    kpCValue res[2];
    st = fn ? kpCFunc_call(ci, fn, NULL, res, &arena, &err) : KAPSUL_ERR_NOT_FOUND;
    kpCArena_free(&arena);
    kpCInstance_free(ci);
    kapsul_store_free(store);
    kpP2_free(host);
    kapsul_wasi_free(w);
    *total = now() - t0;
    return st != KAPSUL_OK && st != KAPSUL_ERR_EXIT;
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 1;
    size_t cap = 1 << 20, len = 0, got;
    uint8_t *bytes = malloc(cap);
    while (bytes && (got = fread(bytes + len, 1, cap - len, f)) > 0)
        if ((len += got) == cap) bytes = realloc(bytes, cap *= 2);
    fclose(f);
    int n = atoi(argv[2]);
    if (!bytes || n < 1) return 1;
    kapsul_engine *engine;
    kapsul_error err;
    kpCPre *pre;
    kpCTemplate *tpl;
    if (kapsul_engine_new(NULL, &engine, &err)) return 1;
    double t0 = now();
    if (kpCPre_new(engine, bytes, len, &pre, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    double t1 = now();
    kapsul_template_config cfg = { .pool_size = 4, .keep_resident_bytes = getenv("KEEP") ? (size_t)atol(getenv("KEEP")) : 0 };
    if (kpCTemplate_new(pre, &cfg, &tpl, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    double t2 = now();
    double *ni = malloc(n * sizeof *ni), *nt = malloc(n * sizeof *nt), *ti = malloc(n * sizeof *ti),
           *tt = malloc(n * sizeof *tt);
    /* interleaved, so both ways see the same machine; one warm-up request each */
    double d0, d1;
    if (request(engine, pre, NULL, argv[3], &d0, &d1) || request(engine, pre, tpl, argv[3], &d0, &d1)) return 1;
    const char *only = argc > 4 ? argv[4] : ""; /* "template" or "new": one way only (profiling) */
    for (int i = 0; i < n; i++) {
        ni[i] = nt[i] = ti[i] = tt[i] = 0;
        if ((strcmp(only, "template") != 0 && request(engine, pre, NULL, argv[3], &ni[i], &nt[i])) ||
            (strcmp(only, "new") != 0 && request(engine, pre, tpl, argv[3], &ti[i], &tt[i])))
            return 1;
    }
    const char *name = strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1];
    printf("%s (%zu bytes): prepare %.1f ms, template %.2f ms once; %d requests calling %s\n", name, len,
           (t1 - t0) / 1e3, (t2 - t1) / 1e3, n, argv[3]);
    printf("  instantiate        kpCInstance_new p50 %8.1f us p99 %8.1f us | template p50 %7.1f us p99 %7.1f us\n",
           pct(ni, n, .5), pct(ni, n, .99), pct(ti, n, .5), pct(ti, n, .99));
    printf("  whole request      kpCInstance_new p50 %8.1f us p99 %8.1f us | template p50 %7.1f us p99 %7.1f us\n",
           pct(nt, n, .5), pct(nt, n, .99), pct(tt, n, .5), pct(tt, n, .99));
    printf("ROW|%s|%zu|%.1f|%.2f|%.1f|%.1f|%.1f|%.1f|%.1f|%.1f|%.1f|%.1f|%d|%s\n", name, len, (t1 - t0) / 1e3,
           (t2 - t1) / 1e3, pct(ni, n, .5), pct(ni, n, .99), pct(ti, n, .5), pct(ti, n, .99), pct(nt, n, .5),
           pct(nt, n, .99), pct(tt, n, .5), pct(tt, n, .99), n, argv[3]);
    char desc[1024];
    kpCTemplate_describe(tpl, desc, sizeof desc);
    kpCTemplateStats s;
    kpCTemplate_stats(tpl, &s);
    printf("%s  (%llu instances: %llu core instances pooled, %llu linked)\n", desc, (unsigned long long)s.instances,
           (unsigned long long)s.core_pooled, (unsigned long long)s.core_linked);
    kpCTemplate_free(tpl);
    kpCPre_free(pre);
    kapsul_engine_free(engine);
    free(bytes);
    return 0;
}
