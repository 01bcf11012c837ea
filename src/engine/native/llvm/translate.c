/*
 * translate.c -- a validated module to one LLVM module: function declarations, the body of each
 * function (locals, the instruction loop that hands each instruction to its family's file) and
 * the kp_entry<i> wrappers the host enters through (see native.h for the ABI).
 */
#include <stdio.h>

#include "engine/native/llvm/translate.h"

LLVMTypeRef kpTranslate_type(kpTx *t, kpValType v) {
    switch (v) {
    case kpT_I32: return t->t_i32;
    case kpT_I64: return t->t_i64;
    case kpT_F32: return t->t_f32;
    case kpT_F64: return t->t_f64;
    case kpT_V128: return t->t_v128;
    default: return t->t_i64; /* references */
    }
}

uint32_t kpTranslate_slotBytes(kpValType type) { return type == kpT_V128 ? 16 : 8; }

LLVMValueRef kpTranslate_i32(kpTx *t, uint64_t v) { return LLVMConstInt(t->t_i32, v, false); }
LLVMValueRef kpTranslate_i64(kpTx *t, uint64_t v) { return LLVMConstInt(t->t_i64, v, false); }

LLVMValueRef kpTranslate_zero(kpTx *t, kpValType v) { return LLVMConstNull(kpTranslate_type(t, v)); }

