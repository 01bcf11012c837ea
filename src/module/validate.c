/*
 * validate.c -- the validator: the spec's validation algorithm (appendix "Validation Algorithm")
 * over an operand stack of types with an Unknown type and an explicit control stack, so nesting
 * depth costs heap, never C stack. Simple instructions are typed from their opcodes.def signature
 * ("ab:c"), parsed once per validation into a small table; only the "*" rows have code here.
 *
 * Function bodies are decoded here for the first time (kpDecode_instr), so encoding errors found
 * inside them are reported as KAPSUL_ERR_MALFORMED, everything else as KAPSUL_ERR_INVALID.
 */
#include <stdio.h>
#include <stdlib.h>

#include "module/module.h"
#include "module/opcodes.h"

#define KP_T_UNKNOWN 0 /* the algorithm's Unknown: the type of a value popped from a polymorphic stack */

/* One parsed signature: pop pop[0..npop) (the last is on top), then push `push` if npush. */
typedef struct sigrow {
    uint8_t npop, npush, special;
    kpValType pop[3], push;
} sigrow;

/* One open block. A body may open a million of them, so a frame is 8 bytes: the block type is
 * kept as its encoding (a type index or one value type) and expanded by frame_types when needed,
 * instead of carrying two pointers and two counts. */
enum {
    CK_BLOCK,
    CK_LOOP,
    CK_IF
};
typedef struct ctrl {
    uint32_t height;      /* operand stack height at entry (after the params were popped) */
    uint32_t bt : 24;     /* kpBlock_TYPE: type index (< KP_MAX_TYPES); kpBlock_VAL: the type */
    uint32_t bt_kind : 2; /* kpBlockKind */
    uint32_t kind : 2;    /* CK_*; CK_BLOCK for the function's frame */
    uint32_t unreachable : 1, has_else : 1;
} ctrl;
_Static_assert(KP_MAX_TYPES <= (1u << 24), "type indices must fit ctrl.bt");

typedef struct localrun {
    uint32_t first;
    kpValType type;
} localrun;

typedef struct val {
    kpModule *m;
    kapsul_error *err;
    sigrow *sigs;
    KP_VEC(kpValType) vals;
    KP_VEC(ctrl) ctrls;
    /* The current function's params and locals as runs of one type: the run starting at local
     * index `first`. A function may declare 50,000 locals in one run, and a module 100,000
     * such functions, so the cost is per run, never per declared local. */
    KP_VEC(localrun) locals;
    uint32_t nlocals; /* params + declared locals */
    KP_VEC(kpValType) tmp;
    kpGlobalType *globals; /* every global, imports first */
    kpTableType *tables;   /* every table, imports first */
    uint32_t *func_types;  /* type index of every function, imports first */
    uint32_t nfuncs, ntables, nmems, nglobals;
    int v128_const_op; /* kpOp of v128.const once the SIMD rows exist, else -1 */
    size_t at;         /* offset of the instruction being checked */
    uint32_t func;     /* function index of the body being checked; UINT32_MAX outside bodies */
} val;

/* ---- Errors ---------------------------------------------------------------------------------------- */

static kapsul_status verr(val *v, kapsul_status code, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static kapsul_status verr(val *v, kapsul_status code, size_t at, const char *fmt, ...) {
    char msg[200], where[96] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* An invalid body names its function: index, then the name section's or an export's name.
     * The spec's message stays first (the spec scripts match on it). */
    if (code == KAPSUL_ERR_INVALID && v->func != UINT32_MAX) {
        const kpModule *m = v->m;
        const char *name = v->func < m->nfunc_names ? m->func_names[v->func] : NULL;
        int len = name ? (int)strlen(name) : 0;
        for (uint32_t i = 0; !name && i < m->nexports; i++)
            if (m->exports[i].kind == kpExtern_FUNC && m->exports[i].index == v->func) {
                name = m->exports[i].name;
                len = (int)m->exports[i].name_len;
            }
        snprintf(where, sizeof where, " in func[%u]%s%.*s", v->func, name ? " " : "", len > 60 ? 60 : len,
                 name ? name : "");
    }
    return kpError_set(v->err, code, at, "%s%s", msg, where);
}

static kapsul_status mismatch(val *v) { return verr(v, KAPSUL_ERR_INVALID, v->at, "type mismatch"); }

/* "[i32 i64]" into buf. */
static const char *type_list(char *buf, size_t cap, const kpValType *t, uint32_t n) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (uint32_t i = 0; i < n && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? " " : "",
                              t[i] == KP_T_UNKNOWN ? "any" : kp_valtype_name(t[i]));
    if (k < cap) snprintf(buf + k, cap - k, "]");
    return buf;
}

/* "type mismatch: expected [i32] but got [i64]" (want/got of nwant/ngot types). */
static kapsul_status mismatch_types(val *v, const kpValType *want, uint32_t nwant, const kpValType *got,
                                    uint32_t ngot) {
    char a[48], b[48];
    if (nwant > 6 || ngot > 6) return mismatch(v);
    return verr(v, KAPSUL_ERR_INVALID, v->at, "type mismatch: expected %s but got %s",
                type_list(a, sizeof a, want, nwant), type_list(b, sizeof b, got, ngot));
}
static kapsul_status nomem(val *v) { return verr(v, KAPSUL_ERR_NOMEM, 0, "out of memory"); }

/* ---- Signatures from opcodes.def ---------------------------------------------------------------------- */

