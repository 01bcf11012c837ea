/*
 * test_cinstance.c -- component instances (src/cinstance) and the WASI 0.2 host (src/wasip2) on
 * the pinned test components of tests/component, in process: calls with WAVE arguments and
 * results (kpWave_parseArgs / kpWave_print), function shapes, the lying guests
 * of hostile.wasm with the host on in-memory stdio, interface resolution by 0.2.x version, and
 * allocation failure at every allocation of prepare + instantiate + call (KP_TESTING builds).
 *
 * Run from the source directory (ctest does): the components are read from tests/component.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cinstance/cinstance.h"
#include "test.h"
#include "wasip2/wasip2.h"

static kapsul_engine *engine;

static kpBuf load(const char *path) {
    kpBuf b = { 0 };
    FILE *f = fopen(path, "rb");
    uint8_t chunk[65536];
    size_t n;
    if (!f) {
        fprintf(stderr, "cannot read %s (run from the source directory)\n", path);
        exit(1);
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) kpBuf_push(&b, chunk, n);
    fclose(f);
    return b;
}

static kapsul_status prepare(const char *path, kpCPre **pre, kapsul_error *err) {
    kpBuf b = load(path);
    kapsul_status st = kpCPre_new(engine, b.data, b.len, pre, err);
    kpBuf_free(&b);
    return st;
}

/* Call `call` ("name(args)") on ci and return its results in WAVE (or "error: MESSAGE"). */
static char *invoke(kpCInstance *ci, const char *call) {
    static char out[512];
    const char *open = strchr(call, '(');
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(open - call), call);
    kpCFunc *f = kpCInstance_func(ci, name, NULL);
    if (!f) return strcpy(out, "error: no such function");
    const kpComponent *c = kpCInstance_component(ci);
    const kpCType *ft = kpComponent_resolve(c, kpCFunc_type(f));
    kpCArena arena = { 0 };
    kpCValue *params, *res = kpCArena_alloc(&arena, (ft->n + 1) * sizeof *res);
    kapsul_error err;
    if (kpWave_parseArgs(c, ft, call, strlen(call), &arena, &params, &err) != KAPSUL_OK) {
        snprintf(out, sizeof out, "error: %s", err.message);
    } else if (kpCFunc_call(ci, f, params, res, &arena, &err) != KAPSUL_OK) {
        snprintf(out, sizeof out, "error: %s", err.message);
    } else {
        kpBuf b = { 0 };
        int rc = 0;
        for (uint32_t i = ft->nparams; i < ft->n; i++)
            rc |= kpWave_print(c, ft->fields[i].type, &res[i - ft->nparams], &b);
        if (rc) snprintf(out, sizeof out, "error: printing: out of memory");
        else snprintf(out, sizeof out, "%.*s", (int)b.len, (const char *)b.data);
        kpBuf_free(&b);
    }
    kpCArena_free(&arena);
    return out;
}

static void test_api(void) {
    static const char *const cases[][2] = {
        { "greet(\"wörld\")", "\"Hello, wörld!\"" },
        { "sum([1, 2, -3, 40])", "40" },
        { "sum([])", "0" },
        { "move({x: -1, y: 2}, 1)", "{x: 0, y: 2}" },
        { "classify(-2147483648)", "neg(-2147483648)" },
        { "find([\"a\", \"bc\"], \"bc\")", "some(1)" },
        { "div(9, -3)", "ok(-3)" },
        { "div(1, 0)", "err(\"division by zero\")" },
        { "grant({exec})", "{read, exec}" },
        { "info(green)", "(false, 'λ', 0.5, blue)" },
        { "resource-cycle()", "82" },
        { "started()", "1" },
        /* WAVE errors (the parser's own cases are in test_wave) */
        { "sum([1, 2,])", "3" },
        { "classify(1, 2)", "error: WAVE value, line 1 column 13: more arguments than the function's 1" },
        { "rep-after-drop()", "error: canonical ABI: unknown, wrongly typed, unowned or lent resource handle "
                              "(resource.rep)" },
    };
    kpCPre *pre = NULL;
    kapsul_store *store = NULL;
    kpCInstance *ci = NULL;
    kapsul_error err;
    CHECK(prepare("tests/component/api.wasm", &pre, &err) == KAPSUL_OK);
    CHECK(kapsul_store_new(engine, &store, &err) == KAPSUL_OK);
    CHECK(kpCInstance_new(pre, store, NULL, NULL, &ci, &err) == KAPSUL_OK);
    for (size_t i = 0; ci && i < sizeof cases / sizeof cases[0]; i++) {
        const char *want = cases[i][1];
        char *got = invoke(ci, cases[i][0]);
        if (strcmp(got, want) != 0) fprintf(stderr, "  %s: got %s, want %s\n", cases[i][0], got, want);
        CHECK(strcmp(got, want) == 0);
    }
    /* shapes: what a host compares */
    kpBuf b = { 0 };
    kpCFunc *f = ci ? kpCInstance_func(ci, "find", NULL) : NULL;
    CHECK(f && kpCShape_func(kpCPre_component(pre), kpCFunc_type(f), &b, 4096) == 0);
    CHECK(b.len == strlen("(list<string>,string)->option<u32>") &&
          memcmp(b.data, "(list<string>,string)->option<u32>", b.len) == 0);
    b.len = 0;
    CHECK(f && kpCShape_func(kpCPre_component(pre), kpCFunc_type(f), &b, 10) != 0); /* too long */
    kpBuf_free(&b);
    kpCInstance_free(ci);
    kapsul_store_free(store);
    kpCPre_free(pre);
}