kapsul_status kpTranslate_push(kpTx *t, LLVMValueRef v) {
    if (kpVec_grow(&t->stack)) return kpError_set(t->err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    t->stack.v[t->stack.n++] = v;
    return KAPSUL_OK;
}

LLVMValueRef kpTranslate_pop(kpTx *t) { return t->stack.v[--t->stack.n]; }

/* Traps share one block per kind and function, so each check is a compare and a branch; a phi
 * there gives kp_rt_trap the offset of the instruction that branched (its backtrace frame). */
void kpTranslate_trapIf(kpTx *t, LLVMValueRef cond, kapsul_trap kind) {
    LLVMBasicBlockRef here = LLVMGetInsertBlock(t->b);
    if (!t->trap_bb[kind]) {
        t->trap_bb[kind] = LLVMAppendBasicBlockInContext(t->c, t->fn, "trap");
        LLVMPositionBuilderAtEnd(t->b, t->trap_bb[kind]);
        t->trap_at[kind] = LLVMBuildPhi(t->b, t->t_i32, "at");
        LLVMValueRef args[2] = { kpTranslate_i32(t, (uint64_t)kind), t->trap_at[kind] };
        kpTranslate_helper(t, kpH_kp_rt_trap, args, 2);
        LLVMBuildUnreachable(t->b);
        LLVMPositionBuilderAtEnd(t->b, here);
    }
    LLVMValueRef at = kpTranslate_i32(t, t->at);
    LLVMAddIncoming(t->trap_at[kind], &at, &here, 1);
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(t->c, t->fn, "ok");
    LLVMBuildCondBr(t->b, cond, t->trap_bb[kind], ok);
    LLVMPositionBuilderAtEnd(t->b, ok);
}

/* A pointer to ctx field k (see KP_NATIVE_CTX_*). */
LLVMValueRef kpTranslate_ctxField(kpTx *t, unsigned k) {
    return LLVMBuildStructGEP2(t->b, t->t_ctx, t->ctx, k, "");
}

LLVMValueRef kpTranslate_tag(kpTx *t, LLVMValueRef access, int cls) {
    LLVMSetMetadata(access, t->md_tbaa, t->tbaa[cls]);
    return access;
}

void kpTranslate_invariant(kpTx *t, LLVMValueRef load) {
    LLVMSetMetadata(load, t->md_invariant, LLVMMDNodeInContext(t->c, NULL, 0));
}

LLVMValueRef kpTranslate_ctxLoad(kpTx *t, unsigned k, LLVMTypeRef ty) {
    LLVMValueRef v = LLVMBuildLoad2(t->b, ty, kpTranslate_ctxField(t, k), "");
    switch (k) {
    case KP_NATIVE_CTX_GLOBALS:
    case KP_NATIVE_CTX_INTERRUPT:
    case KP_NATIVE_CTX_FUEL:
    case KP_NATIVE_CTX_STACK_LIMIT: /* set by the outermost entry, shared by nested ones */
    case KP_NATIVE_CTX_FRAMES:
    case KP_NATIVE_CTX_MAX_DEPTH: /* both set before the first entry runs code */
        kpTranslate_invariant(t, v);
        return v;
    default: return kpTranslate_tag(t, v, kpTbaa_CTX);
    }
}

/* The TBAA tree: one root, one scalar type per alias class, access tags at offset 0. */
static void init_tbaa(kpTx *t) {
    static const char *const names[kpTbaa_COUNT] = { "wasm memory", "ctx",   "global",
                                                     "frames",      "slots", "interrupt" };
    t->md_tbaa = LLVMGetMDKindIDInContext(t->c, "tbaa", 4);
    t->md_invariant = LLVMGetMDKindIDInContext(t->c, "invariant.load", 14);
    LLVMValueRef name = LLVMMDStringInContext(t->c, "kapsul tbaa", 11);
    LLVMValueRef root = LLVMMDNodeInContext(t->c, &name, 1);
    for (int k = 0; k < kpTbaa_COUNT; k++) {
        LLVMValueRef ty[3] = { LLVMMDStringInContext(t->c, names[k], (unsigned)strlen(names[k])), root,
                               kpTranslate_i64(t, 0) };
        LLVMValueRef type = LLVMMDNodeInContext(t->c, ty, 3);
        LLVMValueRef tag[3] = { type, type, kpTranslate_i64(t, 0) };
        t->tbaa[k] = LLVMMDNodeInContext(t->c, tag, 3);
    }
}

/* The LLVM signature of each helper row (see the comments of KP_NATIVE_HELPERS). */
static LLVMTypeRef helper_type(kpTx *t, int h) {
    LLVMTypeRef i32 = t->t_i32, i64 = t->t_i64, p = t->t_ptr, v = t->t_void, c = t->t_ctxp;
    LLVMTypeRef a[8] = { c };
    LLVMTypeRef ret = v;
    unsigned n = 1;
#define KP_SIG(r, ...)                                                                     \
    do {                                                                                   \
        LLVMTypeRef rest_[] = { __VA_ARGS__ };                                             \
        ret = r;                                                                           \
        for (unsigned k_ = 0; k_ < sizeof rest_ / sizeof *rest_; k_++) a[n++] = rest_[k_]; \
    } while (0)
    switch (h) {
    case kpH_kp_rt_trap: KP_SIG(v, i32, i32); break;
    case kpH_kp_rt_poll: KP_SIG(v, i32); break;
    case kpH_kp_rt_memory_grow: KP_SIG(i32, i32); break;
    case kpH_kp_rt_memory_fill: KP_SIG(v, i32, i32, i32); break;
    case kpH_kp_rt_memory_copy: KP_SIG(v, i32, i32, i32); break;
    case kpH_kp_rt_memory_init: KP_SIG(v, i32, i32, i32, i32); break;
    case kpH_kp_rt_data_drop: KP_SIG(v, i32); break;
    case kpH_kp_rt_call_import: KP_SIG(v, i32, p); break;
    case kpH_kp_rt_call_indirect: KP_SIG(v, i32, i32, i32, p); break;
    case kpH_kp_rt_ref_func: KP_SIG(i64, i32); break;
    case kpH_kp_rt_table_get: KP_SIG(i64, i32, i32); break;
    case kpH_kp_rt_table_set: KP_SIG(v, i32, i32, i64); break;
    case kpH_kp_rt_table_size: KP_SIG(i32, i32); break;
    case kpH_kp_rt_table_grow: KP_SIG(i32, i32, i64, i32); break;
    case kpH_kp_rt_table_fill: KP_SIG(v, i32, i32, i64, i32); break;
    case kpH_kp_rt_table_copy: KP_SIG(v, i32, i32, i32, i32, i32); break;
    case kpH_kp_rt_table_init: KP_SIG(v, i32, i32, i32, i32, i32); break;
    case kpH_kp_rt_elem_drop: KP_SIG(v, i32); break;
    case kpH_kp_rt_simd: KP_SIG(v, i32, i32, p); break;
    case kpH_kp_rt_simd_mem: KP_SIG(v, i32, i32, p, p); break;
    default: break;
    }
#undef KP_SIG
    return LLVMFunctionType(ret, a, n, false);
}

LLVMValueRef kpTranslate_helper(kpTx *t, int h, LLVMValueRef *args, unsigned nargs) {
    if (!t->helper_fn[h]) {
        t->helper_ty[h] = helper_type(t, h);
        t->helper_fn[h] = LLVMAddFunction(t->mod, kpNative_helpers[h].name, t->helper_ty[h]);
        if (h == kpH_kp_rt_trap) {
            unsigned k = LLVMGetEnumAttributeKindForName("noreturn", 8);
            LLVMAddAttributeAtIndex(t->helper_fn[h], LLVMAttributeFunctionIndex,
                                    LLVMCreateEnumAttribute(t->c, k, 0));
            k = LLVMGetEnumAttributeKindForName("cold", 4);
            LLVMAddAttributeAtIndex(t->helper_fn[h], LLVMAttributeFunctionIndex,
                                    LLVMCreateEnumAttribute(t->c, k, 0));
        }
    }
    /* Helpers that may trap or run other code learn where they were called from. */
    if (h != kpH_kp_rt_trap && h != kpH_kp_rt_simd && h != kpH_kp_rt_simd_mem && h != kpH_kp_rt_ref_func &&
        h != kpH_kp_rt_table_size && h != kpH_kp_rt_memory_grow && h != kpH_kp_rt_data_drop &&
        h != kpH_kp_rt_elem_drop)
        kpTranslate_tag(
            t, LLVMBuildStore(t->b, kpTranslate_i32(t, t->at), kpTranslate_ctxField(t, KP_NATIVE_CTX_SITE)),
            kpTbaa_CTX);
    LLVMValueRef all[8];
    all[0] = t->ctx;
    for (unsigned i = 0; i < nargs; i++) all[i + 1] = args[i];
    return LLVMBuildCall2(t->b, t->helper_ty[h], t->helper_fn[h], all, nargs + 1, "");
}

LLVMValueRef kpTranslate_intrinsic(kpTx *t, const char *name, LLVMTypeRef ty, LLVMValueRef *args,
                                   unsigned n) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef tys[2] = { ty, ty };
    unsigned ntys = 1;
    /* The saturating conversions are overloaded on result and operand types. */
    if (strstr(name, ".sat")) {
        tys[1] = LLVMTypeOf(args[0]);
        ntys = 2;
    }
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(t->mod, id, tys, ntys);
    LLVMTypeRef fty = LLVMIntrinsicGetType(t->c, id, tys, ntys);
    return LLVMBuildCall2(t->b, fty, fn, args, n, "");
}

