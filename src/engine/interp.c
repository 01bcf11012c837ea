/*
 * interp.c -- the interpreter of the slot-machine IR (see ir.h).
 *
 * One loop runs every wasm function of a call tree: a wasm-to-wasm call pushes a kpFrame on the
 * frame stack of the store's kpExec (engine/objects.h; `s` below) and switches ip/fp, so C
 * recursion happens only when a host function calls back into wasm (each such entry counts
 * toward the same depth limit). Hot state (ip, fp, memory base and limit, the interrupt word's
 * address, the stack end) lives in locals; the memory is reloaded from the current instance
 * (a kpInstCore) after every call, return and memory.grow.
 *
 * Dispatch is computed goto (one indirect jump per instruction, with its own branch-predictor
 * slot) unless KP_SWITCH_DISPATCH is defined; the three vm* macros are the only difference.
 *
 * Out-of-bounds loads and stores on reserved memories fault in the guard region; the fault
 * handler siglongjmps back to kpInterp_call, which reports KAPSUL_TRAP_MEMORY_OOB. Memories
 * without a reservation carry a real limit in `mlimit`, so the same compare catches them.
 */
#include <math.h>
#include <setjmp.h>

#include <stdio.h>

#include "engine/fnum.h"
#include "engine/simd.h"
#include "engine/native/bridge.h"
#include "engine/objects.h"
#include "os/os.h"

#define KP_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* One entry from the host into wasm. */
typedef struct kpEntry {
    sigjmp_buf jb;
    struct kpEntry *prev;
    kpExec *exec;
    volatile bool in_wasm;
    const uint32_t *volatile fault_ip; /* set by on_fault: the faulting instruction, if found */
} kpEntry;

static __thread kpEntry *tls_entry;

/* Where in the innermost function a fault happened: the interpreter's ip lives in a register,
 * so the register that points at an instruction word of that function's code is taken as it
 * (best effort: NULL when none does; docs/RATIONALE.md). Runs in the signal handler: reads
 * only. */
static const uint32_t *fault_ip(const kpExec *s, const kpOs_faultRegs *regs) {
    if (!s || s->nframes == 0) return NULL;
    const kpCode *c = s->frames[s->nframes - 1].func->code;
    if (!c) return NULL;
    uintptr_t lo = (uintptr_t)c->code, hi = (uintptr_t)(c->code + c->len);
    for (int i = 0; i < regs->n; i++) {
        uintptr_t v = regs->r[i];
        if (v <= lo || v >= hi || (v - lo) % sizeof(uint32_t)) continue;
        int op = kpInterp_opcode(*(const uint32_t *)v);
        if (op >= 0 && op != kpIr_CHECK) return (const uint32_t *)v;
    }
    return NULL;
}

static void on_fault(void *addr, const kpOs_faultRegs *regs) {
    kpEntry *ex = tls_entry;
    if (ex && ex->in_wasm && kpMemory_isGuestAddress(ex->exec, addr)) {
        ex->fault_ip = fault_ip(ex->exec, regs);
        siglongjmp(ex->jb, 1);
    }
    kpNative_onFault(addr); /* compiled code running on this thread (returns if none) */
}

/* ---- Value helpers: floats travel as bits; i32 slots are kept zero-extended ---- */

