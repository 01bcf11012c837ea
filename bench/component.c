/*
 * component.c -- what a component costs per instance, in process: prepare once (decode, validate,
 * compile the core modules: kpCPre_new), then instantiate (kpCInstance_new with the WASI 0.2 host
 * on in-memory stdio) and run wasi:cli/run N times, each in a fresh store. Uses kapsul's internal
 * component API (src/cinstance), which has no public header yet. Timing only: nothing is a test.
 * usage: component COMPONENT.wasm [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cinstance/cinstance.h"
#include "wasip2/wasip2.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    static uint8_t bytes[1 << 24];
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 1;
    size_t len = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    kapsul_engine *engine;
    kapsul_error err;
    kpCPre *pre;
    if (kapsul_engine_new(NULL, &engine, &err)) return 1;
    double t0 = now();
    if (kpCPre_new(engine, bytes, len, &pre, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    double prepare = now() - t0, inst = 0, run = 0;
    for (int i = 0; i < n; i++) {
        kapsul_wasi_config wc = { .stdin_fd = -1, .mem_stdio = 7 };
        kapsul_wasi *w;
        kpP2 *host;
        kapsul_store *store;
        kpCInstance *ci;
        if (kapsul_wasi_new(&wc, &w, &err) || kpP2_new(w, &host, &err) || kapsul_store_new(engine, &store, &err))
            return 1;
        double a = now();
        if (kpCInstance_new(pre, store, kpP2_resolve, host, &ci, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        double b = now();
        kpCFunc *fn = kpCInstance_func(ci, "wasi:cli/run@0.2.0", "run");
        kpCArena arena = { 0 };
        kpCValue res[2];
        kapsul_status st = fn ? kpCFunc_call(ci, fn, NULL, res, &arena, &err) : KAPSUL_ERR_NOT_FOUND;
        if (st != KAPSUL_OK && st != KAPSUL_ERR_EXIT) return 1;
        inst += b - a, run += now() - b;
        kpCArena_free(&arena);
        kpCInstance_free(ci);
        kapsul_store_free(store);
        kpP2_free(host);
        kapsul_wasi_free(w);
    }
    printf("%s: prepare %.2f ms once; per instance: instantiate %.1f us, run %.1f us (mean of %d)\n", argv[1],
           prepare * 1e3, inst / n * 1e6, run / n * 1e6, n);
    kpCPre_free(pre);
    kapsul_engine_free(engine);
    return 0;
}
