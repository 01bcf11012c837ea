/*
 * bridge.c -- the runtime half of the native ABI (native.h): entering compiled code from the
 * host, the kp_rt_* helpers compiled code calls, and the trap path back out.
 *
 * kp_rt_trap siglongjmps to the innermost kpNative_call of the instance. Helpers that run other
 * code (imports, call_indirect) go through kpHost_call or kpInterp_call, which re-enter native
 * code through kpNative_call when the callee is native; an error from such a callee (a trap, a
 * WASI exit) is kept whole in ni->pending and re-raised at our entry, so the host sees exactly
 * what the callee reported.
 */
#include <math.h>
#include <stdio.h>

#include "engine/native/bridge.h"
#include "engine/simd.h"
#include "os/os.h"

#define KP_NATIVE_PENDING 0x100 /* trap code: ni->pending holds the error */
#define KP_NATIVE_STACK_BUDGET ((uintptr_t)1 << 20)

struct kpNativeInst {
    kpNativeCtx ctx; /* first: compiled code gets &ni->ctx */
    kpInstCore *inst;
    kpExec *store;            /* the store's execution state */
    const uint32_t *type_ids; /* canonical id per type index (call_indirect) */
    uint64_t **cells;
    const char *msg; /* trap message if not the kind's default */
    char msgbuf[48];
    kapsul_error pending;
    bool pending_host; /* pending came from a host function (it has its own frames or none) */
};

static kpNativeInst *of(kpNativeCtx *ctx) { return (kpNativeInst *)ctx; }

/* The instance whose compiled code runs on this thread now (NULL while it calls out). */
static __thread kpNativeInst *tls_native;

void kpNative_onFault(void *addr) {
    kpNativeInst *ni = tls_native;
    if (ni && ni->ctx.jb && kpMemory_isGuestAddress(ni->store, addr)) {
        ni->ctx.site = 0; /* which access faulted is not known */
        siglongjmp(*ni->ctx.jb, KAPSUL_TRAP_MEMORY_OOB);
    }
}

kapsul_status kpNative_instantiate(kpExec *x, kpInstCore *inst, const uint32_t *type_ids,
                                   const kpNativeCode *code, kpNativeInst **out, kapsul_error *err) {
    const kpModule *m = inst->m;
    uint32_t ng = kpModule_numGlobals(m);
    kpNativeInst *ni = kp_calloc(1, sizeof *ni);
    if (!ni || !(ni->cells = kp_calloc(ng ? ng : 1, sizeof *ni->cells))) {
        kp_free(ni);
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    }
    for (uint32_t g = 0; g < ng; g++) ni->cells[g] = inst->globals[g]->bits;
    ni->inst = inst;
    ni->store = x;
    ni->type_ids = type_ids;
    ni->ctx.globals = ni->cells;
    ni->ctx.interrupt = &x->interrupt;
    ni->ctx.fuel = &x->fuel;
    ni->ctx.rt = ni;
    ni->ctx.entries = kpNativeCode_entries(code);
    *out = ni;
    return KAPSUL_OK;
}

void kpNative_free(kpNativeInst *ni) {
    if (!ni) return;
    kp_free(ni->cells);
    kp_free(ni);
}

/* Memory 0's base and size into the context (on entry, after grow and after calls out). */
static void sync_memory(kpNativeInst *ni) {
    kapsul_memory *mem = ni->inst->mem0;
    ni->ctx.mem_base = mem ? mem->base : NULL;
    ni->ctx.mem_size = mem ? mem->size : 0;
}

/* The backtrace of a trap at depth ctx.depth of an entry of function `entry` at depth d0,
 * innermost first: the records of the direct calls in between name each frame's function and
 * where it called; the innermost frame is where the trap (or the helper call) happened. */
static void add_backtrace(kpNativeInst *ni, uint32_t entry, uint32_t d0, kapsul_error *err) {
    const uint64_t *rec = ni->ctx.frames;
    uint32_t d = ni->ctx.depth < ni->ctx.max_depth ? ni->ctx.depth : ni->ctx.max_depth;
    if (d < d0) d = d0;
    for (uint32_t level = d;; level--) {
        uint32_t func = level == d0 ? entry : (uint32_t)(rec[level - 1] >> 32);
        uint32_t off = level == d ? ni->ctx.site : (uint32_t)rec[level];
        kpTrap_addFrame(err, ni->inst, func, off);
        if (level == d0) break;
    }
}