/* A component with WASI imports on in-memory stdio: what it wrote, or the error of the call. */
static void hostile(const char *func, const char *want_out, kapsul_status want, const char *want_msg) {
    kpCPre *pre = NULL;
    kapsul_store *store = NULL;
    kapsul_wasi *w = NULL;
    kpP2 *host = NULL;
    kpCInstance *ci = NULL;
    kapsul_error err;
    kapsul_wasi_config wc = { .stdin_fd = -1, .mem_stdio = 7 };
    CHECK(prepare("tests/component/hostile.wasm", &pre, &err) == KAPSUL_OK);
    CHECK(kapsul_store_new(engine, &store, &err) == KAPSUL_OK);
    CHECK(kapsul_wasi_new(&wc, &w, &err) == KAPSUL_OK && kpP2_new(w, &host, &err) == KAPSUL_OK);
    CHECK(kpCInstance_new(pre, store, kpP2_resolve, host, &ci, &err) == KAPSUL_OK);
    kpCFunc *f = ci ? kpCInstance_func(ci, func, NULL) : NULL;
    CHECK(f != NULL);
    kpCArena arena = { 0 };
    kapsul_status st = f ? kpCFunc_call(ci, f, NULL, NULL, &arena, &err) : KAPSUL_ERR_NOT_FOUND;
    kpCArena_free(&arena);
    CHECK(st == want);
    if (st != KAPSUL_OK && want_msg) {
        if (!strstr(err.message, want_msg)) fprintf(stderr, "  %s: %s\n", func, err.message);
        CHECK(strstr(err.message, want_msg) != NULL);
        CHECK(st != KAPSUL_ERR_TRAP || err.trap == KAPSUL_TRAP_HOST);
    }
    const uint8_t *out;
    size_t len;
    CHECK(kapsul_wasi_output(w, 1, &out, &len, &err) == KAPSUL_OK);
    CHECK(len == strlen(want_out) && (len == 0 || memcmp(out, want_out, len) == 0));
    kpCInstance_free(ci);
    kapsul_store_free(store);
    kpP2_free(host);
    kapsul_wasi_free(w);
    kpCPre_free(pre);
}

static void test_hostile(void) {
    hostile("ok", "hello\n", KAPSUL_OK, NULL);
    hostile("oob", "", KAPSUL_ERR_TRAP, "pointer out of bounds");
    hostile("misaligned", "hello\n", KAPSUL_ERR_TRAP, "misaligned pointer (lowering the results)");
    hostile("bad-handle", "", KAPSUL_ERR_TRAP, "resource handle (lifting the arguments)");
    hostile("dropped", "", KAPSUL_ERR_TRAP, "resource handle (lifting the arguments)");
    hostile("double-drop", "", KAPSUL_ERR_TRAP, "(resource.drop)");
    hostile("bad-discriminant", "", KAPSUL_ERR_TRAP, "invalid discriminant");
    hostile("exit-err", "", KAPSUL_ERR_EXIT, NULL);
}

static kapsul_status no_fn(void *env, kpCHostCall *call, const kpCValue *p, kpCValue *r, kapsul_error *err) {
    (void)env, (void)call, (void)p, (void)r;
    return kpError_set(err, KAPSUL_ERR_TRAP, 0, "stand-in");
}