void kpTranslate_reloadMemory(kpTx *t) {
    LLVMValueRef base = kpTranslate_ctxLoad(t, KP_NATIVE_CTX_MEM_BASE, t->t_ptr);
    LLVMValueRef size = kpTranslate_ctxLoad(t, KP_NATIVE_CTX_MEM_SIZE, t->t_i64);
    LLVMBuildStore(t->b, base, t->mem_base);
    LLVMBuildStore(t->b, size, t->mem_size);
}

LLVMValueRef kpTranslate_loadSlot(kpTx *t, LLVMValueRef base, uint32_t at, kpValType type, int cls) {
    LLVMValueRef idx = kpTranslate_i64(t, at);
    LLVMValueRef p = LLVMBuildGEP2(t->b, t->t_i8, base, &idx, 1, "");
    LLVMTypeRef ty = kpTranslate_type(t, type);
    p = LLVMBuildBitCast(t->b, p, LLVMPointerType(ty, 0), "");
    LLVMValueRef v = LLVMBuildLoad2(t->b, ty, p, "");
    LLVMSetAlignment(v, 8);
    return kpTranslate_tag(t, v, cls);
}

void kpTranslate_storeSlot(kpTx *t, LLVMValueRef base, uint32_t at, LLVMValueRef v, kpValType type, int cls) {
    LLVMValueRef idx = kpTranslate_i64(t, at);
    LLVMValueRef p = LLVMBuildGEP2(t->b, t->t_i8, base, &idx, 1, "");
    if (type == kpT_I32 || type == kpT_F32) {
        /* i32 and f32 slots are zero-extended 64-bit words. */
        if (type == kpT_F32) v = LLVMBuildBitCast(t->b, v, t->t_i32, "");
        v = LLVMBuildZExt(t->b, v, t->t_i64, "");
        type = kpT_I64;
    }
    LLVMTypeRef ty = kpTranslate_type(t, type);
    p = LLVMBuildBitCast(t->b, p, LLVMPointerType(ty, 0), "");
    LLVMValueRef s = LLVMBuildStore(t->b, v, p);
    LLVMSetAlignment(s, 8);
    kpTranslate_tag(t, s, cls);
}

