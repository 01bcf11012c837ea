/*
 * lower.c -- wasm function bodies to the slot-machine IR of ir.h, once per function at load time.
 *
 * The pass walks the body with the shared instruction decoder and mirrors the validator's
 * operand stack, but only to know where each value lives: the value at stack height h sits in
 * slot vs[h]. Control flow is resolved here: forward branches are chained through their target
 * words and patched at the block's end; loops branch back to their CHECK instruction. Code after
 * an unconditional transfer (br, return, unreachable...) is skipped up to the closing else/end,
 * since no execution reaches it and its stack is polymorphic.
 *
 * The input is validated, so nothing is re-checked; the only failures are out of memory, limits
 * and instructions the engine does not run.
 */
#include <stddef.h>
#include <stdio.h>

#include "engine/ir.h"
#include "module/opcodes.h"

const char *const kpIr_names[kpIr_COUNT] = {
#define KP_IR_C(id, words, ops) #id,
#define KP_IR_N(id) #id,
#define KP_IR_I(id, expr) #id "_IMM",
#define KP_IR_B(id, expr) "BR_" #id, "BR_" #id "_IMM",
#define KP_IR_A(id) #id "_ADD",
#define KP_IR_XM(id) #id "_X",
#define KP_IR_XI(id, x) #id "_IMM_X",
#define KP_IR_BA(id, x) "BRA_" #id, "BRA_" #id "_IMM",
#define KP_IR_BR(id, x) "BRR_" #id, "BRR_" #id "_IMM",
    KP_IR_EACH(KP_IR_C, KP_IR_N, KP_IR_I, KP_IR_B, KP_IR_A, KP_IR_XM, KP_IR_XI, KP_IR_BA, KP_IR_BR)
#undef KP_IR_XM
#undef KP_IR_XI
#undef KP_IR_BA
#undef KP_IR_BR
#undef KP_IR_C
#undef KP_IR_N
#undef KP_IR_I
#undef KP_IR_B
#undef KP_IR_A
#define KP_IR_VN(id, type, kind, expr) "V_" #id,
        KP_SIMD_FAST(KP_IR_VN)
#undef KP_IR_VN
};

/* wasm SIMD opcode -> its inlined IR form + 1 (0 = none: the generic kpIr_SIMD). */
static const uint16_t simd_fast_map[kpOp_COUNT] = {
#define KP_IR_VM(id, type, kind, expr) [kpOp_##id] = kpIr_V_##id + 1,
    KP_SIMD_FAST(KP_IR_VM)
#undef KP_IR_VM
};

/* IR opcode -> its _IMM form + 1 (0 = none). */
static const uint16_t imm_map[kpIr_COUNT] = {
#define KP_IR_I(id, expr) [kpIr_##id] = kpIr_##id##_IMM + 1,
    KP_IR_IMM32(KP_IR_I) KP_IR_IMM64(KP_IR_I)
#undef KP_IR_I
};

/* store -> its constant-value form + 1 (0 = none). */
static const uint16_t store_imm_map[kpIr_COUNT] = {
#define KP_IR_S(id, n) [kpIr_##id] = kpIr_##id##_IMM + 1,
    KP_IR_STOREI(KP_IR_S)
#undef KP_IR_S
};

/* load -> its address-add form + 1 (0 = none). */
static const uint16_t load_add_map[kpIr_COUNT] = {
#define KP_IR_A(id) [kpIr_##id] = kpIr_##id##_ADD + 1,
    KP_IR_LOADA(KP_IR_A)
#undef KP_IR_A
};

/* i32 compare (plain or _IMM) -> its compare-and-branch form + 1, and the negated compare. */
static const uint16_t br_map[kpIr_COUNT] = {
#define KP_IR_B(id, expr) [kpIr_##id] = kpIr_BR_##id + 1, [kpIr_##id##_IMM] = kpIr_BR_##id##_IMM + 1,
    KP_IR_CMP32(KP_IR_B)
#undef KP_IR_B
};
/* compare-and-branch -> its stepping form + 1 (BRA_*). */
static const uint16_t bra_map[kpIr_COUNT] = {
#define KP_IR_B(id, expr) [kpIr_BR_##id] = kpIr_BRA_##id + 1, [kpIr_BR_##id##_IMM] = kpIr_BRA_##id##_IMM + 1,
    KP_IR_CMP32(KP_IR_B)
#undef KP_IR_B
};
static const uint16_t negate_map[kpIr_COUNT] = {
    [kpIr_I32_EQ] = kpIr_I32_NE + 1,
    [kpIr_I32_NE] = kpIr_I32_EQ + 1,
    [kpIr_I32_LT_S] = kpIr_I32_GE_S + 1,
    [kpIr_I32_GE_S] = kpIr_I32_LT_S + 1,
    [kpIr_I32_LT_U] = kpIr_I32_GE_U + 1,
    [kpIr_I32_GE_U] = kpIr_I32_LT_U + 1,
    [kpIr_I32_GT_S] = kpIr_I32_LE_S + 1,
    [kpIr_I32_LE_S] = kpIr_I32_GT_S + 1,
    [kpIr_I32_GT_U] = kpIr_I32_LE_U + 1,
    [kpIr_I32_LE_U] = kpIr_I32_GT_U + 1,
    [kpIr_I32_EQ_IMM] = kpIr_I32_NE_IMM + 1,
    [kpIr_I32_NE_IMM] = kpIr_I32_EQ_IMM + 1,
    [kpIr_I32_LT_S_IMM] = kpIr_I32_GE_S_IMM + 1,
    [kpIr_I32_GE_S_IMM] = kpIr_I32_LT_S_IMM + 1,
    [kpIr_I32_LT_U_IMM] = kpIr_I32_GE_U_IMM + 1,
    [kpIr_I32_GE_U_IMM] = kpIr_I32_LT_U_IMM + 1,
    [kpIr_I32_GT_S_IMM] = kpIr_I32_LE_S_IMM + 1,
    [kpIr_I32_LE_S_IMM] = kpIr_I32_GT_S_IMM + 1,
    [kpIr_I32_GT_U_IMM] = kpIr_I32_LE_U_IMM + 1,
    [kpIr_I32_LE_U_IMM] = kpIr_I32_GT_U_IMM + 1,
};

/* wasm opcode -> IR opcode + 1 for the instructions that map one to one (0 = not such). */
static const uint16_t direct_map[kpOp_COUNT] = {
#define KP_IR_N(id) [kpOp_##id] = kpIr_##id + 1,
    KP_IR_MEMOPS(KP_IR_N) KP_IR_UNARY(KP_IR_N) KP_IR_BINARY(KP_IR_N)
#undef KP_IR_N
};

#define NONE UINT32_MAX
/* KP_MAX_REFS (operands referring to locals at once) and KP_MAX_CODE_WORDS (lowered code per
 * function) are in config.h. */

enum {
    C_BLOCK,
    C_LOOP,
    C_IF,
    C_ELSE,
    C_FUNC
};

/* One record per open block, 20 bytes: a million nested blocks cost 20 MB here. A loop's branches
 * all go backward to loop_pc, so a loop never needs the forward chain: the two share a word. The
 * slot of the block's first parameter/result is not stored: it is slot_at(height), fixed while
 * the operands below the block stay on the stack, which they do until its end. */
typedef struct ctl {
    uint32_t height; /* operand count below the block's parameters */
    uint32_t type;   /* type index, or NONE: then `val` (0 = no result) is the one result */
    union {
        uint32_t loop_pc; /* C_LOOP: its CHECK; back edges branch to loop_pc + 2 */
        uint32_t chain;   /* others: forward branches to the end, linked through their target words */
    } u;
    uint32_t else_site; /* C_IF: the BR_IFZ target word to patch at else/end */
    uint8_t kind;
    kpValType val;
    bool dead_else; /* C_IF on a constant true condition: the else arm is never run */
} ctl;

/* A run of locals of one type: local indices first.. map to slots slot, slot + width, ...
 * Lowering looks locals up by binary search over runs rather than filling a per-local table,
 * so a module declaring 50,000 locals in each of 100,000 functions costs per run, not per local. */
typedef struct local_run {
    uint32_t first, slot;
    kpValType type;
} local_run;