static void test_resolve(void) {
    static const struct {
        const char *name;
        kapsul_status want;
    } cases[] = { { "wasi:cli/stdout@0.2.0", KAPSUL_OK },
                  { "wasi:cli/stdout@0.2.12", KAPSUL_OK },
                  { "wasi:io/streams@0.2.99", KAPSUL_OK },
                  { "wasi:cli/terminal-input@0.2.3", KAPSUL_OK },
                  { "wasi:cli/stdout@0.3.0", KAPSUL_ERR_NOT_FOUND },
                  { "wasi:cli/stdout", KAPSUL_ERR_NOT_FOUND },
                  { "wasi:cli/stdout@0.2.0-rc1", KAPSUL_ERR_NOT_FOUND },
                  { "wasi:http/types@0.2.0", KAPSUL_OK },
                  { "wasi:http/outgoing-handler@0.2.10", KAPSUL_OK },
                  { "wasi:http/incoming-handler@0.2.0", KAPSUL_ERR_NOT_FOUND }, /* exported, never imported */
                  { "wasi:keyvalue/store@0.2.0", KAPSUL_ERR_NOT_FOUND },
                  { "greet", KAPSUL_ERR_NOT_FOUND } };
    kpCPre *pre = NULL;
    kapsul_store *store = NULL;
    kapsul_wasi *w = NULL;
    kpP2 *host = NULL;
    kpCInstance *ci = NULL;
    kapsul_error err;
    kapsul_wasi_config wc = { .stdin_fd = -1, .mem_stdio = 7 };
    CHECK(prepare("tests/component/api.wasm", &pre, &err) == KAPSUL_OK);
    CHECK(kapsul_store_new(engine, &store, &err) == KAPSUL_OK);
    CHECK(kapsul_wasi_new(&wc, &w, &err) == KAPSUL_OK && kpP2_new(w, &host, &err) == KAPSUL_OK);
    CHECK(kpCInstance_new(pre, store, NULL, NULL, &ci, &err) == KAPSUL_OK);
    for (size_t i = 0; ci && i < sizeof cases / sizeof cases[0]; i++) {
        kpCInst *hi = NULL;
        kapsul_status st = kpP2_resolve(host, ci, cases[i].name, (uint32_t)strlen(cases[i].name), &hi, &err);
        if (st != cases[i].want) fprintf(stderr, "  resolve %s: %d\n", cases[i].name, st);
        CHECK(st == cases[i].want && (st != KAPSUL_OK || hi != NULL));
    }
    /* a second instance is refused by the same host */
    kpCInstance *ci2 = NULL;
    kpCInst *hi = NULL;
    CHECK(kpCInstance_new(pre, store, NULL, NULL, &ci2, &err) == KAPSUL_OK);
    CHECK(ci2 && kpP2_resolve(host, ci2, "wasi:cli/stdout@0.2.0", 21, &hi, &err) == KAPSUL_ERR_ARG);
    CHECK(ci2 && kpCHost_any(ci2, "x", no_fn, NULL, &hi, &err) == KAPSUL_OK);
    kpCInstance_free(ci2);
    kpCInstance_free(ci);
    kapsul_store_free(store);
    kpP2_free(host);
    kapsul_wasi_free(w);
    kpCPre_free(pre);
}

#ifdef KP_TESTING
/* Every allocation of prepare, instantiate and a call fails once in turn: each run ends in
 * KAPSUL_ERR_NOMEM (or a trap of the ABI's "out of memory"), never a crash or another status. */
static void test_allocfail(void) {
    kpBuf b = load("tests/component/api.wasm");
    int bad = 0;
    for (long n = 0;; n++) {
        kpCPre *pre = NULL;
        kapsul_store *store = NULL;
        kpCInstance *ci = NULL;
        kapsul_error err;
        kpAlloc_failAfter(n);
        kapsul_status st = kpCPre_new(engine, b.data, b.len, &pre, &err);
        if (st == KAPSUL_OK) st = kapsul_store_new(engine, &store, &err);
        if (st == KAPSUL_OK) st = kpCInstance_new(pre, store, NULL, NULL, &ci, &err);
        char *got = st == KAPSUL_OK ? invoke(ci, "greet(\"x\")") : NULL;
        kpAlloc_failAfter(-1);
        bool done = st == KAPSUL_OK && strcmp(got, "\"Hello, x!\"") == 0;
        if (st != KAPSUL_OK && st != KAPSUL_ERR_NOMEM)
            bad++, fprintf(stderr, "  allocfail %ld: %s\n", n, err.message);
        if (st == KAPSUL_OK && !done && !strstr(got, "out of memory") && !strstr(got, "larger than"))
            bad++, fprintf(stderr, "  allocfail %ld: %s\n", n, got);
        kpCInstance_free(ci);
        if (store) kapsul_store_free(store);
        kpCPre_free(pre);
        if (done) break;
        if (n > 20000) {
            bad++;
            break;
        }
    }
    CHECK(bad == 0);
    kpBuf_free(&b);
}
#endif

int main(void) {
    if (kapsul_engine_new(NULL, &engine, NULL) != KAPSUL_OK) return 1;
    test_api();
    test_hostile();
    test_resolve();
#ifdef KP_TESTING
    test_allocfail();
#endif
    kapsul_engine_free(engine);
    return kpt_finish();
}