static kpValType sig_type(char c) {
    switch (c) {
    case 'i': return kpT_I32;
    case 'I': return kpT_I64;
    case 'f': return kpT_F32;
    case 'F': return kpT_F64;
    case 'V': return kpT_V128;
    default: return KP_T_UNKNOWN;
    }
}

/* Parse "ab:c" for every opcode. Rows that are "*" or that do not parse are special. */
static sigrow *build_sigs(void) {
    sigrow *sigs = kp_calloc(kpOp_COUNT, sizeof *sigs);
    if (!sigs) return NULL;
    for (int op = 0; op < kpOp_COUNT; op++) {
        const char *s = kpOp_info[op].sig;
        sigrow *row = &sigs[op];
        const char *colon = strchr(s, ':');
        row->special = 1;
        if (!colon || colon - s > 3 || strlen(colon + 1) > 1) continue;
        bool ok = true;
        for (const char *p = s; p < colon; p++) {
            row->pop[row->npop] = sig_type(*p);
            ok = ok && row->pop[row->npop++] != KP_T_UNKNOWN;
        }
        if (colon[1]) {
            row->push = sig_type(colon[1]);
            row->npush = 1;
            ok = ok && row->push != KP_T_UNKNOWN;
        }
        row->special = !ok;
    }
    return sigs;
}

/* Lanes of a SIMD lane instruction, from its shape: "i8x16.extract_lane_s" has 16. A memory lane
 * access has 16 >> log2(access size) lanes. */
static uint32_t lane_count(int op) {
    const kpOpInfo *in = &kpOp_info[op];
    if (in->imm == kpImm_MEMLANE) return 16u >> in->align;
    const char *x = strchr(in->name, 'x'), *dot = strchr(in->name, '.');
    if (!x || (dot && x > dot)) return 16;
    uint32_t n = 0;
    for (const char *p = x + 1; *p >= '0' && *p <= '9'; p++) n = n * 10 + (uint32_t)(*p - '0');
    return n ? n : 16;
}

/* ---- Operand and control stacks ---------------------------------------------------------------------- */

static inline kapsul_status push(val *v, kpValType t) {
    if (v->vals.n == v->vals.cap && kpVec_grow(&v->vals)) return nomem(v);
    v->vals.v[v->vals.n++] = t;
    return KAPSUL_OK;
}

static inline kapsul_status pop_any(val *v, kpValType *out) {
    ctrl *c = &v->ctrls.v[v->ctrls.n - 1];
    if (v->vals.n == c->height) {
        if (!c->unreachable) return mismatch(v);
        *out = KP_T_UNKNOWN;
        return KAPSUL_OK;
    }
    *out = v->vals.v[--v->vals.n];
    return KAPSUL_OK;
}

static inline kapsul_status pop_expect(val *v, kpValType expect, kpValType *got) {
    kpValType t = KP_T_UNKNOWN;
    const ctrl *c = &v->ctrls.v[v->ctrls.n - 1];
    if (v->vals.n == c->height && !c->unreachable && expect != KP_T_UNKNOWN)
        return mismatch_types(v, &expect, 1, NULL, 0);
    kapsul_status st = pop_any(v, &t);
    if (st) return st;
    if (t != expect && t != KP_T_UNKNOWN && expect != KP_T_UNKNOWN)
        return mismatch_types(v, &expect, 1, &t, 1);
    if (got) *got = t == KP_T_UNKNOWN ? expect : t;
    return KAPSUL_OK;
}

static inline kapsul_status pop_vals(val *v, const kpValType *types, uint32_t n) {
    for (uint32_t i = n; i-- > 0;) {
        kapsul_status st = pop_expect(v, types[i], NULL);
        if (st) return st;
    }
    return KAPSUL_OK;
}

static inline kapsul_status push_vals(val *v, const kpValType *types, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        kapsul_status st = push(v, types[i]);
        if (st) return st;
    }
    return KAPSUL_OK;
}

/* A one-element result list for each value type: self_type[t] == t, so &self_type[t] is it. */
static const kpValType self_type[256] = {
    [kpT_I32] = kpT_I32,
    [kpT_I64] = kpT_I64,
    [kpT_F32] = kpT_F32,
    [kpT_F64] = kpT_F64,
    [kpT_V128] = kpT_V128,
    [kpT_FUNCREF] = kpT_FUNCREF,
    [kpT_EXTERNREF] = kpT_EXTERNREF,
};

/* A block type's params and results (the encoding was checked when the frame was pushed). */
typedef struct blocktypes {
    const kpValType *params, *results;
    uint32_t nparams, nresults;
} blocktypes;

static inline blocktypes frame_types(const val *v, const ctrl *c) {
    blocktypes b = { NULL, NULL, 0, 0 };
    if (c->bt_kind == kpBlock_VAL) {
        b.results = &self_type[c->bt & 0xFF];
        b.nresults = 1;
    } else if (c->bt_kind == kpBlock_TYPE) {
        const kpFuncType *ft = &v->m->types[c->bt];
        b.params = kpFuncType_params(ft);
        b.nparams = ft->nparams;
        b.results = kpFuncType_results(ft);
        b.nresults = ft->nresults;
    }
    return b;
}

/* Open a frame at the current height; the caller pushes its params (if any). */
static inline kapsul_status push_ctrl(val *v, unsigned kind, kpBlockKind bt_kind, uint32_t bt) {
    if (v->ctrls.n == v->ctrls.cap && kpVec_grow(&v->ctrls)) return nomem(v);
    ctrl *c = &v->ctrls.v[v->ctrls.n++];
    c->height = (uint32_t)v->vals.n;
    c->bt = bt;
    c->bt_kind = bt_kind;
    c->kind = kind;
    c->unreachable = false;
    c->has_else = false;
    return KAPSUL_OK;
}