typedef struct lower {
    const kpLowerCtx *cx;
    const kpModule *m;
    KP_VEC(uint32_t) code;
    KP_VEC(ctl) ctls;
    KP_VEC(kpValType) vt;         /* operand types */
    KP_VEC(uint32_t) vs;          /* where each operand is now: its own slot, or a local's (lazy local.get) */
    KP_VEC(uint32_t) ns;          /* each operand's own ("natural") slot */
    uint32_t nrefs;               /* operands still living in a local's slot... */
    uint32_t refpos[KP_MAX_REFS]; /* ...at these stack positions, in increasing order */
    bool too_large;
    KP_VEC(local_run) lruns; /* params and local declarations as runs, by first local index */
    uint32_t nlocals;
    uint32_t stack_base, max_slot;
    bool unreachable;
    bool nomem;
    uint32_t last_dst;         /* word index of the dst operand of the last value-producing instr */
    uint32_t prev_dst;         /* last_dst as it was before the current instruction */
    uint32_t last_pc, prev_pc; /* start of that instruction */
    uint32_t check_site, check_count, ninstr;
    uint32_t copy_pc;             /* start of the last COPY emitted, NONE after a label */
    uint32_t kprev_dst, kprev_pc; /* the value op right before the last one emitted (NONE if
                                      unknown): lets a peephole look two instructions back */
    uint32_t nres_slots;          /* slots the function's results take (RETURN's count) */
    uint32_t hid_dst, hid_pc;     /* a value op a local.set/tee retargeted into a local: no
                                      longer "prev" (nothing may drop it), but still right before
                                      for kprev. prev_hid_*: as it was before this instruction */
    uint32_t prev_hid_dst, prev_hid_pc;
    /* The position map under construction: (IR word, module offset) pairs, one per wasm
     * instruction that emitted code; `cut` is the lowest word a fusion cut back to during the
     * current instruction. Fusions reach back two instructions at most, so only the newest
     * pairs stay unencoded. */
    KP_VEC(uint8_t) map;        /* committed pairs, encoded (see encode_pair) */
    uint32_t map_ir, map_off;   /* the last committed pair */
    uint32_t pend[8][2], npend; /* the newest pairs, still open to a fusion's cut */
    uint32_t cut;
} lower;

/* ---- Emission helpers ---- */

static void emit_grow(lower *L, uint32_t w);
/* Append one word. The common case (room left) is inline; emit_grow handles the rest. */
static inline void emit(lower *L, uint32_t w) {
    if (L->code.n < L->code.cap && L->code.n < KP_MAX_CODE_WORDS && !L->nomem) {
        L->code.v[L->code.n++] = w;
        return;
    }
    emit_grow(L, w);
}

static void emit_grow(lower *L, uint32_t w) {
    if (L->nomem) return;
    if (L->code.n >= KP_MAX_CODE_WORDS) {
        L->too_large = L->nomem = true;
        return;
    }
    if (kpVec_grow(&L->code) != 0) {
        L->nomem = true;
        return;
    }
    L->code.v[L->code.n++] = w;
}

static uint32_t pc(const lower *L) { return (uint32_t)L->code.n; }

/* Drop the code from word `to` on (a fusion replaces earlier instructions); the position map
 * forgets entries from there (see map_instr). */
static void cut_to(lower *L, uint32_t to) {
    L->code.n = to;
    if (to < L->cut) L->cut = to;
}

static void patch_chain(lower *L, uint32_t chain, uint32_t target) {
    while (chain != NONE && !L->nomem) {
        uint32_t next = L->code.v[chain];
        L->code.v[chain] = target;
        chain = next;
    }
}

/* A label is about to be bound here: the peephole may not reach across it. */
static void label_here(lower *L) {
    L->last_dst = NONE;
    L->hid_dst = NONE;
    L->copy_pc = NONE;
}

/* s[dst] = s[src]. A COPY right after another (no label between: label_here forgets copy_pc)
 * merges with it: COPY + COPY = COPY2, COPY2 + COPY = COPYN of 3, COPYN of n + COPY = COPYN of
 * n + 1 (up to KP_MAX_COPYN). All copy in the same order: one dispatch instead of several. */
static void emit_copy(lower *L, uint32_t dst, uint32_t src) {
    uint32_t at = L->copy_pc;
    if (at != NONE && !L->nomem) {
        uint32_t *c = L->code.v + at;
        if (c[0] == kpIr_COPY && at + 3 == pc(L)) {
            c[0] = kpIr_COPY2;
            emit(L, dst);
            emit(L, src);
            return;
        }
        if (c[0] == kpIr_COPY2 && at + 5 == pc(L)) {
            emit(L, 0); /* room for the count: shift the two pairs up */
            c = L->code.v + at;
            if (L->nomem) return;
            memmove(c + 2, c + 1, 4 * sizeof *c);
            c[0] = kpIr_COPYN;
            c[1] = 2;
        }
        if (c[0] == kpIr_COPYN && at + 2 + 2 * c[1] == pc(L) && c[1] < KP_MAX_COPYN) {
            c[1]++;
            emit(L, dst);
            emit(L, src);
            return;
        }
    }
    L->copy_pc = pc(L);
    emit(L, kpIr_COPY);
    emit(L, dst);
    emit(L, src);
}

/* ---- Operand stack ---- */

static uint32_t height(const lower *L) { return (uint32_t)L->vt.n; }

static uint32_t slot_at(const lower *L, uint32_t h) {
    return h == 0 ? L->stack_base : L->ns.v[h - 1] + kp_slot_width(L->vt.v[h - 1]);
}

/* Push an operand living at `where` (NONE: its own slot). Returns where it lives. */
static uint32_t push_at(lower *L, kpValType t, uint32_t where) {
    uint32_t s = slot_at(L, height(L));
    if (kpVec_grow(&L->vt) != 0 || kpVec_grow(&L->vs) != 0 || kpVec_grow(&L->ns) != 0) {
        L->nomem = true;
        return s;
    }
    L->vt.v[L->vt.n++] = t;
    L->ns.v[L->ns.n++] = s;
    L->vs.v[L->vs.n++] = where == NONE ? s : where;
    if (where != NONE) L->refpos[L->nrefs++] = height(L) - 1; /* callers keep nrefs < max */
    if (s + kp_slot_width(t) > L->max_slot) L->max_slot = s + kp_slot_width(t);
    return where == NONE ? s : where;
}

static uint32_t push(lower *L, kpValType t) { return push_at(L, t, NONE); }

/* Pop an operand; returns the slot to read it from. */
static uint32_t pop(lower *L) {
    /* Validation guarantees an operand here in reachable code. */
    if (L->vt.n == 0) return L->stack_base;
    L->vt.n--;
    L->ns.n--;
    uint32_t at = L->vs.v[--L->vs.n];
    if (at != L->ns.v[L->ns.n]) L->nrefs--; /* the top operand is the last reference */
    return at;
}

static void truncate_to(lower *L, uint32_t h) {
    while (L->vt.n > h) pop(L);
}

/* ---- Lazy local.get ----
 * local.get pushes no instruction: the operand refers to the local's slot until something could
 * change the local (local.set/tee of it) or the value must sit at its own slot (call arguments,
 * block parameters and results, control-flow joins). Then a COPY puts it there. At block, loop and
 * if entries every reference is materialized, so references never cross a control-flow join. */
/* Materialize the reference refpos[i] and drop it from the list. */
static void materialize(lower *L, uint32_t i) {
    uint32_t k = L->refpos[i], from = L->vs.v[k], to = L->ns.v[k];
    for (uint32_t w = 0; w < kp_slot_width(L->vt.v[k]); w++) { emit_copy(L, to + w, from + w); }
    L->vs.v[k] = to;
    memmove(L->refpos + i, L->refpos + i + 1, (L->nrefs - i - 1) * sizeof *L->refpos);
    L->nrefs--;
    L->last_dst = NONE;
}

/* Materialize references among the top n operands, in increasing position order. */
static void materialize_top(lower *L, uint32_t n) {
    uint32_t h = height(L), first = h >= n ? h - n : 0, i = L->nrefs;
    while (i > 0 && L->refpos[i - 1] >= first) i--;
    while (L->nrefs > i) materialize(L, i);
}

static void materialize_all(lower *L) { materialize_top(L, height(L)); }

static bool refs_to(const lower *L, uint32_t slot) {
    for (uint32_t i = 0; i < L->nrefs; i++)
        if (L->vs.v[L->refpos[i]] == slot) return true;
    return false;
}

static void materialize_local(lower *L, uint32_t slot) {
    for (uint32_t i = 0; i < L->nrefs;) {
        if (L->vs.v[L->refpos[i]] == slot) materialize(L, i);
        else i++;
    }
}

/* ---- Block types ---- */

static uint32_t bt_nparams(const lower *L, const ctl *c) {
    return c->type == NONE ? 0 : L->m->types[c->type].nparams;
}
static uint32_t bt_nresults(const lower *L, const ctl *c) {
    return c->type == NONE ? (c->val ? 1 : 0) : L->m->types[c->type].nresults;
}
static kpValType bt_param(const lower *L, const ctl *c, uint32_t i) {
    return kpFuncType_params(&L->m->types[c->type])[i];
}
static kpValType bt_result(const lower *L, const ctl *c, uint32_t i) {
    return c->type == NONE ? c->val : kpFuncType_results(&L->m->types[c->type])[i];
}

static kapsul_status push_ctl(lower *L, uint8_t kind, const kpInstr *in) {
    ctl c = { .kind = kind, .type = NONE, .val = 0, .u.chain = NONE, .else_site = NONE };
    if (in->block_kind == kpBlock_VAL) c.val = in->type;
    else if (in->block_kind == kpBlock_TYPE) c.type = in->a;
    uint32_t np = bt_nparams(L, &c);
    c.height = height(L) >= np ? height(L) - np : 0;
    if (kpVec_grow(&L->ctls) != 0) return KAPSUL_ERR_NOMEM;
    L->ctls.v[L->ctls.n++] = c;
    return KAPSUL_OK;
}

