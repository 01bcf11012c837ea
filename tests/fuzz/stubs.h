/*
 * stubs.h -- stand-ins for a generated module's imports, shared by the exec fuzz target and the
 * native differential runner: every import is defined with zeros of its type (functions return
 * zeros, memories and tables have their minimum size, globals hold zero).
 */
#ifndef KP_TESTS_STUBS_H
#define KP_TESTS_STUBS_H

#include <string.h>

#include "runtime/runtime.h"

static kapsul_val zero_of(kpValType t) {
    kapsul_val v;
    memset(&v, 0, sizeof v);
    v.kind = (kapsul_valkind)t;
    return v;
}

/* Stand-in for every imported function: results are zeros of the declared types. */
static kapsul_status stub(void *env, kapsul_caller *caller, const kapsul_val *args, kapsul_val *results,
                          kapsul_error *err) {
    const kpFuncType *t = env;
    (void)caller;
    (void)args;
    (void)err;
    for (uint32_t i = 0; i < t->nresults; i++) results[i] = zero_of(kpFuncType_results(t)[i]);
    return KAPSUL_OK;
}

/* Define a stand-in for import i; failures (limits) only mean instantiation will fail. */
static void define_import(kapsul_store *s, kapsul_linker *l, const kpModule *m, uint32_t i) {
    const kpImport *im = &m->imports[i];
    kapsul_extern ext;
    memset(&ext, 0, sizeof ext);
    ext.kind = (kapsul_externkind)im->kind;
    switch (im->kind) {
    case kpExtern_FUNC: {
        const kpFuncType *t = &m->types[im->desc.func_type];
        kapsul_valkind p[KP_MAX_PARAMS], r[KP_MAX_RESULTS];
        for (uint32_t k = 0; k < t->nparams; k++) p[k] = (kapsul_valkind)kpFuncType_params(t)[k];
        for (uint32_t k = 0; k < t->nresults; k++) r[k] = (kapsul_valkind)kpFuncType_results(t)[k];
        if (kapsul_func_new_host(s, p, t->nparams, r, t->nresults, stub, (void *)t, &ext.of.func, NULL))
            return;
        break;
    }
    case kpExtern_MEMORY: {
        const kpLimits *lim = &im->desc.memory.limits;
        if (kapsul_memory_new(s, lim->min, lim->has_max ? lim->max : KAPSUL_NO_MAX, &ext.of.memory, NULL))
            return;
        break;
    }
    case kpExtern_TABLE: {
        const kpLimits *lim = &im->desc.table.limits;
        if (lim->min > 100000) return;
        if (kapsul_table_new(s, (kapsul_valkind)im->desc.table.elem, lim->min,
                             lim->has_max ? lim->max : KAPSUL_NO_MAX, &ext.of.table, NULL))
            return;
        break;
    }
    case kpExtern_GLOBAL:
        if (kapsul_global_new(s, zero_of(im->desc.global.type), im->desc.global.mut, &ext.of.global, NULL))
            return;
        break;
    }
    kapsul_linker_define(l, im->module, im->module_len, im->name, im->name_len, ext, NULL);
}

#endif
