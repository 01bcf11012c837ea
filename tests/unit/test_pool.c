/*
 * test_pool.c -- per-request isolation as an embedder gets it from kapsul.h: module templates
 * with a pooled copy-on-write memory (every instance starts pristine whatever the one before it
 * wrote to memory, globals and tables; the pool runs out and refills; 8 threads instantiate from
 * one template at once), per-store limits, WASI's in-memory stdio round trip, and allocation
 * failures at every point of a template's life (run under ASan, nothing leaks).
 */
#include <pthread.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "kapsul.h"
#include "test.h"

/* Writes memory (a data byte, an image page past the data, a grown page), a global and a table
 * element; the peeks read them back. */
static const char *kState =
    "(module\n"
    "  (import \"env\" \"hit\" (func $hit (param i32) (result i32)))\n"
    "  (memory (export \"memory\") 2 4)\n"
    "  (data (i32.const 16) \"abc\")\n"
    "  (data (i32.const 70000) \"z\")\n"
    "  (global $g (mut i32) (i32.const 7))\n"
    "  (table $t 2 funcref)\n"
    "  (elem (i32.const 0) $peek_global)\n"
    "  (func (export \"poke\") (result i32)\n"
    "    (i32.store8 (i32.const 16) (i32.const 255))\n"
    "    (i32.store8 (i32.const 70000) (i32.const 0))\n"
    "    (i32.store (i32.const 120000) (i32.const 5))\n"
    "    (drop (memory.grow (i32.const 1)))\n"
    "    (i32.store (i32.const 140000) (i32.const 9))\n"
    "    (global.set $g (i32.const 42))\n"
    "    (table.set $t (i32.const 0) (ref.null func))\n"
    "    (call $hit (i32.const 1)))\n"
    "  (func $peek_global (export \"peek_global\") (result i32) (global.get $g))\n"
    "  (func (export \"peek_mem\") (result i32)\n"
    "    (i32.add (i32.add (i32.load8_u (i32.const 16)) (i32.load8_u (i32.const 70000)))\n"
    "             (i32.load (i32.const 120000))))\n"
    "  (func (export \"peek_table\") (result i32) (ref.is_null (table.get $t (i32.const 0))))\n"
    "  (func (export \"pages\") (result i32) (memory.size)))\n";

static kapsul_status host_hit(void *env, kapsul_caller *caller, const kapsul_val *args, kapsul_val *results,
                              kapsul_error *err) {
    (void)caller;
    (void)err;
    __atomic_add_fetch((int *)env, args[0].of.i32, __ATOMIC_RELAXED);
    results[0].kind = KAPSUL_I32;
    results[0].of.i32 = 1;
    return KAPSUL_OK;
}

static const kapsul_valkind kI32[1] = { KAPSUL_I32 };

static int32_t call0(kapsul_store *s, kapsul_instance *inst, const char *name, kapsul_status *st) {
    kapsul_val r = { 0 };
    kapsul_func *f = kapsul_instance_func(inst, name);
    *st = f ? kapsul_func_call(s, f, NULL, 0, &r, 1, NULL) : KAPSUL_ERR_NOT_FOUND;
    return r.of.i32;
}

/* One request: a fresh instance, check it is pristine, dirty everything, free. 0 on success. */
static int request(kapsul_engine *e, kapsul_template *tpl, void *env) {
    kapsul_store *s = NULL;
    kapsul_instance *inst = NULL;
    kapsul_status st;
    int bad = 0;
    if (kapsul_store_new(e, &s, NULL) != KAPSUL_OK) return -1;
    st = kapsul_template_instantiate(tpl, s, env, &inst, NULL);
    if (st != KAPSUL_OK) {
        kapsul_store_free(s);
        return st == KAPSUL_ERR_LIMIT ? 1 : -1;
    }
    bad |= call0(s, inst, "peek_mem", &st) != 'a' + 'z' || st;
    bad |= call0(s, inst, "peek_global", &st) != 7 || st;
    bad |= call0(s, inst, "peek_table", &st) != 0 || st;
    bad |= call0(s, inst, "pages", &st) != 2 || st;
    bad |= call0(s, inst, "poke", &st) != 1 || st;
    bad |= call0(s, inst, "peek_mem", &st) != 255 + 5 || st;
    bad |= call0(s, inst, "peek_global", &st) != 42 || st;
    bad |= call0(s, inst, "peek_table", &st) != 1 || st;
    bad |= call0(s, inst, "pages", &st) != 3 || st;
    kapsul_store_free(s);
    return bad ? -1 : 0;
}