/* ---- Fuel/interrupt checks ----
 * A CHECK sits at function entry and at every loop header. Its cost is the number of wasm
 * instructions from it to the next `loop` in code order (or the function's end), which makes fuel
 * use a pure function of the executed path (deterministic) without counting every instruction.
 * The count is syntactic: instructions the lowering skips as dead count too, and a dead loop
 * starts a segment of its own that nothing charges, so the native tier, which decides deadness
 * differently, computes the same costs (kpTranslate's fuel_costs; docs/RATIONALE.md). */
static void close_check(lower *L) {
    if (L->check_site != NONE && !L->nomem) {
        uint32_t cost = L->ninstr - L->check_count;
        L->code.v[L->check_site] = cost ? cost : 1;
    }
}

static void emit_check(lower *L) {
    close_check(L);
    emit(L, kpIr_CHECK);
    L->check_site = pc(L);
    L->check_count = L->ninstr;
    emit(L, 1);
}

/* Is the instruction just before this one (nothing emitted since) a value op of `words` words
 * that wrote slot s? Then it may be rewritten. */
static bool prev_wrote(const lower *L, uint32_t s, uint32_t words) {
    return L->prev_dst != NONE && !L->nomem && L->prev_pc + words == pc(L) && L->code.v[L->prev_dst] == s;
}

/* ---- Branches ---- */

static uint32_t label_arity(const lower *L, const ctl *c) {
    return c->kind == C_LOOP ? bt_nparams(L, c) : bt_nresults(L, c);
}

/* Copy the top `arity` operands to the target's slots; true if any copy was needed. */
static bool branch_copies(lower *L, const ctl *t, bool do_emit) {
    uint32_t arity = label_arity(L, t), h = height(L), dst = slot_at(L, t->height);
    bool any = false;
    for (uint32_t i = 0; i < arity && i < h; i++) {
        uint32_t k = h - arity + i;
        kpValType ty = L->vt.v[k];
        for (uint32_t w = 0; w < kp_slot_width(ty); w++) {
            if (L->vs.v[k] + w != dst + w) {
                any = true;
                if (do_emit) { emit_copy(L, dst + w, L->vs.v[k] + w); }
            }
        }
        dst += kp_slot_width(ty);
    }
    return any;
}

static void emit_return(lower *L) {
    const ctl *f = &L->ctls.v[0];
    uint32_t nr = bt_nresults(L, f), h = height(L);
    /* Results must be consecutive. This may sit on a conditional path (br_if, br_table stubs),
     * so the copies do not change where the lowering thinks the operands live. */
    for (uint32_t i = 0; i < L->nrefs; i++) {
        uint32_t k = L->refpos[i];
        if (k + nr < h) continue;
        for (uint32_t w = 0; w < kp_slot_width(L->vt.v[k]); w++) {
            emit_copy(L, L->ns.v[k] + w, L->vs.v[k] + w);
        }
    }
    emit(L, kpIr_RETURN);
    emit(L, slot_at(L, h >= nr ? h - nr : 0));
    emit(L, L->nres_slots);
}

/* Jump target word for a branch to ctl t: loops are known, blocks are chained for patching. */
static void emit_target(lower *L, ctl *t) {
    if (t->kind == C_LOOP) {
        emit(L, t->u.loop_pc + 2); /* past the loop's CHECK: the interpreter's JUMP */
    } else {
        uint32_t site = pc(L);
        emit(L, t->u.chain);
        t->u.chain = site;
    }
}

/* An unconditional branch to label depth `depth`, including the value copies. */
static void emit_br(lower *L, uint32_t depth) {
    ctl *t = &L->ctls.v[L->ctls.n - 1 - depth];
    if (t->kind == C_FUNC) {
        emit_return(L);
        return;
    }
    branch_copies(L, t, true);
    emit(L, kpIr_BR);
    emit_target(L, t);
}

/* Did the value op right before word `end` (known through kprev) write slot d as x + k? Returns
 * the branch family for it: BRA for an I32_ADD_IMM or I32_SUB_IMM (k an immediate), BRR for an
 * I32_ADD (k a slot); 0 for none. */
static uint32_t step_before(const lower *L, uint32_t d, uint32_t end, uint32_t *x, uint32_t *k) {
    if (L->kprev_dst == NONE || L->nomem || L->kprev_pc + 4 != end) return 0;
    uint32_t op = L->code.v[L->kprev_pc];
    if (L->code.v[L->kprev_pc + 1] != d) return 0;
    *x = L->code.v[L->kprev_pc + 2];
    *k = op == kpIr_I32_SUB_IMM ? 0u - L->code.v[L->kprev_pc + 3] : L->code.v[L->kprev_pc + 3];
    if (op == kpIr_I32_ADD_IMM || op == kpIr_I32_SUB_IMM) return kpIr_BRA_I32_EQ;
    return op == kpIr_I32_ADD ? kpIr_BRR_I32_EQ : 0;
}

/* If the condition in slot c was computed by the instruction right before (an i32 compare or
 * eqz), remove it and emit a compare-and-branch: `negate` for branching when false (if). */
static bool fuse_branch(lower *L, uint32_t c, bool negate, ctl *t) {
    if (!prev_wrote(L, c, 4) && !prev_wrote(L, c, 3)) return false;
    uint32_t op = L->code.v[L->prev_pc], a = L->code.v[L->prev_pc + 2], b, bop;
    if (op == kpIr_I32_EQZ && prev_wrote(L, c, 3)) {
        bop = negate ? kpIr_BR_IF : kpIr_BR_IFZ;
        uint32_t cop = L->kprev_dst != NONE && L->kprev_pc + 4 == L->prev_pc ? L->code.v[L->kprev_pc] : 0;
        if (a >= L->stack_base && cop && br_map[cop] && L->code.v[L->kprev_dst] == a) {
            /* `compare; eqz; br_if/if`: branch on the compare itself, negated for br_if */
            if (!negate) cop = negate_map[cop] - 1u;
            uint32_t x = L->code.v[L->kprev_pc + 2], y = L->code.v[L->kprev_pc + 3];
            cut_to(L, L->kprev_pc);
            emit(L, br_map[cop] - 1u);
            emit(L, x);
            emit(L, y);
            emit_target(L, t);
            return true;
        }
        cut_to(L, L->prev_pc);
        emit(L, bop);
        emit(L, a);
        emit_target(L, t);
        return true;
    }
    if (!prev_wrote(L, c, 4) || !br_map[op]) return false;
    if (negate) op = negate_map[op] - 1u;
    b = L->code.v[L->prev_pc + 3];
    bop = br_map[op] - 1u;
    uint32_t x, k, fam = step_before(L, a, L->prev_pc, &x, &k);
    if (fam) { /* `a = x + k; compare a; br_if` */
        cut_to(L, L->kprev_pc);
        emit(L, bra_map[bop] - 1u - kpIr_BRA_I32_EQ + fam);
        emit(L, a);
        emit(L, x);
        emit(L, k);
    } else {
        cut_to(L, L->prev_pc);
        emit(L, bop);
        emit(L, a);
    }
    emit(L, b);
    emit_target(L, t);
    return true;
}

static void lower_br_if(lower *L, uint32_t depth) {
    uint32_t c = pop(L);
    ctl *t = &L->ctls.v[L->ctls.n - 1 - depth];
    if (t->kind != C_FUNC && !branch_copies(L, t, false)) {
        if (fuse_branch(L, c, false, t)) return;
        /* `c = x + k; br_if c` -> BRA_NZ (the step may have been retargeted into a local) */
        uint32_t sp = L->prev_dst != NONE ? L->prev_pc : L->prev_hid_dst != NONE ? L->prev_hid_pc : NONE;
        if (sp != NONE && !L->nomem && sp + 4 == pc(L) && L->code.v[sp + 1] == c &&
            (L->code.v[sp] == kpIr_I32_ADD_IMM || L->code.v[sp] == kpIr_I32_SUB_IMM)) {
            uint32_t x = L->code.v[sp + 2], k = L->code.v[sp + 3];
            if (L->code.v[sp] == kpIr_I32_SUB_IMM) k = 0u - k;
            cut_to(L, sp);
            emit(L, kpIr_BRA_NZ);
            emit(L, c);
            emit(L, x);
            emit(L, k);
            emit_target(L, t);
            return;
        }
        emit(L, kpIr_BR_IF);
        emit(L, c);
        emit_target(L, t);
        return;
    }
    emit(L, kpIr_BR_IFZ);
    emit(L, c);
    uint32_t skip = pc(L);
    emit(L, NONE);
    emit_br(L, depth);
    label_here(L);
    patch_chain(L, skip, pc(L));
}

/* br_table: entries whose label needs value copies (or is the function's) go through a stub
 * emitted right after the table; the others jump straight to their label. */
