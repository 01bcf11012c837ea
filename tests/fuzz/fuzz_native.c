/*
 * fuzz_native.c -- libFuzzer target: a module compiled by the native tier must behave exactly as
 * the interpreter runs it. The input is a module (seeds: corpus/exec, the modules fuzz_exec starts
 * from, binaryen -ttf ones included); one that does not load is skipped. It is compiled in process
 * (kpEmit_compile at -O2, the tier's default; with explicit bounds checks instead of guard pages
 * when the input's length is odd, so both code shapes are fuzzed), loaded back through
 * kapsul_module_deserialize, and both modules are instantiated with the stand-in imports of
 * stubs.h, each in its own store. Every exported function is then called with zeros in both,
 * each call with fresh fuel. Oracles (any difference aborts with what differed):
 *   - the same status, trap kind and results (NaNs compare equal whatever their bits);
 *   - the same fuel used (the tiers charge the same units at the same points);
 *   - the same function index in every backtrace frame;
 *   - the same bytes in every exported memory at the end.
 * After a stack-exhaustion trap in either tier the rest is not compared: the native stack and the
 * interpreter's frame limit stop at different depths, so the two stores' states part there.
 * A module the native tier refuses to compile (KAPSUL_ERR_LIMIT) is skipped; anything else it
 * reports about a module the interpreter loaded is a finding. LLVM takes tens of milliseconds per
 * input, so this target is slow by libFuzzer's standards; its CI run is as long as the others.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/native/llvm/emit.h"
#include "kapsul.h"
#include "runtime/runtime.h"
#include "stubs.h"

#define FUEL 20000
#define MEMORY_CAP ((size_t)16 << 20)

static kapsul_engine *engine;

static __attribute__((noreturn)) void differ(const char *what, const char *export_name, size_t len) {
    fprintf(stderr, "fuzz_native: interpreter and native tier differ: %s (export \"%.*s\")\n", what, (int)len,
            export_name);
    abort();
}

static bool same_val(const kapsul_val *a, const kapsul_val *b) {
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case KAPSUL_I32: return a->of.i32 == b->of.i32;
    case KAPSUL_I64: return a->of.i64 == b->of.i64;
    case KAPSUL_F32: {
        float x, y;
        memcpy(&x, &a->of.f32_bits, 4);
        memcpy(&y, &b->of.f32_bits, 4);
        return (isnan(x) && isnan(y)) || a->of.f32_bits == b->of.f32_bits;
    }
    case KAPSUL_F64: {
        double x, y;
        memcpy(&x, &a->of.f64_bits, 8);
        memcpy(&y, &b->of.f64_bits, 8);
        return (isnan(x) && isnan(y)) || a->of.f64_bits == b->of.f64_bits;
    }
    case KAPSUL_V128: return memcmp(a->of.v128, b->of.v128, 16) == 0;
    default: return (a->of.funcref == NULL) == (b->of.funcref == NULL);
    }
}

/* One side of the comparison: a store, its linker and the instance. */
typedef struct side {
    kapsul_store *s;
    kapsul_linker *l;
    kapsul_instance *inst;
    kapsul_status st;
    kapsul_error err;
} side;

static void side_open(side *x, kapsul_module *mod) {
    memset(x, 0, sizeof *x);
    if (kapsul_store_new(engine, &x->s, NULL) != KAPSUL_OK ||
        kapsul_linker_new(x->s, &x->l, NULL) != KAPSUL_OK)
        abort();
    const kpModule *m = mod->m;
    for (uint32_t i = 0; i < m->nimports; i++) define_import(x->s, x->l, m, i);
    kapsul_store_set_fuel(x->s, FUEL);
    x->st = kapsul_linker_instantiate(x->l, mod, &x->inst, &x->err);
}

static void side_close(side *x) {
    kapsul_linker_free(x->l);
    kapsul_store_free(x->s);
}

static bool stack_exhausted(const side *x) {
    return x->st == KAPSUL_ERR_TRAP && x->err.trap == KAPSUL_TRAP_STACK_EXHAUSTED;
}

