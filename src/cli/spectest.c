/*
 * spectest.c -- the "spectest" host module the official WAST scripts import from: print
 * functions, four immutable globals, a funcref table and a memory, all as the reference
 * interpreter defines them. Built only from the public API, like any embedder's host module.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* The print functions do nothing unless asked (env != NULL): spec scripts call them for their
 * side effect on the reference interpreter's stdout, which no assertion checks. */
static kapsul_status spectest_print(void *env, kapsul_caller *caller, const kapsul_val *args,
                                    kapsul_val *results, kapsul_error *err) {
    (void)caller;
    (void)results;
    (void)err;
    const uint32_t *nargs = env;
    if (!nargs) return KAPSUL_OK;
    for (uint32_t i = 0; i < *nargs; i++) {
        const kapsul_val *v = &args[i];
        switch (v->kind) {
        case KAPSUL_I32: printf("%" PRId32 " : i32\n", v->of.i32); break;
        case KAPSUL_I64: printf("%" PRId64 " : i64\n", v->of.i64); break;
        case KAPSUL_F32: {
            float f;
            memcpy(&f, &v->of.f32_bits, sizeof f);
            printf("%.9g : f32\n", (double)f);
            break;
        }
        case KAPSUL_F64: {
            double d;
            memcpy(&d, &v->of.f64_bits, sizeof d);
            printf("%.17g : f64\n", d);
            break;
        }
        default: printf("? : %d\n", (int)v->kind); break;
        }
    }
    return KAPSUL_OK;
}

typedef struct print_sig {
    const char *name;
    uint32_t nparams;
    kapsul_valkind params[2];
} print_sig;

static const print_sig print_sigs[] = {
    { "print", 0, { KAPSUL_I32, KAPSUL_I32 } },         { "print_i32", 1, { KAPSUL_I32, KAPSUL_I32 } },
    { "print_i64", 1, { KAPSUL_I64, KAPSUL_I64 } },     { "print_f32", 1, { KAPSUL_F32, KAPSUL_F32 } },
    { "print_f64", 1, { KAPSUL_F64, KAPSUL_F64 } },     { "print_i32_f32", 2, { KAPSUL_I32, KAPSUL_F32 } },
    { "print_f64_f64", 2, { KAPSUL_F64, KAPSUL_F64 } },
};
#define KP_NPRINT (sizeof print_sigs / sizeof print_sigs[0])

static kapsul_status define_extern(kapsul_linker *linker, const char *name, kapsul_extern ext,
                                   kapsul_error *err) {
    return kapsul_linker_define(linker, "spectest", 8, name, strlen(name), ext, err);
}

/* One immutable global of the given kind and raw bits. */
static kapsul_status define_global(kapsul_store *store, kapsul_linker *linker, const char *name,
                                   kapsul_valkind kind, uint64_t bits, kapsul_error *err) {
    kapsul_val v;
    memset(&v, 0, sizeof v);
    v.kind = kind;
    if (kind == KAPSUL_I32 || kind == KAPSUL_F32) v.of.f32_bits = (uint32_t)bits;
    else v.of.f64_bits = bits;
    kapsul_extern ext = { .kind = KAPSUL_EXTERN_GLOBAL };
    kapsul_status st = kapsul_global_new(store, v, false, &ext.of.global, err);
    if (st != KAPSUL_OK) return st;
    return define_extern(linker, name, ext, err);
}

kapsul_status kpSpectest_define(kapsul_store *store, kapsul_linker *linker, bool print, kapsul_error *err) {
    static const uint32_t arity[KP_NPRINT] = { 0, 1, 1, 1, 1, 2, 2 };
    kapsul_status st = KAPSUL_OK;
    for (size_t i = 0; i < KP_NPRINT && st == KAPSUL_OK; i++) {
        const print_sig *s = &print_sigs[i];
        st = kapsul_linker_define_func(linker, "spectest", s->name, s->params, s->nparams, NULL, 0,
                                       spectest_print, print ? (void *)&arity[i] : NULL, err);
    }
    if (st != KAPSUL_OK) return st;

    float f32 = 666.6f;
    double f64 = 666.6;
    uint32_t f32_bits;
    uint64_t f64_bits;
    memcpy(&f32_bits, &f32, sizeof f32_bits);
    memcpy(&f64_bits, &f64, sizeof f64_bits);
    if ((st = define_global(store, linker, "global_i32", KAPSUL_I32, 666, err)) != KAPSUL_OK ||
        (st = define_global(store, linker, "global_i64", KAPSUL_I64, 666, err)) != KAPSUL_OK ||
        (st = define_global(store, linker, "global_f32", KAPSUL_F32, f32_bits, err)) != KAPSUL_OK ||
        (st = define_global(store, linker, "global_f64", KAPSUL_F64, f64_bits, err)) != KAPSUL_OK)
        return st;

    kapsul_extern table = { .kind = KAPSUL_EXTERN_TABLE };
    st = kapsul_table_new(store, KAPSUL_FUNCREF, 10, 20, &table.of.table, err);
    if (st == KAPSUL_OK) st = define_extern(linker, "table", table, err);
    if (st != KAPSUL_OK) return st;

    kapsul_extern memory = { .kind = KAPSUL_EXTERN_MEMORY };
    st = kapsul_memory_new(store, 1, 2, &memory.of.memory, err);
    if (st == KAPSUL_OK) st = define_extern(linker, "memory", memory, err);
    return st;
}
