/*
 * func.c -- functions seen from the host: host functions and what they learn of their caller,
 * function types, and calls from the host into wasm (the slots <-> values bridge and the
 * interpreter are engine/host.c and engine/interp.c).
 */
#include "runtime/runtime.h"

static uint32_t slot_count(const kpValType *t, uint32_t n) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) k += kp_slot_width(t[i]);
    return k;
}

/* ---- Host functions ---- */

/* The caller (engine/objects.h) carries the store and the calling instance. */
kapsul_memory *kapsul_caller_memory(kapsul_caller *caller) {
    return caller && caller->inst ? caller->inst->core.mem0 : NULL;
}
kapsul_store *kapsul_caller_store(kapsul_caller *caller) { return caller ? caller->store : NULL; }

static bool valid_kind(kapsul_valkind k) {
    return k == KAPSUL_I32 || k == KAPSUL_I64 || k == KAPSUL_F32 || k == KAPSUL_F64 || k == KAPSUL_V128 ||
           k == KAPSUL_FUNCREF || k == KAPSUL_EXTERNREF;
}

kapsul_status kapsul_func_new_host(kapsul_store *store, const kapsul_valkind *params, uint32_t nparams,
                                   const kapsul_valkind *results, uint32_t nresults, kapsul_host_fn fn,
                                   void *env, kapsul_func **out, kapsul_error *err) {
    kpError_clear(err);
    if (out) *out = NULL;
    if (!store || !fn || !out || (!params && nparams) || (!results && nresults))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_func_new_host: a required argument is NULL");
    if (nparams > KP_MAX_PARAMS || nresults > KP_MAX_RESULTS)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "%u parameters and %u results: more than %u / %u", nparams,
                           nresults, KP_MAX_PARAMS, KP_MAX_RESULTS);
    uint8_t types[KP_MAX_PARAMS + KP_MAX_RESULTS];
    for (uint32_t i = 0; i < nparams + nresults; i++) {
        kapsul_valkind k = i < nparams ? params[i] : results[i - nparams];
        if (!valid_kind(k)) return kpError_set(err, KAPSUL_ERR_ARG, 0, "bad value kind 0x%x", (unsigned)k);
        types[i] = (uint8_t)k;
    }
    kpFuncType ft = { nparams, nresults, types };
    kapsul_func *f;
    if (kpStore_addFunc(store, &f) != KAPSUL_OK ||
        kpEngine_internType(store->engine, &ft, &f->type_id, &f->type) != KAPSUL_OK)
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    f->host = fn;
    f->env = env;
    f->index = 0;
    *out = f;
    return KAPSUL_OK;
}

uint32_t kapsul_func_param_count(const kapsul_func *f) { return f->type->nparams; }
uint32_t kapsul_func_result_count(const kapsul_func *f) { return f->type->nresults; }
/* Out-of-range indices give 0 (no valid kind) rather than reading past the type. */
kapsul_valkind kapsul_func_param(const kapsul_func *f, uint32_t i) {
    return i < f->type->nparams ? (kapsul_valkind)kpFuncType_params(f->type)[i] : (kapsul_valkind)0;
}
kapsul_valkind kapsul_func_result(const kapsul_func *f, uint32_t i) {
    return i < f->type->nresults ? (kapsul_valkind)kpFuncType_results(f->type)[i] : (kapsul_valkind)0;
}

/* ---- Calls ---- */

kapsul_status kapsul_func_call(kapsul_store *s, kapsul_func *f, const kapsul_val *args, uint32_t nargs,
                               kapsul_val *results, uint32_t nresults, kapsul_error *err) {
    kpError_clear(err);
    if (!s || !f) return kpError_set(err, KAPSUL_ERR_ARG, 0, "bad argument");
    const kpFuncType *t = f->type;
    if (nargs != t->nparams || (nargs && !args))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "expected %u arguments, got %u", t->nparams, nargs);
    if (nresults < t->nresults || (t->nresults && !results))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "room for %u results needed", t->nresults);
    const kpValType *pt = kpFuncType_params(t), *rt = kpFuncType_results(t);
    for (uint32_t i = 0; i < nargs; i++)
        if ((kpValType)args[i].kind != pt[i])
            return kpError_set(err, KAPSUL_ERR_ARG, 0, "argument %u has the wrong type", i);
    if (kpStore_prepareStacks(s) != KAPSUL_OK) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    kpExec *x = &s->exec;
    uint64_t *fp = x->stack_free;
    uint32_t np = slot_count(pt, t->nparams), nr = slot_count(rt, t->nresults);
    uint32_t need = np > nr ? np : nr;
    if ((size_t)(x->stack + x->stack_slots - fp) < need) {
        kpError_set(err, KAPSUL_ERR_TRAP, 0, "%s", kapsul_trap_message(KAPSUL_TRAP_STACK_EXHAUSTED));
        if (err) err->trap = KAPSUL_TRAP_STACK_EXHAUSTED;
        return KAPSUL_ERR_TRAP;
    }
    for (uint32_t i = 0, k = 0; i < nargs; k += kp_slot_width(pt[i]), i++) kpHost_toSlots(&args[i], fp + k);
    /* Host code below may re-enter; reserve our slots. */
    x->stack_free = fp + need;
    kapsul_status st = kpInterp_call(x, f, fp, err);
    x->stack_free = fp;
    if (st != KAPSUL_OK) return st;
    for (uint32_t i = 0, k = 0; i < t->nresults; k += kp_slot_width(rt[i]), i++)
        results[i] = kpHost_fromSlots(rt[i], fp + k);
    return KAPSUL_OK;
}