static kapsul_status lower_br_table(lower *L, const kpInstr *in) {
    uint32_t idx = pop(L), n = in->count;
    kpReader r;
    kpRead_init(&r, L->m->bytes, in->bytes, L->m->bytes + L->m->size);
    emit(L, kpIr_BR_TABLE);
    emit(L, idx);
    emit(L, n);
    uint32_t table = pc(L);
    for (uint32_t i = 0; i <= n; i++) emit(L, NONE);
    if (L->nomem) return KAPSUL_ERR_NOMEM;
    for (uint32_t i = 0; i <= n; i++) {
        uint32_t depth = in->a;
        if (i < n && !kpRead_u32(&r, &depth)) return KAPSUL_ERR_MALFORMED;
        ctl *t = &L->ctls.v[L->ctls.n - 1 - depth];
        if (t->kind != C_FUNC && !branch_copies(L, t, false)) {
            if (t->kind == C_LOOP) {
                L->code.v[table + i] = t->u.loop_pc + 2;
            } else {
                L->code.v[table + i] = t->u.chain;
                t->u.chain = table + i;
            }
            continue;
        }
        label_here(L);
        L->code.v[table + i] = pc(L);
        emit_br(L, depth);
        if (L->nomem) return KAPSUL_ERR_NOMEM;
    }
    return KAPSUL_OK;
}

/* ---- Skipping dead code ---- */

/* Skip instructions until the else/end that closes the current block; leaves r at it. */
static bool skip_dead(lower *L, kpReader *r) {
    uint32_t depth = 0;
    for (;;) {
        const uint8_t *at = r->p;
        kpInstr in;
        if (!kpDecode_next(r, &in)) return false;
        if (in.op == kpOp_LOOP) {
            /* A dead loop still starts a fuel segment, which nothing charges. */
            close_check(L);
            L->check_site = NONE;
            L->check_count = L->ninstr;
        }
        L->ninstr++; /* fuel counts dead code too (see close_check); the else/end is given back */
        switch (in.op) {
        case kpOp_LOOP:
        case kpOp_BLOCK:
        case kpOp_IF: depth++; break;
        case kpOp_ELSE:
            if (depth == 0) {
                r->p = at;
                L->ninstr--;
                return true;
            }
            break;
        case kpOp_END:
            if (depth == 0) {
                r->p = at;
                L->ninstr--;
                return true;
            }
            depth--;
            break;
        default: break;
        }
    }
}

/* ---- Block structure ---- */

static void lower_else(lower *L) {
    ctl *c = &L->ctls.v[L->ctls.n - 1];
    if (c->dead_else) {
        /* The then arm falls through to the end; the else arm is skipped as dead code. */
        if (!L->unreachable) materialize_top(L, bt_nresults(L, c));
        c->kind = C_ELSE;
        L->unreachable = true;
        return;
    }
    if (!L->unreachable) {
        materialize_top(L, bt_nresults(L, c));
        emit(L, kpIr_BR);
        emit_target(L, c);
    }
    label_here(L);
    patch_chain(L, c->else_site, pc(L));
    c->else_site = NONE;
    c->kind = C_ELSE;
    truncate_to(L, c->height);
    for (uint32_t i = 0; i < bt_nparams(L, c); i++) push(L, bt_param(L, c, i));
    L->unreachable = false;
}

/* Returns true when the function's final end was reached. */
static bool lower_end(lower *L) {
    ctl c = L->ctls.v[L->ctls.n - 1];
    if (c.kind == C_FUNC) {
        if (!L->unreachable) emit_return(L);
        return true;
    }
    if (!L->unreachable) materialize_top(L, bt_nresults(L, &c));
    label_here(L);
    if (c.else_site != NONE) patch_chain(L, c.else_site, pc(L));
    if (c.kind != C_LOOP) patch_chain(L, c.u.chain, pc(L));
    L->ctls.n--;
    truncate_to(L, c.height);
    for (uint32_t i = 0; i < bt_nresults(L, &c); i++) push(L, bt_result(L, &c, i));
    L->unreachable = false;
    return false;
}

/* ---- Calls ---- */

static void lower_call_args(lower *L, const kpFuncType *ft, uint32_t *base) {
    materialize_top(L, ft->nparams);
    uint32_t h = height(L);
    uint32_t first = h >= ft->nparams ? h - ft->nparams : 0;
    *base = slot_at(L, first);
    truncate_to(L, first);
}

static void push_results(lower *L, const kpFuncType *ft) {
    const kpValType *res = kpFuncType_results(ft);
    for (uint32_t i = 0; i < ft->nresults; i++) push(L, res[i]);
}

/* ---- Instructions ---- */

static kpValType sig_result(kpOp op) {
    const char *s = strchr(kpOp_info[op].sig, ':');
    switch (s ? s[1] : 0) {
    case 'i': return kpT_I32;
    case 'I': return kpT_I64;
    case 'f': return kpT_F32;
    case 'F': return kpT_F64;
    case 'V': return kpT_V128;
    default: return 0;
    }
}

static void emit_value_op(lower *L, uint32_t irop, uint32_t dst_slot) {
    /* Emitted over the previous op a peephole just dropped: what came before that op still came
     * before this one. Rolled back further: unknown. */
    uint32_t pd = L->prev_dst != NONE ? L->prev_dst : L->prev_hid_dst;
    uint32_t pp = L->prev_dst != NONE ? L->prev_pc : L->prev_hid_pc;
    if (pd == NONE || pc(L) < pp) {
        L->kprev_dst = NONE;
    } else if (pc(L) > pp) {
        L->kprev_dst = pd;
        L->kprev_pc = pp;
    }
    L->last_pc = pc(L);
    emit(L, irop);
    L->last_dst = pc(L);
    emit(L, dst_slot);
}

/* `const; op` -> op_IMM, also `const; local.get; op` for commutative ops (local.get emits
 * nothing). True if the fused instruction was emitted. */
static bool fuse_imm(lower *L, uint32_t op, uint32_t a, uint32_t b, kpValType rt) {
    if (!imm_map[op] || L->prev_dst == NONE || L->nomem) return false;
    uint32_t cop = L->code.v[L->prev_pc];
    bool is64 = op >= kpIr_I64_ADD && op <= kpIr_I64_ROTR;
    uint32_t words = is64 ? 4 : 3, other;
    if (cop != (is64 ? kpIr_CONST64 : kpIr_CONST32)) return false;
    bool commutes = op == kpIr_I32_ADD || op == kpIr_I32_MUL || op == kpIr_I32_AND || op == kpIr_I32_OR ||
                    op == kpIr_I32_XOR || op == kpIr_I32_EQ || op == kpIr_I32_NE || op == kpIr_I64_ADD ||
                    op == kpIr_I64_MUL || op == kpIr_I64_AND || op == kpIr_I64_OR || op == kpIr_I64_XOR;
    if (prev_wrote(L, b, words)) other = a;
    else if (commutes && prev_wrote(L, a, words)) other = b;
    else return false;
    uint32_t lo = L->code.v[L->prev_pc + 2];
    if (is64 && L->code.v[L->prev_pc + 3] != ((lo & 0x80000000u) ? 0xFFFFFFFFu : 0)) return false;
    cut_to(L, L->prev_pc); /* drop the constant */
    if (op == kpIr_I32_AND && other >= L->stack_base && L->kprev_dst != NONE &&
        L->kprev_pc + 4 == L->prev_pc && L->code.v[L->kprev_pc] == kpIr_I32_SHR_U_IMM &&
        L->code.v[L->kprev_dst] == other) {
        uint32_t x = L->code.v[L->kprev_pc + 2], k = L->code.v[L->kprev_pc + 3] & 31;
        cut_to(L, L->kprev_pc); /* `shr_u k; const m; and` -> I32_SHRAND x k m */
        emit_value_op(L, kpIr_I32_SHRAND, push(L, rt));
        emit(L, x);
        emit(L, k);
        emit(L, lo);
        return true;
    }
    uint32_t d = push(L, rt);
    emit_value_op(L, imm_map[op] - 1u, d);
    emit(L, other);
    emit(L, lo);
    return true;
}

/* Was operand slot s (a stack slot, not a local's) written by a constant right before this
 * instruction? Then *imm is its value (64-bit constants only when they sign-extend from 32 bits). */
static bool const_operand(const lower *L, uint32_t s, bool is64, uint32_t *imm) {
    uint32_t words = is64 ? 4 : 3;
    if (L->prev_dst == NONE || s < L->stack_base || !prev_wrote(L, s, words)) return false;
    if (L->code.v[L->prev_pc] != (is64 ? kpIr_CONST64 : kpIr_CONST32)) return false;
    *imm = L->code.v[L->prev_pc + 2];
    return !is64 || L->code.v[L->prev_pc + 3] == ((*imm & 0x80000000u) ? 0xFFFFFFFFu : 0);
}

/* Was slot s (an operand-stack temporary) computed by an I32_ADD or I32_ADDSHL that starts at
 * word `at` and ends right at word `end`? Then *x, *y, *k describe the sum x + (y << k). */
