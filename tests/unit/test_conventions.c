/*
 * test_conventions.c -- the promises kapsul.h makes about itself rather than about wasm:
 *   - the version macros agree with kapsul_version();
 *   - every call that returns a status fills the caller's kapsul_error with code equal to that
 *     status and a message (each call is made to fail at least once, with err pre-filled with
 *     garbage so a call that forgets to clear it shows), succeeds with err cleared, and gives
 *     the same status with err == NULL; constructors set *out to NULL when they fail;
 *   - every *_free accepts NULL;
 *   - an engine and a module are shared by threads: eight threads load modules into one engine
 *     and instantiate one module in stores of their own, concurrently (under ASan in
 *     scripts/test.sh's sanitizer pass, label "sanitize").
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "kapsul.h"
#include "test.h"

static kapsul_error E; /* the err every EXPECT passes */

/* Run call (which passes &E) with E full of garbage; check the status, and that E says the same. */
#define EXPECT(want, call)                        \
    do {                                          \
        memset(&E, 0x5a, sizeof E);               \
        kapsul_status got_ = (call);              \
        check_err(got_, (want), #call, __LINE__); \
    } while (0)

static void check_err(kapsul_status got, kapsul_status want, const char *call, int line) {
    bool ok = got == want && E.code == got && memchr(E.message, 0, sizeof E.message) != NULL &&
              (got == KAPSUL_OK ? E.message[0] == 0 && E.trap == KAPSUL_TRAP_NONE : E.message[0] != 0);
    if (ok) {
        kpt_passed++;
        return;
    }
    kpt_failed++;
    fprintf(stderr, "%s:%d: %s: returned %s, err.code %s (want %s), message \"%.*s\"\n", __FILE__, line, call,
            kapsul_status_name(got), kapsul_status_name(E.code), kapsul_status_name(want),
            (int)sizeof E.message - 1, E.message);
}

static void test_version(void) {
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", KAPSUL_VERSION_MAJOR, KAPSUL_VERSION_MINOR,
             KAPSUL_VERSION_PATCH);
    CHECK(strcmp(KAPSUL_VERSION, expect) == 0);
    CHECK(strcmp(kapsul_version(), KAPSUL_VERSION) == 0);
    CHECK(KAPSUL_VERSION_NUMBER ==
          KAPSUL_VERSION_MAJOR * 1000000 + KAPSUL_VERSION_MINOR * 1000 + KAPSUL_VERSION_PATCH);
    CHECK(KAPSUL_OK == 0 && KAPSUL_TRAP_NONE == 0);
}

static kapsul_module *wat(kapsul_engine *e, const char *text) {
    kapsul_module *m = NULL;
    EXPECT(KAPSUL_OK, kapsul_module_new_wat(e, text, strlen(text), &m, &E));
    return m;
}