/* Pop the frame's results and check nothing else is left above its entry height. */
static inline kapsul_status close_frame(val *v, const ctrl *c) {
    blocktypes b = frame_types(v, c);
    size_t n0 = v->vals.n; /* popping only moves n: the values stay readable for the message */
    kapsul_status st = pop_vals(v, b.results, b.nresults);
    if ((st == KAPSUL_ERR_INVALID || (!st && v->vals.n != c->height)) && n0 >= c->height)
        return mismatch_types(v, b.results, b.nresults, n0 > c->height ? v->vals.v + c->height : NULL,
                              (uint32_t)(n0 - c->height));
    return st;
}

static void set_unreachable(val *v) {
    ctrl *c = &v->ctrls.v[v->ctrls.n - 1];
    v->vals.n = c->height;
    c->unreachable = true;
}

static const kpValType *label_types(const val *v, const ctrl *c, uint32_t *n) {
    blocktypes b = frame_types(v, c);
    if (c->kind == CK_LOOP) {
        *n = b.nparams;
        return b.params;
    }
    *n = b.nresults;
    return b.results;
}

/* ---- Index checks shared by several instructions ------------------------------------------------- */

static kapsul_status need_memory(val *v, uint32_t idx) {
    if (idx >= v->nmems) return verr(v, KAPSUL_ERR_INVALID, v->at, "unknown memory %u", idx);
    return KAPSUL_OK;
}

static kapsul_status need_table(val *v, uint32_t idx) {
    if (idx >= v->ntables) return verr(v, KAPSUL_ERR_INVALID, v->at, "unknown table %u", idx);
    return KAPSUL_OK;
}

static kapsul_status need_elem(val *v, uint32_t idx) {
    if (idx >= v->m->nelems) return verr(v, KAPSUL_ERR_INVALID, v->at, "unknown elem segment %u", idx);
    return KAPSUL_OK;
}

/* memory.init and data.drop need the data count section: a decoder without it could not know
 * data indices in a single pass, so its absence is an encoding error. */
static kapsul_status need_data(val *v, uint32_t idx) {
    if (!v->m->has_data_count) return verr(v, KAPSUL_ERR_MALFORMED, v->at, "data count section required");
    if (idx >= v->m->data_count) return verr(v, KAPSUL_ERR_INVALID, v->at, "unknown data segment %u", idx);
    return KAPSUL_OK;
}

static kapsul_status check_memarg(val *v, const kpInstr *in) {
    kapsul_status st = need_memory(v, 0);
    if (st) return st;
    if (in->a > kpOp_info[in->op].align)
        return verr(v, KAPSUL_ERR_INVALID, v->at, "alignment must not be larger than natural");
    return KAPSUL_OK;
}

/* The checks an immediate implies for table-driven instructions (indices, alignment, lanes). */
static kapsul_status check_imm(val *v, const kpInstr *in) {
    kapsul_status st;
    switch (kpOp_info[in->op].imm) {
    case kpImm_MEMARG: return check_memarg(v, in);
    case kpImm_MEMLANE:
        if ((st = check_memarg(v, in))) return st;
        /* fallthrough */
    case kpImm_LANE:
        if (in->lane >= lane_count(in->op)) return verr(v, KAPSUL_ERR_INVALID, v->at, "invalid lane index");
        return KAPSUL_OK;
    case kpImm_SHUFFLE:
        for (int i = 0; i < 16; i++)
            if (in->bytes[i] >= 32) return verr(v, KAPSUL_ERR_INVALID, v->at, "invalid lane index");
        return KAPSUL_OK;
    case kpImm_MEMIDX:
    case kpImm_MEMCOPY: return need_memory(v, 0);
    case kpImm_MEMINIT:
        if ((st = need_memory(v, 0))) return st;
        return need_data(v, in->a);
    case kpImm_DATA: return need_data(v, in->a);
    case kpImm_ELEM: return need_elem(v, in->a);
    case kpImm_TABLE: return need_table(v, in->a);
    case kpImm_TABLEINIT:
        if ((st = need_table(v, in->b)) || (st = need_elem(v, in->a))) return st;
        if (v->m->elems[in->a].type != v->tables[in->b].elem) return mismatch(v);
        return KAPSUL_OK;
    case kpImm_TABLECOPY:
        if ((st = need_table(v, in->a)) || (st = need_table(v, in->b))) return st;
        if (v->tables[in->a].elem != v->tables[in->b].elem) return mismatch(v);
        return KAPSUL_OK;
    default: return KAPSUL_OK;
    }
}

/* ---- Control instructions -------------------------------------------------------------------------- */

static kapsul_status op_block(val *v, const kpInstr *in) {
    kapsul_status st;
    uint32_t bt = 0;
    if (in->block_kind == kpBlock_VAL) bt = in->type;
    else if (in->block_kind == kpBlock_TYPE) {
        if (in->a >= v->m->ntypes) return verr(v, KAPSUL_ERR_INVALID, v->at, "unknown type");
        bt = in->a;
    }
    if (in->op == kpOp_IF && (st = pop_expect(v, kpT_I32, NULL))) return st;
    unsigned kind = in->op == kpOp_LOOP ? CK_LOOP : in->op == kpOp_IF ? CK_IF : CK_BLOCK;
    ctrl probe = { .bt = bt, .bt_kind = in->block_kind };
    blocktypes b = frame_types(v, &probe);
    if ((st = pop_vals(v, b.params, b.nparams)) || (st = push_ctrl(v, kind, in->block_kind, bt))) return st;
    return push_vals(v, b.params, b.nparams);
}