/* The error for a trap of `kind` (or the pending error of a callee). */
static kapsul_status trap_error(kpNativeInst *ni, int kind, uint32_t entry, uint32_t d0, kapsul_error *err) {
    kpExec *s = ni->store;
    if (kind == KP_NATIVE_PENDING) {
        kapsul_status st = ni->pending.code ? ni->pending.code : KAPSUL_ERR_TRAP;
        if (err) {
            *err = ni->pending;
            /* As in the interpreter: a wasm callee's frames continue with ours; a host function's
             * trap gets the wasm frames that called it unless wasm it called already gave some. */
            if (st == KAPSUL_ERR_TRAP && (!ni->pending_host || err->nframes == 0))
                add_backtrace(ni, entry, d0, err);
        }
        return st;
    }
    if (kind == KAPSUL_TRAP_TIMEOUT) __atomic_fetch_and(&s->interrupt, ~KP_INTR_USER, __ATOMIC_SEQ_CST);
    kpError_set(err, KAPSUL_ERR_TRAP, 0, "%s", ni->msg ? ni->msg : kapsul_trap_message((kapsul_trap)kind));
    if (err) {
        err->trap = (kapsul_trap)kind;
        add_backtrace(ni, entry, d0, err);
    }
    return KAPSUL_ERR_TRAP;
}

kapsul_status kpNative_call(kpExec *s, kapsul_func *f, kpNativeInst *ni, uint64_t *slots, kapsul_error *err) {
    kpNativeEntry entry = (kpNativeEntry)ni->ctx.entries[f->index];
    sigjmp_buf jb;
    sigjmp_buf *volatile prev_jb = ni->ctx.jb;
    volatile uintptr_t prev_limit = ni->ctx.stack_limit;
    volatile kpOs_timer timer = 0;
    volatile kapsul_status st = KAPSUL_OK;
    volatile uint32_t depth = ni->ctx.depth;
    const uint32_t d0 = s->native_depth; /* this entry's frame: the store's native frames go on */
    kpNativeInst *volatile prev_native = tls_native;
    /* This entry for a profiler's samples (kpExec_sample), linked while compiled code runs. */
    const kpNativeAct act = { s->native_act, f, &ni->ctx.depth, &ni->ctx.site, d0, s->nframes };
    uintptr_t here = (uintptr_t)&jb;
    /* The frame records: the store's, made with its stacks' first native call. */
    if (!ni->ctx.frames) {
        if (!s->native_frames &&
            !(s->native_frames = kp_malloc((size_t)(s->max_frames ? s->max_frames : 1) * 8)))
            return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        ni->ctx.frames = s->native_frames;
        ni->ctx.max_depth = s->max_frames;
    }
    if (d0 >= ni->ctx.max_depth) {
        kpError_set(err, KAPSUL_ERR_TRAP, 0, "%s", kapsul_trap_message(KAPSUL_TRAP_STACK_EXHAUSTED));
        if (err) err->trap = KAPSUL_TRAP_STACK_EXHAUSTED;
        return KAPSUL_ERR_TRAP;
    }
    if (s->entries++ == 0 && s->deadline) {
        if (kpOs_monotonicNs() >= s->deadline)
            __atomic_fetch_or(&s->interrupt, KP_INTR_DEADLINE, __ATOMIC_SEQ_CST);
        else timer = kpOs_timerArm(s->deadline, &s->interrupt, KP_INTR_DEADLINE);
    }
    /* The outermost entry sets the stack budget; nested ones (host -> wasm) share it. */
    if (!prev_jb) ni->ctx.stack_limit = here > KP_NATIVE_STACK_BUDGET ? here - KP_NATIVE_STACK_BUDGET : 0;
    int kind = sigsetjmp(jb, 0);
    if (kind != 0) {
        st = trap_error(ni, kind, f->index, d0, err);
        goto out;
    }
    ni->ctx.jb = &jb;
    ni->ctx.depth = d0;
    ni->ctx.site = 0;
    ni->msg = NULL;
    sync_memory(ni);
    tls_native = ni;
    __atomic_store_n(&s->native_act, &act, __ATOMIC_RELEASE);
    entry(&ni->ctx, slots);
out:
    __atomic_store_n(&s->native_act, act.prev, __ATOMIC_RELEASE);
    s->native_depth = d0; /* a trap may have left a callee's depth there */
    tls_native = prev_native;
    ni->ctx.jb = prev_jb;
    ni->ctx.stack_limit = prev_limit;
    ni->ctx.depth = depth;
    if (--s->entries == 0 && s->deadline) {
        kpOs_timerDisarm(timer);
        __atomic_fetch_and(&s->interrupt, ~KP_INTR_DEADLINE, __ATOMIC_SEQ_CST);
    }
    return st;
}

