/*
 * canon.c -- the canonical ABI at run time: the core functions `canon lower` and the resource
 * built-ins make, and calls of component functions (host ones, and lifted guest exports with
 * post-return).
 *
 * Core values cross as kapsul_vals and become the 64-bit bit patterns cabi.c works on. The guest's
 * memory is read through kapsul_memory_data/size, re-read after every call that can run guest
 * code (realloc, the callee), since memory.grow may move it. A realloc that traps or exits
 * reports its own status, not the ABI's generic one.
 */
#include <stdio.h>

#include "cinstance/ci.h"

kapsul_status kpCCanon_trap(kapsul_error *err, kpCabiTrap t, const char *where) {
    kapsul_status st = kpError_set(err, t == KP_CABI_NOMEM ? KAPSUL_ERR_NOMEM : KAPSUL_ERR_TRAP, 0, "%s (%s)",
                                   kpCabi_trapMessage(t), where);
    if (err && st == KAPSUL_ERR_TRAP) err->trap = KAPSUL_TRAP_HOST;
    return st;
}

static uint64_t bits(const kapsul_val *v) {
    switch (v->kind) {
    case KAPSUL_I32: return (uint32_t)v->of.i32;
    case KAPSUL_I64: return (uint64_t)v->of.i64;
    case KAPSUL_F32: return v->of.f32_bits;
    case KAPSUL_F64: return v->of.f64_bits;
    default: return 0;
    }
}

static kapsul_val val_of(kapsul_valkind k, uint64_t b) {
    kapsul_val v = { .kind = k };
    switch (k) {
    case KAPSUL_I32: v.of.i32 = (int32_t)(uint32_t)b; break;
    case KAPSUL_I64: v.of.i64 = (int64_t)b; break;
    case KAPSUL_F32: v.of.f32_bits = (uint32_t)b; break;
    case KAPSUL_F64: v.of.f64_bits = b; break;
    default: break;
    }
    return v;
}

/* The realloc callback's state: which function, and the status when it failed. */
typedef struct rctx {
    kpCInstance *ci;
    const kpCOpts *o;
    kapsul_error *err;
    kapsul_status st;
    kpCFrame *fr; /* whose handles the call lifts and lowers */
} rctx;

static uint32_t resource_id(void *env, uint32_t type, bool *impl) {
    rctx *r = env;
    return kpCI_resourceId(r->ci, r->fr, type, impl);
}

static void refresh(kpCabiCx *cx, kapsul_memory *mem) {
    cx->mem = mem ? kapsul_memory_data(mem) : NULL;
    cx->mem_size = mem ? kapsul_memory_size(mem) : 0;
}

static int do_realloc(kpCabiCx *cx, uint32_t old_ptr, uint32_t old_size, uint32_t align, uint32_t size,
                      uint32_t *out) {
    rctx *r = cx->ctx;
    kapsul_val a[4] = { val_of(KAPSUL_I32, old_ptr), val_of(KAPSUL_I32, old_size), val_of(KAPSUL_I32, align),
                        val_of(KAPSUL_I32, size) };
    kapsul_val res;
    r->st = kapsul_func_call(r->ci->store, r->o->realloc, a, 4, &res, 1, r->err);
    refresh(cx, r->o->mem);
    if (r->st != KAPSUL_OK) return -1;
    *out = (uint32_t)res.of.i32;
    return 0;
}

static void cx_init(kpCabiCx *cx, rctx *r, kpCInstance *ci, const kpCOpts *o, kpCFrame *fr, kpCArena *arena,
                    kapsul_error *err) {
    *r = (rctx){ ci, o, err, KAPSUL_OK, fr };
    *cx = (kpCabiCx){ .c = ci->c,
                      .realloc = o->realloc ? do_realloc : NULL,
                      .ctx = r,
                      .enc = (kpCStringEncoding)o->enc,
                      .handles = &fr->handles,
                      .resource_id = resource_id,
                      .resource_env = r,
                      .arena = arena };
    refresh(cx, o->mem);
}

/* A failed lift or lower: realloc's own failure, else the ABI's trap. */
static kapsul_status cabi_fail(const rctx *r, kpCabiTrap t, const char *where) {
    if (r->st != KAPSUL_OK) return r->st;
    return kpCCanon_trap(r->err, t, where);
}

/* ---- Calls of component functions ---------------------------------------------------------------- */

/* The call itself: lower the arguments (borrows recorded in cx), call, lift the results,
 * post-return. */