static kapsul_status op_else(val *v) {
    ctrl *c = &v->ctrls.v[v->ctrls.n - 1];
    if (c->kind != CK_IF || c->has_else) return verr(v, KAPSUL_ERR_MALFORMED, v->at, "END opcode expected");
    kapsul_status st = close_frame(v, c);
    if (st) return st;
    c->unreachable = false;
    c->has_else = true;
    blocktypes b = frame_types(v, c);
    return push_vals(v, b.params, b.nparams);
}

static kapsul_status op_end(val *v) {
    ctrl c = v->ctrls.v[v->ctrls.n - 1];
    kapsul_status st = close_frame(v, &c);
    if (st) return st;
    /* An if without else behaves as if the else passed its params through unchanged. */
    blocktypes b = frame_types(v, &c);
    if (c.kind == CK_IF && !c.has_else &&
        (b.nparams != b.nresults || (b.nparams && memcmp(b.params, b.results, b.nparams) != 0)))
        return mismatch(v);
    v->ctrls.n--;
    if (v->ctrls.n == 0) return KAPSUL_OK;
    return push_vals(v, b.results, b.nresults);
}

static kapsul_status need_label(val *v, uint32_t l) {
    if (l >= v->ctrls.n) return verr(v, KAPSUL_ERR_INVALID, v->at, "unknown label");
    return KAPSUL_OK;
}

static const ctrl *label_frame(val *v, uint32_t l) { return &v->ctrls.v[v->ctrls.n - 1 - l]; }

static kapsul_status op_br(val *v, const kpInstr *in) {
    uint32_t n;
    kapsul_status st = need_label(v, in->a);
    if (st) return st;
    const kpValType *types = label_types(v, label_frame(v, in->a), &n);
    if (in->op == kpOp_BR_IF) {
        if ((st = pop_expect(v, kpT_I32, NULL)) || (st = pop_vals(v, types, n))) return st;
        return push_vals(v, types, n);
    }
    if ((st = pop_vals(v, types, n))) return st;
    set_unreachable(v);
    return KAPSUL_OK;
}

/* br_table: every target must have the default's arity, and the operands must fit each target
 * in turn (popped and pushed back, so Unknowns stay Unknown). */
static kapsul_status op_br_table(val *v, const kpInstr *in) {
    kapsul_status st;
    uint32_t arity, n;
    if (in->count > KP_MAX_BR_TABLE)
        return verr(v, KAPSUL_ERR_LIMIT, v->at, "too many br_table targets (%u, limit %u)", in->count,
                    KP_MAX_BR_TABLE);
    if ((st = pop_expect(v, kpT_I32, NULL)) || (st = need_label(v, in->a))) return st;
    label_types(v, label_frame(v, in->a), &arity);
    kpReader r;
    kpRead_init(&r, v->m->bytes, in->bytes, v->m->bytes + v->m->size);
    for (uint32_t i = 0; i < in->count; i++) {
        uint32_t l;
        kpRead_u32(&r, &l);
        if ((st = need_label(v, l))) return st;
        const kpValType *types = label_types(v, label_frame(v, l), &n);
        if (n != arity) return mismatch(v);
        v->tmp.n = 0;
        for (uint32_t k = n; k-- > 0;) {
            kpValType t = KP_T_UNKNOWN;
            if ((st = pop_any(v, &t))) return st;
            if (t != types[k] && t != KP_T_UNKNOWN) return mismatch(v);
            if (kpVec_grow(&v->tmp)) return nomem(v);
            v->tmp.v[v->tmp.n++] = t;
        }
        for (size_t k = v->tmp.n; k-- > 0;)
            if ((st = push(v, v->tmp.v[k]))) return st;
    }
    const kpValType *types = label_types(v, label_frame(v, in->a), &n);
    if ((st = pop_vals(v, types, n))) return st;
    set_unreachable(v);
    return KAPSUL_OK;
}

static kapsul_status op_call(val *v, const kpFuncType *ft) {
    kapsul_status st = pop_vals(v, kpFuncType_params(ft), ft->nparams);
    if (st) return st;
    return push_vals(v, kpFuncType_results(ft), ft->nresults);
}

static kapsul_status op_call_indirect(val *v, const kpInstr *in) {
    kapsul_status st = need_table(v, in->b);
    if (st) return st;
    if (v->tables[in->b].elem != kpT_FUNCREF) return mismatch(v);
    if (in->a >= v->m->ntypes) return verr(v, KAPSUL_ERR_INVALID, v->at, "unknown type");
    if ((st = pop_expect(v, kpT_I32, NULL))) return st;
    return op_call(v, &v->m->types[in->a]);
}

/* ---- Parametric, variable, reference and table instructions ---------------------------------------- */

static bool is_num_or_vec(kpValType t) { return t != kpT_FUNCREF && t != kpT_EXTERNREF; }