/* ---- Helpers called by compiled code (signatures in native.h's KP_NATIVE_HELPERS) ---- */

__attribute__((noreturn)) void kp_rt_trap(kpNativeCtx *ctx, int32_t kind, int32_t at);
__attribute__((noreturn)) void kp_rt_trap(kpNativeCtx *ctx, int32_t kind, int32_t at) {
    ctx->site = (uint32_t)at;
    siglongjmp(*ctx->jb, kind);
}

/* A trap inside a helper: at the instruction that called it (ctx->site). */
static __attribute__((noreturn)) void trap(kpNativeCtx *ctx, int kind) { siglongjmp(*ctx->jb, kind); }

static __attribute__((noreturn)) void trap_msg(kpNativeCtx *ctx, int kind, const char *msg) {
    of(ctx)->msg = msg;
    siglongjmp(*ctx->jb, kind);
}

void kp_rt_poll(kpNativeCtx *ctx, int32_t cost);
void kp_rt_poll(kpNativeCtx *ctx, int32_t cost) {
    kpExec *s = of(ctx)->store;
    int w = __atomic_load_n(&s->interrupt, __ATOMIC_RELAXED);
    if (w & KP_INTR_FUEL) {
        if (s->fuel < (int64_t)cost) {
            s->fuel = 0;
            trap(ctx, KAPSUL_TRAP_FUEL);
        }
        s->fuel -= cost;
    }
    if (w & (KP_INTR_USER | KP_INTR_DEADLINE)) trap(ctx, KAPSUL_TRAP_TIMEOUT);
}

int32_t kp_rt_memory_grow(kpNativeCtx *ctx, int32_t delta);
int32_t kp_rt_memory_grow(kpNativeCtx *ctx, int32_t delta) {
    kpNativeInst *ni = of(ctx);
    int64_t r = kpMemory_grow(ni->inst->mem0, (uint32_t)delta, ni->store->config->max_memory_bytes);
    sync_memory(ni);
    return (int32_t)r;
}

void kp_rt_memory_fill(kpNativeCtx *ctx, int32_t d, int32_t v, int32_t n);
void kp_rt_memory_fill(kpNativeCtx *ctx, int32_t d, int32_t v, int32_t n) {
    if ((uint64_t)(uint32_t)d + (uint32_t)n > ctx->mem_size) trap(ctx, KAPSUL_TRAP_MEMORY_OOB);
    memset(ctx->mem_base + (uint32_t)d, (uint8_t)v, (uint32_t)n);
}

void kp_rt_memory_copy(kpNativeCtx *ctx, int32_t d, int32_t src, int32_t n);
void kp_rt_memory_copy(kpNativeCtx *ctx, int32_t d, int32_t src, int32_t n) {
    if ((uint64_t)(uint32_t)d + (uint32_t)n > ctx->mem_size ||
        (uint64_t)(uint32_t)src + (uint32_t)n > ctx->mem_size)
        trap(ctx, KAPSUL_TRAP_MEMORY_OOB);
    memmove(ctx->mem_base + (uint32_t)d, ctx->mem_base + (uint32_t)src, (uint32_t)n);
}

void kp_rt_memory_init(kpNativeCtx *ctx, int32_t seg, int32_t d, int32_t src, int32_t n);
void kp_rt_memory_init(kpNativeCtx *ctx, int32_t seg, int32_t d, int32_t src, int32_t n) {
    kpInstCore *inst = of(ctx)->inst;
    const kpData *data = &inst->m->datas[seg];
    if ((uint64_t)(uint32_t)src + (uint32_t)n > inst->data_len[seg] ||
        (uint64_t)(uint32_t)d + (uint32_t)n > ctx->mem_size)
        trap(ctx, KAPSUL_TRAP_MEMORY_OOB);
    memcpy(ctx->mem_base + (uint32_t)d, inst->m->bytes + data->bytes.start + (uint32_t)src, (uint32_t)n);
}

