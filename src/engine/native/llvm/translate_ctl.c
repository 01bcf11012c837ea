/*
 * translate_ctl.c -- structured control to LLVM basic blocks, and calls.
 *
 * Every block, loop, if and the function itself gets a `cont` block with one phi per result;
 * a branch adds its values as incoming edges and jumps. Loops also get a `head` block with one
 * phi per parameter, which their branches target. Code after br/return/unreachable is skipped
 * up to the enclosing else or end (translate.c's skip_dead), so no block is left without a
 * terminator.
 */
#include "engine/native/llvm/translate.h"

static const kpValType kp_valtypes[] = { kpT_I32,  kpT_I64,     kpT_F32,      kpT_F64,
                                         kpT_V128, kpT_FUNCREF, kpT_EXTERNREF };

/* The parameter and result types of a block instruction. */
static void block_sig(kpTx *t, const kpInstr *in, kpTxCtl *c) {
    c->nparams = c->nresults = 0;
    c->params = c->results = NULL;
    if (in->block_kind == kpBlock_VAL) {
        for (size_t k = 0; k < sizeof kp_valtypes; k++)
            if (kp_valtypes[k] == in->type) c->results = &kp_valtypes[k];
        c->nresults = 1;
    } else if (in->block_kind == kpBlock_TYPE) {
        const kpFuncType *ft = &t->m->types[in->a];
        c->nparams = ft->nparams;
        c->nresults = ft->nresults;
        c->params = ft->types;
        c->results = kpFuncType_results(ft);
    }
}

/* Phis for `n` values of `types` at the start of bb (the builder returns to where it was). */
static LLVMValueRef *make_phis(kpTx *t, LLVMBasicBlockRef bb, uint32_t n, const kpValType *types) {
    LLVMValueRef *phis = kp_malloc(sizeof *phis * (n ? n : 1));
    if (!phis) return NULL;
    LLVMBasicBlockRef here = LLVMGetInsertBlock(t->b);
    LLVMPositionBuilderAtEnd(t->b, bb);
    for (uint32_t i = 0; i < n; i++) phis[i] = LLVMBuildPhi(t->b, kpTranslate_type(t, types[i]), "");
    LLVMPositionBuilderAtEnd(t->b, here);
    return phis;
}

/* Add the top n stack values as incoming edges of phis from the current block. */
static void add_incoming(kpTx *t, LLVMValueRef *phis, uint32_t n) {
    LLVMBasicBlockRef from = LLVMGetInsertBlock(t->b);
    for (uint32_t i = 0; i < n; i++) {
        LLVMValueRef v = t->stack.v[t->stack.n - n + i];
        LLVMAddIncoming(phis[i], &v, &from, 1);
    }
}