static kapsul_status op_select(val *v, const kpInstr *in) {
    kapsul_status st;
    kpValType t1 = KP_T_UNKNOWN, t2 = KP_T_UNKNOWN;
    if (in->op == kpOp_SELECT_T) {
        if (in->a != 1) return verr(v, KAPSUL_ERR_INVALID, v->at, "invalid result arity");
        if ((st = pop_expect(v, kpT_I32, NULL)) || (st = pop_expect(v, in->type, NULL)) ||
            (st = pop_expect(v, in->type, NULL)))
            return st;
        return push(v, in->type);
    }
    if ((st = pop_expect(v, kpT_I32, NULL)) || (st = pop_any(v, &t1)) || (st = pop_any(v, &t2))) return st;
    if (!is_num_or_vec(t1) || !is_num_or_vec(t2)) return mismatch(v);
    if ((t1 == kpT_V128) != (t2 == kpT_V128) && t1 != KP_T_UNKNOWN && t2 != KP_T_UNKNOWN) return mismatch(v);
    if (t1 != t2 && t1 != KP_T_UNKNOWN && t2 != KP_T_UNKNOWN) return mismatch_types(v, &t2, 1, &t1, 1);
    return push(v, t1 == KP_T_UNKNOWN ? t2 : t1);
}

/* The type of local `idx` (< nlocals): the last run starting at or before it. */
static kpValType local_type(const val *v, uint32_t idx) {
    size_t lo = 0, hi = v->locals.n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->locals.v[mid].first <= idx) lo = mid;
        else hi = mid;
    }
    return v->locals.v[lo].type;
}

static kapsul_status op_local(val *v, const kpInstr *in) {
    kapsul_status st;
    if (in->a >= v->nlocals) return verr(v, KAPSUL_ERR_INVALID, v->at, "unknown local %u", in->a);
    kpValType t = local_type(v, in->a);
    if (in->op == kpOp_LOCAL_GET) return push(v, t);
    if ((st = pop_expect(v, t, NULL))) return st;
    return in->op == kpOp_LOCAL_TEE ? push(v, t) : KAPSUL_OK;
}

static kapsul_status op_global(val *v, const kpInstr *in) {
    if (in->a >= v->nglobals) return verr(v, KAPSUL_ERR_INVALID, v->at, "unknown global %u", in->a);
    kpGlobalType g = v->globals[in->a];
    if (in->op == kpOp_GLOBAL_GET) return push(v, g.type);
    if (!g.mut) return verr(v, KAPSUL_ERR_INVALID, v->at, "global is immutable");
    return pop_expect(v, g.type, NULL);
}

static kapsul_status op_ref_func(val *v, uint32_t f) {
    if (f >= v->nfuncs) return verr(v, KAPSUL_ERR_INVALID, v->at, "unknown function %u", f);
    if (!v->m->func_declared[f]) return verr(v, KAPSUL_ERR_INVALID, v->at, "undeclared function reference");
    return push(v, kpT_FUNCREF);
}

static kapsul_status op_table(val *v, const kpInstr *in) {
    kapsul_status st = need_table(v, in->a);
    if (st) return st;
    kpValType t = v->tables[in->a].elem;
    switch (in->op) {
    case kpOp_TABLE_GET:
        if ((st = pop_expect(v, kpT_I32, NULL))) return st;
        return push(v, t);
    case kpOp_TABLE_SET:
        if ((st = pop_expect(v, t, NULL))) return st;
        return pop_expect(v, kpT_I32, NULL);
    case kpOp_TABLE_GROW:
        if ((st = pop_expect(v, kpT_I32, NULL)) || (st = pop_expect(v, t, NULL))) return st;
        return push(v, kpT_I32);
    default: /* table.fill */
        if ((st = pop_expect(v, kpT_I32, NULL)) || (st = pop_expect(v, t, NULL))) return st;
        return pop_expect(v, kpT_I32, NULL);
    }
}

static kapsul_status op_return(val *v) {
    blocktypes b = frame_types(v, &v->ctrls.v[0]);
    return pop_vals(v, b.results, b.nresults);
}

/* The "*" rows. */
static kapsul_status step_special(val *v, const kpInstr *in) {
    kapsul_status st;
    kpValType t = KP_T_UNKNOWN;
    switch (in->op) {
    case kpOp_BLOCK:
    case kpOp_LOOP:
    case kpOp_IF: return op_block(v, in);
    case kpOp_ELSE: return op_else(v);
    case kpOp_END: return op_end(v);
    case kpOp_BR:
    case kpOp_BR_IF: return op_br(v, in);
    case kpOp_BR_TABLE: return op_br_table(v, in);
    case kpOp_RETURN:
        if ((st = op_return(v))) return st;
        set_unreachable(v);
        return KAPSUL_OK;
    case kpOp_CALL:
        if (in->a >= v->nfuncs) return verr(v, KAPSUL_ERR_INVALID, v->at, "unknown function %u", in->a);
        return op_call(v, &v->m->types[v->func_types[in->a]]);
    case kpOp_CALL_INDIRECT: return op_call_indirect(v, in);
    case kpOp_DROP: return pop_any(v, &t);
    case kpOp_SELECT:
    case kpOp_SELECT_T: return op_select(v, in);
    case kpOp_LOCAL_GET:
    case kpOp_LOCAL_SET:
    case kpOp_LOCAL_TEE: return op_local(v, in);
    case kpOp_GLOBAL_GET:
    case kpOp_GLOBAL_SET: return op_global(v, in);
    case kpOp_TABLE_GET:
    case kpOp_TABLE_SET:
    case kpOp_TABLE_GROW:
    case kpOp_TABLE_FILL: return op_table(v, in);
    case kpOp_REF_NULL: return push(v, in->type);
    case kpOp_REF_IS_NULL:
        if ((st = pop_any(v, &t))) return st;
        if (t != KP_T_UNKNOWN && !kp_is_reftype(t)) return mismatch(v);
        return push(v, kpT_I32);
    case kpOp_REF_FUNC: return op_ref_func(v, in->a);
    default: return verr(v, KAPSUL_ERR_MALFORMED, v->at, "illegal opcode");
    }
}