static inline float f32_of(uint64_t v) {
    uint32_t b = (uint32_t)v;
    float f;
    memcpy(&f, &b, 4);
    return f;
}
static inline double f64_of(uint64_t v) {
    double d;
    memcpy(&d, &v, 8);
    return d;
}
static inline uint64_t of_f32(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}
static inline uint64_t of_f64(double d) {
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

static inline uint32_t rotl32(uint32_t a, uint32_t k) {
    k &= 31;
    return (a << k) | (a >> ((32 - k) & 31));
}
static inline uint32_t rotr32(uint32_t a, uint32_t k) {
    k &= 31;
    return (a >> k) | (a << ((32 - k) & 31));
}
static inline uint64_t rotl64(uint64_t a, uint64_t k) {
    k &= 63;
    return (a << k) | (a >> ((64 - k) & 63));
}
static inline uint64_t rotr64(uint64_t a, uint64_t k) {
    k &= 63;
    return (a >> k) | (a << ((64 - k) & 63));
}

/* Saturating truncations (never trap). */
static inline uint64_t sat_i32_s(double x) {
    if (x != x) return 0;
    if (x <= -2147483648.0) return (uint32_t)INT32_MIN;
    if (x >= 2147483647.0) return (uint32_t)INT32_MAX;
    return (uint32_t)(int32_t)x;
}
static inline uint64_t sat_i32_u(double x) {
    if (x != x || x <= 0) return 0;
    if (x >= 4294967295.0) return UINT32_MAX;
    return (uint32_t)x;
}
static inline uint64_t sat_i64_s(double x) {
    if (x != x) return 0;
    if (x <= -9223372036854775808.0) return (uint64_t)INT64_MIN;
    if (x >= 9223372036854775808.0) return (uint64_t)INT64_MAX;
    return (uint64_t)(int64_t)x;
}
static inline uint64_t sat_i64_u(double x) {
    if (x != x || x <= 0) return 0;
    if (x >= 18446744073709551616.0) return UINT64_MAX;
    return (uint64_t)x;
}

/* ---- Bulk operations: chunked so a deadline is honoured during a 4 GiB fill ---- */

static bool interrupted(kpExec *s) {
    return (__atomic_load_n(&s->interrupt, __ATOMIC_RELAXED) & (KP_INTR_USER | KP_INTR_DEADLINE)) != 0;
}

static bool chunked_fill(kpExec *s, uint8_t *p, int v, uint64_t n) {
    while (n > 0) {
        uint64_t k = n < KP_BULK_CHUNK ? n : KP_BULK_CHUNK;
        memset(p, v, (size_t)k);
        p += k;
        n -= k;
        if (n && interrupted(s)) return false;
    }
    return true;
}

static bool chunked_move(kpExec *s, uint8_t *d, const uint8_t *src, uint64_t n) {
    if (n <= KP_BULK_CHUNK || d == src) {
        memmove(d, src, (size_t)n);
        return true;
    }
    if (d < src) {
        for (uint64_t off = 0; off < n; off += KP_BULK_CHUNK) {
            uint64_t k = n - off < KP_BULK_CHUNK ? n - off : KP_BULK_CHUNK;
            memmove(d + off, src + off, (size_t)k);
            if (interrupted(s)) return false;
        }
    } else {
        for (uint64_t left = n; left > 0;) {
            uint64_t k = left < KP_BULK_CHUNK ? left : KP_BULK_CHUNK;
            left -= k;
            memmove(d + left, src + left, (size_t)k);
            if (interrupted(s)) return false;
        }
    }
    return true;
}

/* ---- Traps ---- */

void kpTrap_addFrame(kapsul_error *err, const kpInstCore *inst, uint32_t func, uint32_t offset) {
    if (err->nframes < 0 || err->nframes > KAPSUL_MAX_FRAMES) return;
    if (err->nframes == KAPSUL_MAX_FRAMES) {
        /* Full: keep the innermost frames and slide the outermost KAPSUL_TAIL_FRAMES along. */
        kapsul_frame *tail = &err->frames[KAPSUL_MAX_FRAMES - KAPSUL_TAIL_FRAMES];
        memmove(tail, tail + 1, (KAPSUL_TAIL_FRAMES - 1) * sizeof *tail);
        err->frames_omitted++;
        err->nframes--;
    }
    kapsul_frame *fr = &err->frames[err->nframes++];
    fr->func_index = func;
    fr->offset = offset;
    fr->module = inst ? inst->module : NULL;
    fr->name[0] = 0;
    const kpModule *m = inst ? inst->m : NULL;
    if (m && func < m->nfunc_names && m->func_names[func])
        snprintf(fr->name, sizeof fr->name, "%s", m->func_names[func]);
}

/* Append to err's backtrace the frames above depth0, innermost first. top_at is an IR word inside
 * the instruction the innermost frame is at (NULL: unknown); the others are at the call before
 * their return point. */
static void append_backtrace(const kpExec *s, uint32_t depth0, const uint32_t *top_at, kapsul_error *err) {
    for (uint32_t j = s->nframes; j-- > depth0;) {
        const kapsul_func *f = s->frames[j].func;
        const uint32_t *at = j + 1 == s->nframes ? top_at
                             : s->frames[j + 1].ret_ip ? s->frames[j + 1].ret_ip - 1
                                                       : NULL;
        uint32_t off = at && f->code ? kpCode_offsetAt(f->code, (uint32_t)(at - f->code->code)) : 0;
        kpTrap_addFrame(err, f->inst, f->index, off);
    }
}

/* Fill err's backtrace with the frames above depth0 (see append_backtrace). */
static void add_backtrace(const kpExec *s, uint32_t depth0, const uint32_t *top_at, kapsul_error *err) {
    err->nframes = 0;
    err->frames_omitted = 0;
    append_backtrace(s, depth0, top_at, err);
}

/* Fill err with the trap and a backtrace of the frames above depth0. */
static kapsul_status make_trap(kpExec *s, uint32_t depth0, kapsul_trap trap, const char *msg,
                               const uint32_t *at, kapsul_error *err) {
    if (trap == KAPSUL_TRAP_TIMEOUT) __atomic_fetch_and(&s->interrupt, ~KP_INTR_USER, __ATOMIC_SEQ_CST);
    if (!err) return KAPSUL_ERR_TRAP;
    kpError_set(err, KAPSUL_ERR_TRAP, 0, "%s", msg ? msg : kapsul_trap_message(trap));
    err->trap = trap;
    add_backtrace(s, depth0, at, err);
    return KAPSUL_ERR_TRAP;
}

/* ---- The loop ---- */

#ifdef KP_SWITCH_DISPATCH
#define vmdispatch \
    for (;;) switch (*ip)
#define vmcase(id) case kpIr_##id:
#define vmbreak continue
#else
/* Direct threading: after kpInterp_thread, an opcode word holds its handler's offset from
 * L_UNREACHABLE, which saves the table load of `goto *disp[*ip]`. */
#define vmdispatch goto *(const void *)(vmbase + (int32_t)*ip);
#define vmcase(id) L_##id:
#define vmbreak goto *(const void *)(vmbase + (int32_t)*ip)
#endif

/* A taken branch to word t. Loop back edges target the instruction after their loop's CHECK
 * (lowering guarantees every backward target is one), so an iteration costs no CHECK dispatch;
 * while the interrupt word is non-zero (fuel on, deadline, interrupt) a backward branch lands
 * on the CHECK itself, which charges the loop's cost exactly as a fall-in does. */
#define JUMP(t)                                                                          \
    do {                                                                                 \
        const uint32_t *to_ = code + (t);                                                \
        if (KP_UNLIKELY(__atomic_load_n(intr, __ATOMIC_RELAXED)) && to_ <= ip) to_ -= 2; \
        ip = to_;                                                                        \
    } while (0)

/* Operand access: slot k of the current instruction's operand list. */
#define S(k) fp[ip[k]]
#define U32(k) ((uint32_t)fp[ip[k]])
#define I32(k) ((int32_t)(uint32_t)fp[ip[k]])
#define U64(k) (fp[ip[k]])
#define I64(k) ((int64_t)fp[ip[k]])
#define F32(k) f32_of(fp[ip[k]])
#define F64(k) f64_of(fp[ip[k]])

/* Binary and unary numeric handlers: dst a [b]. */
#define BIN(id, expr)  \
    vmcase(id) {       \
        S(1) = (expr); \
        ip += 4;       \
        vmbreak;       \
    }
#define UN(id, expr)   \
    vmcase(id) {       \
        S(1) = (expr); \
        ip += 3;       \
        vmbreak;       \
    }

/* Loads: dst addr offset. The address is u32 + u32 offset, computed in 64 bits. */
#define EA(k) ((uint64_t)U32(k) + (uint64_t)ip[3])
/* The wrapped 32-bit sum x + (y << k) of the operands x, y, k at ip[j], ip[j+1], ip[j+2]. */
#define XADDR(j) ((uint32_t)(U32(j) + (U32((j) + 1) << ip[(j) + 2])))
static inline uint64_t ld(const uint8_t *p, int n) {
    uint64_t v = 0;
    memcpy(&v, p, (size_t)n); /* little-endian host */
    return v;
}
static inline void st(uint8_t *p, uint64_t v, int n) { memcpy(p, &v, (size_t)n); }

static kapsul_status run(kpExec *s, kpEntry *ex, kapsul_func *entry, uint64_t *fp, uint32_t depth0,
                         kapsul_error *err, const void *const **table_out) {
#ifndef KP_SWITCH_DISPATCH
    static const void *const disp[kpIr_COUNT] = {
#define KP_IR_C(id, words, ops) &&L_##id,
#define KP_IR_N(id) &&L_##id,
#define KP_IR_I(id, expr) &&L_##id##_IMM,
#define KP_IR_B(id, expr) &&L_BR_##id, &&L_BR_##id##_IMM,
#define KP_IR_A(id) &&L_##id##_ADD,
#define KP_IR_XM(id) &&L_##id##_X,
#define KP_IR_XI(id, x) &&L_##id##_IMM_X,
#define KP_IR_BA(id, x) &&L_BRA_##id, &&L_BRA_##id##_IMM,
#define KP_IR_BR(id, x) &&L_BRR_##id, &&L_BRR_##id##_IMM,
        KP_IR_EACH(KP_IR_C, KP_IR_N, KP_IR_I, KP_IR_B, KP_IR_A, KP_IR_XM, KP_IR_XI, KP_IR_BA, KP_IR_BR)
#define KP_IR_VD(id, type, kind, expr) &&L_V_##id,
            KP_SIMD_FAST(KP_IR_VD)
#undef KP_IR_VD
#undef KP_IR_C
#undef KP_IR_N
#undef KP_IR_I
#undef KP_IR_B
#undef KP_IR_A
#undef KP_IR_XM
#undef KP_IR_XI
#undef KP_IR_BA
#undef KP_IR_BR
    };
    const char *const vmbase = (const char *)&&L_UNREACHABLE;
    if (table_out) {
        *table_out = disp;
        return KAPSUL_OK;
    }
#else
    (void)table_out;
#endif
    kapsul_func *func = entry, *callee;
    kpInstCore *inst = func->inst;
    const uint32_t *code = func->code->code, *ip = code;
    const int *const intr = &s->interrupt;
    uint64_t *nfp;
    uint64_t *const stack_end = s->stack + s->stack_slots;
    kapsul_memory *mem = inst->mem0;
    uint8_t *mb = mem ? mem->base : NULL;
    uint64_t mlimit = mem ? (mem->reserved ? UINT64_MAX : mem->size) : 0;
    kapsul_trap trap = KAPSUL_TRAP_NONE;
    const char *trap_msg = NULL;
    char msgbuf[48];
    kapsul_status status;
    uint64_t a, b, n;

    memset(fp + func->code->nparam_slots, 0, (size_t)func->code->nlocal_slots * 8);
    ex->in_wasm = true;

next:
    vmdispatch {
        vmcase(UNREACHABLE) {
            trap = KAPSUL_TRAP_UNREACHABLE;
            goto trapped;
        }
        vmcase(CHECK) {
            /* One load on the fast path: fuel metering and interrupts share the word. */
            int w = __atomic_load_n(&s->interrupt, __ATOMIC_RELAXED);
            if (KP_UNLIKELY(w)) {
                if (w & KP_INTR_FUEL) {
                    if (s->fuel < (int64_t)ip[1]) {
                        s->fuel = 0;
                        trap = KAPSUL_TRAP_FUEL;
                        goto trapped;
                    }
                    s->fuel -= ip[1];
                }
                if (w & (KP_INTR_USER | KP_INTR_DEADLINE)) {
                    trap = KAPSUL_TRAP_TIMEOUT;
                    goto trapped;
                }
            }
            ip += 2;
            vmbreak;
        }
        vmcase(BR) {
            JUMP(ip[1]);
            vmbreak;
        }
        vmcase(BR_IF) {
            if (U32(1)) JUMP(ip[2]);
            else ip += 3;
            vmbreak;
        }
        vmcase(BR_IFZ) {
            if (!U32(1)) JUMP(ip[2]);
            else ip += 3;
            vmbreak;
        }
        vmcase(BR_TABLE) {
            uint32_t i = U32(1), cnt = ip[2];
            JUMP(ip[3 + (i < cnt ? i : cnt)]);
            vmbreak;
        }
        vmcase(COPY) {
            S(1) = S(2);
            ip += 3;
            vmbreak;
        }
        vmcase(COPY2) {
            S(1) = S(2);
            S(3) = S(4);
            ip += 5;
            vmbreak;
        }
        vmcase(COPYN) {
            uint32_t cnt = ip[1];
            for (const uint32_t *p = ip + 2, *end = p + 2 * cnt; p < end; p += 2) fp[p[0]] = fp[p[1]];
            ip += 2 + 2 * cnt;
            vmbreak;
        }
        vmcase(RETURN) {
            /* Results to the frame's first slots (where the caller expects them). */
            uint32_t src = ip[1], nres = ip[2];
            for (uint32_t i = 0; i < nres; i++) fp[i] = fp[src + i];
            kpFrame *f = &s->frames[--s->nframes];
            if (!f->ret_ip) goto done;
            ip = f->ret_ip;
            fp = f->fp;
            func = s->frames[s->nframes - 1].func;
            goto enter_caller;
        }
        vmcase(NATIVE) {
            /* An interpreted caller reached a function of a native instance: its compiled code
             * runs on this frame's slots (results replace the arguments), then RETURN follows. */
            ex->in_wasm = false;
            status = kpNative_call(s, func, func->inst->native, fp, err);
            ex->in_wasm = true;
            if (status != KAPSUL_OK) {
                /* The native frames (this function's included) are in err; the interpreted
                 * callers follow, as they would for a trap in interpreted code. */
                s->nframes--;
                if (status == KAPSUL_ERR_TRAP && err) {
                    const uint32_t *ret = s->frames[s->nframes].ret_ip;
                    append_backtrace(s, depth0, ret ? ret - 1 : NULL, err);
                }
                s->nframes++;
                return status;
            }
            ip += 1;
            vmbreak;
        }
        vmcase(CALL) {
            callee = inst->funcs[ip[1]];
            nfp = fp + ip[2];
            ip += 3;
            goto call;
        }
        vmcase(CALL_INDIRECT) {
            kapsul_table *t = inst->tables[ip[2]];
            uint32_t i = U32(3);
            if (i >= t->size) {
                trap = KAPSUL_TRAP_TABLE_OOB;
                trap_msg = "undefined element";
                goto trapped;
            }
            callee = t->elems[i];
            if (!callee) {
                trap = KAPSUL_TRAP_UNINITIALIZED;
                snprintf(msgbuf, sizeof msgbuf, "uninitialized element %u", i);
                trap_msg = msgbuf;
                goto trapped;
            }
            if (callee->type_id != ip[1]) {
                trap = KAPSUL_TRAP_INDIRECT_MISMATCH;
                goto trapped;
            }
            nfp = fp + ip[4];
            ip += 5;
            goto call;
        }
        vmcase(SELECT) {
            S(1) = U32(2) ? S(3) : S(4);
            ip += 5;
            vmbreak;
        }
        vmcase(CONST32) {
            S(1) = ip[2];
            ip += 3;
            vmbreak;
        }
        vmcase(CONST64) {
            S(1) = (uint64_t)ip[2] | ((uint64_t)ip[3] << 32);
            ip += 4;
            vmbreak;
        }
        vmcase(GLOBAL_GET) {
            S(1) = inst->globals[ip[2]]->bits[0];
            ip += 3;
            vmbreak;
        }
        vmcase(GLOBAL_SET) {
            inst->globals[ip[1]]->bits[0] = S(2);
            ip += 3;
            vmbreak;
        }
        vmcase(TABLE_GET) {
            kapsul_table *t = inst->tables[ip[2]];
            uint32_t i = U32(3);
            if (i >= t->size) {
                trap = KAPSUL_TRAP_TABLE_OOB;
                goto trapped;
            }
            S(1) = (uint64_t)(uintptr_t)t->elems[i];
            ip += 4;
            vmbreak;
        }
        vmcase(TABLE_SET) {
            kapsul_table *t = inst->tables[ip[1]];
            uint32_t i = U32(2);
            if (i >= t->size) {
                trap = KAPSUL_TRAP_TABLE_OOB;
                goto trapped;
            }
            t->elems[i] = (void *)(uintptr_t)S(3);
            ip += 4;
            vmbreak;
        }
        vmcase(MEMORY_SIZE) {
            S(1) = mem->size / KP_PAGE_SIZE;
            ip += 2;
            vmbreak;
        }
        vmcase(MEMORY_GROW) {
            int64_t r = kpMemory_grow(mem, U32(2), s->config->max_memory_bytes);
            S(1) = (uint32_t)(int32_t)r;
            mb = mem->base;
            mlimit = mem->reserved ? UINT64_MAX : mem->size;
            ip += 3;
            vmbreak;
        }
        vmcase(MEMORY_INIT) {
            uint32_t seg = ip[1];
            uint64_t d = U32(2), sidx = U32(3);
            n = U32(4);
            const kpData *data = &inst->m->datas[seg];
            if (sidx + n > inst->data_len[seg] || d + n > mem->size) {
                trap = KAPSUL_TRAP_MEMORY_OOB;
                goto trapped;
            }
            memcpy(mb + d, inst->m->bytes + data->bytes.start + sidx, (size_t)n);
            ip += 5;
            vmbreak;
        }
        vmcase(DATA_DROP) {
            inst->data_len[ip[1]] = 0;
            ip += 2;
            vmbreak;
        }
        vmcase(MEMORY_COPY) {
            uint64_t d = U32(1), sidx = U32(2);
            n = U32(3);
            if (d + n > mem->size || sidx + n > mem->size) {
                trap = KAPSUL_TRAP_MEMORY_OOB;
                goto trapped;
            }
            if (!chunked_move(s, mb + d, mb + sidx, n)) {
                trap = KAPSUL_TRAP_TIMEOUT;
                goto trapped;
            }
            ip += 4;
            vmbreak;
        }
        vmcase(MEMORY_FILL) {
            uint64_t d = U32(1);
            n = U32(3);
            if (d + n > mem->size) {
                trap = KAPSUL_TRAP_MEMORY_OOB;
                goto trapped;
            }
            if (!chunked_fill(s, mb + d, (int)(uint8_t)U32(2), n)) {
                trap = KAPSUL_TRAP_TIMEOUT;
                goto trapped;
            }
            ip += 4;
            vmbreak;
        }
        vmcase(TABLE_INIT) {
            kapsul_table *t = inst->tables[ip[1]];
            uint32_t seg = ip[2];
            uint64_t d = U32(3), sidx = U32(4);
            n = U32(5);
            if (sidx + n > inst->elem_len[seg] || d + n > t->size) {
                trap = KAPSUL_TRAP_TABLE_OOB;
                goto trapped;
            }
            if (n) memcpy(t->elems + d, inst->elems[seg] + sidx, (size_t)n * sizeof(void *));
            ip += 6;
            vmbreak;
        }
        vmcase(ELEM_DROP) {
            inst->elem_len[ip[1]] = 0;
            ip += 2;
            vmbreak;
        }
        vmcase(TABLE_COPY) {
            kapsul_table *td = inst->tables[ip[1]], *ts = inst->tables[ip[2]];
            uint64_t d = U32(3), sidx = U32(4);
            n = U32(5);
            if (d + n > td->size || sidx + n > ts->size) {
                trap = KAPSUL_TRAP_TABLE_OOB;
                goto trapped;
            }
            if (n) memmove(td->elems + d, ts->elems + sidx, (size_t)n * sizeof(void *));
            ip += 6;
            vmbreak;
        }
        vmcase(TABLE_GROW) {
            int64_t r = kpTable_grow(inst->tables[ip[1]], U32(4), (void *)(uintptr_t)S(3));
            S(2) = (uint32_t)(int32_t)r;
            ip += 5;
            vmbreak;
        }
        vmcase(TABLE_SIZE) {
            S(2) = inst->tables[ip[1]]->size;
            ip += 3;
            vmbreak;
        }
        vmcase(TABLE_FILL) {
            kapsul_table *t = inst->tables[ip[1]];
            uint64_t i = U32(2);
            void *v = (void *)(uintptr_t)S(3);
            n = U32(4);
            if (i + n > t->size) {
                trap = KAPSUL_TRAP_TABLE_OOB;
                goto trapped;
            }
            for (uint64_t k = 0; k < n; k++) t->elems[i + k] = v;
            ip += 5;
            vmbreak;
        }
        vmcase(REF_IS_NULL) {
            S(1) = S(2) == 0;
            ip += 3;
            vmbreak;
        }
        vmcase(REF_FUNC) {
            S(1) = (uint64_t)(uintptr_t)inst->funcs[ip[2]];
            ip += 3;
            vmbreak;
        }

        /* Loads and stores: an address outside a reserved memory faults (guard region); mlimit is
     * UINT64_MAX then. Unreserved memories compare against their size. */
#define LOAD(id, n, conv)                                           \
    vmcase(id) {                                                    \
        a = EA(2);                                                  \
        if (KP_UNLIKELY(a + n > mlimit)) {                          \
            trap = KAPSUL_TRAP_MEMORY_OOB;                          \
            goto trapped;                                           \
        }                                                           \
        b = ld(mb + a, n);                                          \
        S(1) = conv;                                                \
        ip += 4;                                                    \
        vmbreak;                                                    \
    }                                                               \
    vmcase(id##_ADD) {                                              \
        a = (uint64_t)(uint32_t)(U32(2) + ip[3]) + (uint64_t)ip[4]; \
        if (KP_UNLIKELY(a + n > mlimit)) {                          \
            trap = KAPSUL_TRAP_MEMORY_OOB;                          \
            goto trapped;                                           \
        }                                                           \
        b = ld(mb + a, n);                                          \
        S(1) = conv;                                                \
        ip += 5;                                                    \
        vmbreak;                                                    \
    }                                                               \
    vmcase(id##_X) {                                                \
        a = (uint64_t)XADDR(2) + (uint64_t)ip[5];                   \
        if (KP_UNLIKELY(a + n > mlimit)) {                          \
            trap = KAPSUL_TRAP_MEMORY_OOB;                          \
            goto trapped;                                           \
        }                                                           \
        b = ld(mb + a, n);                                          \
        S(1) = conv;                                                \
        ip += 6;                                                    \
        vmbreak;                                                    \
    }
#define STORE(id, n)                              \
    vmcase(id) {                                  \
        a = (uint64_t)U32(1) + (uint64_t)ip[3];   \
        if (KP_UNLIKELY(a + n > mlimit)) {        \
            trap = KAPSUL_TRAP_MEMORY_OOB;        \
            goto trapped;                         \
        }                                         \
        st(mb + a, S(2), n);                      \
        ip += 4;                                  \
        vmbreak;                                  \
    }                                             \
    vmcase(id##_X) {                              \
        a = (uint64_t)XADDR(1) + (uint64_t)ip[5]; \
        if (KP_UNLIKELY(a + n > mlimit)) {        \
            trap = KAPSUL_TRAP_MEMORY_OOB;        \
            goto trapped;                         \
        }                                         \
        st(mb + a, S(4), n);                      \
        ip += 6;                                  \
        vmbreak;                                  \
    }
        LOAD(I32_LOAD, 4, b)
        LOAD(I64_LOAD, 8, b)
        LOAD(F32_LOAD, 4, b)
        LOAD(F64_LOAD, 8, b)
        LOAD(I32_LOAD8_S, 1, (uint32_t)(int32_t)(int8_t)b)
        LOAD(I32_LOAD8_U, 1, b)
        LOAD(I32_LOAD16_S, 2, (uint32_t)(int32_t)(int16_t)b)
        LOAD(I32_LOAD16_U, 2, b)
        LOAD(I64_LOAD8_S, 1, (uint64_t)(int64_t)(int8_t)b)
        LOAD(I64_LOAD8_U, 1, b)
        LOAD(I64_LOAD16_S, 2, (uint64_t)(int64_t)(int16_t)b)
        LOAD(I64_LOAD16_U, 2, b)
        LOAD(I64_LOAD32_S, 4, (uint64_t)(int64_t)(int32_t)b)
        LOAD(I64_LOAD32_U, 4, b)
        STORE(I32_STORE, 4)
        STORE(I64_STORE, 8)
        STORE(F32_STORE, 4)
        STORE(F64_STORE, 8)
        STORE(I32_STORE8, 1)
        STORE(I32_STORE16, 2)
        STORE(I64_STORE8, 1)
        STORE(I64_STORE16, 2)
        STORE(I64_STORE32, 4)

        /* Integer arithmetic in unsigned types (wrapping, no undefined behaviour). */
        UN(I32_EQZ, U32(2) == 0)
        UN(I64_EQZ, U64(2) == 0)
        UN(I32_CLZ, U32(2) ? (uint32_t)__builtin_clz(U32(2)) : 32u)
        UN(I32_CTZ, U32(2) ? (uint32_t)__builtin_ctz(U32(2)) : 32u)
        UN(I32_POPCNT, (uint32_t)__builtin_popcount(U32(2)))
        UN(I64_CLZ, U64(2) ? (uint64_t)__builtin_clzll(U64(2)) : 64u)
        UN(I64_CTZ, U64(2) ? (uint64_t)__builtin_ctzll(U64(2)) : 64u)
        UN(I64_POPCNT, (uint64_t)__builtin_popcountll(U64(2)))
        BIN(I32_EQ, U32(2) == U32(3))
        BIN(I32_NE, U32(2) != U32(3))
        BIN(I32_LT_S, I32(2) < I32(3))
        BIN(I32_LT_U, U32(2) < U32(3))
        BIN(I32_GT_S, I32(2) > I32(3))
        BIN(I32_GT_U, U32(2) > U32(3))
        BIN(I32_LE_S, I32(2) <= I32(3))
        BIN(I32_LE_U, U32(2) <= U32(3))
        BIN(I32_GE_S, I32(2) >= I32(3))
        BIN(I32_GE_U, U32(2) >= U32(3))
        BIN(I64_EQ, U64(2) == U64(3))
        BIN(I64_NE, U64(2) != U64(3))
        BIN(I64_LT_S, I64(2) < I64(3))
        BIN(I64_LT_U, U64(2) < U64(3))
        BIN(I64_GT_S, I64(2) > I64(3))
        BIN(I64_GT_U, U64(2) > U64(3))
        BIN(I64_LE_S, I64(2) <= I64(3))
        BIN(I64_LE_U, U64(2) <= U64(3))
        BIN(I64_GE_S, I64(2) >= I64(3))
        BIN(I64_GE_U, U64(2) >= U64(3))
        BIN(I32_ADD, (uint32_t)(U32(2) + U32(3)))
        BIN(I32_SUB, (uint32_t)(U32(2) - U32(3)))
        BIN(I32_MUL, (uint32_t)(U32(2) * U32(3)))
        BIN(I32_AND, U32(2) & U32(3))
        BIN(I32_OR, U32(2) | U32(3))
        BIN(I32_XOR, U32(2) ^ U32(3))
        BIN(I32_SHL, (uint32_t)(U32(2) << (U32(3) & 31)))
        BIN(I32_SHR_S, (uint32_t)(I32(2) >> (U32(3) & 31)))
        BIN(I32_SHR_U, U32(2) >> (U32(3) & 31))
        BIN(I32_ROTL, rotl32(U32(2), U32(3)))
        BIN(I32_ROTR, rotr32(U32(2), U32(3)))
        BIN(I64_ADD, U64(2) + U64(3))
        BIN(I64_SUB, U64(2) - U64(3))
        BIN(I64_MUL, U64(2) * U64(3))
        BIN(I64_AND, U64(2) & U64(3))
        BIN(I64_OR, U64(2) | U64(3))
        BIN(I64_XOR, U64(2) ^ U64(3))
        BIN(I64_SHL, U64(2) << (U64(3) & 63))
        BIN(I64_SHR_S, (uint64_t)(I64(2) >> (U64(3) & 63)))
        BIN(I64_SHR_U, U64(2) >> (U64(3) & 63))
        BIN(I64_ROTL, rotl64(U64(2), U64(3)))
        BIN(I64_ROTR, rotr64(U64(2), U64(3)))

        /* Division: zero divisors trap; INT_MIN / -1 overflows for div_s and is 0 for rem_s. */
        vmcase(I32_DIV_S) {
            if (U32(3) == 0) goto div_zero;
            if (I32(2) == INT32_MIN && I32(3) == -1) goto overflow;
            S(1) = (uint32_t)(I32(2) / I32(3));
            ip += 4;
            vmbreak;
        }
        vmcase(I32_DIV_U) {
            if (U32(3) == 0) goto div_zero;
            S(1) = U32(2) / U32(3);
            ip += 4;
            vmbreak;
        }
        vmcase(I32_REM_S) {
            if (U32(3) == 0) goto div_zero;
            S(1) = I32(3) == -1 ? 0 : (uint32_t)(I32(2) % I32(3));
            ip += 4;
            vmbreak;
        }
        vmcase(I32_REM_U) {
            if (U32(3) == 0) goto div_zero;
            S(1) = U32(2) % U32(3);
            ip += 4;
            vmbreak;
        }
        vmcase(I64_DIV_S) {
            if (U64(3) == 0) goto div_zero;
            if (I64(2) == INT64_MIN && I64(3) == -1) goto overflow;
            S(1) = (uint64_t)(I64(2) / I64(3));
            ip += 4;
            vmbreak;
        }
        vmcase(I64_DIV_U) {
            if (U64(3) == 0) goto div_zero;
            S(1) = U64(2) / U64(3);
            ip += 4;
            vmbreak;
        }
        vmcase(I64_REM_S) {
            if (U64(3) == 0) goto div_zero;
            S(1) = I64(3) == -1 ? 0 : (uint64_t)(I64(2) % I64(3));
            ip += 4;
            vmbreak;
        }
        vmcase(I64_REM_U) {
            if (U64(3) == 0) goto div_zero;
            S(1) = U64(2) % U64(3);
            ip += 4;
            vmbreak;
        }

        /* Floating point: the C operators are IEEE 754 with round-to-nearest-even; abs, neg and
     * copysign work on the sign bit only, so NaN payloads pass through untouched. */
        UN(F32_ABS, U32(2) & 0x7FFFFFFFu)
        UN(F32_NEG, U32(2) ^ 0x80000000u)
        UN(F32_CEIL, of_f32(kp_roundf(F32(2), 0)))
        UN(F32_FLOOR, of_f32(kp_roundf(F32(2), 1)))
        UN(F32_TRUNC, of_f32(kp_roundf(F32(2), 2)))
        UN(F32_NEAREST, of_f32(kp_roundf(F32(2), 3)))
        UN(F32_SQRT, of_f32(sqrtf(F32(2))))
        UN(F64_ABS, U64(2) & 0x7FFFFFFFFFFFFFFFull)
        UN(F64_NEG, U64(2) ^ 0x8000000000000000ull)
        UN(F64_CEIL, of_f64(kp_round(F64(2), 0)))
        UN(F64_FLOOR, of_f64(kp_round(F64(2), 1)))
        UN(F64_TRUNC, of_f64(kp_round(F64(2), 2)))
        UN(F64_NEAREST, of_f64(kp_round(F64(2), 3)))
        UN(F64_SQRT, of_f64(sqrt(F64(2))))
        BIN(F32_EQ, F32(2) == F32(3))
        BIN(F32_NE, F32(2) != F32(3))
        BIN(F32_LT, F32(2) < F32(3))
        BIN(F32_GT, F32(2) > F32(3))
        BIN(F32_LE, F32(2) <= F32(3))
        BIN(F32_GE, F32(2) >= F32(3))
        BIN(F64_EQ, F64(2) == F64(3))
        BIN(F64_NE, F64(2) != F64(3))
        BIN(F64_LT, F64(2) < F64(3))
        BIN(F64_GT, F64(2) > F64(3))
        BIN(F64_LE, F64(2) <= F64(3))
        BIN(F64_GE, F64(2) >= F64(3))
        BIN(F32_ADD, of_f32(F32(2) + F32(3)))
        BIN(F32_SUB, of_f32(F32(2) - F32(3)))
        BIN(F32_MUL, of_f32(F32(2) * F32(3)))
        BIN(F32_DIV, of_f32(F32(2) / F32(3)))
        BIN(F32_MIN, of_f32(kp_fminf(F32(2), F32(3))))
        BIN(F32_MAX, of_f32(kp_fmaxf(F32(2), F32(3))))
        BIN(F32_COPYSIGN, (U32(2) & 0x7FFFFFFFu) | (U32(3) & 0x80000000u))
        BIN(F64_ADD, of_f64(F64(2) + F64(3)))
        BIN(F64_SUB, of_f64(F64(2) - F64(3)))
        BIN(F64_MUL, of_f64(F64(2) * F64(3)))
        BIN(F64_DIV, of_f64(F64(2) / F64(3)))
        BIN(F64_MIN, of_f64(kp_fmin(F64(2), F64(3))))
        BIN(F64_MAX, of_f64(kp_fmax(F64(2), F64(3))))
        BIN(F64_COPYSIGN, (U64(2) & 0x7FFFFFFFFFFFFFFFull) | (U64(3) & 0x8000000000000000ull))

        /* Conversions. */
        UN(I32_WRAP_I64, (uint32_t)U64(2))
        UN(I64_EXTEND_I32_S, (uint64_t)(int64_t)I32(2))
        UN(I64_EXTEND_I32_U, (uint64_t)U32(2))
        UN(F32_CONVERT_I32_S, of_f32((float)I32(2)))
        UN(F32_CONVERT_I32_U, of_f32((float)U32(2)))
        UN(F32_CONVERT_I64_S, of_f32((float)I64(2)))
        UN(F32_CONVERT_I64_U, of_f32((float)U64(2)))
        UN(F32_DEMOTE_F64, of_f32((float)F64(2)))
        UN(F64_CONVERT_I32_S, of_f64((double)I32(2)))
        UN(F64_CONVERT_I32_U, of_f64((double)U32(2)))
        UN(F64_CONVERT_I64_S, of_f64((double)I64(2)))
        UN(F64_CONVERT_I64_U, of_f64((double)U64(2)))
        UN(F64_PROMOTE_F32, of_f64((double)F32(2)))
        UN(I32_REINTERPRET_F32, U32(2))
        UN(I64_REINTERPRET_F64, U64(2))
        UN(F32_REINTERPRET_I32, U32(2))
        UN(F64_REINTERPRET_I64, U64(2))
        UN(I32_EXTEND8_S, (uint32_t)(int32_t)(int8_t)U32(2))
        UN(I32_EXTEND16_S, (uint32_t)(int32_t)(int16_t)U32(2))
        UN(I64_EXTEND8_S, (uint64_t)(int64_t)(int8_t)U64(2))
        UN(I64_EXTEND16_S, (uint64_t)(int64_t)(int16_t)U64(2))
        UN(I64_EXTEND32_S, (uint64_t)(int64_t)(int32_t)U64(2))
        UN(I32_TRUNC_SAT_F32_S, sat_i32_s(F32(2)))
        UN(I32_TRUNC_SAT_F32_U, sat_i32_u(F32(2)))
        UN(I32_TRUNC_SAT_F64_S, sat_i32_s(F64(2)))
        UN(I32_TRUNC_SAT_F64_U, sat_i32_u(F64(2)))
        UN(I64_TRUNC_SAT_F32_S, sat_i64_s(F32(2)))
        UN(I64_TRUNC_SAT_F32_U, sat_i64_u(F32(2)))
        UN(I64_TRUNC_SAT_F64_S, sat_i64_s(F64(2)))
        UN(I64_TRUNC_SAT_F64_U, sat_i64_u(F64(2)))

        /* Fused forms (see ir.h for where they come from). */
#define IMM32(id, expr)                 \
    vmcase(id##_IMM) {                  \
        uint32_t x = U32(2), y = ip[3]; \
        S(1) = (uint32_t)(expr);        \
        ip += 4;                        \
        vmbreak;                        \
    }
#define IMM64(id, expr)                                             \
    vmcase(id##_IMM) {                                              \
        uint64_t x = U64(2), y = (uint64_t)(int64_t)(int32_t)ip[3]; \
        S(1) = (uint64_t)(expr);                                    \
        ip += 4;                                                    \
        vmbreak;                                                    \
    }
#define BRCMP(id, expr)                  \
    vmcase(BR_##id) {                    \
        uint32_t x = U32(1), y = U32(2); \
        if (expr) JUMP(ip[3]);           \
        else ip += 4;                    \
        vmbreak;                         \
    }                                    \
    vmcase(BR_##id##_IMM) {              \
        uint32_t x = U32(1), y = ip[2];  \
        if (expr) JUMP(ip[3]);           \
        else ip += 4;                    \
        vmbreak;                         \
    }
        /* The step is written first: the compare reads it (and b may be the same slot). STEP is the
 * step's second operand: an immediate (BRA) or a slot (BRR). */
#define BRSTEP(pre, id, expr, STEP)                        \
    vmcase(pre##_##id) {                                   \
        uint32_t x = (uint32_t)(U32(2) + STEP), y;         \
        S(1) = x;                                          \
        y = U32(4);                                        \
        if (expr) JUMP(ip[5]);                             \
        else ip += 6;                                      \
        vmbreak;                                           \
    }                                                      \
    vmcase(pre##_##id##_IMM) {                             \
        uint32_t x = (uint32_t)(U32(2) + STEP), y = ip[4]; \
        S(1) = x;                                          \
        if (expr) JUMP(ip[5]);                             \
        else ip += 6;                                      \
        vmbreak;                                           \
    }
#define BRACMP(id, expr) BRSTEP(BRA, id, expr, ip[3])
#define BRRCMP(id, expr) BRSTEP(BRR, id, expr, U32(3))
        KP_IR_IMM32(IMM32)
        KP_IR_IMM64(IMM64)
        KP_IR_CMP32(BRCMP)
        KP_IR_CMP32(BRACMP)
        KP_IR_CMP32(BRRCMP)
        vmcase(BRA_NZ) {
            uint32_t x = (uint32_t)(U32(2) + ip[3]);
            S(1) = x;
            if (x) JUMP(ip[4]);
            else ip += 5;
            vmbreak;
        }
#define STOREI(id, n)                                     \
    vmcase(id##_IMM) {                                    \
        a = (uint64_t)U32(1) + (uint64_t)ip[3];           \
        if (KP_UNLIKELY(a + n > mlimit)) {                \
            trap = KAPSUL_TRAP_MEMORY_OOB;                \
            goto trapped;                                 \
        }                                                 \
        st(mb + a, (uint64_t)(int64_t)(int32_t)ip[2], n); \
        ip += 4;                                          \
        vmbreak;                                          \
    }                                                     \
    vmcase(id##_IMM_X) {                                  \
        a = (uint64_t)XADDR(1) + (uint64_t)ip[5];         \
        if (KP_UNLIKELY(a + n > mlimit)) {                \
            trap = KAPSUL_TRAP_MEMORY_OOB;                \
            goto trapped;                                 \
        }                                                 \
        st(mb + a, (uint64_t)(int64_t)(int32_t)ip[4], n); \
        ip += 6;                                          \
        vmbreak;                                          \
    }
        KP_IR_STOREI(STOREI)
        /* Fused pairs (ir.h): dst a x y. `a + x * y` rounds twice: CMakeLists.txt builds with
     * -ffp-contract=off, so no compiler turns it into a fused multiply-add. */
        vmcase(I32_ADDSHL) {
            S(1) = XADDR(2);
            ip += 5;
            vmbreak;
        }
        vmcase(I32_XORROTL) {
            S(1) = U32(2) ^ rotl32(U32(3), ip[4]);
            ip += 5;
            vmbreak;
        }
        vmcase(I32_XORSHRU) {
            S(1) = U32(2) ^ (U32(3) >> ip[4]);
            ip += 5;
            vmbreak;
        }
        vmcase(I32_MULADD) {
            S(1) = (uint32_t)(U32(2) + U32(3) * U32(4));
            ip += 5;
            vmbreak;
        }
        vmcase(F32_MULADD) {
            S(1) = of_f32(F32(2) + F32(3) * F32(4));
            ip += 5;
            vmbreak;
        }
        vmcase(F32_MULSUB) {
            S(1) = of_f32(F32(2) - F32(3) * F32(4));
            ip += 5;
            vmbreak;
        }
        vmcase(F64_MULADD) {
            S(1) = of_f64(F64(2) + F64(3) * F64(4));
            ip += 5;
            vmbreak;
        }
        vmcase(F64_MULSUB) {
            S(1) = of_f64(F64(2) - F64(3) * F64(4));
            ip += 5;
            vmbreak;
        }
        vmcase(I32_ADD3) {
            S(1) = (uint32_t)(U32(2) + (U32(3) + U32(4)));
            ip += 5;
            vmbreak;
        }
        vmcase(F32_MULMUL) {
            S(1) = of_f32((F32(3) * F32(4)) * F32(2));
            ip += 5;
            vmbreak;
        }
        vmcase(F64_MULMUL) {
            S(1) = of_f64((F64(3) * F64(4)) * F64(2));
            ip += 5;
            vmbreak;
        }
        vmcase(I32_SHRAND) {
            S(1) = (U32(2) >> ip[3]) & ip[4];
            ip += 5;
            vmbreak;
        }
/* f64 op on a value loaded right before: address ADDR, WORDS long (ir.h: *LD x off, *LDA x imm off). */
#define LDOP(id, addr, words, expr)        \
    vmcase(id) {                           \
        a = (addr);                        \
        if (KP_UNLIKELY(a + 8 > mlimit)) { \
            trap = KAPSUL_TRAP_MEMORY_OOB; \
            goto trapped;                  \
        }                                  \
        double m = f64_of(ld(mb + a, 8));  \
        S(1) = of_f64(expr);               \
        ip += words;                       \
        vmbreak;                           \
    }
#define LD_XO ((uint64_t)U32(3) + (uint64_t)ip[4])
#define LD_XIO ((uint64_t)(uint32_t)(U32(3) + ip[4]) + (uint64_t)ip[5])
        LDOP(F64_ADDLD, LD_XO, 5, F64(2) + m)
        LDOP(F64_SUBLD, LD_XO, 5, F64(2) - m)
        LDOP(F64_MULLD, LD_XO, 5, F64(2) * m)
        LDOP(F64_ADDLDA, LD_XIO, 6, F64(2) + m)
        LDOP(F64_SUBLDA, LD_XIO, 6, F64(2) - m)
        LDOP(F64_MULLDA, LD_XIO, 6, F64(2) * m)
        vmcase(F64_ADDTO) {
            a = (uint64_t)U32(2) + (uint64_t)ip[3];
            if (KP_UNLIKELY(a + 8 > mlimit)) {
                trap = KAPSUL_TRAP_MEMORY_OOB;
                goto trapped;
            }
            st(mb + a, of_f64(F64(1) + f64_of(ld(mb + a, 8))), 8);
            ip += 4;
            vmbreak;
        }
        vmcase(I32_LOAD_SA) {
            a = (uint64_t)(uint32_t)((U32(2) << ip[3]) + ip[4]) + (uint64_t)ip[5];
            if (KP_UNLIKELY(a + 4 > mlimit)) {
                trap = KAPSUL_TRAP_MEMORY_OOB;
                goto trapped;
            }
            S(1) = ld(mb + a, 4);
            ip += 6;
            vmbreak;
        }
        vmcase(F64_SUBMM) {
            S(1) = of_f64(F64(2) - (F64(4) * F64(5)) * F64(3));
            ip += 6;
            vmbreak;
        }
        vmcase(F64_MMADDTO) {
            a = (uint64_t)U32(4) + (uint64_t)ip[5];
            if (KP_UNLIKELY(a + 8 > mlimit)) {
                trap = KAPSUL_TRAP_MEMORY_OOB;
                goto trapped;
            }
            st(mb + a, of_f64((F64(2) * F64(3)) * F64(1) + f64_of(ld(mb + a, 8))), 8);
            ip += 6;
            vmbreak;
        }
        vmcase(I32_ADD4) {
            S(1) = (uint32_t)(U32(2) + (U32(3) + (U32(4) + U32(5))));
            ip += 6;
            vmbreak;
        }
        vmcase(I32_ROTXOR) {
            S(1) = rotl32(U32(2), ip[3]) ^ rotl32(U32(4), ip[5]);
            ip += 6;
            vmbreak;
        }

        /* SIMD (ir.h, simd.c): a v128 is two slots. Memory forms check bounds explicitly against the
     * memory's size (a 16-byte access must not be half done when it crosses the end). */
        vmcase(SIMD) {
            kpSimd_exec(ip[2], &S(1), &S(3), &S(4), &S(5), ip[6]);
            ip += 7;
            vmbreak;
        }
        vmcase(V128_CONST) {
            S(1) = (uint64_t)ip[2] | ((uint64_t)ip[3] << 32);
            fp[ip[1] + 1] = (uint64_t)ip[4] | ((uint64_t)ip[5] << 32);
            ip += 6;
            vmbreak;
        }
        vmcase(SHUFFLE) {
            uint8_t lanes[16];
            memcpy(lanes, ip + 4, 16);
            kpSimd_shuffle(&S(1), &S(2), &S(3), lanes);
            ip += 8;
            vmbreak;
        }
        vmcase(SIMD_MEM) {
            a = (uint64_t)U32(3) + (uint64_t)ip[5];
            if (KP_UNLIKELY(a + ip[7] > mem->size)) {
                trap = KAPSUL_TRAP_MEMORY_OOB;
                goto trapped;
            }
            kpSimd_access(ip[2], &S(1), mb + a, &S(4), ip[6]);
            ip += 8;
            vmbreak;
        }
        vmcase(V128_LOAD) {
            a = EA(2);
            if (KP_UNLIKELY(a + 16 > mem->size)) {
                trap = KAPSUL_TRAP_MEMORY_OOB;
                goto trapped;
            }
            memcpy(&S(1), mb + a, 16);
            ip += 4;
            vmbreak;
        }
        vmcase(V128_STORE) {
            a = (uint64_t)U32(1) + (uint64_t)ip[3];
            if (KP_UNLIKELY(a + 16 > mem->size)) {
                trap = KAPSUL_TRAP_MEMORY_OOB;
                goto trapped;
            }
            memcpy(mb + a, &S(2), 16);
            ip += 4;
            vmbreak;
        }
#define SIMD_FAST(id, type, kind, expr) SIMD_FAST_##kind(id, type, expr)
#define SIMD_FAST_VV(id, type, expr) \
    vmcase(V_##id) {                 \
        type x, y, r;                \
        memcpy(&x, &S(2), 16);       \
        memcpy(&y, &S(3), 16);       \
        r = (expr);                  \
        memcpy(&S(1), &r, 16);       \
        ip += 4;                     \
        vmbreak;                     \
    }
#define SIMD_FAST_VS(id, type, expr) \
    vmcase(V_##id) {                 \
        type x, r;                   \
        uint32_t k = U32(3);         \
        memcpy(&x, &S(2), 16);       \
        r = (expr);                  \
        memcpy(&S(1), &r, 16);       \
        ip += 4;                     \
        vmbreak;                     \
    }
#define SIMD_FAST_VL(id, type, expr) \
    vmcase(V_##id) {                 \
        type x;                      \
        uint32_t lane = ip[3];       \
        memcpy(&x, &S(2), 16);       \
        S(1) = (uint64_t)(expr);     \
        ip += 4;                     \
        vmbreak;                     \
    }
        KP_SIMD_FAST(SIMD_FAST)
        vmcase(GLOBAL_GET128) {
            S(1) = inst->globals[ip[2]]->bits[0];
            fp[ip[1] + 1] = inst->globals[ip[2]]->bits[1];
            ip += 3;
            vmbreak;
        }
        vmcase(GLOBAL_SET128) {
            inst->globals[ip[1]]->bits[0] = S(2);
            inst->globals[ip[1]]->bits[1] = fp[ip[2] + 1];
            ip += 3;
            vmbreak;
        }

        /* Trapping truncations: NaN is an invalid conversion; the accepted range is the open (or
         * half-open) interval whose bounds are exactly representable in the source type. */
#define TRUNC(OP, T, GET, IN_RANGE, CAST) \
    vmcase(OP) {                          \
        T x = GET(2);                     \
        if (x != x) goto bad_conv;        \
        if (!(IN_RANGE)) goto overflow;   \
        S(1) = CAST x;                    \
        ip += 3;                          \
        vmbreak;                          \
    }
        TRUNC(I32_TRUNC_F32_S, float, F32, x >= -2147483648.0f && x < 2147483648.0f, (uint32_t)(int32_t))
        TRUNC(I32_TRUNC_F32_U, float, F32, x > -1.0f && x < 4294967296.0f, (uint32_t))
        TRUNC(I32_TRUNC_F64_S, double, F64, x > -2147483649.0 && x < 2147483648.0, (uint32_t)(int32_t))
        TRUNC(I32_TRUNC_F64_U, double, F64, x > -1.0 && x < 4294967296.0, (uint32_t))
        TRUNC(I64_TRUNC_F32_S, float, F32, x >= -9223372036854775808.0f && x < 9223372036854775808.0f,
              (uint64_t)(int64_t))
        TRUNC(I64_TRUNC_F32_U, float, F32, x > -1.0f && x < 18446744073709551616.0f, (uint64_t))
        TRUNC(I64_TRUNC_F64_S, double, F64, x >= -9223372036854775808.0 && x < 9223372036854775808.0,
              (uint64_t)(int64_t))
        TRUNC(I64_TRUNC_F64_U, double, F64, x > -1.0 && x < 18446744073709551616.0, (uint64_t))
#undef TRUNC
    }

call:
    /* callee, nfp (its frame = the argument slots) and ip (the return point) are set. */
    if (callee->host) {
        s->stack_free = fp + func->code->nslots;
        ex->in_wasm = false;
        status = kpHost_call(s, inst, callee, nfp, err);
        ex->in_wasm = true;
        if (status != KAPSUL_OK) {
            /* A trap the host raised gets the wasm frames that called it (unless wasm it called
             * back into already gave one). */
            if (status == KAPSUL_ERR_TRAP && err && err->nframes == 0) add_backtrace(s, depth0, ip - 1, err);
            return status;
        }
        mb = mem ? mem->base : NULL;
        mlimit = mem ? (mem->reserved ? UINT64_MAX : mem->size) : 0;
        goto next;
    }
    if (KP_UNLIKELY(s->nframes >= s->max_frames || (size_t)(stack_end - nfp) < callee->code->nslots)) {
        trap = KAPSUL_TRAP_STACK_EXHAUSTED;
        ip--; /* the caller is at its call instruction, just before the return point */
        goto trapped;
    }
    s->frames[s->nframes++] = (kpFrame){ callee, ip, fp };
    fp = nfp;
    func = callee;
    if (func->code->nlocal_slots)
        memset(fp + func->code->nparam_slots, 0, (size_t)func->code->nlocal_slots * 8);
    /* Every function starts with a CHECK; skip it unless the interrupt word asks for it. */
    ip = func->code->code + 2;
    if (KP_UNLIKELY(__atomic_load_n(intr, __ATOMIC_RELAXED))) ip -= 2;
    /* fall through: the callee's instance becomes current */
enter_caller:
    code = func->code->code;
    /* Within one instance mb and mlimit are already current (memory.grow updates them here, a
     * host call reloads them); only a call or return across instances switches memories. */
    if (KP_UNLIKELY(func->inst != inst)) {
        inst = func->inst;
        mem = inst->mem0;
        mb = mem ? mem->base : NULL;
        mlimit = mem ? (mem->reserved ? UINT64_MAX : mem->size) : 0;
    }
    goto next;

div_zero:
    trap = KAPSUL_TRAP_DIV_ZERO;
    goto trapped;
overflow:
    trap = KAPSUL_TRAP_INT_OVERFLOW;
    goto trapped;
bad_conv:
    trap = KAPSUL_TRAP_BAD_CONVERSION;
trapped:
    ex->in_wasm = false;
    return make_trap(s, depth0, trap, trap_msg, ip, err);
done:
    ex->in_wasm = false;
    (void)b;
    return KAPSUL_OK;
}

/* Memories may rely on guard regions only once the fault handler is in place; memory.c asks
 * before reserving and falls back to explicit bounds checks if this fails. */
bool kpInterp_guardPagesReady(void) {
    static int state; /* 0 = not tried, 1 = installed, 2 = failed */
    int st = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
    if (st == 0) {
        st = kpOs_installFaultHandler(on_fault) ? 1 : 2;
        __atomic_store_n(&state, st, __ATOMIC_RELEASE);
    }
    return st == 1;
}

/* Entry from the host. Sets up the fault trampoline, the deadline timer (outermost entry only)
 * and the entry frame, then runs. Whatever happens, the store's frame and stack tops are restored,
 * so the store stays usable after a trap. */
kapsul_status kpInterp_call(kpExec *s, kapsul_func *func, uint64_t *args, kapsul_error *err) {
    kpOs_threadInit(); /* this thread's alternate signal stack (once per thread) */
    if (func->host) return kpHost_call(s, NULL, func, args, err);
    if (func->inst->native) return kpNative_call(s, func, func->inst->native, args, err);

    kpEntry ex;
    memset(&ex, 0, sizeof ex);
    ex.prev = tls_entry;
    ex.exec = s;
    uint32_t depth0 = s->nframes;
    uint64_t *saved_free = s->stack_free;
    kpOs_timer timer = 0;
    kapsul_status status;
    if (s->entries++ == 0 && s->deadline) {
        if (kpOs_monotonicNs() >= s->deadline)
            __atomic_fetch_or(&s->interrupt, KP_INTR_DEADLINE, __ATOMIC_SEQ_CST);
        else timer = kpOs_timerArm(s->deadline, &s->interrupt, KP_INTR_DEADLINE);
    }

    if (depth0 >= s->max_frames || (size_t)(s->stack + s->stack_slots - args) < func->code->nslots) {
        status = make_trap(s, depth0, KAPSUL_TRAP_STACK_EXHAUSTED, NULL, NULL, err);
        goto out;
    }
    s->frames[s->nframes++] = (kpFrame){ func, NULL, NULL };
    if (sigsetjmp(ex.jb, 0) != 0) {
        status = make_trap(s, depth0, KAPSUL_TRAP_MEMORY_OOB, NULL, ex.fault_ip, err);
        goto out;
    }
    tls_entry = &ex;
    status = run(s, &ex, func, args, depth0, err, NULL);
out:
    tls_entry = ex.prev;
    s->nframes = depth0;
    s->stack_free = saved_free;
    if (--s->entries == 0 && s->deadline) {
        kpOs_timerDisarm(timer);
        __atomic_fetch_and(&s->interrupt, ~KP_INTR_DEADLINE, __ATOMIC_SEQ_CST);
    }
    return status;
}

/* ---- Threading ---- */

#ifndef KP_SWITCH_DISPATCH
/* Modules may be loaded by several threads at once (kapsul.h: an engine is shared), so the
 * first loads may race to fill the table: each computes the same pointer, and the atomics make
 * the race a defined one. */
static const void *const *handler_table(void) {
    static const void *const *table;
    const void *const *t = __atomic_load_n(&table, __ATOMIC_ACQUIRE);
    if (!t) {
        run(NULL, NULL, NULL, NULL, 0, NULL, &t);
        __atomic_store_n(&table, t, __ATOMIC_RELEASE);
    }
    return t;
}
#endif

void kpInterp_thread(kpCode *c) {
#ifndef KP_SWITCH_DISPATCH
    const void *const *t = handler_table();
    for (uint32_t pc = 0; pc < c->len;) {
        uint32_t op = c->code[pc], n = kpCode_words(c->code + pc);
        c->code[pc] = (uint32_t)(int32_t)((const char *)t[op] - (const char *)t[kpIr_UNREACHABLE]);
        pc += n;
    }
#else
    (void)c;
#endif
}

int kpInterp_opcode(uint32_t word) {
#ifndef KP_SWITCH_DISPATCH
    const void *const *t = handler_table();
    for (int op = 0; op < kpIr_COUNT; op++)
        if ((uint32_t)(int32_t)((const char *)t[op] - (const char *)t[kpIr_UNREACHABLE]) == word) return op;
    return -1;
#else
    return word < kpIr_COUNT ? (int)word : -1;
#endif
}