void kp_rt_data_drop(kpNativeCtx *ctx, int32_t seg);
void kp_rt_data_drop(kpNativeCtx *ctx, int32_t seg) { of(ctx)->inst->data_len[seg] = 0; }

/* Call any function (host, interpreted or native) with slots in the caller's scratch. */
static void call_any(kpNativeCtx *ctx, kapsul_func *fn, uint64_t *slots) {
    kpNativeInst *ni = of(ctx);
    kpExec *s = ni->store;
    kapsul_status st;
    uint32_t depth = s->native_depth;
    kpError_clear(&ni->pending);
    ni->pending_host = fn->host != NULL;
    tls_native = NULL;                /* a fault out there is not this code's */
    s->native_depth = ctx->depth + 1; /* native frames the callee runs go above ours */
    if (fn->host) {
        st = kpHost_call(s, ni->inst, fn, slots, &ni->pending);
    } else {
        /* The interpreter wants its arguments on the store's value stack. */
        uint32_t np = 0, nr = 0;
        for (uint32_t i = 0; i < fn->type->nparams; i++) np += kp_slot_width(fn->type->types[i]);
        for (uint32_t i = 0; i < fn->type->nresults; i++)
            nr += kp_slot_width(kpFuncType_results(fn->type)[i]);
        uint32_t need = np > nr ? np : nr;
        uint64_t *fp = s->stack_free;
        if ((size_t)(s->stack + s->stack_slots - fp) < need + 1) trap(ctx, KAPSUL_TRAP_STACK_EXHAUSTED);
        memcpy(fp, slots, np * 8u);
        s->stack_free = fp + need;
        st = kpInterp_call(s, fn, fp, &ni->pending);
        s->stack_free = fp;
        memcpy(slots, fp, nr * 8u);
    }
    s->native_depth = depth;
    sync_memory(ni);
    tls_native = ni;
    if (st != KAPSUL_OK) {
        if (!ni->pending.code) ni->pending.code = st;
        siglongjmp(*ctx->jb, KP_NATIVE_PENDING);
    }
}

void kp_rt_call_import(kpNativeCtx *ctx, int32_t f, uint64_t *slots);
void kp_rt_call_import(kpNativeCtx *ctx, int32_t f, uint64_t *slots) {
    call_any(ctx, of(ctx)->inst->funcs[f], slots);
}

void kp_rt_call_indirect(kpNativeCtx *ctx, int32_t table, int32_t type, int32_t elem, uint64_t *slots);
void kp_rt_call_indirect(kpNativeCtx *ctx, int32_t table, int32_t type, int32_t elem, uint64_t *slots) {
    kpNativeInst *ni = of(ctx);
    kapsul_table *t = ni->inst->tables[table];
    uint32_t i = (uint32_t)elem;
    if (i >= t->size) trap_msg(ctx, KAPSUL_TRAP_TABLE_OOB, "undefined element");
    kapsul_func *fn = t->elems[i];
    if (!fn) {
        snprintf(ni->msgbuf, sizeof ni->msgbuf, "uninitialized element %u", i);
        trap_msg(ctx, KAPSUL_TRAP_UNINITIALIZED, ni->msgbuf);
    }
    if (fn->type_id != ni->type_ids[type]) trap(ctx, KAPSUL_TRAP_INDIRECT_MISMATCH);
    call_any(ctx, fn, slots);
}

int64_t kp_rt_ref_func(kpNativeCtx *ctx, int32_t f);
int64_t kp_rt_ref_func(kpNativeCtx *ctx, int32_t f) { return (int64_t)(uintptr_t)of(ctx)->inst->funcs[f]; }

/* A table index check shared by get/set. */
static kapsul_table *table_at(kpNativeCtx *ctx, int32_t table, uint32_t i) {
    kapsul_table *t = of(ctx)->inst->tables[table];
    if (i >= t->size) trap(ctx, KAPSUL_TRAP_TABLE_OOB);
    return t;
}

int64_t kp_rt_table_get(kpNativeCtx *ctx, int32_t table, int32_t i);
int64_t kp_rt_table_get(kpNativeCtx *ctx, int32_t table, int32_t i) {
    return (int64_t)(uintptr_t)table_at(ctx, table, (uint32_t)i)->elems[(uint32_t)i];
}

void kp_rt_table_set(kpNativeCtx *ctx, int32_t table, int32_t i, int64_t ref);
void kp_rt_table_set(kpNativeCtx *ctx, int32_t table, int32_t i, int64_t ref) {
    table_at(ctx, table, (uint32_t)i)->elems[(uint32_t)i] = (void *)(uintptr_t)ref;
}