static kapsul_status step(val *v, const kpInstr *in) {
    const sigrow *s = &v->sigs[in->op];
    kapsul_status st;
    if (s->special) return step_special(v, in);
    if ((st = check_imm(v, in))) return st;
    for (int i = s->npop; i-- > 0;)
        if ((st = pop_expect(v, s->pop[i], NULL))) return st;
    if (s->npush && (st = push(v, s->push))) return st;
    if (in->op == kpOp_UNREACHABLE) set_unreachable(v);
    return KAPSUL_OK;
}

/* ---- Function bodies ----------------------------------------------------------------------------------- */

static kapsul_status body_decode_fail(val *v, const kpReader *r) {
    const char *msg = r->error ? r->error : "unexpected end";
    if (strcmp(msg, "unexpected end") == 0) msg = "unexpected end of section or function";
    return verr(v, KAPSUL_ERR_MALFORMED, r->error_pos, "%s", msg);
}

/* Params (one run each: at most KP_MAX_PARAMS) then the declared runs; empty runs are skipped. */
static kapsul_status add_run(val *v, uint32_t first, kpValType type) {
    if (v->locals.n == v->locals.cap && kpVec_grow(&v->locals)) return nomem(v);
    v->locals.v[v->locals.n++] = (localrun){ first, type };
    return KAPSUL_OK;
}

static kapsul_status setup_locals(val *v, const kpFuncType *ft, const kpFunc *f) {
    kapsul_status st;
    v->locals.n = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < ft->nparams; i++, n++)
        if ((st = add_run(v, n, kpFuncType_params(ft)[i]))) return st;
    for (uint32_t i = 0; i < f->nlocal_runs; i++) {
        if (f->local_runs[i].count == 0) continue;
        if ((st = add_run(v, n, f->local_runs[i].type))) return st;
        n += f->local_runs[i].count; /* the decoder bounds the total by KP_MAX_LOCALS */
    }
    v->nlocals = n;
    return KAPSUL_OK;
}

static kapsul_status validate_body(val *v, const kpFunc *f) {
    const kpFuncType *ft = &v->m->types[f->type];
    kapsul_status st = setup_locals(v, ft, f);
    if (st) return st;
    v->vals.n = 0;
    v->ctrls.n = 0;
    v->at = f->body.start;
    /* The function's frame: a block of the function's type whose params are the locals, so
     * nothing is pushed for them. */
    if ((st = push_ctrl(v, CK_BLOCK, kpBlock_TYPE, f->type))) return st;
    kpReader r;
    const uint8_t *start = v->m->bytes + f->body.start, *end = start + f->body.len;
    kpRead_init(&r, v->m->bytes, start, end);
    while (v->ctrls.n > 0) {
        kpInstr in;
        if (kpRead_eof(&r)) {
            /* Out of bytes between instructions. The reference decoder reads on past the body, so
             * its message depends on the next byte: an `end` there closes the function one byte
             * too late ("section size mismatch"), anything else is "END opcode expected". */
            size_t off = kpRead_offset(&r);
            const char *msg = off >= v->m->size          ? "unexpected end of section or function"
                              : v->m->bytes[off] == 0x0B ? "section size mismatch"
                                                         : "END opcode expected";
            return verr(v, KAPSUL_ERR_MALFORMED, off, "%s", msg);
        }
        if (!kpDecode_next(&r, &in)) return body_decode_fail(v, &r);
        v->at = in.offset;
        if ((st = step(v, &in))) return st;
    }
    if (!kpRead_eof(&r)) return verr(v, KAPSUL_ERR_MALFORMED, kpRead_offset(&r), "section size mismatch");
    return KAPSUL_OK;
}

/* ---- Constant expressions ------------------------------------------------------------------------------ */

/* In 2.0 a constant expression is a sequence of constants, ref.null, ref.func and global.get of
 * an imported immutable global, leaving exactly one value of type `want`. */
static kapsul_status validate_const(val *v, kpRange range, kpValType want) {
    kpReader r;
    kpRead_init(&r, v->m->bytes, v->m->bytes + range.start, v->m->bytes + range.start + range.len);
    uint32_t depth = 0;
    kpValType top = KP_T_UNKNOWN;
    for (;;) {
        kpInstr in;
        if (!kpDecode_instr(&r, &in)) return body_decode_fail(v, &r);
        v->at = in.offset;
        if (in.op == kpOp_END) break;
        kpValType t;
        if (in.op == kpOp_I32_CONST) t = kpT_I32;
        else if (in.op == kpOp_I64_CONST) t = kpT_I64;
        else if (in.op == kpOp_F32_CONST) t = kpT_F32;
        else if (in.op == kpOp_F64_CONST) t = kpT_F64;
        else if ((int)in.op == v->v128_const_op) t = kpT_V128;
        else if (in.op == kpOp_REF_NULL) t = in.type;
        else if (in.op == kpOp_REF_FUNC) {
            if (in.a >= v->nfuncs) return verr(v, KAPSUL_ERR_INVALID, v->at, "unknown function %u", in.a);
            t = kpT_FUNCREF;
        } else if (in.op == kpOp_GLOBAL_GET) {
            if (in.a >= v->m->nglobal_imports)
                return verr(v, KAPSUL_ERR_INVALID, v->at, "unknown global %u", in.a);
            if (v->globals[in.a].mut)
                return verr(v, KAPSUL_ERR_INVALID, v->at, "constant expression required");
            t = v->globals[in.a].type;
        } else {
            return verr(v, KAPSUL_ERR_INVALID, v->at, "constant expression required");
        }
        depth++;
        top = t;
    }
    if (depth != 1 || top != want) return mismatch(v);
    return KAPSUL_OK;
}