static kapsul_status call_core(kpCInstance *ci, kpCFunc *f, const kpCType *ft, const kpCValue *params,
                               kpCValue *results, kpCabiCx *cx, const rctx *r, uint32_t wp, uint32_t wr,
                               kapsul_error *err) {
    uint64_t core[KP_CABI_MAX_FLAT_PARAMS + 2];
    uint32_t n = 0;
    kpCabiTrap t = kpCabi_lowerParams(cx, ft, params, core, &n);
    if (t != KP_CABI_OK) return cabi_fail(r, t, "lowering the arguments");
    if (n != wp) return kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0, "canon lift: the arguments do not fit");
    kapsul_val args[KP_CABI_MAX_FLAT_PARAMS + 2], res[KP_CABI_MAX_FLAT_RESULTS + 1];
    for (uint32_t i = 0; i < n; i++) args[i] = val_of(kapsul_func_param(f->core, i), core[i]);
    f->frame->entered = true;
    kapsul_status st = kapsul_func_call(ci->store, f->core, args, n, res, wr, err);
    f->frame->entered = false;
    if (st != KAPSUL_OK) return st;
    uint64_t out[KP_CABI_MAX_FLAT_RESULTS + 1];
    for (uint32_t i = 0; i < wr; i++) out[i] = bits(&res[i]);
    refresh(cx, f->opts.mem);
    kpCValue *vals = NULL;
    t = kpCabi_liftResults(cx, ft, out, wr, &vals);
    if (t != KP_CABI_OK) return cabi_fail(r, t, "lifting the results");
    uint32_t nres = ft->n - ft->nparams;
    if (nres) memcpy(results, vals, nres * sizeof *results);
    if (f->opts.post) st = kapsul_func_call(ci->store, f->opts.post, res, wr, NULL, 0, err);
    return st;
}

/* A lifted export: check the core function's type and re-entry, call, then end the borrows the
 * call lent to the callee (the ones it did not drop itself). */
static kapsul_status call_lifted(kpCInstance *ci, kpCFunc *f, const kpCValue *params, kpCValue *results,
                                 kpCArena *arena, kapsul_error *err) {
    const kpCType *ft = kpComponent_resolve(ci->c, f->type);
    /* The core function must have exactly the flattened type (a core module passed in for an
     * imported module type may differ from what the decoder saw). */
    uint8_t want[KP_CABI_MAX_FLAT_PARAMS + KP_CABI_MAX_FLAT_RESULTS + 2];
    uint32_t wp, wr;
    kpCabi_coreSig(ci->c, ft, false, want, &wp, want + KP_CABI_MAX_FLAT_PARAMS + 1, &wr);
    bool same = kapsul_func_param_count(f->core) == wp && kapsul_func_result_count(f->core) == wr;
    for (uint32_t i = 0; same && i < wp; i++) same = kapsul_func_param(f->core, i) == (kapsul_valkind)want[i];
    for (uint32_t i = 0; same && i < wr; i++)
        same = kapsul_func_result(f->core, i) == (kapsul_valkind)want[KP_CABI_MAX_FLAT_PARAMS + 1 + i];
    if (!same)
        return kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0, "canon lift: the core function has another type");
    /* A component instance cannot be entered again while it runs (the spec's may_enter): a call
     * back into it traps instead of recursing through the host's C stack. */
    if (f->frame->entered) {
        kapsul_status st =
            kpError_set(err, KAPSUL_ERR_TRAP, 0, "cannot enter a component instance recursively");
        if (err) err->trap = KAPSUL_TRAP_HOST;
        return st;
    }
    kpCabiCx cx;
    rctx r;
    cx_init(&cx, &r, ci, &f->opts, f->frame, arena, err);
    cx.track_borrows = true;
    kapsul_status st = call_core(ci, f, ft, params, results, &cx, &r, wp, wr, err);
    /* The callee must have dropped every borrow it was lent (the canonical ABI traps when a call
     * returns with one left); they are ended either way, so a trap leaves the table clean. */
    uint32_t left = 0;
    for (uint32_t i = 0; i + 2 < cx.nborrows; i += 3)
        left += kpCHandles_endBorrow(&f->frame->handles, cx.borrows[i + 1], cx.borrows[i], cx.borrows[i + 2]);
    kp_free(cx.borrows);
    if (st == KAPSUL_OK && left) {
        st = kpError_set(err, KAPSUL_ERR_TRAP, 0,
                         "canonical ABI: %u borrowed handle%s not dropped before the call returned", left,
                         left == 1 ? "" : "s");
        if (err) err->trap = KAPSUL_TRAP_HOST;
    }
    return st;
}

void kpCInstance_setTrace(kpCInstance *ci, void (*fn)(void *env, const char *line), void *env) {
    ci->trace = fn, ci->trace_env = env;
}

/* Append n values of fields fs to a trace line, separated by ", ". */
static int trace_values(const kpComponent *c, const kpCField *fs, uint32_t n, const kpCValue *v, kpBuf *b) {
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0 && b->len < 400; i++)
        rc |= (i ? kpBuf_push(b, ", ", 2) : 0) | kpWave_print(c, fs[i].type, &v[i], b);
    return rc;
}