int32_t kp_rt_table_size(kpNativeCtx *ctx, int32_t table);
int32_t kp_rt_table_size(kpNativeCtx *ctx, int32_t table) {
    return (int32_t)of(ctx)->inst->tables[table]->size;
}

int32_t kp_rt_table_grow(kpNativeCtx *ctx, int32_t table, int64_t init, int32_t delta);
int32_t kp_rt_table_grow(kpNativeCtx *ctx, int32_t table, int64_t init, int32_t delta) {
    return (int32_t)kpTable_grow(of(ctx)->inst->tables[table], (uint32_t)delta, (void *)(uintptr_t)init);
}

void kp_rt_table_fill(kpNativeCtx *ctx, int32_t table, int32_t i, int64_t ref, int32_t n);
void kp_rt_table_fill(kpNativeCtx *ctx, int32_t table, int32_t i, int64_t ref, int32_t n) {
    kapsul_table *t = of(ctx)->inst->tables[table];
    if ((uint64_t)(uint32_t)i + (uint32_t)n > t->size) trap(ctx, KAPSUL_TRAP_TABLE_OOB);
    for (uint32_t k = 0; k < (uint32_t)n; k++) t->elems[(uint32_t)i + k] = (void *)(uintptr_t)ref;
}

void kp_rt_table_copy(kpNativeCtx *ctx, int32_t dt, int32_t st, int32_t d, int32_t s, int32_t n);
void kp_rt_table_copy(kpNativeCtx *ctx, int32_t dt, int32_t st, int32_t d, int32_t s, int32_t n) {
    kapsul_table *td = of(ctx)->inst->tables[dt], *ts = of(ctx)->inst->tables[st];
    if ((uint64_t)(uint32_t)d + (uint32_t)n > td->size || (uint64_t)(uint32_t)s + (uint32_t)n > ts->size)
        trap(ctx, KAPSUL_TRAP_TABLE_OOB);
    if (n) memmove(td->elems + (uint32_t)d, ts->elems + (uint32_t)s, (size_t)(uint32_t)n * sizeof(void *));
}

void kp_rt_table_init(kpNativeCtx *ctx, int32_t table, int32_t seg, int32_t d, int32_t s, int32_t n);
void kp_rt_table_init(kpNativeCtx *ctx, int32_t table, int32_t seg, int32_t d, int32_t s, int32_t n) {
    kpInstCore *inst = of(ctx)->inst;
    kapsul_table *t = inst->tables[table];
    if ((uint64_t)(uint32_t)s + (uint32_t)n > inst->elem_len[seg] ||
        (uint64_t)(uint32_t)d + (uint32_t)n > t->size)
        trap(ctx, KAPSUL_TRAP_TABLE_OOB);
    if (n)
        memcpy(t->elems + (uint32_t)d, inst->elems[seg] + (uint32_t)s, (size_t)(uint32_t)n * sizeof(void *));
}

void kp_rt_simd(kpNativeCtx *ctx, int32_t op, int32_t lane, uint64_t *buf);
void kp_rt_simd(kpNativeCtx *ctx, int32_t op, int32_t lane, uint64_t *buf) {
    (void)ctx;
    kpSimd_exec((uint32_t)op, buf, buf + 2, buf + 4, buf + 6, (uint32_t)lane);
}

void kp_rt_simd_mem(kpNativeCtx *ctx, int32_t op, int32_t lane, uint8_t *p, uint64_t *buf);
void kp_rt_simd_mem(kpNativeCtx *ctx, int32_t op, int32_t lane, uint8_t *p, uint64_t *buf) {
    (void)ctx;
    kpSimd_access((uint32_t)op, buf, p, buf + 2, (uint32_t)lane);
}

void kp_rt_elem_drop(kpNativeCtx *ctx, int32_t seg);
void kp_rt_elem_drop(kpNativeCtx *ctx, int32_t seg) { of(ctx)->inst->elem_len[seg] = 0; }

#define KP_HELPER_ROW(name) { #name, (void *)name },
const kpNativeHelper kpNative_helpers[] = { KP_NATIVE_HELPERS(KP_HELPER_ROW) };
#undef KP_HELPER_ROW
const size_t kpNative_nhelpers = sizeof kpNative_helpers / sizeof kpNative_helpers[0];