/* Mark the functions a ref.func in a constant expression names (they become "declared"). */
static void declare_in_const(val *v, kpRange range) {
    kpReader r;
    kpRead_init(&r, v->m->bytes, v->m->bytes + range.start, v->m->bytes + range.start + range.len);
    kpInstr in;
    while (kpDecode_instr(&r, &in) && in.op != kpOp_END)
        if (in.op == kpOp_REF_FUNC && in.a < v->nfuncs) v->m->func_declared[in.a] = true;
}

static void compute_declared(val *v) {
    kpModule *m = v->m;
    for (uint32_t i = 0; i < m->nexports; i++)
        if (m->exports[i].kind == kpExtern_FUNC && m->exports[i].index < v->nfuncs)
            m->func_declared[m->exports[i].index] = true;
    for (uint32_t i = 0; i < m->nglobals; i++) declare_in_const(v, m->globals[i].init);
    for (uint32_t i = 0; i < m->nelems; i++) {
        const kpElem *e = &m->elems[i];
        for (uint32_t k = 0; k < e->count; k++) {
            if (e->funcs && e->funcs[k] < v->nfuncs) m->func_declared[e->funcs[k]] = true;
            if (e->exprs) declare_in_const(v, e->exprs[k]);
        }
    }
}

/* ---- Module-level rules ----------------------------------------------------------------------------------- */

static kapsul_status check_limits(val *v, size_t at, const kpLimits *l, uint64_t bound, const char *too_big) {
    if (l->min > bound || (l->has_max && l->max > bound))
        return verr(v, KAPSUL_ERR_INVALID, at, "%s", too_big);
    if (l->has_max && l->min > l->max)
        return verr(v, KAPSUL_ERR_INVALID, at, "size minimum must not be greater than maximum");
    return KAPSUL_OK;
}

static kapsul_status check_memtype(val *v, size_t at, const kpMemType *mt) {
    return check_limits(v, at, &mt->limits, KP_MAX_PAGES, "memory size must be at most 65536 pages (4GiB)");
}

static kapsul_status check_tabletype(val *v, size_t at, const kpTableType *tt) {
    return check_limits(v, at, &tt->limits, UINT32_MAX, "table size must be at most 2^32-1");
}

/* Flatten the index spaces (imports first) so instructions look entities up in O(1). */
static kapsul_status build_spaces(val *v) {
    kpModule *m = v->m;
    v->nfuncs = kpModule_numFuncs(m);
    v->ntables = kpModule_numTables(m);
    v->nmems = kpModule_numMemories(m);
    v->nglobals = kpModule_numGlobals(m);
    v->func_types = kp_calloc(v->nfuncs, sizeof *v->func_types);
    v->tables = kp_calloc(v->ntables, sizeof *v->tables);
    v->globals = kp_calloc(v->nglobals, sizeof *v->globals);
    kp_free(m->func_declared);
    m->func_declared = kp_calloc(v->nfuncs, sizeof *m->func_declared);
    if (!v->func_types || !v->tables || !v->globals || !m->func_declared) return nomem(v);
    uint32_t nf = 0, nt = 0, ng = 0;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const kpImport *im = &m->imports[i];
        if (im->kind == kpExtern_FUNC) v->func_types[nf++] = im->desc.func_type;
        else if (im->kind == kpExtern_TABLE) v->tables[nt++] = im->desc.table;
        else if (im->kind == kpExtern_GLOBAL) v->globals[ng++] = im->desc.global;
    }
    for (uint32_t i = 0; i < m->nfuncs; i++) v->func_types[nf++] = m->funcs[i].type;
    for (uint32_t i = 0; i < m->ntables; i++) v->tables[nt++] = m->tables[i];
    for (uint32_t i = 0; i < m->nglobals; i++) v->globals[ng++] = m->globals[i].type;
    return KAPSUL_OK;
}

/* Imports, function declarations, tables and memories: their types and limits. */
static kapsul_status check_declarations(val *v) {
    kpModule *m = v->m;
    kapsul_status st;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const kpImport *im = &m->imports[i];
        size_t at = (size_t)((const uint8_t *)im->module - m->bytes);
        if (im->kind == kpExtern_FUNC && im->desc.func_type >= m->ntypes)
            return verr(v, KAPSUL_ERR_INVALID, at, "unknown type %u", im->desc.func_type);
        if (im->kind == kpExtern_TABLE && (st = check_tabletype(v, at, &im->desc.table))) return st;
        if (im->kind == kpExtern_MEMORY && (st = check_memtype(v, at, &im->desc.memory))) return st;
    }
    for (uint32_t i = 0; i < m->nfuncs; i++)
        if (m->funcs[i].type >= m->ntypes)
            return verr(v, KAPSUL_ERR_INVALID, m->funcs[i].body_offset, "unknown type %u", m->funcs[i].type);
    for (uint32_t i = 0; i < m->ntables; i++)
        if ((st = check_tabletype(v, m->table_at, &m->tables[i]))) return st;
    for (uint32_t i = 0; i < m->nmemories; i++)
        if ((st = check_memtype(v, m->memory_at, &m->memories[i]))) return st;
    if (v->nmems > 1) return verr(v, KAPSUL_ERR_INVALID, m->memory_at, "multiple memories");
    return KAPSUL_OK;
}