/* Compare the outcome of the same step in both tiers (after a call or the instantiation). */
static void compare(const side *a, const side *b, const kapsul_val *ra, const kapsul_val *rb, uint32_t nr,
                    const char *name, size_t len) {
    if (a->st != b->st) differ("status", name, len);
    if (a->st == KAPSUL_ERR_TRAP) {
        if (a->err.trap != b->err.trap) differ("trap kind", name, len);
        if (a->err.nframes != b->err.nframes) differ("backtrace depth", name, len);
        for (int i = 0; i < a->err.nframes; i++)
            if (a->err.frames[i].func_index != b->err.frames[i].func_index)
                differ("backtrace frame", name, len);
    }
    if (a->st == KAPSUL_OK)
        for (uint32_t i = 0; i < nr; i++)
            if (!same_val(&ra[i], &rb[i])) differ("result", name, len);
    if (kapsul_store_fuel_remaining(a->s) != kapsul_store_fuel_remaining(b->s))
        differ("fuel used", name, len);
}

/* Call export e with zeros on one side. */
static void call(side *x, const kpExport *ex, kapsul_val *res, uint32_t *nres) {
    kapsul_extern ext;
    if (kapsul_instance_export(x->inst, ex->name, ex->name_len, &ext, NULL) != KAPSUL_OK) abort();
    kapsul_func *f = ext.of.func;
    uint32_t np = kapsul_func_param_count(f);
    *nres = kapsul_func_result_count(f);
    kapsul_val args[KP_MAX_PARAMS + 1];
    for (uint32_t i = 0; i < np; i++) args[i] = zero_of((kpValType)kapsul_func_param(f, i));
    memset(&x->err, 0, sizeof x->err);
    kapsul_store_set_fuel(x->s, FUEL);
    x->st = kapsul_func_call(x->s, f, args, np, res, *nres, &x->err);
}

static void compare_memories(side *a, side *b, const kpModule *m) {
    for (uint32_t i = 0; i < m->nexports; i++) {
        const kpExport *ex = &m->exports[i];
        if (ex->kind != kpExtern_MEMORY) continue;
        kapsul_extern ea, eb;
        if (kapsul_instance_export(a->inst, ex->name, ex->name_len, &ea, NULL) != KAPSUL_OK ||
            kapsul_instance_export(b->inst, ex->name, ex->name_len, &eb, NULL) != KAPSUL_OK)
            abort();
        size_t n = kapsul_memory_size(ea.of.memory);
        if (n != kapsul_memory_size(eb.of.memory)) differ("memory size", ex->name, ex->name_len);
        if (n && memcmp(kapsul_memory_data(ea.of.memory), kapsul_memory_data(eb.of.memory), n) != 0)
            differ("memory contents", ex->name, ex->name_len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!engine) {
        kapsul_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.max_memory_bytes = MEMORY_CAP;
        if (kapsul_engine_new(&cfg, &engine, NULL) != KAPSUL_OK) abort();
    }
    kapsul_module *interp = NULL, *native = NULL;
    kapsul_error err;
    memset(&err, 0, sizeof err);
    if (kapsul_module_new(engine, data, size, &interp, &err) != KAPSUL_OK) return 0;
    kpBuf kwasm = { 0 };
    kapsul_status st = kpEmit_compile(data, size, 2, size & 1, &kwasm, &err);
    if (st == KAPSUL_ERR_LIMIT && strstr(err.message, "does not compile")) goto out; /* not yet */
    if (st != KAPSUL_OK) {
        fprintf(stderr, "fuzz_native: a module the interpreter loaded does not compile: %s\n", err.message);
        abort();
    }
    if (kapsul_module_deserialize(engine, kwasm.data, kwasm.len, &native, &err) != KAPSUL_OK) {
        fprintf(stderr, "fuzz_native: a fresh artifact does not load: %s\n", err.message);
        abort();
    }
    const kpModule *m = interp->m;
    side a, b;
    side_open(&a, interp);
    side_open(&b, native);
    bool live = !stack_exhausted(&a) && !stack_exhausted(&b); /* a start function's recursion */
    if (live) compare(&a, &b, NULL, NULL, 0, "(instantiation)", 15);
    live = live && a.st == KAPSUL_OK;
    for (uint32_t i = 0; i < m->nexports && live; i++) {
        const kpExport *ex = &m->exports[i];
        if (ex->kind != kpExtern_FUNC) continue;
        kapsul_val ra[KP_MAX_RESULTS + 1], rb[KP_MAX_RESULTS + 1];
        uint32_t na = 0, nb = 0;
        call(&a, ex, ra, &na);
        call(&b, ex, rb, &nb);
        if (stack_exhausted(&a) || stack_exhausted(&b)) live = false;
        else compare(&a, &b, ra, rb, na, ex->name, ex->name_len);
    }
    if (live) compare_memories(&a, &b, m);
    side_close(&a);
    side_close(&b);
out:
    kpBuf_free(&kwasm);
    kapsul_module_free(native);
    kapsul_module_free(interp);
    return 0;
}