static bool addr_sum(const lower *L, uint32_t s, uint32_t at, uint32_t end, uint32_t *x, uint32_t *y,
                     uint32_t *k) {
    if (at == NONE || L->nomem || s < L->stack_base || L->code.v[at + 1] != s) return false;
    uint32_t op = L->code.v[at];
    if (!((op == kpIr_I32_ADD && at + 4 == end) || (op == kpIr_I32_ADDSHL && at + 5 == end))) return false;
    *x = L->code.v[at + 2];
    *y = L->code.v[at + 3];
    *k = op == kpIr_I32_ADDSHL ? L->code.v[at + 4] : 0;
    return true;
}

/* The fused pairs of ir.h: `t = x inner y` right before `outer`. `mask` != 0: y is an immediate
 * taken mod mask + 1. `commutes`: `t outer a` may be fused too. */
static const struct pair_rule {
    uint16_t outer, inner, fused;
    uint8_t mask;
    bool commutes;
} pair_rules[] = {
    { kpIr_I32_ADD, kpIr_I32_SHL_IMM, kpIr_I32_ADDSHL, 31, true },
    { kpIr_I32_XOR, kpIr_I32_ROTL_IMM, kpIr_I32_XORROTL, 31, true },
    { kpIr_I32_XOR, kpIr_I32_SHR_U_IMM, kpIr_I32_XORSHRU, 31, true },
    { kpIr_I32_ADD, kpIr_I32_MUL, kpIr_I32_MULADD, 0, true },
    { kpIr_F32_ADD, kpIr_F32_MUL, kpIr_F32_MULADD, 0, true },
    { kpIr_F32_SUB, kpIr_F32_MUL, kpIr_F32_MULSUB, 0, false },
    { kpIr_F64_ADD, kpIr_F64_MUL, kpIr_F64_MULADD, 0, true },
    { kpIr_F64_SUB, kpIr_F64_MUL, kpIr_F64_MULSUB, 0, false },
    { kpIr_I32_ADD, kpIr_I32_ADD, kpIr_I32_ADD3, 0, true },
    { kpIr_F32_MUL, kpIr_F32_MUL, kpIr_F32_MULMUL, 0, true },
    { kpIr_F64_MUL, kpIr_F64_MUL, kpIr_F64_MULMUL, 0, true },
    { kpIr_F64_ADD, kpIr_F64_LOAD, kpIr_F64_ADDLD, 0, true },
    { kpIr_F64_SUB, kpIr_F64_LOAD, kpIr_F64_SUBLD, 0, false },
    { kpIr_F64_MUL, kpIr_F64_LOAD, kpIr_F64_MULLD, 0, true },
    { kpIr_F64_ADD, kpIr_F64_LOAD_ADD, kpIr_F64_ADDLDA, 0, true },
    { kpIr_F64_SUB, kpIr_F64_LOAD_ADD, kpIr_F64_SUBLDA, 0, false },
    { kpIr_F64_MUL, kpIr_F64_LOAD_ADD, kpIr_F64_MULLDA, 0, true },
    { kpIr_I32_ADD, kpIr_I32_ADD3, kpIr_I32_ADD4, 0, true },
    { kpIr_F64_SUB, kpIr_F64_MULMUL, kpIr_F64_SUBMM, 0, false },
};

/* The fused instruction is "dst other" followed by the inner one's operands (all its words after
 * its dst), the last one masked for immediate shift counts. */
static bool fuse_pair(lower *L, uint32_t op, uint32_t a, uint32_t b, kpValType rt) {
    if (L->prev_dst == NONE || L->nomem) return false;
    uint32_t inner = L->code.v[L->prev_pc], other, w[4];
    for (size_t i = 0; i < sizeof pair_rules / sizeof pair_rules[0]; i++) {
        const struct pair_rule *r = &pair_rules[i];
        if (r->outer != op || r->inner != inner) continue;
        uint32_t words = kpCode_words(L->code.v + L->prev_pc), n = words - 2;
        if (b >= L->stack_base && prev_wrote(L, b, words)) other = a;
        else if (r->commutes && a >= L->stack_base && prev_wrote(L, a, words)) other = b;
        else return false;
        memcpy(w, L->code.v + L->prev_pc + 2, n * sizeof *w);
        if (r->mask) w[n - 1] &= r->mask;
        /* rotl(x, j) ^ rotl(y, k): the other operand was itself rotated right before. */
        if (r->fused == kpIr_I32_XORROTL && other >= L->stack_base && L->kprev_dst != NONE &&
            L->kprev_pc + 4 == L->prev_pc && L->code.v[L->kprev_pc] == kpIr_I32_ROTL_IMM &&
            L->code.v[L->kprev_dst] == other) {
            uint32_t x = L->code.v[L->kprev_pc + 2], j = L->code.v[L->kprev_pc + 3] & 31;
            cut_to(L, L->kprev_pc);
            emit_value_op(L, kpIr_I32_ROTXOR, push(L, rt));
            emit(L, x);
            emit(L, j);
            emit(L, w[0]);
            emit(L, w[1]);
            return true;
        }
        cut_to(L, L->prev_pc);
        emit_value_op(L, r->fused, push(L, rt));
        emit(L, other);
        for (uint32_t k = 0; k < n; k++) emit(L, w[k]);
        return true;
    }
    return false;
}

/* SIMD: one generic path. The operands come from the signature in opcodes.def; a v128 result
 * takes two slots (push counts them). v128.const, i8x16.shuffle and the memory instructions carry
 * their immediates in their own IR forms (ir.h). */
static kapsul_status lower_simd(lower *L, const kpInstr *in) {
    kpOp op = (kpOp)in->op;
    const kpOpInfo *info = &kpOp_info[op];
    const char *colon = strchr(info->sig, ':');
    uint32_t nargs = colon ? (uint32_t)(colon - info->sig) : 0, s[3] = { 0, 0, 0 }, w[4];
    kpValType rt = sig_result(op);
    for (uint32_t k = nargs; k > 0 && k <= 3; k--) s[k - 1] = pop(L);
    if (op == kpOp_V128_LOAD || op == kpOp_V128_STORE) {
        if (op == kpOp_V128_LOAD) emit_value_op(L, kpIr_V128_LOAD, push(L, rt));
        else {
            L->last_dst = NONE;
            emit(L, kpIr_V128_STORE);
        }
        emit(L, s[0]);
        if (op == kpOp_V128_STORE) emit(L, s[1]);
        emit(L, in->b);
        return KAPSUL_OK;
    }
    if (info->imm == kpImm_MEMARG || info->imm == kpImm_MEMLANE) {
        if (rt) emit_value_op(L, kpIr_SIMD_MEM, push(L, rt));
        else {
            L->last_dst = NONE;
            emit(L, kpIr_SIMD_MEM);
            emit(L, 0);
        }
        emit(L, op);
        emit(L, s[0]);
        emit(L, nargs > 1 ? s[1] : 0);
        emit(L, in->b);
        emit(L, in->lane);
        emit(L, 1u << info->align);
        return KAPSUL_OK;
    }
    if (info->imm == kpImm_V128 || info->imm == kpImm_SHUFFLE) {
        memcpy(w, in->bytes, 16);
        emit_value_op(L, info->imm == kpImm_V128 ? kpIr_V128_CONST : kpIr_SHUFFLE, push(L, rt));
        if (info->imm == kpImm_SHUFFLE) {
            emit(L, s[0]);
            emit(L, s[1]);
        }
        for (int k = 0; k < 4; k++) emit(L, w[k]);
        return KAPSUL_OK;
    }
    if (simd_fast_map[op]) { /* "dst a b", or "dst a lane" for extract_lane */
        emit_value_op(L, simd_fast_map[op] - 1u, push(L, rt));
        emit(L, s[0]);
        emit(L, info->imm == kpImm_LANE ? in->lane : s[1]);
        return KAPSUL_OK;
    }
    emit_value_op(L, kpIr_SIMD, push(L, rt));
    emit(L, op);
    for (int k = 0; k < 3; k++) emit(L, s[k]);
    emit(L, in->lane);
    return KAPSUL_OK;
}