/* keep: keep_resident_bytes -- 0 the default (the whole 2-page memory is copied back), 65536 half
 * copied and half dropped, SIZE_MAX all dropped with madvise. */
static kapsul_template *state_template(kapsul_engine *e, kapsul_module **mod, int *hits, uint32_t pool,
                                       size_t keep) {
    kapsul_template *tpl = NULL;
    kapsul_error err;
    CHECK(kapsul_module_new_wat(e, kState, strlen(kState), mod, &err) == KAPSUL_OK);
    kapsul_template_import imp = { .module = "env",
                                   .name = "hit",
                                   .params = kI32,
                                   .nparams = 1,
                                   .results = kI32,
                                   .nresults = 1,
                                   .fn = host_hit,
                                   .env = hits };
    kapsul_template_config cfg = { .pool_size = pool, .keep_resident_bytes = keep };
    CHECK(kapsul_template_new(e, *mod, &imp, 1, &cfg, &tpl, &err) == KAPSUL_OK);
    return tpl;
}

static void test_fresh_and_pool(void) {
    kapsul_engine *e;
    kapsul_module *mod = NULL;
    int hits = 0;
    CHECK(kapsul_engine_new(NULL, &e, NULL) == KAPSUL_OK);
    kapsul_template *tpl = state_template(e, &mod, &hits, 2, 65536);
    kapsul_module_free(mod); /* the template keeps its own reference */
    for (int i = 0; i < 5; i++) CHECK(request(e, tpl, NULL) == 0);
    CHECK(hits == 5);
    CHECK(kapsul_template_pool_free(tpl) == 2);

    /* Exhausted: two live stores hold both slots; a third is refused, then a freed slot is reused. */
    kapsul_store *s[3];
    kapsul_instance *inst;
    kapsul_error err;
    for (int i = 0; i < 3; i++) CHECK(kapsul_store_new(e, &s[i], NULL) == KAPSUL_OK);
    CHECK(kapsul_template_instantiate(tpl, s[0], NULL, &inst, NULL) == KAPSUL_OK);
    CHECK(kapsul_template_instantiate(tpl, s[1], NULL, &inst, NULL) == KAPSUL_OK);
    CHECK(kapsul_template_pool_free(tpl) == 0);
    CHECK(kapsul_template_instantiate(tpl, s[2], NULL, &inst, &err) == KAPSUL_ERR_LIMIT);
    CHECK(err.code == KAPSUL_ERR_LIMIT && strstr(err.message, "exhausted") != NULL);
    kapsul_store_free(s[0]);
    CHECK(kapsul_template_pool_free(tpl) == 1);
    CHECK(kapsul_template_instantiate(tpl, s[2], NULL, &inst, NULL) == KAPSUL_OK);
    kapsul_status st;
    CHECK(call0(s[2], inst, "peek_mem", &st) == 'a' + 'z' && st == KAPSUL_OK);
    kapsul_store_free(s[1]);
    kapsul_store_free(s[2]);
    CHECK(kapsul_template_pool_free(tpl) == 2);
    kapsul_template_free(tpl);
    kapsul_engine_free(e);
}

/* The bounds-checked mode (no guard reservations) pools the same way. */
static void test_explicit_bounds(void) {
    kapsul_config c = { .explicit_bounds_checks = true };
    kapsul_engine *e;
    kapsul_module *mod = NULL;
    int hits = 0;
    CHECK(kapsul_engine_new(&c, &e, NULL) == KAPSUL_OK);
    kapsul_template *tpl = state_template(e, &mod, &hits, 1, SIZE_MAX);
    for (int i = 0; i < 3; i++) CHECK(request(e, tpl, NULL) == 0);
    kapsul_template_free(tpl);
    kapsul_module_free(mod);
    kapsul_engine_free(e);
    /* And the guard-page mode with every page dropped by madvise. */
    CHECK(kapsul_engine_new(NULL, &e, NULL) == KAPSUL_OK);
    tpl = state_template(e, &mod, &hits, 1, SIZE_MAX);
    for (int i = 0; i < 3; i++) CHECK(request(e, tpl, NULL) == 0);
    kapsul_template_free(tpl);
    kapsul_module_free(mod);
    kapsul_engine_free(e);
}

