/*
 * host.c -- the bridge between the interpreter and host functions: a host function takes and
 * returns typed kapsul_vals, wasm code keeps values in 8-byte slots (a v128 in two).
 */
#include <stdio.h>

#include "engine/objects.h"

/* The embedder's typed values to slots and back (also used for globals and kapsul_func_call). */
void kpHost_toSlots(const kapsul_val *v, uint64_t *slots) {
    switch (v->kind) {
    case KAPSUL_I32: slots[0] = (uint32_t)v->of.i32; break;
    case KAPSUL_I64: slots[0] = (uint64_t)v->of.i64; break;
    case KAPSUL_F32: slots[0] = v->of.f32_bits; break;
    case KAPSUL_F64: slots[0] = v->of.f64_bits; break;
    case KAPSUL_V128: memcpy(slots, v->of.v128, 16); break;
    case KAPSUL_FUNCREF: slots[0] = (uint64_t)(uintptr_t)v->of.funcref; break;
    case KAPSUL_EXTERNREF: slots[0] = (uint64_t)(uintptr_t)v->of.externref; break;
    default: slots[0] = 0; break;
    }
}

kapsul_val kpHost_fromSlots(kpValType t, const uint64_t *slots) {
    kapsul_val v;
    memset(&v, 0, sizeof v);
    v.kind = (kapsul_valkind)t;
    switch (t) {
    case kpT_I32: v.of.i32 = (int32_t)(uint32_t)slots[0]; break;
    case kpT_I64: v.of.i64 = (int64_t)slots[0]; break;
    case kpT_F32: v.of.f32_bits = (uint32_t)slots[0]; break;
    case kpT_F64: v.of.f64_bits = slots[0]; break;
    case kpT_V128: memcpy(v.of.v128, slots, 16); break;
    case kpT_FUNCREF: v.of.funcref = (kapsul_func *)(uintptr_t)slots[0]; break;
    default: v.of.externref = (void *)(uintptr_t)slots[0]; break;
    }
    return v;
}

/* Arguments come from slots, results go back to the same slots. A host error is passed through
 * unchanged (TRAP with its trap kind, defaulting to KAPSUL_TRAP_HOST; EXIT with its code). */
kapsul_status kpHost_call(kpExec *x, kpInstCore *caller_inst, kapsul_func *f, uint64_t *slots,
                          kapsul_error *err) {
    const kpFuncType *t = f->type;
    kapsul_val small[16], *args = small, *res;
    size_t n = (size_t)t->nparams + t->nresults;
    kapsul_error local;
    kapsul_error *e = err ? err : &local;
    kapsul_status st;
    if (n > 16 && !(args = kp_calloc(n, sizeof *args)))
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    res = args + t->nparams;
    const kpValType *pt = kpFuncType_params(t), *rt = kpFuncType_results(t);
    for (uint32_t i = 0, k = 0; i < t->nparams; k += kp_slot_width(pt[i]), i++)
        args[i] = kpHost_fromSlots(pt[i], slots + k);
    for (uint32_t i = 0; i < t->nresults; i++) {
        memset(&res[i], 0, sizeof res[i]);
        res[i].kind = (kapsul_valkind)rt[i];
    }
    kapsul_caller caller = { x->store, caller_inst ? caller_inst->owner : NULL };
    kpError_clear(e);
    st = f->host(f->env, &caller, args, res, e);
    if (st != KAPSUL_OK) {
        e->code = st;
        if (st == KAPSUL_ERR_TRAP && e->trap == KAPSUL_TRAP_NONE) e->trap = KAPSUL_TRAP_HOST;
        if (!e->message[0]) snprintf(e->message, sizeof e->message, "%s", kapsul_trap_message(e->trap));
        goto fail;
    }
    for (uint32_t i = 0, k = 0; i < t->nresults; k += kp_slot_width(rt[i]), i++) {
        if ((kpValType)res[i].kind != rt[i]) {
            st = kpError_set(err, KAPSUL_ERR_TRAP, 0, "host function returned a value of the wrong type");
            if (err) err->trap = KAPSUL_TRAP_HOST;
            goto fail;
        }
        kpHost_toSlots(&res[i], slots + k);
    }
fail:
    if (args != small) kp_free(args);
    return st;
}