static kapsul_status check_elems(val *v) {
    kpModule *m = v->m;
    kapsul_status st;
    for (uint32_t i = 0; i < m->nelems; i++) {
        const kpElem *e = &m->elems[i];
        if (e->mode == kpSeg_ACTIVE) {
            v->at = e->offset.start;
            if ((st = need_table(v, e->table)) || (st = validate_const(v, e->offset, kpT_I32))) return st;
            if (v->tables[e->table].elem != e->type) return mismatch(v);
        }
        for (uint32_t k = 0; k < e->count; k++) {
            if (e->exprs && (st = validate_const(v, e->exprs[k], e->type))) return st;
            if (e->funcs && e->funcs[k] >= v->nfuncs)
                return verr(v, KAPSUL_ERR_INVALID, e->offset.start, "unknown function %u", e->funcs[k]);
        }
    }
    return KAPSUL_OK;
}

static kapsul_status check_datas(val *v) {
    kpModule *m = v->m;
    kapsul_status st;
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const kpData *d = &m->datas[i];
        if (d->mode != kpSeg_ACTIVE) continue;
        v->at = d->offset.start;
        if ((st = need_memory(v, d->memory)) || (st = validate_const(v, d->offset, kpT_I32))) return st;
    }
    return KAPSUL_OK;
}

static int export_cmp(const void *a, const void *b) {
    const kpExport *x = *(const kpExport *const *)a, *y = *(const kpExport *const *)b;
    if (x->name_len != y->name_len) return x->name_len < y->name_len ? -1 : 1;
    return x->name_len ? memcmp(x->name, y->name, x->name_len) : 0;
}

/* Export indices, unique names (sorted, so n log n even for 100,000 exports), start function. */
static kapsul_status check_exports_start(val *v) {
    kpModule *m = v->m;
    kapsul_status st = KAPSUL_OK;
    const kpExport **sorted = kp_calloc(m->nexports, sizeof *sorted);
    if (!sorted) return nomem(v);
    for (uint32_t i = 0; i < m->nexports; i++) {
        const kpExport *ex = &m->exports[i];
        size_t at = (size_t)((const uint8_t *)ex->name - m->bytes);
        static const char *const what[] = { "function", "table", "memory", "global" };
        uint32_t limit = ex->kind == kpExtern_FUNC     ? v->nfuncs
                         : ex->kind == kpExtern_TABLE  ? v->ntables
                         : ex->kind == kpExtern_MEMORY ? v->nmems
                                                       : v->nglobals;
        if (ex->index >= limit) {
            st = verr(v, KAPSUL_ERR_INVALID, at, "unknown %s %u", what[ex->kind], ex->index);
            goto fail;
        }
        sorted[i] = ex;
    }
    if (m->nexports > 1) qsort(sorted, m->nexports, sizeof *sorted, export_cmp);
    for (uint32_t i = 1; i < m->nexports; i++)
        if (export_cmp(&sorted[i - 1], &sorted[i]) == 0) {
            st = verr(v, KAPSUL_ERR_INVALID, (size_t)((const uint8_t *)sorted[i]->name - m->bytes),
                      "duplicate export name");
            goto fail;
        }
    if (m->has_start) {
        if (m->start >= v->nfuncs) {
            st = verr(v, KAPSUL_ERR_INVALID, m->start_at, "unknown function %u", m->start);
            goto fail;
        }
        const kpFuncType *ft = &m->types[v->func_types[m->start]];
        if (ft->nparams || ft->nresults) {
            st = verr(v, KAPSUL_ERR_INVALID, m->start_at, "start function");
            goto fail;
        }
    }
fail:
    kp_free(sorted);
    return st;
}

kapsul_status kpValidate_module(kpModule *m, kapsul_error *err) {
    val v = { 0 };
    v.func = UINT32_MAX;
    v.m = m;
    v.err = err;
    v.v128_const_op = kpOp_fromCode(0xFD, 12);
    kapsul_status st = build_spaces(&v);
    if (st) goto fail;
    if (!(v.sigs = build_sigs())) {
        st = nomem(&v);
        goto fail;
    }
    compute_declared(&v);
    if ((st = check_declarations(&v))) goto fail;
    for (uint32_t i = 0; i < m->nglobals; i++)
        if ((st = validate_const(&v, m->globals[i].init, m->globals[i].type.type))) goto fail;
    if ((st = check_elems(&v)) || (st = check_datas(&v)) || (st = check_exports_start(&v))) goto fail;
    for (uint32_t i = 0; i < m->nfuncs; i++) {
        v.func = m->nfunc_imports + i;
        if ((st = validate_body(&v, &m->funcs[i]))) goto fail;
    }
fail:
    kp_free(v.sigs);
    kpVec_free(&v.vals);
    kpVec_free(&v.ctrls);
    kpVec_free(&v.locals);
    kpVec_free(&v.tmp);
    kp_free(v.func_types);
    kp_free(v.tables);
    kp_free(v.globals);
    return st;
}