typedef struct worker {
    kapsul_engine *e;
    kapsul_template *tpl;
    int ok, refused, bad;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    while (w->ok < 200) {
        int r = request(w->e, w->tpl, NULL);
        if (r == 0) w->ok++;
        else if (r == 1) w->refused++;
        else if (++w->bad > 5) break;
    }
    return NULL;
}

/* 8 threads, a pool of 4: takes and returns race, some takes find the pool empty. */
static void test_threads(void) {
    kapsul_engine *e;
    kapsul_module *mod = NULL;
    int hits = 0;
    CHECK(kapsul_engine_new(NULL, &e, NULL) == KAPSUL_OK);
    kapsul_template *tpl = state_template(e, &mod, &hits, 4, 0);
    pthread_t th[8];
    worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (worker){ e, tpl, 0, 0, 0 };
        CHECK(pthread_create(&th[i], NULL, work, &w[i]) == 0);
    }
    int ok = 0, bad = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        bad += w[i].bad;
    }
    CHECK(ok == 1600 && bad == 0);
    CHECK(hits == 1600);
    CHECK(kapsul_template_pool_free(tpl) == 4);
    kapsul_template_free(tpl);
    kapsul_module_free(mod);
    kapsul_engine_free(e);
}

/* ---- Imports given per instance ---- */

/* A module that imports another instance's memory, table, global and function (as a component's
 * core instances do) and defines a memory of its own with data: every instance sees the objects
 * it was given, and its own memory starts as the image. */
static const char *kOwner =
    "(module\n"
    "  (memory (export \"m\") 1) (table (export \"t\") 2 funcref) (global (export \"g\") (mut i32) (i32.const 3))\n"
    "  (func $f (export \"f\") (result i32) (i32.const 40)) (elem (i32.const 1) $f))\n";
static const char *kUser = "(module\n"
                           "  (import \"o\" \"f\" (func $f (result i32)))\n"
                           "  (import \"o\" \"t\" (table 2 funcref))\n"
                           "  (import \"o\" \"g\" (global $g (mut i32)))\n"
                           "  (import \"o\" \"m\" (func $m (param i32)))\n"
                           "  (memory 1) (data (i32.const 8) \"\\05\")\n"
                           "  (type $r (func (result i32)))\n"
                           "  (func (export \"run\") (result i32)\n"
                           "    (call $m (i32.const 100))\n"
                           "    (global.set $g (i32.add (global.get $g) (i32.const 1)))\n"
                           "    (i32.add (i32.add (call $f) (call_indirect (type $r) (i32.const 1)))\n"
                           "             (i32.add (global.get $g) (i32.load8_u (i32.const 8)))))\n"
                           "  (func (export \"dirty\") (i32.store8 (i32.const 8) (i32.const 77))))\n";
/* A module without a memory of its own: the template has no pool, the memory is the owner's. */
static const char *kPoke =
    "(module (import \"o\" \"m\" (memory 1))\n"
    "  (func (export \"poke\") (param i32) (i32.store (i32.const 0) (local.get 0))))\n";