/* The LLVM type of function type ft under the ABI of native.h. */
static LLVMTypeRef function_type(kpTx *t, const kpFuncType *ft, LLVMTypeRef *params) {
    params[0] = t->t_ctxp;
    params[1] = t->t_i64; /* the caller's depth (64 bits: it indexes the frame records) */
    for (uint32_t i = 0; i < ft->nparams; i++) params[i + 2] = kpTranslate_type(t, ft->types[i]);
    unsigned n = ft->nparams + 2;
    LLVMTypeRef ret = t->t_void;
    if (ft->nresults == 1) ret = kpTranslate_type(t, kpFuncType_results(ft)[0]);
    else if (ft->nresults > 1) params[n++] = t->t_ptr;
    return LLVMFunctionType(ret, params, n, false);
}

/* Declare kp_f<i> for every defined function, so calls can name functions not yet translated. */
static kapsul_status declare_functions(kpTx *t) {
    uint32_t n = kpModule_numFuncs(t->m);
    LLVMTypeRef *params = kp_malloc(sizeof *params * (KP_MAX_PARAMS + 3));
    t->fns = kp_calloc(n ? n : 1, sizeof *t->fns);
    t->fn_types = kp_calloc(n ? n : 1, sizeof *t->fn_types);
    if (!params || !t->fns || !t->fn_types) {
        kp_free(params);
        return kpError_set(t->err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    }
    for (uint32_t i = 0; i < n; i++) {
        t->fn_types[i] = function_type(t, kpModule_funcType(t->m, i), params);
        if (i < t->m->nfunc_imports) continue;
        char name[24];
        snprintf(name, sizeof name, "kp_f%u", i);
        t->fns[i] = LLVMAddFunction(t->mod, name, t->fn_types[i]);
        LLVMSetLinkage(t->fns[i], LLVMInternalLinkage);
        /* Traps unwind with siglongjmp through these frames; they need no unwind tables. */
        unsigned k = LLVMGetEnumAttributeKindForName("nounwind", 8);
        LLVMAddAttributeAtIndex(t->fns[i], LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(t->c, k, 0));
    }
    kp_free(params);
    return KAPSUL_OK;
}

/* kp_entry<i>(ctx, slots): arguments from slots, call, results back into slots. */
static void build_entry(kpTx *t, uint32_t i) {
    const kpFuncType *ft = kpModule_funcType(t->m, i);
    LLVMTypeRef pt[2] = { t->t_ctxp, t->t_ptr };
    char name[24];
    snprintf(name, sizeof name, "kp_entry%u", i);
    LLVMValueRef fn = LLVMAddFunction(t->mod, name, LLVMFunctionType(t->t_void, pt, 2, false));
    LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(t->c, fn, "entry");
    LLVMPositionBuilderAtEnd(t->b, bb);
    LLVMValueRef slots = LLVMGetParam(fn, 1);
    LLVMValueRef args[KP_MAX_PARAMS + 3];
    args[0] = t->ctx = LLVMGetParam(fn, 0);
    /* The callee's depth is kpNative_call's d0, so the caller's is one less (wrapping at 0). */
    LLVMValueRef d0 =
        LLVMBuildZExt(t->b, kpTranslate_ctxLoad(t, KP_NATIVE_CTX_DEPTH, t->t_i32), t->t_i64, "");
    args[1] = LLVMBuildSub(t->b, d0, kpTranslate_i64(t, 1), "");
    uint32_t at = 0;
    for (uint32_t k = 0; k < ft->nparams; k++) {
        args[k + 2] = kpTranslate_loadSlot(t, slots, at, ft->types[k], kpTbaa_SLOTS);
        at += kpTranslate_slotBytes(ft->types[k]);
    }
    unsigned n = ft->nparams + 2;
    if (ft->nresults > 1) args[n++] = slots;
    LLVMValueRef r = LLVMBuildCall2(t->b, t->fn_types[i], t->fns[i], args, n, "");
    if (ft->nresults == 1) kpTranslate_storeSlot(t, slots, 0, r, kpFuncType_results(ft)[0], kpTbaa_SLOTS);
    LLVMBuildRetVoid(t->b);
}

/* Locals as allocas in the entry block (mem2reg turns them into SSA values), params stored in
 * them, declared locals zeroed; the memory cache; the stack-limit check. */
static kapsul_status enter_function(kpTx *t, const kpFunc *f) {
    t->nlocals = t->ft->nparams + f->nlocals;
    t->locals = kp_malloc(sizeof *t->locals * (t->nlocals ? t->nlocals : 1));
    t->local_types = kp_malloc(t->nlocals ? t->nlocals : 1);
    if (!t->locals || !t->local_types) return kpError_set(t->err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    uint32_t k = 0;
    for (; k < t->ft->nparams; k++) t->local_types[k] = t->ft->types[k];
    for (uint32_t r = 0; r < f->nlocal_runs; r++)
        for (uint32_t j = 0; j < f->local_runs[r].count; j++) t->local_types[k++] = f->local_runs[r].type;

    LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(t->c, t->fn, "entry");
    LLVMPositionBuilderAtEnd(t->b, bb);
    t->ctx = LLVMGetParam(t->fn, 0);
    /* This frame's depth, published first (a trap in the checks below names this frame). */
    t->depth = LLVMBuildAdd(t->b, LLVMGetParam(t->fn, 1), kpTranslate_i64(t, 1), "depth");
    {
        /* Through an empty asm, so that the optimizer cannot rewrite uses of depth as uses of the
         * parameter (frames[depth] as frames[param + 1]) and keep both alive in registers. */
        LLVMTypeRef fty = LLVMFunctionType(t->t_i64, &t->t_i64, 1, false);
        LLVMValueRef asm_ =
            LLVMGetInlineAsm(fty, "", 0, "=r,0", 4, false, false, LLVMInlineAsmDialectATT, false);
        t->depth = LLVMBuildCall2(t->b, fty, asm_, &t->depth, 1, "depth");
    }
    LLVMValueRef d32 = LLVMBuildTrunc(t->b, t->depth, t->t_i32, "");
    kpTranslate_tag(t, LLVMBuildStore(t->b, d32, kpTranslate_ctxField(t, KP_NATIVE_CTX_DEPTH)), kpTbaa_CTX);
    t->results_ptr = t->ft->nresults > 1 ? LLVMGetParam(t->fn, t->ft->nparams + 2) : NULL;
    for (k = 0; k < t->nlocals; k++) {
        t->locals[k] = LLVMBuildAlloca(t->b, kpTranslate_type(t, t->local_types[k]), "");
        LLVMValueRef init =
            k < t->ft->nparams ? LLVMGetParam(t->fn, k + 2) : kpTranslate_zero(t, t->local_types[k]);
        LLVMBuildStore(t->b, init, t->locals[k]);
    }
    t->mem_base = LLVMBuildAlloca(t->b, t->t_ptr, "mbp");
    t->mem_size = LLVMBuildAlloca(t->b, t->t_i64, "msp");
    t->slots = LLVMBuildArrayAlloca(t->b, t->t_i64, kpTranslate_i32(t, t->nslot_bytes / 8), "slots");
    t->slots = LLVMBuildBitCast(t->b, t->slots, t->t_ptr, "");
    kpTranslate_reloadMemory(t);

    /* Stack exhaustion: the stack pointer against the limit (read as a register: asking for the
     * frame address would make every function set up a frame pointer). */
    LLVMValueRef rsp = LLVMMDStringInContext(t->c, "rsp", 3);
    rsp = LLVMMDNodeInContext(t->c, &rsp, 1);
    LLVMValueRef sp = kpTranslate_intrinsic(t, "llvm.read_register", t->t_i64, &rsp, 1);
    LLVMValueRef limit = kpTranslate_ctxLoad(t, KP_NATIVE_CTX_STACK_LIMIT, t->t_i64);
    LLVMValueRef low = LLVMBuildICmp(t->b, LLVMIntULT, sp, limit, "");
    kpTranslate_trapIf(t, low, KAPSUL_TRAP_STACK_EXHAUSTED);
    kpTranslateCtl_check(t, kpTranslate_nextFuel(t));
    return kpTranslateCtl_enterFunc(t);
}

/* Bytes of slot scratch a function needs for its helper calls (imports, call_indirect). */
static uint32_t scratch_bytes(const kpModule *m) {
    uint32_t most = 64; /* SIMD helpers: dst and three operands of 16 bytes */
    for (uint32_t i = 0; i < m->ntypes; i++) {
        uint32_t p = 0, r = 0;
        for (uint32_t k = 0; k < m->types[i].nparams; k++) p += kpTranslate_slotBytes(m->types[i].types[k]);
        for (uint32_t k = 0; k < m->types[i].nresults; k++)
            r += kpTranslate_slotBytes(kpFuncType_results(&m->types[i])[k]);
        if (p > most) most = p;
        if (r > most) most = r;
    }
    return most;
}

/* Fuel: the interpreter's costs (engine/lower.c, "Fuel/interrupt checks"). The entry and every
 * `loop` in code order start a segment; a check site costs the number of instructions in its
 * segment, dead code included, at least 1. */
static kapsul_status fuel_costs(kpTx *t, const kpFunc *f) {
    kpReader r;
    kpRead_init(&r, t->m->bytes, t->m->bytes + f->body.start, t->m->bytes + f->body.start + f->body.len);
    t->fuel.n = 0;
    t->fuel_next = 0;
    uint32_t count = 0;
    for (;;) {
        kpInstr in;
        bool more = kpDecode_next(&r, &in);
        if (!more || in.op == kpOp_LOOP) {
            if (kpVec_grow(&t->fuel)) return kpError_set(t->err, KAPSUL_ERR_NOMEM, 0, "out of memory");
            t->fuel.v[t->fuel.n++] = count ? count : 1;
            count = 0;
        }
        if (!more) return KAPSUL_OK; /* the body's end (validated: no decode errors) */
        count++;
    }
}

uint32_t kpTranslate_nextFuel(kpTx *t) { return t->fuel_next < t->fuel.n ? t->fuel.v[t->fuel_next++] : 1; }

/* One instruction, in unreachable code: only the nesting matters until the block's end. */
static kapsul_status skip_dead(kpTx *t, const kpInstr *in, bool *done) {
    switch (in->op) {
    case kpOp_LOOP:
        t->fuel_next++; /* its fuel segment is never charged */
    /* fall through */
    case kpOp_BLOCK:
    case kpOp_IF: t->dead_depth++; return KAPSUL_OK;
    case kpOp_ELSE: return t->dead_depth ? KAPSUL_OK : kpTranslateCtl_else(t);
    case kpOp_END:
        if (t->dead_depth) {
            t->dead_depth--;
            return KAPSUL_OK;
        }
        return kpTranslateCtl_end(t, done);
    default: return KAPSUL_OK;
    }
}

/* One instruction: control here, the rest by family. */
static kapsul_status translate_instr(kpTx *t, const kpInstr *in, bool *done) {
    if (t->dead) return skip_dead(t, in, done);
    t->at = in->offset;
    switch (in->op) {
    case kpOp_NOP: return KAPSUL_OK;
    case kpOp_UNREACHABLE: {
        LLVMValueRef args[2] = { kpTranslate_i32(t, KAPSUL_TRAP_UNREACHABLE), kpTranslate_i32(t, t->at) };
        kpTranslate_helper(t, kpH_kp_rt_trap, args, 2);
        LLVMBuildUnreachable(t->b);
    }
        t->dead = true;
        return KAPSUL_OK;
    case kpOp_BLOCK:
    case kpOp_LOOP:
    case kpOp_IF: return kpTranslateCtl_open(t, in);
    case kpOp_ELSE: return kpTranslateCtl_else(t);
    case kpOp_END: return kpTranslateCtl_end(t, done);
    case kpOp_BR:
    case kpOp_BR_IF:
    case kpOp_BR_TABLE:
    case kpOp_RETURN: return kpTranslateCtl_branch(t, in);
    case kpOp_CALL:
    case kpOp_CALL_INDIRECT: return kpTranslateCtl_call(t, in);
    default: break;
    }
    if (kpOp_info[in->op].prefix == 0xFD) return kpTranslateSimd_instr(t, in);
    int r = kpTranslateNum_instr(t, in);
    if (r == KP_TX_NOT_MINE) r = kpTranslateMem_instr(t, in);
    if (r == KP_TX_NOT_MINE)
        return kpError_set(t->err, KAPSUL_ERR_LIMIT, in->offset, "the native tier does not compile %s yet",
                           kpOp_info[in->op].name);
    return (kapsul_status)r;
}

static void reset_function(kpTx *t) {
    kp_free(t->locals);
    kp_free(t->local_types);
    t->locals = NULL;
    t->local_types = NULL;
    for (size_t i = 0; i < t->ctl.n; i++) {
        kp_free(t->ctl.v[i].phis);
        kp_free(t->ctl.v[i].head_phis);
        kp_free(t->ctl.v[i].if_params);
    }
    t->ctl.n = 0;
    t->stack.n = 0;
    t->dead = false;
    t->dead_depth = 0;
    memset(t->trap_bb, 0, sizeof t->trap_bb);
    memset(t->trap_at, 0, sizeof t->trap_at);
}

/* Translate defined function i. */
static kapsul_status translate_function(kpTx *t, uint32_t i) {
    const kpFunc *f = &t->m->funcs[i - t->m->nfunc_imports];
    t->func = i;
    t->ft = kpModule_funcType(t->m, i);
    t->fn = t->fns[i];
    kapsul_status st = fuel_costs(t, f);
    if (st) goto fail;
    t->at = f->body.start; /* the entry's checks: the body's first byte */
    st = enter_function(t, f);
    if (st) goto fail;
    kpReader r;
    kpRead_init(&r, t->m->bytes, t->m->bytes + f->body.start, t->m->bytes + f->body.start + f->body.len);
    bool done = false;
    while (!done) {
        kpInstr in;
        if (!kpDecode_next(&r, &in)) {
            st = kpError_set(t->err, KAPSUL_ERR_MALFORMED, r.error_pos, "%s", r.error);
            goto fail;
        }
        st = translate_instr(t, &in, &done);
        if (st) goto fail;
    }
fail:
    reset_function(t);
    return st;
}

/* Types shared by every function: the context struct mirrors kpNativeCtx. */
static void init_types(kpTx *t) {
    t->t_i1 = LLVMInt1TypeInContext(t->c);
    t->t_i8 = LLVMInt8TypeInContext(t->c);
    t->t_i32 = LLVMInt32TypeInContext(t->c);
    t->t_i64 = LLVMInt64TypeInContext(t->c);
    t->t_f32 = LLVMFloatTypeInContext(t->c);
    t->t_f64 = LLVMDoubleTypeInContext(t->c);
    t->t_v128 = LLVMVectorType(t->t_i64, 2);
    t->t_void = LLVMVoidTypeInContext(t->c);
    t->t_ptr = LLVMPointerType(t->t_i8, 0);
    t->t_ctx = LLVMStructCreateNamed(t->c, "kpNativeCtx");
    LLVMTypeRef f[KP_NATIVE_CTX_FIELDS] = { t->t_ptr, t->t_i64, t->t_ptr, t->t_ptr, t->t_ptr,
                                            t->t_i64, t->t_ptr, t->t_ptr, t->t_i32, t->t_i32,
                                            t->t_ptr, t->t_ptr, t->t_i32, t->t_i32 };
    LLVMStructSetBody(t->t_ctx, f, KP_NATIVE_CTX_FIELDS, false);
    t->t_ctxp = LLVMPointerType(t->t_ctx, 0);
}

/* Translate every function of m into mod (guard: accesses without bounds checks). */
kapsul_status kpTranslate_module(const kpModule *m, bool guard, LLVMContextRef c, LLVMModuleRef mod,
                                 kapsul_error *err) {
    kpTx t;
    memset(&t, 0, sizeof t);
    t.guard = guard;
    t.m = m;
    t.c = c;
    t.mod = mod;
    t.err = err;
    t.b = LLVMCreateBuilderInContext(c);
    init_types(&t);
    init_tbaa(&t);
    t.nslot_bytes = scratch_bytes(m);
    kapsul_status st = declare_functions(&t);
    if (!st) st = kpTranslateCtl_mayGrow(&t);
    if (st) goto fail;
    for (uint32_t i = m->nfunc_imports; i < kpModule_numFuncs(m); i++) {
        st = translate_function(&t, i);
        if (st) goto fail;
        build_entry(&t, i);
    }
fail:
    LLVMDisposeBuilder(t.b);
    kp_free(t.fns);
    kp_free(t.fn_types);
    kp_free(t.may_grow);
    kpVec_free(&t.stack);
    kpVec_free(&t.ctl);
    kpVec_free(&t.fuel);
    return st;
}