static kapsul_status push_ctl(kpTx *t, kpTxCtl *c) {
    if (kpVec_grow(&t->ctl)) return kpError_set(t->err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    t->ctl.v[t->ctl.n++] = *c;
    return KAPSUL_OK;
}

kapsul_status kpTranslateCtl_enterFunc(kpTx *t) {
    kpTxCtl c = {
        .kind = kpCtl_FUNC, .height = 0, .nresults = t->ft->nresults, .results = kpFuncType_results(t->ft)
    };
    c.cont = LLVMAppendBasicBlockInContext(t->c, t->fn, "return");
    c.phis = make_phis(t, c.cont, c.nresults, c.results);
    if (!c.phis) return kpError_set(t->err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    return push_ctl(t, &c);
}

void kpTranslateCtl_check(kpTx *t, uint32_t cost) {
    LLVMValueRef wordp = kpTranslate_ctxLoad(t, KP_NATIVE_CTX_INTERRUPT, t->t_ptr);
    wordp = LLVMBuildBitCast(t->b, wordp, LLVMPointerType(t->t_i32, 0), "");
    LLVMValueRef word = kpTranslate_tag(t, LLVMBuildLoad2(t->b, t->t_i32, wordp, "intr"), kpTbaa_INTR);
    LLVMSetVolatile(word, true);
    LLVMValueRef set = LLVMBuildICmp(t->b, LLVMIntNE, word, kpTranslate_i32(t, 0), "");
    LLVMBasicBlockRef poll = LLVMAppendBasicBlockInContext(t->c, t->fn, "poll");
    LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(t->c, t->fn, "go");
    LLVMBuildCondBr(t->b, set, poll, go);
    LLVMPositionBuilderAtEnd(t->b, poll);
    LLVMValueRef c = kpTranslate_i32(t, cost);
    kpTranslate_helper(t, kpH_kp_rt_poll, &c, 1);
    LLVMBuildBr(t->b, go);
    LLVMPositionBuilderAtEnd(t->b, go);
}

kapsul_status kpTranslateCtl_open(kpTx *t, const kpInstr *in) {
    kpTxCtl c;
    memset(&c, 0, sizeof c);
    block_sig(t, in, &c);
    c.kind = in->op == kpOp_BLOCK ? kpCtl_BLOCK : in->op == kpOp_LOOP ? kpCtl_LOOP : kpCtl_IF;
    LLVMValueRef cond = c.kind == kpCtl_IF ? kpTranslate_pop(t) : NULL;
    c.height = (uint32_t)t->stack.n - c.nparams;
    c.cont = LLVMAppendBasicBlockInContext(t->c, t->fn, "cont");
    c.phis = make_phis(t, c.cont, c.nresults, c.results);
    if (!c.phis) goto nomem;
    if (c.kind == kpCtl_LOOP) {
        c.head = LLVMAppendBasicBlockInContext(t->c, t->fn, "loop");
        c.head_phis = make_phis(t, c.head, c.nparams, c.params);
        if (!c.head_phis) goto nomem;
        add_incoming(t, c.head_phis, c.nparams);
        LLVMBuildBr(t->b, c.head);
        LLVMPositionBuilderAtEnd(t->b, c.head);
        for (uint32_t i = 0; i < c.nparams; i++) t->stack.v[c.height + i] = c.head_phis[i];
        kpTranslateCtl_check(t, kpTranslate_nextFuel(t));
    } else if (c.kind == kpCtl_IF) {
        c.if_params = kp_malloc(sizeof *c.if_params * (c.nparams ? c.nparams : 1));
        if (!c.if_params) goto nomem;
        memcpy(c.if_params, t->stack.v + c.height, sizeof *c.if_params * c.nparams);
        LLVMBasicBlockRef then_bb = LLVMAppendBasicBlockInContext(t->c, t->fn, "then");
        c.else_bb = LLVMAppendBasicBlockInContext(t->c, t->fn, "else");
        LLVMValueRef nz = LLVMBuildICmp(t->b, LLVMIntNE, cond, kpTranslate_i32(t, 0), "");
        LLVMBuildCondBr(t->b, nz, then_bb, c.else_bb);
        LLVMPositionBuilderAtEnd(t->b, then_bb);
    }
    if (push_ctl(t, &c)) goto nomem;
    return KAPSUL_OK;
nomem:
    kp_free(c.phis);
    kp_free(c.head_phis);
    kp_free(c.if_params);
    return kpError_set(t->err, KAPSUL_ERR_NOMEM, 0, "out of memory");
}

/* Fall through to cont with the block's results. */
static void fall_to_cont(kpTx *t, kpTxCtl *c) {
    add_incoming(t, c->phis, c->nresults);
    LLVMBuildBr(t->b, c->cont);
    c->cont_used = true;
}

kapsul_status kpTranslateCtl_else(kpTx *t) {
    kpTxCtl *c = &t->ctl.v[t->ctl.n - 1];
    if (!t->dead) fall_to_cont(t, c);
    LLVMPositionBuilderAtEnd(t->b, c->else_bb);
    c->else_bb = NULL;
    t->stack.n = c->height;
    for (uint32_t i = 0; i < c->nparams; i++) t->stack.v[t->stack.n++] = c->if_params[i];
    t->dead = false;
    return KAPSUL_OK;
}

/* The function's return block: return the results (the ABI of native.h). */
static void build_return(kpTx *t, kpTxCtl *c) {
    LLVMPositionBuilderAtEnd(t->b, c->cont);
    if (!c->cont_used) {
        for (uint32_t i = 0; i < c->nresults; i++) LLVMInstructionEraseFromParent(c->phis[i]);
        LLVMBuildUnreachable(t->b);
    } else if (c->nresults == 0) {
        LLVMBuildRetVoid(t->b);
    } else if (c->nresults == 1) {
        LLVMBuildRet(t->b, c->phis[0]);
    } else {
        uint32_t at = 0;
        for (uint32_t i = 0; i < c->nresults; i++) {
            kpTranslate_storeSlot(t, t->results_ptr, at, c->phis[i], c->results[i], kpTbaa_SLOTS);
            at += kpTranslate_slotBytes(c->results[i]);
        }
        LLVMBuildRetVoid(t->b);
    }
}

kapsul_status kpTranslateCtl_end(kpTx *t, bool *func_done) {
    kpTxCtl c = t->ctl.v[t->ctl.n - 1];
    if (!t->dead) fall_to_cont(t, &c);
    if (c.kind == kpCtl_IF && c.else_bb) {
        /* No else: the false arm passes the params through as results. */
        LLVMPositionBuilderAtEnd(t->b, c.else_bb);
        LLVMBasicBlockRef from = c.else_bb;
        for (uint32_t i = 0; i < c.nresults; i++) LLVMAddIncoming(c.phis[i], &c.if_params[i], &from, 1);
        LLVMBuildBr(t->b, c.cont);
        c.cont_used = true;
    }
    t->ctl.n--;
    kapsul_status st = KAPSUL_OK;
    if (c.kind == kpCtl_FUNC) {
        build_return(t, &c);
        *func_done = true;
    } else if (c.cont_used) {
        LLVMPositionBuilderAtEnd(t->b, c.cont);
        t->stack.n = c.height;
        for (uint32_t i = 0; i < c.nresults && !st; i++) st = kpTranslate_push(t, c.phis[i]);
        t->dead = false;
    } else {
        for (uint32_t i = 0; i < c.nresults; i++) LLVMInstructionEraseFromParent(c.phis[i]);
        LLVMPositionBuilderAtEnd(t->b, c.cont);
        LLVMBuildUnreachable(t->b);
        t->stack.n = c.height;
        t->dead = true;
    }
    kp_free(c.phis);
    kp_free(c.head_phis);
    kp_free(c.if_params);
    return st;
}

/* Branch to label `depth` with the values on top of the stack (they stay there). */
static void branch_to(kpTx *t, uint32_t depth) {
    kpTxCtl *c = &t->ctl.v[t->ctl.n - 1 - depth];
    if (c->kind == kpCtl_LOOP) {
        add_incoming(t, c->head_phis, c->nparams);
        LLVMBuildBr(t->b, c->head);
    } else {
        fall_to_cont(t, c);
    }
}

/* br_table: one small block per distinct target depth, so phis see one edge per block. */
static kapsul_status br_table(kpTx *t, const kpInstr *in) {
    LLVMValueRef index = kpTranslate_pop(t);
    LLVMBasicBlockRef *via = kp_calloc(t->ctl.n, sizeof *via);
    if (!via) return kpError_set(t->err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    LLVMBasicBlockRef here = LLVMGetInsertBlock(t->b);
    kpReader r;
    kpRead_init(&r, t->m->bytes, in->bytes, t->m->bytes + t->m->size);
    uint32_t *targets = kp_malloc(sizeof *targets * ((size_t)in->count + 1));
    if (!targets) {
        kp_free(via);
        return kpError_set(t->err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    }
    for (uint32_t i = 0; i < in->count; i++) kpRead_u32(&r, &targets[i]); /* validated */
    targets[in->count] = in->a;
    for (uint32_t i = 0; i <= in->count; i++) {
        uint32_t d = targets[i];
        if (via[d]) continue;
        via[d] = LLVMAppendBasicBlockInContext(t->c, t->fn, "br_table");
        LLVMPositionBuilderAtEnd(t->b, via[d]);
        branch_to(t, d);
    }
    LLVMPositionBuilderAtEnd(t->b, here);
    LLVMValueRef sw = LLVMBuildSwitch(t->b, index, via[in->a], in->count);
    for (uint32_t i = 0; i < in->count; i++) LLVMAddCase(sw, kpTranslate_i32(t, i), via[targets[i]]);
    kp_free(targets);
    kp_free(via);
    t->dead = true;
    return KAPSUL_OK;
}

kapsul_status kpTranslateCtl_branch(kpTx *t, const kpInstr *in) {
    switch (in->op) {
    case kpOp_BR:
        branch_to(t, in->a);
        t->dead = true;
        return KAPSUL_OK;
    case kpOp_RETURN:
        branch_to(t, (uint32_t)t->ctl.n - 1);
        t->dead = true;
        return KAPSUL_OK;
    case kpOp_BR_IF: {
        LLVMValueRef cond = kpTranslate_pop(t);
        LLVMValueRef nz = LLVMBuildICmp(t->b, LLVMIntNE, cond, kpTranslate_i32(t, 0), "");
        LLVMBasicBlockRef taken = LLVMAppendBasicBlockInContext(t->c, t->fn, "br_if");
        LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(t->c, t->fn, "next");
        LLVMBuildCondBr(t->b, nz, taken, next);
        LLVMPositionBuilderAtEnd(t->b, taken);
        branch_to(t, in->a);
        LLVMPositionBuilderAtEnd(t->b, next);
        return KAPSUL_OK;
    }
    default: return br_table(t, in);
    }
}

/* Store the top nparams values of the stack into the slot scratch (popping them). */
static void args_to_slots(kpTx *t, const kpFuncType *ft) {
    uint32_t at = 0;
    size_t base = t->stack.n - ft->nparams;
    for (uint32_t i = 0; i < ft->nparams; i++) {
        kpTranslate_storeSlot(t, t->slots, at, t->stack.v[base + i], ft->types[i], kpTbaa_SLOTS);
        at += kpTranslate_slotBytes(ft->types[i]);
    }
    t->stack.n = base;
}

/* Push the results a callee left in the slot scratch. */
static kapsul_status results_from_slots(kpTx *t, const kpFuncType *ft) {
    uint32_t at = 0;
    kapsul_status st = KAPSUL_OK;
    for (uint32_t i = 0; i < ft->nresults && !st; i++) {
        kpValType ty = kpFuncType_results(ft)[i];
        st = kpTranslate_push(t, kpTranslate_loadSlot(t, t->slots, at, ty, kpTbaa_SLOTS));
        at += kpTranslate_slotBytes(ty);
    }
    return st;
}

/* A direct call of a defined function: kp_f<j>(ctx, args...). */
static kapsul_status call_direct(kpTx *t, uint32_t j) {
    const kpFuncType *ft = kpModule_funcType(t->m, j);
    LLVMValueRef args[KP_MAX_PARAMS + 3];
    LLVMValueRef d = t->depth;
    args[0] = t->ctx;
    args[1] = d; /* the callee adds one */
    size_t base = t->stack.n - ft->nparams;
    for (uint32_t i = 0; i < ft->nparams; i++) args[i + 2] = t->stack.v[base + i];
    t->stack.n = base;
    unsigned n = ft->nparams + 2;
    if (ft->nresults > 1) args[n++] = t->slots;
    /* Depth counts wasm frames (at most max_depth, the interpreter's limit) and frames[depth]
     * records the callee and this call's offset for backtraces. Each function gets its caller's
     * depth as a parameter (and adds one itself, so no d + 1 lives in a register across a loop
     * of calls); compiled code never reads ctx->depth back: such a load would chain every call
     * to the last through store-to-load forwarding. ctx->depth mirrors the running frame's for
     * the runtime (traps, faults, helpers): the callee stores its own on entry, the caller d
     * again after the call; that store also keeps the call out of tail position, so LLVM never
     * turns recursion into a loop that could not exhaust the stack as the interpreter's does. */
    LLVMValueRef max = kpTranslate_ctxLoad(t, KP_NATIVE_CTX_MAX_DEPTH, t->t_i32);
    LLVMValueRef d32 = LLVMBuildTrunc(t->b, d, t->t_i32, "");
    kpTranslate_trapIf(t, LLVMBuildICmp(t->b, LLVMIntUGE, d32, max, ""), KAPSUL_TRAP_STACK_EXHAUSTED);
    LLVMValueRef frames = kpTranslate_ctxLoad(t, KP_NATIVE_CTX_FRAMES, t->t_ptr);
    /* The record as its two 32-bit halves (offset, callee): stores of immediates, where one
     * 64-bit constant would take a register for the whole of a loop around the call (volatile
     * only so that the code generator does not merge them back into that constant). */
    frames = LLVMBuildBitCast(t->b, frames, LLVMPointerType(t->t_i64, 0), "");
    LLVMValueRef half = LLVMBuildGEP2(t->b, t->t_i64, frames, &d, 1, "");
    half = LLVMBuildBitCast(t->b, half, LLVMPointerType(t->t_i32, 0), "");
    uint64_t rec = KP_NATIVE_FRAME(j, t->at);
    LLVMValueRef s =
        kpTranslate_tag(t, LLVMBuildStore(t->b, kpTranslate_i32(t, (uint32_t)rec), half), kpTbaa_FRAMES);
    LLVMSetAlignment(s, 8);
    LLVMSetVolatile(s, true);
    LLVMValueRef one = kpTranslate_i64(t, 1);
    half = LLVMBuildGEP2(t->b, t->t_i32, half, &one, 1, "");
    s = kpTranslate_tag(t, LLVMBuildStore(t->b, kpTranslate_i32(t, (uint32_t)(rec >> 32)), half),
                        kpTbaa_FRAMES);
    LLVMSetAlignment(s, 4);
    LLVMSetVolatile(s, true);
    LLVMValueRef r = LLVMBuildCall2(t->b, t->fn_types[j], t->fns[j], args, n, "");
    kpTranslate_tag(t, LLVMBuildStore(t->b, d32, kpTranslate_ctxField(t, KP_NATIVE_CTX_DEPTH)), kpTbaa_CTX);
    if (t->may_grow[j]) kpTranslate_reloadMemory(t);
    if (ft->nresults == 1) return kpTranslate_push(t, r);
    return results_from_slots(t, ft);
}

kapsul_status kpTranslateCtl_call(kpTx *t, const kpInstr *in) {
    if (in->op == kpOp_CALL && in->a >= t->m->nfunc_imports) return call_direct(t, in->a);
    if (in->op == kpOp_CALL) {
        const kpFuncType *ft = kpModule_funcType(t->m, in->a);
        args_to_slots(t, ft);
        LLVMValueRef a[2] = { kpTranslate_i32(t, in->a), t->slots };
        kpTranslate_helper(t, kpH_kp_rt_call_import, a, 2);
        kpTranslate_reloadMemory(t);
        return results_from_slots(t, ft);
    }
    const kpFuncType *ft = &t->m->types[in->a];
    LLVMValueRef elem = kpTranslate_pop(t);
    args_to_slots(t, ft);
    LLVMValueRef a[4] = { kpTranslate_i32(t, in->b), kpTranslate_i32(t, in->a), elem, t->slots };
    kpTranslate_helper(t, kpH_kp_rt_call_indirect, a, 4);
    kpTranslate_reloadMemory(t);
    return results_from_slots(t, ft);
}

/* Which functions may change memory 0's base or size while they run: those that grow it, call
 * an import or call_indirect (either may run anything), or call such a function directly.
 * Callers of the others keep the cached base and size across the call. Seeds, then callers of
 * marked functions through the reversed call graph (each edge once). */
kapsul_status kpTranslateCtl_mayGrow(kpTx *t) {
    const kpModule *m = t->m;
    uint32_t n = kpModule_numFuncs(m);
    KP_VEC(uint32_t) edges = { 0 }; /* (callee, caller) pairs */
    uint32_t *first = NULL, *callers = NULL, *work = NULL;
    kapsul_status st = KAPSUL_OK;
    t->may_grow = kp_calloc(n ? n : 1, sizeof *t->may_grow);
    if (!t->may_grow) goto nomem;
    for (uint32_t i = 0; i < n; i++) {
        if (i < m->nfunc_imports) {
            t->may_grow[i] = true;
            continue;
        }
        const kpFunc *f = &m->funcs[i - m->nfunc_imports];
        kpReader r;
        kpRead_init(&r, m->bytes, m->bytes + f->body.start, m->bytes + f->body.start + f->body.len);
        kpInstr in;
        while (kpDecode_next(&r, &in)) { /* validated: ends at the body's end */
            if (in.op == kpOp_MEMORY_GROW || in.op == kpOp_CALL_INDIRECT ||
                (in.op == kpOp_CALL && in.a < m->nfunc_imports)) {
                t->may_grow[i] = true;
            } else if (in.op == kpOp_CALL) {
                if (kpVec_grow(&edges) || kpVec_grow(&edges)) goto nomem;
                edges.v[edges.n++] = in.a;
                edges.v[edges.n++] = i;
            }
        }
    }
    /* Callers grouped by callee (counting sort), then a worklist from the marked functions. */
    size_t ne = edges.n / 2;
    first = kp_calloc((size_t)n + 1, sizeof *first);
    callers = kp_malloc(sizeof *callers * (ne ? ne : 1));
    work = kp_malloc(sizeof *work * (n ? n : 1));
    if (!first || !callers || !work) goto nomem;
    for (size_t e = 0; e < ne; e++) first[edges.v[2 * e] + 1]++;
    for (uint32_t i = 0; i < n; i++) first[i + 1] += first[i];
    for (size_t e = 0; e < ne; e++) callers[first[edges.v[2 * e]]++] = edges.v[2 * e + 1];
    for (uint32_t i = n; i > 0; i--) first[i] = first[i - 1]; /* back to each group's start */
    first[0] = 0;
    size_t nwork = 0;
    for (uint32_t i = 0; i < n; i++)
        if (t->may_grow[i]) work[nwork++] = i;
    while (nwork) {
        uint32_t callee = work[--nwork];
        for (uint32_t k = first[callee]; k < first[callee + 1]; k++) {
            uint32_t caller = callers[k];
            if (!t->may_grow[caller]) {
                t->may_grow[caller] = true;
                work[nwork++] = caller;
            }
        }
    }
    goto out;
nomem:
    st = kpError_set(t->err, KAPSUL_ERR_NOMEM, 0, "out of memory");
out:
    kpVec_free(&edges);
    kp_free(first);
    kp_free(callers);
    kp_free(work);
    return st;
}