static void test_imports_given(void) {
    kapsul_engine *e;
    kapsul_module *owner = NULL, *user = NULL, *poke = NULL;
    kapsul_template *tpl = NULL, *ptpl = NULL;
    kapsul_error err;
    CHECK(kapsul_engine_new(NULL, &e, NULL) == KAPSUL_OK);
    CHECK(kapsul_module_new_wat(e, kOwner, strlen(kOwner), &owner, &err) == KAPSUL_OK);
    CHECK(kapsul_module_new_wat(e, kUser, strlen(kUser), &user, &err) == KAPSUL_OK);
    CHECK(kapsul_module_new_wat(e, kPoke, strlen(kPoke), &poke, &err) == KAPSUL_OK);
    kapsul_template_config cfg = { .pool_size = 2, .imports_per_instance = true };
    CHECK(kapsul_template_new(e, user, NULL, 0, &cfg, &tpl, &err) == KAPSUL_OK);
    CHECK(kapsul_template_new(e, poke, NULL, 0, &cfg, &ptpl, &err) == KAPSUL_OK);
    const char *names[4] = { "f", "t", "g", "m" };
    for (int i = 0; i < 6 && tpl && ptpl; i++) {
        kapsul_store *s = NULL;
        kapsul_linker *l = NULL;
        kapsul_instance *o = NULL, *u = NULL, *p = NULL;
        kapsul_extern x[4];
        kapsul_status st;
        CHECK(kapsul_store_new(e, &s, NULL) == KAPSUL_OK && kapsul_linker_new(s, &l, NULL) == KAPSUL_OK);
        CHECK(kapsul_linker_instantiate(l, owner, &o, &err) == KAPSUL_OK);
        for (int k = 0; k < 4 && o; k++)
            CHECK(kapsul_instance_export(o, names[k], strlen(names[k]), &x[k], NULL) == KAPSUL_OK);
        /* the poker, in place of the host function "m": the owner's memory */
        kapsul_extern mem = x[3];
        CHECK(kapsul_template_instantiate_with(ptpl, s, &mem, 1, &p, &err) == KAPSUL_OK);
        x[3] = (kapsul_extern){ .kind = KAPSUL_EXTERN_FUNC,
                                .of.func = p ? kapsul_instance_func(p, "poke") : NULL };
        CHECK(kapsul_template_instantiate(tpl, s, NULL, &u, &err) == KAPSUL_ERR_ARG);
        CHECK(kapsul_template_instantiate_with(tpl, s, x, 3, &u, &err) == KAPSUL_ERR_ARG);
        kapsul_extern swapped[4] = { x[0], x[2], x[1], x[3] };
        CHECK(kapsul_template_instantiate_with(tpl, s, swapped, 4, &u, &err) == KAPSUL_ERR_UNLINKABLE);
        CHECK(strstr(err.message, "\"o\" \"t\"") != NULL);
        CHECK(kapsul_template_instantiate_with(tpl, s, x, 4, &u, &err) == KAPSUL_OK);
        /* 40 + 40 + (3 + 1) + 5: its own memory is the image, the owner's global moved once */
        CHECK(u && call0(s, u, "run", &st) == 89 && st == KAPSUL_OK);
        CHECK(u && call0(s, u, "dirty", &st) == 0 && st == KAPSUL_OK);
        CHECK(mem.of.memory && kapsul_memory_data(mem.of.memory)[0] == 100);
        kapsul_linker_free(l);
        kapsul_store_free(s);
    }
    CHECK(tpl && kapsul_template_pool_free(tpl) == 2);
    kapsul_template_free(tpl);
    kapsul_template_free(ptpl);
    /* A template without imports takes the call with none. */
    CHECK(kapsul_template_new(e, owner, NULL, 0, NULL, &tpl, &err) == KAPSUL_OK);
    kapsul_store *s = NULL;
    kapsul_instance *o = NULL;
    CHECK(kapsul_store_new(e, &s, NULL) == KAPSUL_OK);
    CHECK(kapsul_template_instantiate_with(tpl, s, NULL, 0, &o, &err) == KAPSUL_OK && o);
    kapsul_store_free(s);
    kapsul_template_free(tpl);
    kapsul_module_free(owner);
    kapsul_module_free(user);
    kapsul_module_free(poke);
    kapsul_engine_free(e);
}

/* ---- Images far into the memory (hostile data segment offsets) ---- */

/* Bytes the process's template image files (memfd "kapsul-image") hold in memory; -1 where
 * /proc/self/fd cannot tell. */
static long long image_file_bytes(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    long long sum = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char path[300], target[256];
        snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        struct stat sb;
        if (n <= 0) continue;
        target[n] = 0;
        if (strstr(target, "memfd:kapsul-image") && stat(path, &sb) == 0)
            sum += (long long)sb.st_blocks * 512;
    }
    closedir(d);
    return sum;
}

/* A segment at the end of a 128 MiB memory makes a 128 MiB image whose file holds two pages; one
 * at the end of a 4 GiB memory makes none (past KP_TEMPLATE_MAX_IMAGE: the instances apply the
 * segments). Both instantiate with the data in place. */