/* Memory, numeric and constant instructions: everything without control flow. */
static kapsul_status lower_simple(lower *L, const kpInstr *in) {
    kpOp op = (kpOp)in->op;
    uint16_t ir = direct_map[op];
    if (ir) {
        const char *sig = kpOp_info[op].sig;
        const char *colon = strchr(sig, ':');
        uint32_t nargs = colon ? (uint32_t)(colon - sig) : 0;
        bool is_mem = kpOp_info[op].imm == kpImm_MEMARG;
        kpValType rt = sig_result(op);
        if (is_mem && !rt) { /* store: addr val offset */
            uint32_t v = pop(L), a = pop(L), imm, x, y, k;
            L->last_dst = NONE;
            if (const_operand(L, v, ir - 1u == kpIr_I64_STORE, &imm) && store_imm_map[ir - 1u]) {
                uint32_t sop = store_imm_map[ir - 1u] - 1u;
                if (L->kprev_dst != NONE && addr_sum(L, a, L->kprev_pc, L->prev_pc, &x, &y, &k)) {
                    cut_to(L, L->kprev_pc); /* `add; const; store` -> store_IMM_X */
                    emit(L, sop - kpIr_I32_STORE_IMM + kpIr_I32_STORE_IMM_X);
                    emit(L, x);
                    emit(L, y);
                    emit(L, k);
                    emit(L, imm);
                    emit(L, in->b);
                    return KAPSUL_OK;
                }
                cut_to(L, L->prev_pc); /* drop the constant: `const; store` -> store_IMM */
                emit(L, sop);
                emit(L, a);
                emit(L, imm);
                emit(L, in->b);
                return KAPSUL_OK;
            }
            if (ir - 1u == kpIr_F64_STORE && v >= L->stack_base && prev_wrote(L, v, 5) &&
                L->code.v[L->prev_pc] == kpIr_F64_ADDLD && L->code.v[L->prev_pc + 3] == a &&
                L->code.v[L->prev_pc + 4] == in->b) {
                uint32_t addend = L->code.v[L->prev_pc + 2];
                if (addend >= L->stack_base && L->kprev_dst != NONE && L->kprev_pc + 5 == L->prev_pc &&
                    L->code.v[L->kprev_pc] == kpIr_F64_MULMUL && L->code.v[L->kprev_dst] == addend) {
                    const uint32_t *mm = L->code.v + L->kprev_pc; /* MULMUL t b x y */
                    uint32_t b = mm[2], x = mm[3], y = mm[4];
                    cut_to(L, L->kprev_pc); /* `(x * y) * b + load p; store p` -> MMADDTO */
                    emit(L, kpIr_F64_MMADDTO);
                    emit(L, b);
                    emit(L, x);
                    emit(L, y);
                    emit(L, a);
                    emit(L, in->b);
                    return KAPSUL_OK;
                }
                cut_to(L, L->prev_pc); /* `x + load p; store p` (same p, offset) -> ADDTO */
                emit(L, kpIr_F64_ADDTO);
                emit(L, addend);
                emit(L, a);
                emit(L, in->b);
                return KAPSUL_OK;
            }
            if (L->prev_dst != NONE && addr_sum(L, a, L->prev_pc, pc(L), &x, &y, &k)) {
                cut_to(L, L->prev_pc); /* `add; local.get; store` -> store_X */
                emit(L, ir - 1u - kpIr_I32_STORE + kpIr_I32_STORE_X);
                emit(L, x);
                emit(L, y);
                emit(L, k);
                emit(L, v);
                emit(L, in->b);
                return KAPSUL_OK;
            }
            emit(L, ir - 1u);
            emit(L, a);
            emit(L, v);
            emit(L, in->b);
            return KAPSUL_OK;
        }
        uint32_t b = nargs == 2 ? pop(L) : 0;
        uint32_t a = pop(L);
        if (is_mem && load_add_map[ir - 1u] && L->prev_dst != NONE && a >= L->stack_base &&
            prev_wrote(L, a, 4) &&
            (L->code.v[L->prev_pc] == kpIr_I32_ADD_IMM || L->code.v[L->prev_pc] == kpIr_I32_SUB_IMM)) {
            /* `i32.add/sub x const; load` -> load_ADD x imm (the add still wraps at 32 bits). */
            uint32_t x = L->code.v[L->prev_pc + 2], imm = L->code.v[L->prev_pc + 3];
            if (L->code.v[L->prev_pc] == kpIr_I32_SUB_IMM) imm = 0u - imm;
            if (ir - 1u == kpIr_I32_LOAD && x >= L->stack_base && L->kprev_dst != NONE &&
                L->kprev_pc + 4 == L->prev_pc && L->code.v[L->kprev_pc] == kpIr_I32_SHL_IMM &&
                L->code.v[L->kprev_dst] == x) {
                uint32_t y = L->code.v[L->kprev_pc + 2], k = L->code.v[L->kprev_pc + 3] & 31;
                cut_to(L, L->kprev_pc); /* `shl y k; add imm; load` -> I32_LOAD_SA */
                emit_value_op(L, kpIr_I32_LOAD_SA, push(L, rt));
                emit(L, y);
                emit(L, k);
                emit(L, imm);
                emit(L, in->b);
                return KAPSUL_OK;
            }
            cut_to(L, L->prev_pc);
            emit_value_op(L, load_add_map[ir - 1u] - 1u, push(L, rt));
            emit(L, x);
            emit(L, imm);
            emit(L, in->b);
            return KAPSUL_OK;
        }
        uint32_t x, y, k;
        if (is_mem && L->prev_dst != NONE && addr_sum(L, a, L->prev_pc, pc(L), &x, &y, &k)) {
            cut_to(L, L->prev_pc); /* `add; load` -> load_X */
            emit_value_op(L, ir - 1u - kpIr_I32_LOAD + kpIr_I32_LOAD_X, push(L, rt));
            emit(L, x);
            emit(L, y);
            emit(L, k);
            emit(L, in->b);
            return KAPSUL_OK;
        }
        if (nargs == 2 && !is_mem && fuse_imm(L, ir - 1u, a, b, rt)) return KAPSUL_OK;
        if (nargs == 2 && !is_mem && fuse_pair(L, ir - 1u, a, b, rt)) return KAPSUL_OK;
        uint32_t d = push(L, rt);
        emit_value_op(L, ir - 1u, d);
        emit(L, a);
        if (nargs == 2) emit(L, b);
        if (is_mem) emit(L, in->b);
        return KAPSUL_OK;
    }
    switch (op) {
    case kpOp_I32_CONST:
    case kpOp_F32_CONST:
        emit_value_op(L, kpIr_CONST32, push(L, op == kpOp_I32_CONST ? kpT_I32 : kpT_F32));
        emit(L, (uint32_t)in->bits);
        return KAPSUL_OK;
    case kpOp_I64_CONST:
    case kpOp_F64_CONST:
        emit_value_op(L, kpIr_CONST64, push(L, op == kpOp_I64_CONST ? kpT_I64 : kpT_F64));
        emit(L, (uint32_t)in->bits);
        emit(L, (uint32_t)(in->bits >> 32));
        return KAPSUL_OK;
    default: return kpOp_info[op].prefix == 0xFD ? lower_simd(L, in) : KAPSUL_ERR_INVALID;
    }
}

static const local_run *find_local(const lower *L, uint32_t idx) {
    size_t lo = 0, hi = L->lruns.n; /* runs[lo].first <= idx < runs[hi].first */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (L->lruns.v[mid].first <= idx) lo = mid;
        else hi = mid;
    }
    return &L->lruns.v[lo];
}
static kpValType local_type(const lower *L, uint32_t idx) { return find_local(L, idx)->type; }
static uint32_t local_slot(const lower *L, uint32_t idx) {
    const local_run *r = find_local(L, idx);
    return r->slot + (idx - r->first) * kp_slot_width(r->type);
}

static kapsul_status lower_variable(lower *L, const kpInstr *in) {
    uint32_t s, v, i, n, d;
    switch (in->op) {
    case kpOp_LOCAL_GET:
        if (L->nrefs < KP_MAX_REFS) {
            push_at(L, local_type(L, in->a), local_slot(L, in->a));
            L->last_dst = L->prev_dst;
            L->hid_dst = L->prev_hid_dst;
            L->hid_pc = L->prev_hid_pc;
            return KAPSUL_OK;
        }
        d = push(L, local_type(L, in->a));
        for (uint32_t w = 0, ls = local_slot(L, in->a); w < kp_slot_width(local_type(L, in->a)); w++) {
            emit_copy(L, d + w, ls + w);
        }
        return KAPSUL_OK;
    case kpOp_LOCAL_SET:
    case kpOp_LOCAL_TEE: {
        uint32_t ls = local_slot(L, in->a), width = kp_slot_width(local_type(L, in->a));
        bool tee = in->op == kpOp_LOCAL_TEE;
        s = tee ? L->vs.v[height(L) - 1] : pop(L);
        if (s == ls) return KAPSUL_OK; /* local.get x; local.set x */
        /* Peephole: the value was just computed into its own slot; compute it into the local
         * instead, unless an older operand still refers to the local's old value. (Also for
         * v128: every IR instruction that produces one reads all its operands first.) */
        if (L->prev_dst != NONE && L->code.v[L->prev_dst] == s && !refs_to(L, ls) && L->nrefs < KP_MAX_REFS) {
            L->code.v[L->prev_dst] = ls;
            L->hid_dst = L->prev_dst;
            L->hid_pc = L->prev_pc;
            if (tee) {
                L->vs.v[height(L) - 1] = ls; /* the operand now lives in the local */
                L->refpos[L->nrefs++] = height(L) - 1;
            }
            return KAPSUL_OK;
        }
        materialize_local(L, ls);
        for (uint32_t w = 0; w < width; w++) { emit_copy(L, ls + w, s + w); }
        L->last_dst = NONE;
        return KAPSUL_OK;
    }
    case kpOp_GLOBAL_GET:
        if (kpModule_globalType(L->m, in->a).type == kpT_V128) {
            emit_value_op(L, kpIr_GLOBAL_GET128, push(L, kpT_V128));
            emit(L, in->a);
            return KAPSUL_OK;
        }
        emit_value_op(L, kpIr_GLOBAL_GET, push(L, kpModule_globalType(L->m, in->a).type));
        emit(L, in->a);
        return KAPSUL_OK;
    case kpOp_GLOBAL_SET:
        s = pop(L);
        L->last_dst = NONE;
        emit(L, kpModule_globalType(L->m, in->a).type == kpT_V128 ? kpIr_GLOBAL_SET128 : kpIr_GLOBAL_SET);
        emit(L, in->a);
        emit(L, s);
        return KAPSUL_OK;
    case kpOp_TABLE_GET:
        i = pop(L);
        emit_value_op(L, kpIr_TABLE_GET, push(L, kpModule_tableType(L->m, in->a).elem));
        emit(L, in->a);
        emit(L, i);
        return KAPSUL_OK;
    case kpOp_TABLE_SET:
        v = pop(L);
        i = pop(L);
        L->last_dst = NONE;
        emit(L, kpIr_TABLE_SET);
        emit(L, in->a);
        emit(L, i);
        emit(L, v);
        return KAPSUL_OK;
    case kpOp_TABLE_SIZE:
        L->last_dst = NONE;
        emit(L, kpIr_TABLE_SIZE);
        emit(L, in->a);
        emit(L, push(L, kpT_I32));
        return KAPSUL_OK;
    case kpOp_TABLE_GROW:
        n = pop(L);
        v = pop(L);
        d = push(L, kpT_I32);
        L->last_dst = NONE;
        emit(L, kpIr_TABLE_GROW);
        emit(L, in->a);
        emit(L, d);
        emit(L, v);
        emit(L, n);
        return KAPSUL_OK;
    case kpOp_TABLE_FILL:
        n = pop(L);
        v = pop(L);
        i = pop(L);
        L->last_dst = NONE;
        emit(L, kpIr_TABLE_FILL);
        emit(L, in->a);
        emit(L, i);
        emit(L, v);
        emit(L, n);
        return KAPSUL_OK;
    default: return lower_simple(L, in);
    }
}