/* One trace line for a host call: IFACE#NAME(ARGS) = RESULTS, or = error: MESSAGE. */
static void trace_call(kpCInstance *ci, const kpCFunc *f, const kpCType *ft, const kpCValue *params,
                       const kpCValue *results, kapsul_status st, const kapsul_error *err) {
    kpBuf b = { 0 };
    char head[160];
    snprintf(head, sizeof head, "%s#%s(", f->host_iface ? f->host_iface : "host",
             f->host_name ? f->host_name : "?");
    int rc = kpBuf_push(&b, head, strlen(head)) | trace_values(ci->c, ft->fields, ft->nparams, params, &b);
    rc |= kpBuf_push(&b, ") = ", 4);
    if (st == KAPSUL_OK)
        rc |= ft->n == ft->nparams
                  ? kpBuf_push(&b, "()", 2)
                  : trace_values(ci->c, ft->fields + ft->nparams, ft->n - ft->nparams, results, &b);
    else
        rc |= kpBuf_push(&b, "error: ", 7) |
              kpBuf_push(&b, err ? err->message : "", err ? strlen(err->message) : 0);
    if (rc == 0 && b.len > 300) b.len = 300, rc |= kpBuf_push(&b, "...", 3);
    if (rc == 0 && kpBuf_byte(&b, 0) == 0) ci->trace(ci->trace_env, (const char *)b.data);
    kpBuf_free(&b);
}

kapsul_status kpCFunc_call(kpCInstance *ci, kpCFunc *f, const kpCValue *params, kpCValue *results,
                           kpCArena *arena, kapsul_error *err) {
    if (f->kind == KP_CFUNC_LIFT) return call_lifted(ci, f, params, results, arena, err);
    kpCHostCall call = { ci, arena, kpComponent_resolve(ci->c, f->type) };
    kapsul_status st = f->fn(f->env, &call, params, results, err);
    if (ci->trace) trace_call(ci, f, call.ft, params, results, st, err);
    return st;
}

/* ---- canon lower ------------------------------------------------------------------------------- */

/* The body of every lowered function: lift the core arguments with the caller's options, call,
 * lower the results (flat, or stored at the caller's return pointer). */
static kapsul_status lowered(void *env, kapsul_caller *caller, const kapsul_val *args, kapsul_val *results,
                             kapsul_error *err) {
    kpCLower *l = env;
    (void)caller;
    uint64_t core[KP_CABI_MAX_FLAT_PARAMS + 2];
    for (uint32_t i = 0; i < l->np; i++) core[i] = bits(&args[i]);
    kpCArena arena = { 0 };
    kpCabiCx cx;
    rctx r;
    cx_init(&cx, &r, l->ci, &l->opts, l->frame, &arena, err);
    kpCValue *params = NULL, *res = NULL;
    uint32_t nres = l->ft->n - l->ft->nparams, nout = 0;
    kapsul_status st = KAPSUL_OK;
    kpCabiTrap t = kpCabi_liftParams(&cx, l->ft, core, l->spill ? l->np - 1 : l->np, &params);
    if (t != KP_CABI_OK) {
        st = cabi_fail(&r, t, "lifting the arguments");
        goto done;
    }
    if (nres && !(res = kpCArena_alloc(&arena, nres * sizeof *res))) {
        st = kpCCanon_trap(err, KP_CABI_LIMIT, "the results");
        goto done;
    }
    if ((st = kpCFunc_call(l->ci, l->func, params, res, &arena, err)) != KAPSUL_OK) goto done;
    refresh(&cx, l->opts.mem);
    uint64_t out[KP_CABI_MAX_FLAT_RESULTS + 1];
    t = kpCabi_lowerResults(&cx, l->ft, res, out, &nout, l->spill ? (uint32_t)core[l->np - 1] : 0);
    if (t != KP_CABI_OK) {
        st = cabi_fail(&r, t, "lowering the results");
        goto done;
    }
    for (uint32_t i = 0; i < nout; i++) results[i] = val_of(results[i].kind, out[i]);
done:
    kpCArena_free(&arena);
    return st;
}