static void test_far_data(void) {
    static const char *const wat[2] = {
        "(module (memory 2048) (data (i32.const 0) \"a\") (data (i32.const 134217727) \"z\")\n"
        "  (func (export \"peek\") (result i32)\n"
        "    (i32.add (i32.load8_u (i32.const 0)) (i32.load8_u (i32.const 134217727)))))",
        "(module (memory 65536) (data (i32.const 0) \"a\") (data (i32.const -1) \"z\")\n"
        "  (func (export \"peek\") (result i32)\n"
        "    (i32.add (i32.load8_u (i32.const 0)) (i32.load8_u (i32.const -1)))))",
    };
    kapsul_engine *e;
    CHECK(kapsul_engine_new(NULL, &e, NULL) == KAPSUL_OK);
    for (int k = 0; k < 2; k++) {
        kapsul_module *mod = NULL;
        kapsul_template *tpl = NULL;
        kapsul_store *s = NULL;
        kapsul_instance *inst = NULL;
        kapsul_status st;
        long long before = image_file_bytes();
        kapsul_template_config cfg = { .pool_size = 1 };
        CHECK(kapsul_module_new_wat(e, wat[k], strlen(wat[k]), &mod, NULL) == KAPSUL_OK);
        CHECK(mod && kapsul_template_new(e, mod, NULL, 0, &cfg, &tpl, NULL) == KAPSUL_OK);
        if (!tpl) continue;
        kapsul_template_info in;
        kapsul_template_describe(tpl, &in);
        CHECK(in.data_in_image == (k == 0) && in.image_bytes == (k == 0 ? 128u << 20 : 0));
        CHECK(kapsul_store_new(e, &s, NULL) == KAPSUL_OK);
        CHECK(kapsul_template_instantiate(tpl, s, NULL, &inst, NULL) == KAPSUL_OK);
        CHECK(inst && call0(s, inst, "peek", &st) == 'a' + 'z' && st == KAPSUL_OK);
        long long held = image_file_bytes();
        CHECK(before < 0 || (held - before >= 0 && held - before < (1 << 20))); /* not 128 MiB of zeros */
        kapsul_store_free(s);
        kapsul_template_free(tpl);
        kapsul_module_free(mod);
    }
    kapsul_engine_free(e);
}

/* ---- Limits ---- */

static const char *kGrow =
    "(module\n"
    "  (memory (export \"memory\") 1)\n"
    "  (table $t 1 funcref)\n"
    "  (func (export \"grow_mem\") (param i32) (result i32) (memory.grow (local.get 0)))\n"
    "  (func (export \"grow_table\") (param i32) (result i32)\n"
    "    (table.grow $t (ref.null func) (local.get 0))))\n";

static int32_t call1(kapsul_store *s, kapsul_instance *inst, const char *name, int32_t arg) {
    kapsul_val a = { .kind = KAPSUL_I32, .of.i32 = arg }, r = { 0 };
    CHECK(kapsul_func_call(s, kapsul_instance_func(inst, name), &a, 1, &r, 1, NULL) == KAPSUL_OK);
    return r.of.i32;
}