/* Bulk memory/table instructions with three i32 operands, plus the drops and references. */
static kapsul_status lower_bulk(lower *L, const kpInstr *in) {
    uint32_t n, s, d;
    L->last_dst = NONE;
    switch (in->op) {
    case kpOp_MEMORY_INIT:
    case kpOp_MEMORY_COPY:
    case kpOp_MEMORY_FILL:
    case kpOp_TABLE_INIT:
    case kpOp_TABLE_COPY:
        n = pop(L);
        s = pop(L);
        d = pop(L);
        if (in->op == kpOp_MEMORY_INIT) {
            emit(L, kpIr_MEMORY_INIT);
            emit(L, in->a);
        } else if (in->op == kpOp_MEMORY_COPY) emit(L, kpIr_MEMORY_COPY);
        else if (in->op == kpOp_MEMORY_FILL) emit(L, kpIr_MEMORY_FILL);
        else if (in->op == kpOp_TABLE_INIT) {
            emit(L, kpIr_TABLE_INIT);
            emit(L, in->b);
            emit(L, in->a);
        } else {
            emit(L, kpIr_TABLE_COPY);
            emit(L, in->a);
            emit(L, in->b);
        }
        emit(L, d);
        emit(L, s);
        emit(L, n);
        return KAPSUL_OK;
    case kpOp_DATA_DROP:
        emit(L, kpIr_DATA_DROP);
        emit(L, in->a);
        return KAPSUL_OK;
    case kpOp_ELEM_DROP:
        emit(L, kpIr_ELEM_DROP);
        emit(L, in->a);
        return KAPSUL_OK;
    case kpOp_MEMORY_SIZE: emit_value_op(L, kpIr_MEMORY_SIZE, push(L, kpT_I32)); return KAPSUL_OK;
    case kpOp_MEMORY_GROW:
        n = pop(L);
        emit(L, kpIr_MEMORY_GROW);
        emit(L, push(L, kpT_I32));
        emit(L, n);
        return KAPSUL_OK;
    case kpOp_REF_NULL:
        emit_value_op(L, kpIr_CONST32, push(L, in->type));
        emit(L, 0);
        return KAPSUL_OK;
    case kpOp_REF_IS_NULL:
        s = pop(L);
        emit_value_op(L, kpIr_REF_IS_NULL, push(L, kpT_I32));
        emit(L, s);
        return KAPSUL_OK;
    case kpOp_REF_FUNC:
        emit_value_op(L, kpIr_REF_FUNC, push(L, kpT_FUNCREF));
        emit(L, in->a);
        return KAPSUL_OK;
    default: return lower_variable(L, in);
    }
}

/* Control instructions; everything else is delegated. *done is set at the function's end. */
static kapsul_status lower_instr(lower *L, const kpInstr *in, bool *done) {
    kapsul_status st = KAPSUL_OK;
    uint32_t base, c;
    const kpFuncType *ft;
    /* Only the instruction right before may be rewritten by a peephole; local.get emits nothing
     * and keeps that instruction "right before". */
    L->prev_dst = L->last_dst;
    L->prev_pc = L->last_pc;
    L->last_dst = NONE;
    L->prev_hid_dst = L->hid_dst;
    L->prev_hid_pc = L->hid_pc;
    L->hid_dst = NONE;
    switch (in->op) {
    case kpOp_UNREACHABLE:
        emit(L, kpIr_UNREACHABLE);
        L->unreachable = true;
        break;
    case kpOp_NOP: break;
    case kpOp_BLOCK:
        materialize_all(L);
        label_here(L);
        st = push_ctl(L, C_BLOCK, in);
        break;
    case kpOp_LOOP:
        materialize_all(L);
        label_here(L);
        st = push_ctl(L, C_LOOP, in);
        if (st == KAPSUL_OK) {
            L->ctls.v[L->ctls.n - 1].u.loop_pc = pc(L);
            emit_check(L);
        }
        break;
    case kpOp_IF: {
        c = pop(L);
        uint32_t before = pc(L);
        materialize_all(L);
        if (pc(L) != before) L->prev_dst = NONE;
        label_here(L);
        st = push_ctl(L, C_IF, in);
        if (st != KAPSUL_OK) break;
        ctl *t = &L->ctls.v[L->ctls.n - 1];
        if (prev_wrote(L, c, 3) && L->code.v[L->prev_pc] == kpIr_CONST32) {
            /* A constant condition: no test, and the arm never taken is lowered as dead code
             * (a million nested `if (i32.const 1)` then cost no code at all). */
            bool taken = L->code.v[L->prev_pc + 2] != 0;
            cut_to(L, L->prev_pc);
            t->dead_else = taken;
            L->unreachable = !taken;
            break;
        }
        /* The else target is chained through else_site like any forward branch. */
        uint32_t saved = t->u.chain;
        t->u.chain = NONE;
        if (fuse_branch(L, c, true, t)) {
            t->else_site = t->u.chain;
            t->u.chain = saved;
            break;
        }
        t->u.chain = saved;
        emit(L, kpIr_BR_IFZ);
        emit(L, c);
        t->else_site = pc(L);
        emit(L, NONE);
        break;
    }
    case kpOp_ELSE: lower_else(L); break;
    case kpOp_END: *done = lower_end(L); break;
    case kpOp_BR:
        emit_br(L, in->a);
        L->unreachable = true;
        break;
    case kpOp_BR_IF: lower_br_if(L, in->a); break;
    case kpOp_BR_TABLE:
        st = lower_br_table(L, in);
        L->unreachable = true;
        break;
    case kpOp_RETURN:
        emit_return(L);
        L->unreachable = true;
        break;
    case kpOp_CALL:
        ft = &L->m->types[L->cx->func_types[in->a]];
        lower_call_args(L, ft, &base);
        emit(L, kpIr_CALL);
        emit(L, in->a);
        emit(L, base);
        push_results(L, ft);
        break;
    case kpOp_CALL_INDIRECT:
        ft = &L->m->types[in->a];
        c = pop(L);
        lower_call_args(L, ft, &base);
        emit(L, kpIr_CALL_INDIRECT);
        emit(L, L->cx->type_ids[in->a]);
        emit(L, in->b);
        emit(L, c);
        emit(L, base);
        push_results(L, ft);
        break;
    case kpOp_DROP: pop(L); break;
    case kpOp_SELECT:
    case kpOp_SELECT_T: {
        c = pop(L);
        uint32_t b = pop(L);
        kpValType t = L->vt.n ? L->vt.v[L->vt.n - 1] : kpT_I32;
        uint32_t a = pop(L);
        if (t == kpT_V128) { /* two one-slot selects; the second reads only the upper halves */
            uint32_t d = push(L, t);
            for (uint32_t w = 0; w < 2; w++) {
                emit(L, kpIr_SELECT);
                emit(L, d + w);
                emit(L, c);
                emit(L, a + w);
                emit(L, b + w);
            }
            break;
        }
        /* `i32.eqz; select` selects with the operands swapped on the eqz's input. */
        if (prev_wrote(L, c, 3) && L->code.v[L->prev_pc] == kpIr_I32_EQZ) {
            uint32_t swap = a;
            c = L->code.v[L->prev_pc + 2];
            cut_to(L, L->prev_pc);
            a = b;
            b = swap;
        }
        emit_value_op(L, kpIr_SELECT, push(L, t));
        emit(L, c);
        emit(L, a);
        emit(L, b);
        break;
    }
    default: L->ninstr++; return lower_bulk(L, in);
    }
    L->ninstr++;
    return st;
}