kapsul_status kpCCanon_lower(kpCInstance *ci, kpCFrame *fr, const kpCOp *op, kpCFunc *func,
                             const kpCOpts *opts, kapsul_extern *out, kapsul_error *err) {
    const kpComponent *c = ci->c;
    if (op->b >= c->sigs.n) return kpError_set(err, KAPSUL_ERR_INVALID, 0, "canon lower: bad signature");
    const kpCSig *sig = &c->sigs.v[op->b];
    kpCLower *l = kpCI_alloc(ci, sizeof *l);
    if (!l) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    const kpCType *ft = kpComponent_resolve(c, op->type);
    uint32_t rflat = 0;
    for (uint32_t i = ft->nparams; i < ft->n; i++) rflat += kpCabi_flatten(c, ft->fields[i].type, NULL, 0);
    *l = (kpCLower){ .ci = ci,
                     .frame = fr,
                     .func = func,
                     .ft = ft,
                     .opts = *opts,
                     .np = sig->np,
                     .spill = rflat > KP_CABI_MAX_FLAT_RESULTS };
    if (sig->np > KP_CABI_MAX_FLAT_PARAMS + 1 || sig->nr > KP_CABI_MAX_FLAT_RESULTS ||
        (l->spill && sig->np == 0))
        return kpError_set(err, KAPSUL_ERR_INVALID, 0, "canon lower: bad signature");
    kapsul_valkind k[KP_CABI_MAX_FLAT_PARAMS + KP_CABI_MAX_FLAT_RESULTS + 2];
    for (uint32_t i = 0; i < sig->np + sig->nr; i++) k[i] = (kapsul_valkind)sig->t[i];
    out->kind = KAPSUL_EXTERN_FUNC;
    return kapsul_func_new_host(ci->store, k, sig->np, k + sig->np, sig->nr, lowered, l, &out->of.func, err);
}

/* ---- Resource built-ins ------------------------------------------------------------------------ */

static kapsul_status res_new(void *env, kapsul_caller *caller, const kapsul_val *args, kapsul_val *results,
                             kapsul_error *err) {
    kpCLower *l = env;
    (void)caller;
    uint32_t h;
    kpCabiTrap t = kpCHandles_add(&l->frame->handles, l->restype, (uint32_t)args[0].of.i32, true, &h);
    if (t != KP_CABI_OK) return kpCCanon_trap(err, t, "resource.new");
    results[0].of.i32 = (int32_t)h;
    return KAPSUL_OK;
}

static kapsul_status res_rep(void *env, kapsul_caller *caller, const kapsul_val *args, kapsul_val *results,
                             kapsul_error *err) {
    kpCLower *l = env;
    (void)caller;
    uint32_t rep;
    kpCabiTrap t = kpCHandles_rep(&l->frame->handles, l->restype, (uint32_t)args[0].of.i32, &rep);
    if (t != KP_CABI_OK) return kpCCanon_trap(err, t, "resource.rep");
    results[0].of.i32 = (int32_t)rep;
    return KAPSUL_OK;
}

/* resource.drop: the last owning handle runs the destructor (the host's, or the defining
 * component's core function). */
static kapsul_status res_drop(void *env, kapsul_caller *caller, const kapsul_val *args, kapsul_val *results,
                              kapsul_error *err) {
    kpCLower *l = env;
    (void)caller, (void)results;
    uint32_t rep;
    kpCabiTrap t = kpCHandles_drop(&l->frame->handles, l->restype, (uint32_t)args[0].of.i32, &rep);
    if (t != KP_CABI_OK) return kpCCanon_trap(err, t, "resource.drop");
    if (rep == UINT32_MAX || !l->res) return KAPSUL_OK;
    if (l->res->dtor) {
        l->res->dtor(l->res->env, rep);
        return KAPSUL_OK;
    }
    if (!l->res->guest_dtor) return KAPSUL_OK;
    kapsul_val a = val_of(KAPSUL_I32, rep);
    if (kapsul_func_param_count(l->res->guest_dtor) != 1 || kapsul_func_result_count(l->res->guest_dtor) != 0)
        return kpError_set(err, KAPSUL_ERR_TRAP, 0, "resource destructor has the wrong type");
    return kapsul_func_call(l->ci->store, l->res->guest_dtor, &a, 1, NULL, 0, err);
}

kapsul_status kpCCanon_resource(kpCInstance *ci, kpCFrame *fr, const kpCOp *op, kpCRes *res,
                                kapsul_extern *out, kapsul_error *err) {
    static const kapsul_valkind i32[1] = { KAPSUL_I32 };
    kpCLower *l = kpCI_alloc(ci, sizeof *l);
    if (!l) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    *l = (kpCLower){
        .ci = ci, .frame = fr, .restype = res ? kpCI_resourceUid(ci, res) : op->type, .res = res
    };
    kapsul_host_fn fn = op->kind == kpCOP_RESOURCE_NEW   ? res_new
                        : op->kind == kpCOP_RESOURCE_REP ? res_rep
                                                         : res_drop;
    out->kind = KAPSUL_EXTERN_FUNC;
    return kapsul_func_new_host(ci->store, i32, 1, i32, op->kind == kpCOP_RESOURCE_DROP ? 0 : 1, fn, l,
                                &out->of.func, err);
}