static void test_limits(void) {
    kapsul_engine *e;
    kapsul_module *mod = NULL, *big = NULL;
    kapsul_store *s;
    kapsul_linker *l;
    kapsul_instance *inst = NULL;
    kapsul_error err;
    CHECK(kapsul_engine_new(NULL, &e, NULL) == KAPSUL_OK);
    CHECK(kapsul_module_new_wat(e, kGrow, strlen(kGrow), &mod, NULL) == KAPSUL_OK);
    CHECK(kapsul_module_new_wat(e, "(memory 3)", 10, &big, NULL) == KAPSUL_OK);
    CHECK(kapsul_store_new(e, &s, NULL) == KAPSUL_OK);
    kapsul_limits lim = { .max_memory_bytes = 2 * 65536,
                          .max_table_elements = 5,
                          .max_instances = 1,
                          .max_memories = 1,
                          .max_tables = 1 };
    CHECK(kapsul_store_set_limits(s, &lim, NULL) == KAPSUL_OK);
    CHECK(kapsul_store_set_limits(s, NULL, &err) == KAPSUL_ERR_ARG);
    kapsul_limits back;
    kapsul_store_limits(s, &back);
    CHECK(back.max_table_elements == 5 && back.max_instances == 1);
    CHECK(kapsul_linker_new(s, &l, NULL) == KAPSUL_OK);
    /* Initial memory above the store's limit: the engine's trap kind, nothing created. */
    CHECK(kapsul_linker_instantiate(l, big, &inst, &err) == KAPSUL_ERR_TRAP);
    CHECK(err.trap == KAPSUL_TRAP_MEMORY_LIMIT);
    CHECK(kapsul_linker_instantiate(l, mod, &inst, &err) == KAPSUL_OK);
    kapsul_memory *mem = kapsul_instance_memory(inst, "memory");
    CHECK(call1(s, inst, "grow_mem", 2) == -1);
    CHECK(call1(s, inst, "grow_mem", 1) == 1);
    CHECK(call1(s, inst, "grow_mem", 1) == -1);
    CHECK(kapsul_memory_grow(mem, 1, NULL, &err) == KAPSUL_ERR_LIMIT);
    CHECK(call1(s, inst, "grow_table", 5) == -1);
    CHECK(call1(s, inst, "grow_table", 4) == 1);
    CHECK(call1(s, inst, "grow_table", 1) == -1);
    /* Counts: a second instance, memory or table is refused. */
    CHECK(kapsul_linker_instantiate(l, mod, &inst, &err) == KAPSUL_ERR_LIMIT);
    kapsul_memory *m2;
    kapsul_table *t2;
    CHECK(kapsul_memory_new(s, 1, KAPSUL_NO_MAX, &m2, &err) == KAPSUL_ERR_LIMIT);
    CHECK(kapsul_table_new(s, KAPSUL_FUNCREF, 1, 1, &t2, &err) == KAPSUL_ERR_LIMIT);
    kapsul_linker_free(l);
    kapsul_store_free(s);

    /* A template honours the store's limits too. */
    kapsul_template *tpl;
    CHECK(kapsul_template_new(e, mod, NULL, 0, NULL, &tpl, NULL) == KAPSUL_OK);
    CHECK(kapsul_store_new(e, &s, NULL) == KAPSUL_OK);
    lim = (kapsul_limits){ .max_memory_bytes = 65536, .max_instances = 1 };
    CHECK(kapsul_store_set_limits(s, &lim, NULL) == KAPSUL_OK);
    CHECK(kapsul_template_instantiate(tpl, s, NULL, &inst, NULL) == KAPSUL_OK);
    CHECK(call1(s, inst, "grow_mem", 1) == -1);
    CHECK(kapsul_template_instantiate(tpl, s, NULL, &inst, &err) == KAPSUL_ERR_LIMIT);
    kapsul_store_free(s);
    CHECK(kapsul_template_pool_free(tpl) == 64);
    kapsul_template_free(tpl);

    /* Unresolvable templates. */
    CHECK(kapsul_template_new(e, big, NULL, 0, NULL, &tpl, NULL) == KAPSUL_OK);
    kapsul_template_free(tpl);
    kapsul_module *imp = NULL;
    const char *wi = "(import \"env\" \"f\" (func (param i64)))";
    CHECK(kapsul_module_new_wat(e, wi, strlen(wi), &imp, NULL) == KAPSUL_OK);
    CHECK(kapsul_template_new(e, imp, NULL, 0, NULL, &tpl, &err) == KAPSUL_ERR_UNLINKABLE && tpl == NULL);
    kapsul_template_import ti = {
        .module = "env", .name = "f", .params = kI32, .nparams = 1, .fn = host_hit
    };
    CHECK(kapsul_template_new(e, imp, &ti, 1, NULL, &tpl, &err) == KAPSUL_ERR_UNLINKABLE);
    ti.fn = NULL;
    CHECK(kapsul_template_new(e, imp, &ti, 1, NULL, &tpl, &err) == KAPSUL_ERR_ARG);
    kapsul_module_free(imp);
    kapsul_module_free(big);
    kapsul_module_free(mod);
    kapsul_engine_free(e);
}

/* ---- WASI in-memory stdio ---- */

/* Echoes stdin after a CGI header, checks fd 1's filetype and poll readiness of fd 0, and writes
 * three stderr pieces ("one\ntw", "o\nthree") that make lines "one", "two" and, at free, "three". */