/* ---- Function setup ---- */

static kapsul_status setup_locals(lower *L, const kpFuncType *ft, const kpFunc *f, kpCode *out) {
    L->nlocals = ft->nparams + f->nlocals;
    uint64_t slot = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i <= f->nlocal_runs; i++) {
        /* Each parameter is a run of one; then the declared runs (empty ones skipped). */
        bool param = i == 0;
        uint32_t nruns = param ? ft->nparams : 1;
        for (uint32_t j = 0; j < nruns; j++) {
            kpValType t = param ? ft->types[j] : f->local_runs[i - 1].type;
            uint32_t count = param ? 1 : f->local_runs[i - 1].count;
            if (count == 0) continue;
            if (kpVec_grow(&L->lruns) != 0) return KAPSUL_ERR_NOMEM;
            L->lruns.v[L->lruns.n++] = (local_run){ .first = k, .slot = (uint32_t)slot, .type = t };
            k += count;
            slot += (uint64_t)count * kp_slot_width(t);
            if (slot > (1u << 24)) return KAPSUL_ERR_LIMIT;
        }
        if (param) out->nparam_slots = (uint32_t)slot;
    }
    out->nlocal_slots = (uint32_t)slot - out->nparam_slots;
    uint32_t rs = 0;
    for (uint32_t i = 0; i < ft->nresults; i++) rs += kp_slot_width(kpFuncType_results(ft)[i]);
    out->nresult_slots = L->nres_slots = rs;
    L->stack_base = L->max_slot = (uint32_t)slot;
    return KAPSUL_OK;
}

/* ---- The position map ----
 * Which wasm instruction each stretch of IR came from, so a trap or a call site can be reported
 * by its offset in the module. Lowering records one (IR word, module offset) pair per wasm
 * instruction that emitted code; a fusion that cuts earlier instructions back takes their words
 * over (a fused form is attributed to its last wasm instruction: the load, store or branch that
 * absorbed an add or a compare). Kept as delta-encoded LEB128 bytes, about 2 bytes per
 * instruction; looked up only when a trap or a profile sample is symbolized. */
static size_t put_uleb(uint8_t *p, uint32_t v) {
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        p[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}
static size_t put_sleb(uint8_t *p, int64_t v) {
    size_t n = 0;
    for (;;) {
        uint8_t b = v & 0x7f;
        v >>= 7; /* arithmetic shift on every compiler kapsul supports */
        bool last = (v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40));
        p[n++] = (uint8_t)(b | (last ? 0 : 0x80));
        if (last) return n;
    }
}

/* Append the oldest pending pair to the encoded map, as deltas from the last committed one. */
/* Append the oldest k pending pairs to the encoded map, as deltas from the last committed one. */
static void commit_pairs(lower *L, uint32_t k) {
    while (L->map.cap - L->map.n < 16 * (size_t)k && !L->nomem) {
        size_t n = L->map.n;
        L->map.n = L->map.cap; /* kpVec_grow makes room for one more past n */
        if (kpVec_grow(&L->map) != 0) L->nomem = true;
        L->map.n = n;
    }
    if (L->nomem) return;
    for (uint32_t i = 0; i < k; i++) {
        uint8_t *p = L->map.v + L->map.n;
        size_t a = put_uleb(p, L->pend[i][0] - L->map_ir);
        a += put_sleb(p + a, (int64_t)L->pend[i][1] - (int64_t)L->map_off);
        L->map.n += a;
        L->map_ir = L->pend[i][0];
        L->map_off = L->pend[i][1];
    }
    L->npend -= k;
    memmove(L->pend[0], L->pend[k], (size_t)L->npend * sizeof L->pend[0]);
}

static void map_instr(lower *L, uint32_t p0, uint32_t offset) {
    if (L->nomem) return; /* the map is dropped: encode_map reports it */
    uint32_t from = L->cut < p0 ? L->cut : p0;
    while (L->npend && L->pend[L->npend - 1][0] >= from) L->npend--;
    if (L->map.n && from <= L->map_ir) from = L->map_ir + 1; /* a cut past the open pairs */
    if (pc(L) <= from) return;
    if (L->npend && L->pend[L->npend - 1][1] == offset) return;
    if (!L->npend && L->map.n && L->map_off == offset) return;
    if (L->npend == 8) commit_pairs(L, 6);
    if (L->nomem) return; /* commit_pairs could not grow the map */
    L->pend[L->npend][0] = from;
    L->pend[L->npend++][1] = offset;
}

/* Move the finished map into out->pcmap. */
static kapsul_status encode_map(lower *L, uint32_t body_offset, kpCode *out) {
    commit_pairs(L, L->npend);
    if (L->nomem) return KAPSUL_ERR_NOMEM;
    uint8_t *p = L->map.n ? kp_realloc(L->map.v, L->map.n) : NULL;
    out->pcmap = p ? p : L->map.v;
    out->pcmap_len = (uint32_t)L->map.n;
    out->body_offset = body_offset;
    L->map.v = NULL;
    L->map.n = L->map.cap = 0;
    return KAPSUL_OK;
}

static kapsul_status lower_body(lower *L, const kpFunc *f, kapsul_error *err) {
    kpReader r;
    kpRead_init(&r, L->m->bytes, L->m->bytes + f->body.start, L->m->bytes + f->body.start + f->body.len);
    bool done = false;
    while (!done) {
        if (L->unreachable && !skip_dead(L, &r))
            return kpError_set(err, KAPSUL_ERR_MALFORMED, kpRead_offset(&r), "%s",
                               r.error ? r.error : "bad body");
        kpInstr in;
        if (!kpDecode_next(&r, &in))
            return kpError_set(err, KAPSUL_ERR_MALFORMED, kpRead_offset(&r), "%s",
                               r.error ? r.error : "bad body");
        uint32_t p0 = pc(L);
        L->cut = p0;
        kapsul_status st = lower_instr(L, &in, &done);
        map_instr(L, p0, in.offset);
        if (L->too_large)
            return kpError_set(err, KAPSUL_ERR_LIMIT, f->body_offset, "function too large after lowering");
        if (L->nomem) st = KAPSUL_ERR_NOMEM;
        if (st == KAPSUL_ERR_INVALID)
            return kpError_set(err, KAPSUL_ERR_LIMIT, in.offset,
                               "instruction %s not supported by the engine yet", kpOp_info[in.op].name);
        if (st != KAPSUL_OK) return kpError_set(err, st, in.offset, "lowering failed");
        if (L->ctls.n == 0) break;
    }
    close_check(L);
    return KAPSUL_OK;
}

kapsul_status kpLower_function(const kpLowerCtx *cx, uint32_t i, kpCode *out, kapsul_error *err) {
    lower L;
    memset(&L, 0, sizeof L);
    memset(out, 0, sizeof *out);
    L.cx = cx;
    L.m = cx->m;
    L.last_dst = L.check_site = L.copy_pc = L.kprev_dst = L.hid_dst = NONE;
    const kpFunc *f = &cx->m->funcs[i];
    L.map_off = f->body_offset;
    const kpFuncType *ft = &cx->m->types[f->type];
    kapsul_status st = setup_locals(&L, ft, f, out);
    if (st != KAPSUL_OK) {
        kpError_set(err, st, f->body_offset, st == KAPSUL_ERR_NOMEM ? "out of memory" : "too many locals");
        goto fail;
    }
    /* The function body is a block whose label is the return. */
    if (kpVec_grow(&L.ctls) != 0) {
        st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        goto fail;
    }
    L.ctls.v[L.ctls.n++] =
        (ctl){ .kind = C_FUNC, .type = f->type, .height = 0, .u.chain = NONE, .else_site = NONE };
    emit_check(&L);
    st = lower_body(&L, f, err);
    if (st != KAPSUL_OK) goto fail;
    if (L.nomem) {
        st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        goto fail;
    }
    st = encode_map(&L, f->body_offset, out);
    if (st != KAPSUL_OK) {
        kpError_set(err, st, 0, "out of memory");
        goto fail;
    }
    out->code = L.code.v;
    out->len = (uint32_t)L.code.n;
    L.code.v = NULL;
    out->nslots = L.max_slot > out->nresult_slots ? L.max_slot : out->nresult_slots;
    /* Room for the results of the callees, which may exceed the caller's own stack use. */
    st = KAPSUL_OK;
fail:
    kpVec_free(&L.code);
    kpVec_free(&L.ctls);
    kpVec_free(&L.vt);
    kpVec_free(&L.vs);
    kpVec_free(&L.ns);
    kpVec_free(&L.lruns);
    kpVec_free(&L.map);
    return st;
}