static void test_modules(kapsul_engine *e) {
    static const char good[] = "(module (func (export \"f\") (result i32) (i32.const 7)))";
    static const char bad[] = "(module\n  (func (result i32) (i32.konst 7)))";
    static const char invalid[] = "(module (func (result i32)))";
    static const uint8_t junk[] = { 0, 'a', 's', 'm', 9, 0, 0, 0 };
    kapsul_module *m = wat(e, good);
    CHECK(m && kapsul_module_export_count(m) == 1 && kapsul_module_import_count(m) == 0);
    kapsul_export_info ex;
    kapsul_module_export(m, 5, &ex); /* out of range: zeroed */
    CHECK(ex.name == NULL && ex.name_len == 0);
    kapsul_module_free(m);

    m = (kapsul_module *)&E;
    EXPECT(KAPSUL_ERR_MALFORMED, kapsul_module_new_wat(e, bad, strlen(bad), &m, &E));
    CHECK(m == NULL && E.line == 2 && E.column > 0);
    EXPECT(KAPSUL_ERR_INVALID, kapsul_module_new_wat(e, invalid, strlen(invalid), &m, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_module_new_wat(e, NULL, 3, &m, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_module_new_wat(NULL, good, strlen(good), &m, &E));
    EXPECT(KAPSUL_ERR_MALFORMED, kapsul_module_new(e, junk, sizeof junk, &m, &E));
    CHECK(m == NULL && E.offset == 4);
    EXPECT(KAPSUL_ERR_MALFORMED, kapsul_module_new(e, NULL, 0, &m, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_module_new(e, NULL, 8, &m, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_module_new(e, junk, sizeof junk, NULL, &E));
    CHECK(kapsul_module_new(e, junk, sizeof junk, &m, NULL) == KAPSUL_ERR_MALFORMED && m == NULL);
    CHECK(kapsul_module_new_wat(e, good, strlen(good), &m, NULL) == KAPSUL_OK && m);
    kapsul_module_free(m);
}

static kapsul_status h_trap(void *env, kapsul_caller *caller, const kapsul_val *args, kapsul_val *results,
                            kapsul_error *err) {
    (void)env, (void)caller, (void)args, (void)results, (void)err;
    return KAPSUL_ERR_TRAP; /* no trap kind, no message: kapsul fills in KAPSUL_TRAP_HOST */
}

/* Every constructor and status-returning call of the store, the linker and the objects. */
static void test_store_calls(kapsul_engine *e) {
    kapsul_engine *e2;
    kapsul_config cfg = { .max_memory_bytes = 2 * 65536 };
    EXPECT(KAPSUL_OK, kapsul_engine_new(&cfg, &e2, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_engine_new(NULL, NULL, &E));

    kapsul_store *s = (kapsul_store *)&E;
    EXPECT(KAPSUL_ERR_ARG, kapsul_store_new(NULL, &s, &E));
    CHECK(s == NULL);
    CHECK(kapsul_store_new(NULL, &s, NULL) == KAPSUL_ERR_ARG);
    EXPECT(KAPSUL_OK, kapsul_store_new(e2, &s, &E));
    kapsul_linker *l = (kapsul_linker *)&E;
    EXPECT(KAPSUL_ERR_ARG, kapsul_linker_new(NULL, &l, &E));
    CHECK(l == NULL);
    EXPECT(KAPSUL_OK, kapsul_linker_new(s, &l, &E));

    /* Host functions. */
    static const kapsul_valkind i32[] = { KAPSUL_I32 }, bogus[] = { (kapsul_valkind)0x42 };
    kapsul_func *f = (kapsul_func *)&E;
    EXPECT(KAPSUL_ERR_ARG, kapsul_func_new_host(s, i32, 1, NULL, 0, NULL, NULL, &f, &E));
    CHECK(f == NULL);
    EXPECT(KAPSUL_ERR_ARG, kapsul_func_new_host(s, bogus, 1, NULL, 0, h_trap, NULL, &f, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_func_new_host(s, NULL, 1, NULL, 0, h_trap, NULL, &f, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_func_new_host(s, i32, 1001, NULL, 0, h_trap, NULL, &f, &E));
    EXPECT(KAPSUL_OK, kapsul_func_new_host(s, i32, 1, NULL, 0, h_trap, NULL, &f, &E));
    kapsul_val one = { .kind = KAPSUL_I32, .of.i32 = 1 }, wrong = { .kind = KAPSUL_I64 };
    EXPECT(KAPSUL_ERR_ARG, kapsul_func_call(s, f, NULL, 0, NULL, 0, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_func_call(s, f, &wrong, 1, NULL, 0, &E));
    EXPECT(KAPSUL_ERR_TRAP, kapsul_func_call(s, f, &one, 1, NULL, 0, &E));
    CHECK(E.trap == KAPSUL_TRAP_HOST);
    CHECK(kapsul_func_call(s, f, &one, 1, NULL, 0, NULL) == KAPSUL_ERR_TRAP);

    /* Memories: the engine allows 2 pages. */
    kapsul_memory *mem = (kapsul_memory *)&E;
    EXPECT(KAPSUL_ERR_LIMIT, kapsul_memory_new(s, 3, KAPSUL_NO_MAX, &mem, &E));
    CHECK(mem == NULL);
    EXPECT(KAPSUL_ERR_ARG, kapsul_memory_new(s, 2, 1, &mem, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_memory_new(s, 65537, KAPSUL_NO_MAX, &mem, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_memory_new(NULL, 1, 1, &mem, &E));
    EXPECT(KAPSUL_OK, kapsul_memory_new(s, 1, KAPSUL_NO_MAX, &mem, &E));
    uint64_t old = 99;
    EXPECT(KAPSUL_OK, kapsul_memory_grow(mem, 1, &old, &E));
    CHECK(old == 1 && kapsul_memory_pages(mem) == 2 && kapsul_memory_data(mem)[65536] == 0);
    EXPECT(KAPSUL_ERR_LIMIT, kapsul_memory_grow(mem, 1, &old, &E));
    EXPECT(KAPSUL_ERR_LIMIT, kapsul_memory_grow(mem, UINT64_MAX, NULL, &E));
    CHECK(kapsul_memory_pages(mem) == 2);
    EXPECT(KAPSUL_ERR_ARG, kapsul_memory_grow(NULL, 1, &old, &E));
    CHECK(kapsul_memory_grow(mem, 1, NULL, NULL) == KAPSUL_ERR_LIMIT);
    CHECK(kapsul_memory_data(NULL) == NULL && kapsul_memory_size(NULL) == 0 &&
          kapsul_memory_pages(NULL) == 0);

    /* Tables. */
    kapsul_table *t = (kapsul_table *)&E;
    EXPECT(KAPSUL_ERR_ARG, kapsul_table_new(s, KAPSUL_I32, 1, 2, &t, &E));
    CHECK(t == NULL);
    EXPECT(KAPSUL_ERR_ARG, kapsul_table_new(s, KAPSUL_FUNCREF, 3, 2, &t, &E));
    EXPECT(KAPSUL_ERR_LIMIT, kapsul_table_new(s, KAPSUL_FUNCREF, 20000000, KAPSUL_NO_MAX, &t, &E));
    EXPECT(KAPSUL_OK, kapsul_table_new(s, KAPSUL_EXTERNREF, 2, KAPSUL_NO_MAX, &t, &E));
    kapsul_val v;
    EXPECT(KAPSUL_OK, kapsul_table_get(t, 1, &v, &E));
    CHECK(v.kind == KAPSUL_EXTERNREF && v.of.externref == NULL);
    EXPECT(KAPSUL_ERR_NOT_FOUND, kapsul_table_get(t, 2, &v, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_table_get(t, 0, NULL, &E));
    CHECK(kapsul_table_size(NULL) == 0);

    /* Globals. */
    kapsul_global *g = (kapsul_global *)&E, *gm;
    kapsul_val bad = { .kind = (kapsul_valkind)0x42 };
    EXPECT(KAPSUL_ERR_ARG, kapsul_global_new(s, bad, true, &g, &E));
    CHECK(g == NULL);
    EXPECT(KAPSUL_OK, kapsul_global_new(s, one, false, &g, &E));
    EXPECT(KAPSUL_OK, kapsul_global_new(s, one, true, &gm, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_global_set(g, one, &E));    /* immutable */
    EXPECT(KAPSUL_ERR_ARG, kapsul_global_set(gm, wrong, &E)); /* wrong kind */
    EXPECT(KAPSUL_ERR_ARG, kapsul_global_set(NULL, one, &E));
    kapsul_val two = { .kind = KAPSUL_I32, .of.i32 = 2 };
    EXPECT(KAPSUL_OK, kapsul_global_set(gm, two, &E));
    CHECK(kapsul_global_get(gm).of.i32 == 2);

    /* The linker. */
    kapsul_extern nothing = { .kind = KAPSUL_EXTERN_FUNC, .of.func = NULL };
    kapsul_extern badkind = { .kind = (kapsul_externkind)7, .of.func = f };
    kapsul_extern fn = { .kind = KAPSUL_EXTERN_FUNC, .of.func = f };
    EXPECT(KAPSUL_ERR_ARG, kapsul_linker_define(l, "m", 1, "f", 1, nothing, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_linker_define(l, "m", 1, "f", 1, badkind, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_linker_define(l, NULL, 1, "f", 1, fn, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_linker_define(NULL, "m", 1, "f", 1, fn, &E));
    EXPECT(KAPSUL_OK, kapsul_linker_define(l, "m", 1, "f", 1, fn, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_linker_define_func(l, NULL, "f", i32, 1, NULL, 0, h_trap, NULL, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_linker_define_func(l, "m", "g", bogus, 1, NULL, 0, h_trap, NULL, &E));
    EXPECT(KAPSUL_OK, kapsul_linker_define_func(l, "m", "g", i32, 1, NULL, 0, h_trap, NULL, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_linker_define_instance(l, "x", 1, NULL, &E));

    /* Instantiation and exports. */
    kapsul_module *needs = wat(e2, "(module (import \"m\" \"absent\" (func)))");
    kapsul_module *ok = wat(e2, "(module (import \"m\" \"f\" (func (param i32)))\n"
                                "  (func (export \"start\") (call 0 (i32.const 1))))");
    kapsul_module *other = wat(e, "(module)"); /* of another engine */
    kapsul_module *big = wat(e2, "(module (memory 3))");
    kapsul_instance *inst = (kapsul_instance *)&E;
    EXPECT(KAPSUL_ERR_UNLINKABLE, kapsul_linker_instantiate(l, needs, &inst, &E));
    CHECK(inst == NULL);
    EXPECT(KAPSUL_ERR_ARG, kapsul_linker_instantiate(l, other, &inst, &E));
    EXPECT(KAPSUL_ERR_TRAP, kapsul_linker_instantiate(l, big, &inst, &E));
    CHECK(E.trap == KAPSUL_TRAP_MEMORY_LIMIT);
    EXPECT(KAPSUL_ERR_ARG, kapsul_linker_instantiate(l, NULL, &inst, &E));
    EXPECT(KAPSUL_OK, kapsul_linker_instantiate(l, ok, &inst, &E));
    kapsul_extern x;
    EXPECT(KAPSUL_OK, kapsul_instance_export(inst, "start", 5, &x, &E));
    CHECK(x.kind == KAPSUL_EXTERN_FUNC);
    EXPECT(KAPSUL_ERR_NOT_FOUND, kapsul_instance_export(inst, "stop", 4, &x, &E));
    EXPECT(KAPSUL_ERR_NOT_FOUND, kapsul_instance_export(inst, NULL, 0, &x, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_instance_export(inst, NULL, 4, &x, &E));
    CHECK(kapsul_instance_export(inst, "stop", 4, &x, NULL) == KAPSUL_ERR_NOT_FOUND);
    CHECK(kapsul_instance_func(inst, NULL) == NULL && kapsul_instance_memory(inst, "start") == NULL);
    EXPECT(KAPSUL_ERR_TRAP, kapsul_func_call(s, x.of.func, NULL, 0, NULL, 0, &E)); /* via h_trap */
    CHECK(E.trap == KAPSUL_TRAP_HOST && E.nframes == 1 && E.frames[0].func_index == 1);
    EXPECT(KAPSUL_OK, kapsul_linker_define_instance(l, "inst", 4, inst, &E));

    /* A module may be freed before the instances that use it. */
    kapsul_module_free(needs);
    kapsul_module_free(ok);
    kapsul_module_free(other);
    kapsul_module_free(big);
    EXPECT(KAPSUL_ERR_TRAP, kapsul_func_call(s, x.of.func, NULL, 0, NULL, 0, &E));

    kapsul_linker_free(l);
    kapsul_store_free(s);
    kapsul_engine_free(e2);
}

static void test_wasi_calls(kapsul_engine *e) {
    kapsul_wasi_dir dir = { .host_path = "/nonexistent/kapsul-test-dir" };
    kapsul_wasi_config cfg = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1 };
    kapsul_wasi *w = (kapsul_wasi *)&E;
    EXPECT(KAPSUL_ERR_ARG, kapsul_wasi_new(NULL, &w, &E));
    CHECK(w == NULL);
    cfg.argc = 1;
    EXPECT(KAPSUL_ERR_ARG, kapsul_wasi_new(&cfg, &w, &E)); /* argv NULL with argc 1 */
    cfg.argc = 0;
    cfg.dirs = &dir;
    cfg.ndirs = 1;
    EXPECT(KAPSUL_ERR_IO, kapsul_wasi_new(&cfg, &w, &E));
    CHECK(w == NULL && strstr(E.message, "kapsul-test-dir") != NULL);
    cfg.ndirs = 0;
    EXPECT(KAPSUL_OK, kapsul_wasi_new(&cfg, &w, &E));
    kapsul_store *s;
    kapsul_linker *l;
    EXPECT(KAPSUL_OK, kapsul_store_new(e, &s, &E));
    EXPECT(KAPSUL_OK, kapsul_linker_new(s, &l, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_wasi_define(NULL, l, &E));
    EXPECT(KAPSUL_ERR_ARG, kapsul_wasi_define(w, NULL, &E));
    EXPECT(KAPSUL_OK, kapsul_wasi_define(w, l, &E));
    kapsul_linker_free(l);
    kapsul_store_free(s);
    kapsul_wasi_free(w);
}

static void test_free_null(void) {
    kapsul_engine_free(NULL);
    kapsul_module_free(NULL);
    kapsul_store_free(NULL);
    kapsul_linker_free(NULL);
    kapsul_wasi_free(NULL);
    CHECK(true); /* reaching here is the test */
}

/* ---- One engine and one module shared by threads ---- */

static const char shared_wat[] =
    "(module (memory 1) (global $g (mut i32) (i32.const 0))\n"
    "  (func (export \"sum\") (param i32) (result i32) (local i32)\n"
    "    (loop (local.set 1 (i32.add (local.get 1) (local.get 0)))\n"
    "          (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))\n"
    "    (global.set $g (local.get 1)) (i32.store (i32.const 0) (local.get 1)) (local.get 1)))\n";

typedef struct shared {
    kapsul_engine *engine;
    kapsul_module *module;
    int id;
    int failures;
} shared;

static void *share_thread(void *arg) {
    shared *sh = arg;
    for (int round = 0; round < 20; round++) {
        /* Load a module of its own into the shared engine (types get interned concurrently)... */
        char text[160];
        snprintf(text, sizeof text,
                 "(module (func (export \"f\") (param i32 i64 f32) (result i32) (i32.const %d)))",
                 sh->id * 100 + round);
        kapsul_module *own = NULL;
        kapsul_store *s = NULL;
        kapsul_linker *l = NULL;
        kapsul_instance *a = NULL, *b = NULL;
        kapsul_error err;
        bool ok = kapsul_module_new_wat(sh->engine, text, strlen(text), &own, &err) == KAPSUL_OK &&
                  kapsul_store_new(sh->engine, &s, &err) == KAPSUL_OK &&
                  kapsul_linker_new(s, &l, &err) == KAPSUL_OK &&
                  /* ...and instantiate the shared module (its reference count moves) and its own. */
                  kapsul_linker_instantiate(l, sh->module, &a, &err) == KAPSUL_OK &&
                  kapsul_linker_instantiate(l, own, &b, &err) == KAPSUL_OK;
        kapsul_val n = { .kind = KAPSUL_I32, .of.i32 = 1000 + sh->id }, r;
        ok = ok && kapsul_func_call(s, kapsul_instance_func(a, "sum"), &n, 1, &r, 1, &err) == KAPSUL_OK &&
             r.of.i32 == (1000 + sh->id) * (1001 + sh->id) / 2;
        kapsul_val fa[3] = { { .kind = KAPSUL_I32 }, { .kind = KAPSUL_I64 }, { .kind = KAPSUL_F32 } };
        ok = ok && kapsul_func_call(s, kapsul_instance_func(b, "f"), fa, 3, &r, 1, &err) == KAPSUL_OK &&
             r.of.i32 == sh->id * 100 + round;
        if (!ok) sh->failures++;
        kapsul_linker_free(l);
        kapsul_store_free(s);
        kapsul_module_free(own);
    }
    return NULL;
}

static void test_threads(void) {
    enum {
        N = 8
    };
    kapsul_engine *e;
    CHECK(kapsul_engine_new(NULL, &e, NULL) == KAPSUL_OK);
    kapsul_module *m = NULL;
    CHECK(kapsul_module_new_wat(e, shared_wat, strlen(shared_wat), &m, NULL) == KAPSUL_OK);
    shared sh[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        sh[i] = (shared){ e, m, i, 0 };
        CHECK(pthread_create(&th[i], NULL, share_thread, &sh[i]) == 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK(sh[i].failures == 0);
    }
    kapsul_module_free(m);
    kapsul_engine_free(e);
}

int main(void) {
    test_version();
    kapsul_engine *e;
    EXPECT(KAPSUL_OK, kapsul_engine_new(NULL, &e, &E));
    test_modules(e);
    test_store_calls(e);
    test_wasi_calls(e);
    test_free_null();
    test_threads();
    kapsul_engine_free(e);
    return kpt_finish();
}