static const char *kHello =
    "(module\n"
    "  (import \"wasi_snapshot_preview1\" \"fd_write\" (func $w (param i32 i32 i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"fd_read\" (func $r (param i32 i32 i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"fd_fdstat_get\" (func $st (param i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"poll_oneoff\" (func $poll (param i32 i32 i32 i32) (result i32)))\n"
    "  (memory (export \"memory\") 1)\n"
    "  (data (i32.const 100) \"Content-Type: text/plain\\n\\nhello \")\n"
    "  (data (i32.const 200) \"one\\ntwo\\nthree\")\n"
    "  (func $out (param $fd i32) (param $p i32) (param $n i32) (result i32)\n"
    "    (i32.store (i32.const 0) (local.get $p)) (i32.store (i32.const 4) (local.get $n))\n"
    "    (drop (call $w (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))\n"
    "    (i32.load (i32.const 8)))\n"
    "  (func (export \"_start\")\n"
    "    (drop (call $out (i32.const 1) (i32.const 100) (i32.const 32)))\n"
    "    (i32.store (i32.const 16) (i32.const 1000)) (i32.store (i32.const 20) (i32.const 100))\n"
    "    (drop (call $r (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 24)))\n"
    "    (drop (call $out (i32.const 1) (i32.const 1000) (i32.load (i32.const 24))))\n"
    "    (drop (call $out (i32.const 2) (i32.const 200) (i32.const 6)))\n"
    "    (drop (call $out (i32.const 2) (i32.const 206) (i32.const 7))))\n"
    "  (func (export \"filetype\") (result i32)\n"
    "    (drop (call $st (i32.const 1) (i32.const 300))) (i32.load8_u (i32.const 300)))\n"
    "  (func (export \"rights\") (result i64)\n"
    "    (drop (call $st (i32.const 1) (i32.const 300))) (i64.load (i32.const 308)))\n"
    "  (func (export \"poll_in\") (result i32)\n"
    "    (i64.store (i32.const 400) (i64.const 7)) (i32.store8 (i32.const 408) (i32.const 1))\n"
    "    (i32.store (i32.const 416) (i32.const 0))\n"
    "    (drop (call $poll (i32.const 400) (i32.const 500) (i32.const 1) (i32.const 600)))\n"
    "    (i32.add (i32.mul (i32.load (i32.const 600)) (i32.const 1000))\n"
    "             (i32.wrap_i64 (i64.load (i32.const 516)))))\n"
    "  (func (export \"write_big\") (result i32)\n"
    "    (i32.store (i32.const 0) (i32.const 0)) (i32.store (i32.const 4) (i32.const 40))\n"
    "    (i32.store (i32.const 8) (i32.const -1))\n"
    "    (i32.add (i32.mul (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))\n"
    "                      (i32.const 1000)) (i32.load (i32.const 8)))))\n";

typedef struct lines {
    int n;
    char text[3][16];
} lines;

static void on_line(void *env, const char *line, size_t len) {
    lines *l = env;
    if (l->n < 3 && len < 16) memcpy(l->text[l->n], line, len), l->text[l->n][len] = 0;
    l->n++;
}

static void test_wasi_memio(void) {
    kapsul_engine *e;
    kapsul_module *mod = NULL;
    kapsul_template *tpl = NULL;
    const kapsul_template_import *wi;
    size_t nwi;
    kapsul_error err;
    CHECK(kapsul_engine_new(NULL, &e, NULL) == KAPSUL_OK);
    CHECK(kapsul_module_new_wat(e, kHello, strlen(kHello), &mod, &err) == KAPSUL_OK);
    CHECK(kapsul_wasi_template_imports(&wi, &nwi, NULL) == KAPSUL_OK && nwi > 40);
    CHECK(kapsul_template_new(e, mod, wi, nwi, NULL, &tpl, &err) == KAPSUL_OK);
    for (int round = 0; round < 2; round++) {
        static const char body[] = "world";
        lines l = { 0 };
        kapsul_wasi_config cfg = { .mem_stdio = KAPSUL_WASI_MEM_STDIN | KAPSUL_WASI_MEM_STDOUT |
                                                KAPSUL_WASI_MEM_STDERR,
                                   .stdin_data = (const uint8_t *)body,
                                   .stdin_len = 5,
                                   .output_cap = 64,
                                   .stderr_line = on_line,
                                   .stderr_env = &l };
        kapsul_wasi *w = NULL;
        kapsul_store *s = NULL;
        kapsul_instance *inst = NULL;
        kapsul_status st;
        CHECK(kapsul_wasi_new(&cfg, &w, &err) == KAPSUL_OK);
        CHECK(kapsul_store_new(e, &s, NULL) == KAPSUL_OK);
        CHECK(kapsul_template_instantiate(tpl, s, w, &inst, &err) == KAPSUL_OK);
        CHECK(call0(s, inst, "poll_in", &st) == 1005 && st == KAPSUL_OK);
        CHECK(kapsul_func_call(s, kapsul_instance_func(inst, "_start"), NULL, 0, NULL, 0, &err) == KAPSUL_OK);
        const uint8_t *out;
        size_t len;
        CHECK(kapsul_wasi_output(w, 1, &out, &len, &err) == KAPSUL_OK);
        CHECK(len == 37 && out && memcmp(out, "Content-Type: text/plain\n\nhello world", 37) == 0);
        CHECK(kapsul_wasi_output(w, 2, &out, &len, &err) == KAPSUL_OK && len == 0);
        CHECK(kapsul_wasi_output(w, 0, &out, &len, &err) == KAPSUL_ERR_ARG);
        CHECK(call0(s, inst, "filetype", &st) == 0 && st == KAPSUL_OK); /* unknown: pipe-like */
        CHECK(l.n == 2 && strcmp(l.text[0], "one") == 0 && strcmp(l.text[1], "two") == 0);
        /* Past the cap: 27 more bytes fit of 40, then FBIG; the host sees KAPSUL_ERR_LIMIT. */
        CHECK(call0(s, inst, "write_big", &st) == 27);            /* errno 0, 27 written */
        CHECK(call0(s, inst, "write_big", &st) == 22 * 1000 - 1); /* errno FBIG, untouched */
        CHECK(kapsul_wasi_output(w, 1, &out, &len, &err) == KAPSUL_ERR_LIMIT && len == 64);
        kapsul_store_free(s);
        kapsul_wasi_free(w);
        CHECK(l.n == 3 && strcmp(l.text[2], "three") == 0);
    }
    /* Without the mem bits, kapsul_wasi_output refuses; host fds are unchanged behaviour. */
    kapsul_wasi_config plain = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1 };
    kapsul_wasi *w;
    const uint8_t *out;
    size_t len;
    CHECK(kapsul_wasi_new(&plain, &w, NULL) == KAPSUL_OK);
    CHECK(kapsul_wasi_output(w, 1, &out, &len, &err) == KAPSUL_ERR_ARG);
    kapsul_wasi_free(w);
    kapsul_wasi_config badin = { .mem_stdio = KAPSUL_WASI_MEM_STDIN, .stdin_len = 3 };
    CHECK(kapsul_wasi_new(&badin, &w, &err) == KAPSUL_ERR_ARG && w == NULL);
    kapsul_template_free(tpl);
    kapsul_module_free(mod);
    kapsul_engine_free(e);
}

/* ---- Allocation failures ---- */

/* The whole life of a template with allocation n failing; 1 when nothing failed. */
static int alloc_attempt(long n) {
    kapsul_engine *e = NULL;
    kapsul_module *mod = NULL;
    kapsul_template *tpl = NULL;
    kapsul_store *s = NULL;
    kapsul_wasi *w = NULL;
    kapsul_instance *inst = NULL;
    const kapsul_template_import *wi;
    size_t nwi;
    int complete = 0;
    kpAlloc_failAfter(n);
    kapsul_wasi_config cfg = { .mem_stdio =
                                   KAPSUL_WASI_MEM_STDIN | KAPSUL_WASI_MEM_STDOUT | KAPSUL_WASI_MEM_STDERR };
    if (kapsul_engine_new(NULL, &e, NULL) || kapsul_module_new_wat(e, kHello, strlen(kHello), &mod, NULL) ||
        kapsul_wasi_template_imports(&wi, &nwi, NULL) ||
        kapsul_template_new(e, mod, wi, nwi, NULL, &tpl, NULL) || kapsul_wasi_new(&cfg, &w, NULL) ||
        kapsul_store_new(e, &s, NULL) || kapsul_template_instantiate(tpl, s, w, &inst, NULL) ||
        kapsul_func_call(s, kapsul_instance_func(inst, "_start"), NULL, 0, NULL, 0, NULL))
        goto done;
    complete = 1;
done:
    kpAlloc_failAfter(-1);
    kapsul_store_free(s);
    kapsul_wasi_free(w);
    kapsul_template_free(tpl);
    kapsul_module_free(mod);
    kapsul_engine_free(e);
    return complete;
}

static void test_allocfail(void) {
    long n;
    for (n = 0; n < 5000; n++)
        if (alloc_attempt(n)) break;
    printf("template life: %ld allocation points, each failed cleanly\n", n);
    CHECK(n > 10 && n < 5000);
}

int main(void) {
    test_fresh_and_pool();
    test_explicit_bounds();
    test_threads();
    test_imports_given();
    test_far_data();
    test_limits();
    test_wasi_memio();
    test_allocfail();
    return kpt_finish();
}
