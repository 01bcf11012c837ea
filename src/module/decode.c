/*
 * decode.c -- the binary decoder: bytes in, a structurally well-formed kpModule out.
 *
 * Every count read from the input is checked against the bytes that remain before anything is
 * allocated for it (each item needs at least one byte, most more), so a hostile count costs at
 * most a few times the input's size. Implementation limits (KP_MAX_*) come after that check:
 * a count that cannot possibly be backed by bytes is malformed, a plausible one that is merely
 * too big for us is KAPSUL_ERR_LIMIT. Function bodies are only delimited here; their
 * instructions are decoded by the validator (see module.h).
 */
#include "module/module.h"
#include "module/opcodes.h"

typedef struct dec {
    kpModule *m;
    kapsul_error *err;
    const uint8_t *mod_end; /* end of the whole module copy */
    bool seen_code, seen_data;
    bool code_mismatch; /* the code section's count differs from the function section's */
    size_t code_mismatch_at;
} dec;

/* Turn a reader failure into the error. Running out of a section's (or a function's) bytes
 * gets the reference interpreter's longer message, of which "unexpected end" is a prefix. */
static kapsul_status reader_fail(dec *d, const kpReader *r, bool in_section) {
    const char *msg = r->error ? r->error : "unexpected end";
    if (in_section && strcmp(msg, "unexpected end") == 0) msg = "unexpected end of section or function";
    return kpError_set(d->err, KAPSUL_ERR_MALFORMED, r->error_pos, "%s", msg);
}

/* At the current position: fail the reader with `why` pointing at the byte just read. */
static bool fail_prev(kpReader *r, const char *why) {
    r->p--;
    kpRead_fail(r, why);
    r->p++;
    return false;
}

/* True if `count` items of at least `min_bytes` each can fit in what is left. */
static bool count_fits(kpReader *r, uint32_t count, size_t min_bytes) {
    size_t left = (size_t)(r->end - r->p);
    if ((uint64_t)count * min_bytes <= left) return true;
    return kpRead_fail(r, "unexpected end");
}

static kapsul_status limit_fail(dec *d, size_t offset, const char *what, uint64_t n, uint64_t max) {
    return kpError_set(d->err, KAPSUL_ERR_LIMIT, offset, "too many %s (%llu, limit %llu)", what,
                       (unsigned long long)n, (unsigned long long)max);
}

static kapsul_status nomem(dec *d) { return kpError_set(d->err, KAPSUL_ERR_NOMEM, 0, "out of memory"); }

/* ---- Proposals kapsul does not run ----------------------------------------------------------
 * Where a byte means something in a later proposal, the reference decoder's message gets that
 * proposal's name appended (the spec scripts match the message's start, so it stays first). */
static const char *valtype_msg(uint8_t b) {
    if (b == 0x63 || b == 0x64)
        return "malformed value type (a typed reference: the function-references/GC proposals, not supported)";
    if (b >= 0x69 && b <= 0x6E)
        return "malformed value type (a GC heap type: the GC proposal, not supported)";
    return "malformed value type";
}

static const char *opcode_msg(uint8_t prefix, uint32_t code) {
    if (prefix == 0xFD)
        return code >= 0x100 ? "illegal opcode (relaxed SIMD: a proposal kapsul does not support)"
                             : "illegal opcode";
    if (prefix) return "illegal opcode";
    switch (code) {
    case 0x06:
    case 0x07:
    case 0x08:
    case 0x09:
    case 0x0A:
    case 0x18:
    case 0x19:
    case 0x1F: return "illegal opcode (try/catch/throw: the exception-handling proposal, not supported)";
    case 0x12:
    case 0x13: return "illegal opcode (return_call: the tail-call proposal, not supported)";
    case 0x14:
    case 0x15:
    case 0xD3:
    case 0xD4:
    case 0xD5:
    case 0xD6: return "illegal opcode (call_ref/br_on_null: the function-references proposal, not supported)";
    case 0xFB: return "illegal opcode (0xFB prefix: the GC proposal, not supported)";
    case 0xFE: return "illegal opcode (0xFE prefix: atomics, the threads proposal, not supported)";
    }
    return "illegal opcode";
}

static bool read_valtype(kpReader *r, kpValType *t) {
    uint8_t b;
    if (!kpRead_u8(r, &b)) return false;
    if (!kp_is_valtype(b)) return fail_prev(r, valtype_msg(b));
    *t = b;
    return true;
}

static bool read_reftype(kpReader *r, kpValType *t) {
    uint8_t b;
    if (!kpRead_u8(r, &b)) return false;
    if (b != kpT_FUNCREF && b != kpT_EXTERNREF) return fail_prev(r, "malformed reference type");
    *t = b;
    return true;
}

static bool read_zero(kpReader *r) {
    uint8_t b;
    if (!kpRead_u8(r, &b)) return false;
    if (b != 0) return fail_prev(r, "zero byte expected");
    return true;
}

/* ---- Instructions ------------------------------------------------------------------------------ */

/* Block type: 0x40, a value type, or a non-negative s33 type index. */
static bool read_blocktype(kpReader *r, kpInstr *in) {
    if (kpRead_eof(r)) return kpRead_fail(r, "unexpected end");
    uint8_t b = *r->p;
    if (b == 0x40) {
        r->p++;
        in->block_kind = kpBlock_EMPTY;
        return true;
    }
    if (kp_is_valtype(b)) {
        r->p++;
        in->block_kind = kpBlock_VAL;
        in->type = b;
        return true;
    }
    int64_t idx;
    const uint8_t *at = r->p;
    if (!kpRead_s33(r, &idx)) return false;
    if (idx < 0) {
        r->p = at;
        return kpRead_fail(r, "malformed value type");
    }
    in->block_kind = kpBlock_TYPE;
    in->a = (uint32_t)idx;
    return true;
}

static bool read_memarg(kpReader *r, kpInstr *in) {
    if (!kpRead_u32(r, &in->a)) return false;
    if (in->a >= 32) return fail_prev(r, "malformed memop flags");
    return kpRead_u32(r, &in->b);
}

/* br_table: check every target's encoding now; consumers reread them from in->bytes. */
static bool read_brtable(kpReader *r, kpInstr *in) {
    if (!kpRead_u32(r, &in->count)) return false;
    if (!count_fits(r, in->count, 1)) return false;
    in->bytes = r->p;
    for (uint32_t i = 0; i < in->count; i++) {
        uint32_t l;
        if (!kpRead_u32(r, &l)) return false;
    }
    return kpRead_u32(r, &in->a);
}

/* select_t: a vector of value types (length 1 in 2.0; the validator checks the length). */
static bool read_selectt(kpReader *r, kpInstr *in) {
    if (!kpRead_u32(r, &in->a)) return false;
    if (!count_fits(r, in->a, 1)) return false;
    in->type = 0;
    for (uint32_t i = 0; i < in->a; i++) {
        kpValType t;
        if (!read_valtype(r, &t)) return false;
        if (i == 0) in->type = t;
    }
    return true;
}

static bool read_imm(kpReader *r, kpInstr *in, kpImm imm) {
    switch (imm) {
    case kpImm_NONE: return true;
    case kpImm_BLOCK: return read_blocktype(r, in);
    case kpImm_LABEL:
    case kpImm_FUNC:
    case kpImm_LOCAL:
    case kpImm_GLOBAL:
    case kpImm_TABLE:
    case kpImm_DATA:
    case kpImm_ELEM: return kpRead_u32(r, &in->a);
    case kpImm_BRTABLE: return read_brtable(r, in);
    case kpImm_CALLIND:
    case kpImm_TABLEINIT:
    case kpImm_TABLECOPY: return kpRead_u32(r, &in->a) && kpRead_u32(r, &in->b);
    case kpImm_MEMARG: return read_memarg(r, in);
    case kpImm_MEMIDX: return read_zero(r);
    case kpImm_I32: {
        int32_t v;
        if (!kpRead_s32(r, &v)) return false;
        in->bits = (uint32_t)v;
        return true;
    }
    case kpImm_I64: {
        int64_t v;
        if (!kpRead_s64(r, &v)) return false;
        in->bits = (uint64_t)v;
        return true;
    }
    case kpImm_F32: {
        uint32_t v;
        if (!kpRead_f32(r, &v)) return false;
        in->bits = v;
        return true;
    }
    case kpImm_F64: return kpRead_f64(r, &in->bits);
    case kpImm_SELECTT: return read_selectt(r, in);
    case kpImm_REFTYPE: return read_reftype(r, &in->type);
    case kpImm_MEMINIT: return kpRead_u32(r, &in->a) && read_zero(r);
    case kpImm_MEMCOPY: return read_zero(r) && read_zero(r);
    case kpImm_V128:
    case kpImm_SHUFFLE: return kpRead_bytes(r, 16, &in->bytes);
    case kpImm_LANE: return kpRead_u8(r, &in->lane);
    case kpImm_MEMLANE: return read_memarg(r, in) && kpRead_u8(r, &in->lane);
    }
    return kpRead_fail(r, "illegal opcode");
}

bool kpDecode_instr(kpReader *r, kpInstr *in) {
    memset(in, 0, sizeof *in);
    in->offset = (uint32_t)kpRead_offset(r);
    if (r->p >= r->end) return kpRead_fail(r, "unexpected end");
    uint8_t b = *r->p++;
    uint8_t prefix = 0;
    uint32_t code = b;
    if (b == 0xFC || b == 0xFD) {
        prefix = b;
        if (!kpRead_u32(r, &code)) return false;
    }
    int op = kpOp_fromCode(prefix, code);
    if (op < 0) {
        r->p = r->base + in->offset;
        return kpRead_fail(r, opcode_msg(prefix, code));
    }
    in->op = (uint16_t)op;
    return read_imm(r, in, kpOp_info[op].imm);
}

/* A constant expression: instructions up to the `end` that closes it. Nesting is tracked only
 * to find that end; which instructions are allowed is the validator's business ("constant
 * expression required"). The expression is read against the module's end, not the section's,
 * like the reference decoder, so a missing `end` reports the byte that is not an instruction. */
static bool read_const_expr(dec *d, kpReader *r, kpRange *out) {
    kpReader er;
    kpRead_init(&er, r->base, r->p, d->mod_end);
    uint32_t depth = 0;
    size_t start = kpRead_offset(r);
    for (;;) {
        kpInstr in;
        if (!kpDecode_instr(&er, &in)) {
            r->error = er.error;
            r->error_pos = er.error_pos;
            return false;
        }
        if (in.op == kpOp_BLOCK || in.op == kpOp_LOOP || in.op == kpOp_IF) depth++;
        else if (in.op == kpOp_END) {
            if (depth == 0) break;
            depth--;
        }
    }
    if (er.p > r->end) {
        r->p = r->end;
        return kpRead_fail(r, "unexpected end");
    }
    out->start = (uint32_t)start;
    out->len = (uint32_t)(kpRead_offset(&er) - start);
    r->p = er.p;
    return true;
}

/* ---- Types, imports and the simple sections ------------------------------------------------- */

/* Limits: a flag byte (0 = min only, 1 = min and max) then u32 bounds. */
static bool read_limits(kpReader *r, kpLimits *l) {
    uint8_t flag;
    uint32_t v;
    if (!kpRead_u8(r, &flag)) return false;
    if (flag & 0x80) return fail_prev(r, "integer representation too long");
    if (flag == 2 || flag == 3)
        return fail_prev(r,
                         "integer too large (limits flag 0x02/0x03: a shared memory, the threads proposal, "
                         "not supported)");
    if (flag >= 4 && flag <= 7)
        return fail_prev(r,
                         "integer too large (limits flag 0x04-0x07: a 64-bit memory, the memory64 proposal, "
                         "not supported)");
    if (flag > 1) return fail_prev(r, "integer too large");
    if (!kpRead_u32(r, &v)) return false;
    l->min = v;
    l->has_max = flag == 1;
    l->max = 0;
    if (l->has_max) {
        if (!kpRead_u32(r, &v)) return false;
        l->max = v;
    }
    return true;
}

static bool read_tabletype(kpReader *r, kpTableType *t) {
    return read_reftype(r, &t->elem) && read_limits(r, &t->limits);
}

static bool read_globaltype(kpReader *r, kpGlobalType *g) {
    uint8_t mut;
    if (!read_valtype(r, &g->type) || !kpRead_u8(r, &mut)) return false;
    if (mut > 1) return fail_prev(r, "malformed mutability");
    g->mut = mut == 1;
    return true;
}

/* vec(valtype) into a fresh array; `max` is the implementation limit for its length. */
static kapsul_status read_valtypes(dec *d, kpReader *r, uint32_t *n, uint32_t max, const char *what) {
    kapsul_status st = KAPSUL_OK;
    size_t at = kpRead_offset(r);
    if (!kpRead_u32(r, n) || !count_fits(r, *n, 1)) goto fail;
    if (*n > max) {
        st = limit_fail(d, at, what, *n, max);
        goto fail;
    }
    for (uint32_t i = 0; i < *n; i++) {
        kpValType t;
        if (!read_valtype(r, &t)) goto fail;
    }
    return KAPSUL_OK;
fail:
    return st ? st : reader_fail(d, r, true);
}

static kapsul_status read_type_section(dec *d, kpReader *r) {
    kpModule *m = d->m;
    kapsul_status st = KAPSUL_OK;
    uint32_t count;
    size_t at = kpRead_offset(r);
    if (!kpRead_u32(r, &count) || !count_fits(r, count, 3)) goto fail;
    if (count > KP_MAX_TYPES) {
        st = limit_fail(d, at, "types", count, KP_MAX_TYPES);
        goto fail;
    }
    /* Every value type of every signature lives in one pool rather than one allocation per
     * type: a million types then cost one block, not a million. Each value type is one byte of
     * the section, so what is left of it bounds the pool (pages never written stay unused). */
    size_t pool_size = (size_t)(r->end - r->p);
    if (!(m->types = kp_calloc(count, sizeof *m->types))) {
        st = nomem(d);
        goto fail;
    }
    if (!(m->type_pool = kp_malloc(pool_size ? pool_size : 1))) {
        st = nomem(d);
        goto fail;
    }
    m->ntypes = count;
    size_t used = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint8_t form;
        if (!kpRead_u8(r, &form)) goto fail;
        if (form != 0x60) {
            bool gc = form == 0x5E || form == 0x5F || form == 0x4E || form == 0x4F || form == 0x50;
            fail_prev(
                r, form & 0x80 ? "integer representation too long"
                   : gc ? "malformed function type (a struct/array/rec type: the GC proposal, not supported)"
                        : "malformed function type");
            goto fail;
        }
        const uint8_t *params, *results;
        uint32_t np, nr;
        if ((st = read_valtypes(d, r, &np, KP_MAX_PARAMS, "parameters"))) goto fail;
        params = r->p - np;
        if ((st = read_valtypes(d, r, &nr, KP_MAX_RESULTS, "results"))) goto fail;
        results = r->p - nr;
        kpFuncType *t = &m->types[i];
        t->types = m->type_pool + used;
        used += (size_t)np + nr;
        memcpy(t->types, params, np);
        memcpy(t->types + np, results, nr);
        t->nparams = np;
        t->nresults = nr;
    }
    return KAPSUL_OK;
fail:
    return st ? st : reader_fail(d, r, true);
}

static bool read_import_desc(kpReader *r, kpImport *im) {
    uint8_t kind;
    if (!kpRead_u8(r, &kind)) return false;
    im->kind = (kpExternKind)kind;
    switch (kind) {
    case kpExtern_FUNC: return kpRead_u32(r, &im->desc.func_type);
    case kpExtern_TABLE: return read_tabletype(r, &im->desc.table);
    case kpExtern_MEMORY: return read_limits(r, &im->desc.memory.limits);
    case kpExtern_GLOBAL: return read_globaltype(r, &im->desc.global);
    default: return fail_prev(r, "malformed import kind");
    }
}

static kapsul_status read_import_section(dec *d, kpReader *r) {
    kpModule *m = d->m;
    kapsul_status st = KAPSUL_OK;
    uint32_t count;
    size_t at = kpRead_offset(r);
    if (!kpRead_u32(r, &count) || !count_fits(r, count, 3)) goto fail;
    if (count > KP_MAX_IMPORTS) {
        st = limit_fail(d, at, "imports", count, KP_MAX_IMPORTS);
        goto fail;
    }
    if (!(m->imports = kp_calloc(count, sizeof *m->imports))) {
        st = nomem(d);
        goto fail;
    }
    m->nimports = count;
    for (uint32_t i = 0; i < count; i++) {
        kpImport *im = &m->imports[i];
        if (!kpRead_name(r, &im->module, &im->module_len) || !kpRead_name(r, &im->name, &im->name_len) ||
            !read_import_desc(r, im))
            goto fail;
        switch (im->kind) {
        case kpExtern_FUNC: m->nfunc_imports++; break;
        case kpExtern_TABLE: m->ntable_imports++; break;
        case kpExtern_MEMORY: m->nmem_imports++; break;
        case kpExtern_GLOBAL: m->nglobal_imports++; break;
        }
    }
    /* Positions of each kind's imports, for the O(1) index-space helpers. */
    uint32_t nkind[4] = { m->nfunc_imports, m->ntable_imports, m->nmem_imports, m->nglobal_imports },
             fill[4] = { 0 };
    for (int k = 0; k < 4; k++)
        if (!(m->import_pos[k] = kp_calloc(nkind[k], sizeof(uint32_t)))) {
            st = nomem(d);
            goto fail;
        }
    for (uint32_t i = 0; i < count; i++) {
        kpExternKind k = m->imports[i].kind;
        m->import_pos[k][fill[k]++] = i;
    }
    return KAPSUL_OK;
fail:
    return st ? st : reader_fail(d, r, true);
}

static kapsul_status read_function_section(dec *d, kpReader *r) {
    kpModule *m = d->m;
    kapsul_status st = KAPSUL_OK;
    uint32_t count;
    size_t at = kpRead_offset(r);
    if (!kpRead_u32(r, &count) || !count_fits(r, count, 1)) goto fail;
    if ((uint64_t)count + m->nfunc_imports > KP_MAX_FUNCS) {
        st = limit_fail(d, at, "functions", (uint64_t)count + m->nfunc_imports, KP_MAX_FUNCS);
        goto fail;
    }
    if (!(m->funcs = kp_calloc(count, sizeof *m->funcs))) {
        st = nomem(d);
        goto fail;
    }
    m->nfuncs = count;
    for (uint32_t i = 0; i < count; i++)
        if (!kpRead_u32(r, &m->funcs[i].type)) goto fail;
    return KAPSUL_OK;
fail:
    return st ? st : reader_fail(d, r, true);
}

static kapsul_status read_table_section(dec *d, kpReader *r) {
    kpModule *m = d->m;
    kapsul_status st = KAPSUL_OK;
    uint32_t count;
    m->table_at = (uint32_t)kpRead_offset(r);
    if (!kpRead_u32(r, &count) || !count_fits(r, count, 2)) goto fail;
    if (!(m->tables = kp_calloc(count, sizeof *m->tables))) {
        st = nomem(d);
        goto fail;
    }
    m->ntables = count;
    for (uint32_t i = 0; i < count; i++)
        if (!read_tabletype(r, &m->tables[i])) goto fail;
    return KAPSUL_OK;
fail:
    return st ? st : reader_fail(d, r, true);
}

static kapsul_status read_memory_section(dec *d, kpReader *r) {
    kpModule *m = d->m;
    kapsul_status st = KAPSUL_OK;
    uint32_t count;
    m->memory_at = (uint32_t)kpRead_offset(r);
    if (!kpRead_u32(r, &count) || !count_fits(r, count, 1)) goto fail;
    if (!(m->memories = kp_calloc(count, sizeof *m->memories))) {
        st = nomem(d);
        goto fail;
    }
    m->nmemories = count;
    for (uint32_t i = 0; i < count; i++)
        if (!read_limits(r, &m->memories[i].limits)) goto fail;
    return KAPSUL_OK;
fail:
    return st ? st : reader_fail(d, r, true);
}

static kapsul_status read_global_section(dec *d, kpReader *r) {
    kpModule *m = d->m;
    kapsul_status st = KAPSUL_OK;
    uint32_t count;
    size_t at = kpRead_offset(r);
    if (!kpRead_u32(r, &count) || !count_fits(r, count, 3)) goto fail;
    if ((uint64_t)count + m->nglobal_imports > KP_MAX_GLOBALS) {
        st = limit_fail(d, at, "globals", (uint64_t)count + m->nglobal_imports, KP_MAX_GLOBALS);
        goto fail;
    }
    if (!(m->globals = kp_calloc(count, sizeof *m->globals))) {
        st = nomem(d);
        goto fail;
    }
    m->nglobals = count;
    for (uint32_t i = 0; i < count; i++)
        if (!read_globaltype(r, &m->globals[i].type) || !read_const_expr(d, r, &m->globals[i].init))
            goto fail;
    return KAPSUL_OK;
fail:
    return st ? st : reader_fail(d, r, true);
}

static kapsul_status read_export_section(dec *d, kpReader *r) {
    kpModule *m = d->m;
    kapsul_status st = KAPSUL_OK;
    uint32_t count;
    size_t at = kpRead_offset(r);
    if (!kpRead_u32(r, &count) || !count_fits(r, count, 3)) goto fail;
    if (count > KP_MAX_EXPORTS) {
        st = limit_fail(d, at, "exports", count, KP_MAX_EXPORTS);
        goto fail;
    }
    if (!(m->exports = kp_calloc(count, sizeof *m->exports))) {
        st = nomem(d);
        goto fail;
    }
    m->nexports = count;
    for (uint32_t i = 0; i < count; i++) {
        kpExport *ex = &m->exports[i];
        uint8_t kind;
        if (!kpRead_name(r, &ex->name, &ex->name_len) || !kpRead_u8(r, &kind)) goto fail;
        if (kind > kpExtern_GLOBAL) {
            fail_prev(r, "malformed export kind");
            goto fail;
        }
        ex->kind = (kpExternKind)kind;
        if (!kpRead_u32(r, &ex->index)) goto fail;
    }
    return KAPSUL_OK;
fail:
    return st ? st : reader_fail(d, r, true);
}

/* ---- Element and data segments ---------------------------------------------------------------- */

/* The items of an element segment: function indices (elemkind forms) or expressions. */
static kapsul_status read_elem_items(dec *d, kpReader *r, kpElem *e, bool exprs) {
    kapsul_status st = KAPSUL_OK;
    size_t at = kpRead_offset(r);
    if (!kpRead_u32(r, &e->count) || !count_fits(r, e->count, 1)) goto fail;
    if (e->count > KP_MAX_TABLE_ENTRIES) {
        st = limit_fail(d, at, "element segment items", e->count, KP_MAX_TABLE_ENTRIES);
        goto fail;
    }
    if (exprs) {
        if (!(e->exprs = kp_calloc(e->count, sizeof *e->exprs))) {
            st = nomem(d);
            goto fail;
        }
        for (uint32_t i = 0; i < e->count; i++)
            if (!read_const_expr(d, r, &e->exprs[i])) goto fail;
    } else {
        if (!(e->funcs = kp_calloc(e->count, sizeof *e->funcs))) {
            st = nomem(d);
            goto fail;
        }
        for (uint32_t i = 0; i < e->count; i++)
            if (!kpRead_u32(r, &e->funcs[i])) goto fail;
    }
    return KAPSUL_OK;
fail:
    return st ? st : reader_fail(d, r, true);
}

/* Flags 0..7: bit 0 = passive or declarative, bit 1 = explicit table index (active) or
 * declarative (otherwise), bit 2 = items are expressions. */
static kapsul_status read_elem(dec *d, kpReader *r, kpElem *e) {
    uint32_t flags;
    if (!kpRead_u32(r, &flags)) goto fail;
    if (flags > 7) {
        fail_prev(r, "malformed elements segment kind");
        goto fail;
    }
    e->type = kpT_FUNCREF;
    if (!(flags & 1)) {
        e->mode = kpSeg_ACTIVE;
        if ((flags & 2) && !kpRead_u32(r, &e->table)) goto fail;
        if (!read_const_expr(d, r, &e->offset)) goto fail;
    } else {
        e->mode = (flags & 2) ? kpSeg_DECLARATIVE : kpSeg_PASSIVE;
    }
    if (flags & 3) {
        if (flags & 4) {
            if (!read_reftype(r, &e->type)) goto fail;
        } else {
            uint8_t kind;
            if (!kpRead_u8(r, &kind)) goto fail;
            if (kind != 0) {
                fail_prev(r, "malformed element kind");
                goto fail;
            }
        }
    }
    return read_elem_items(d, r, e, (flags & 4) != 0);
fail:
    return reader_fail(d, r, true);
}

static kapsul_status read_elem_section(dec *d, kpReader *r) {
    kpModule *m = d->m;
    kapsul_status st = KAPSUL_OK;
    uint32_t count;
    size_t at = kpRead_offset(r);
    if (!kpRead_u32(r, &count) || !count_fits(r, count, 2)) goto fail;
    if (count > KP_MAX_SEGMENTS) {
        st = limit_fail(d, at, "element segments", count, KP_MAX_SEGMENTS);
        goto fail;
    }
    if (!(m->elems = kp_calloc(count, sizeof *m->elems))) {
        st = nomem(d);
        goto fail;
    }
    m->nelems = count;
    for (uint32_t i = 0; i < count; i++)
        if ((st = read_elem(d, r, &m->elems[i]))) goto fail;
    return KAPSUL_OK;
fail:
    return st ? st : reader_fail(d, r, true);
}

static bool read_data(dec *d, kpReader *r, kpData *s) {
    uint32_t flags, len;
    const uint8_t *bytes;
    if (!kpRead_u32(r, &flags)) return false;
    if (flags > 2) return fail_prev(r, "malformed data segment kind");
    s->mode = flags == 1 ? kpSeg_PASSIVE : kpSeg_ACTIVE;
    if (flags == 2 && !kpRead_u32(r, &s->memory)) return false;
    if (flags != 1 && !read_const_expr(d, r, &s->offset)) return false;
    if (!kpRead_u32(r, &len) || !kpRead_bytes(r, len, &bytes)) return false;
    s->bytes.start = (uint32_t)(bytes - r->base);
    s->bytes.len = len;
    return true;
}

static kapsul_status read_data_section(dec *d, kpReader *r) {
    kpModule *m = d->m;
    kapsul_status st = KAPSUL_OK;
    uint32_t count;
    size_t at = kpRead_offset(r);
    if (!kpRead_u32(r, &count)) goto fail;
    if (m->has_data_count && count != m->data_count) {
        st = kpError_set(d->err, KAPSUL_ERR_MALFORMED, at,
                         "data count and data section have inconsistent lengths");
        goto fail;
    }
    if (!count_fits(r, count, 2)) goto fail;
    if (count > KP_MAX_SEGMENTS) {
        st = limit_fail(d, at, "data segments", count, KP_MAX_SEGMENTS);
        goto fail;
    }
    if (!(m->datas = kp_calloc(count, sizeof *m->datas))) {
        st = nomem(d);
        goto fail;
    }
    m->ndatas = count;
    for (uint32_t i = 0; i < count; i++)
        if (!read_data(d, r, &m->datas[i])) goto fail;
    return KAPSUL_OK;
fail:
    return st ? st : reader_fail(d, r, true);
}

/* ---- Code --------------------------------------------------------------------------------------- */

/* One body: local runs (total at most KP_MAX_LOCALS), then the instruction range. */
static kapsul_status read_body(dec *d, kpReader *r, kpFunc *f) {
    kapsul_status st = KAPSUL_OK;
    uint32_t size, nruns;
    const uint8_t *body;
    f->body_offset = (uint32_t)kpRead_offset(r);
    if (!kpRead_u32(r, &size) || !kpRead_bytes(r, size, &body)) goto fail;
    if (size > KP_MAX_FUNC_SIZE) {
        st = limit_fail(d, f->body_offset, "bytes in a function body", size, KP_MAX_FUNC_SIZE);
        goto fail;
    }
    kpReader br;
    kpRead_init(&br, r->base, body, body + size);
    if (!kpRead_u32(&br, &nruns) || !count_fits(&br, nruns, 2)) {
        *r = br;
        goto fail;
    }
    if (nruns && !(f->local_runs = kp_calloc(nruns, sizeof *f->local_runs))) {
        st = nomem(d);
        goto fail;
    }
    f->nlocal_runs = nruns;
    uint64_t total = 0;
    for (uint32_t i = 0; i < nruns; i++) {
        kpLocalRun *run = &f->local_runs[i];
        size_t at = kpRead_offset(&br);
        if (!kpRead_u32(&br, &run->count) || !read_valtype(&br, &run->type)) {
            *r = br;
            goto fail;
        }
        total += run->count;
        if (total > KP_MAX_LOCALS) {
            st = kpError_set(d->err, KAPSUL_ERR_MALFORMED, at, "too many locals");
            goto fail;
        }
    }
    f->nlocals = (uint32_t)total;
    f->body.start = (uint32_t)kpRead_offset(&br);
    f->body.len = (uint32_t)(br.end - br.p);
    return KAPSUL_OK;
fail:
    return st ? st : reader_fail(d, r, true);
}

static kapsul_status read_code_section(dec *d, kpReader *r) {
    kpModule *m = d->m;
    kapsul_status st = KAPSUL_OK;
    uint32_t count;
    size_t at = kpRead_offset(r);
    m->code_start = (uint32_t)at;
    if (!kpRead_u32(r, &count)) goto fail;
    if (count != m->nfuncs) {
        /* Reported after the remaining sections, which may hold an earlier-reported error. */
        d->code_mismatch = true;
        d->code_mismatch_at = at;
        r->p = r->end;
        return KAPSUL_OK;
    }
    for (uint32_t i = 0; i < count; i++)
        if ((st = read_body(d, r, &m->funcs[i]))) goto fail;
    return KAPSUL_OK;
fail:
    return st ? st : reader_fail(d, r, true);
}

/* ---- Sections and the module --------------------------------------------------------------------- */

static kapsul_status read_custom_section(dec *d, kpReader *r, size_t *cap) {
    kpModule *m = d->m;
    kpCustom c;
    if (!kpRead_name(r, &c.name, &c.name_len)) return reader_fail(d, r, true);
    c.bytes.start = (uint32_t)kpRead_offset(r);
    c.bytes.len = (uint32_t)(r->end - r->p);
    r->p = r->end;
    if (kpVec_growRaw((void **)&m->customs, cap, m->ncustoms, sizeof *m->customs)) return nomem(d);
    m->customs[m->ncustoms++] = c;
    return KAPSUL_OK;
}

static kapsul_status read_section(dec *d, uint8_t id, kpReader *r) {
    kpModule *m = d->m;
    switch (id) {
    case 1: return read_type_section(d, r);
    case 2: return read_import_section(d, r);
    case 3: return read_function_section(d, r);
    case 4: return read_table_section(d, r);
    case 5: return read_memory_section(d, r);
    case 6: return read_global_section(d, r);
    case 7: return read_export_section(d, r);
    case 8:
        m->has_start = true;
        m->start_at = (uint32_t)kpRead_offset(r);
        return kpRead_u32(r, &m->start) ? KAPSUL_OK : reader_fail(d, r, true);
    case 9: return read_elem_section(d, r);
    case 10: d->seen_code = true; return read_code_section(d, r);
    case 11: d->seen_data = true; return read_data_section(d, r);
    case 12:
        m->has_data_count = true;
        return kpRead_u32(r, &m->data_count) ? KAPSUL_OK : reader_fail(d, r, true);
    }
    return KAPSUL_OK;
}

/* Position of each known section id in the required order (data count sits before code). */
static const uint8_t section_rank[13] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10 };

static kapsul_status read_sections(dec *d, kpReader *r) {
    kapsul_status st;
    size_t customs_cap = 0;
    int last_rank = 0;
    while (!kpRead_eof(r)) {
        uint8_t id;
        uint32_t size;
        const uint8_t *body;
        size_t at = kpRead_offset(r);
        if (!kpRead_u8(r, &id)) return reader_fail(d, r, false);
        if (id == 13)
            return kpError_set(d->err, KAPSUL_ERR_MALFORMED, at,
                               "malformed section id (13: a tag section, the exception-handling proposal, "
                               "not supported)");
        if (id > 12) return kpError_set(d->err, KAPSUL_ERR_MALFORMED, at, "malformed section id");
        if (!kpRead_u32(r, &size)) return reader_fail(d, r, false);
        if (size > (size_t)(r->end - r->p))
            return kpError_set(d->err, KAPSUL_ERR_MALFORMED, kpRead_offset(r), "length out of bounds");
        kpRead_bytes(r, size, &body);
        if (id != 0) {
            if (section_rank[id] <= last_rank)
                return kpError_set(d->err, KAPSUL_ERR_MALFORMED, at, "unexpected content after last section");
            last_rank = section_rank[id];
        }
        kpReader sr;
        kpRead_init(&sr, r->base, body, body + size);
        st = id == 0 ? read_custom_section(d, &sr, &customs_cap) : read_section(d, id, &sr);
        if (st) return st;
        if (sr.p != sr.end)
            return kpError_set(d->err, KAPSUL_ERR_MALFORMED, kpRead_offset(&sr), "section size mismatch");
    }
    return KAPSUL_OK;
}

/* Rules that span sections, checked once all are read. */
static kapsul_status check_counts(dec *d) {
    kpModule *m = d->m;
    if (d->code_mismatch)
        return kpError_set(d->err, KAPSUL_ERR_MALFORMED, d->code_mismatch_at,
                           "function and code section have inconsistent lengths");
    if (!d->seen_code && m->nfuncs != 0)
        return kpError_set(d->err, KAPSUL_ERR_MALFORMED, m->size,
                           "function and code section have inconsistent lengths");
    if (!d->seen_data && m->has_data_count && m->data_count != 0)
        return kpError_set(d->err, KAPSUL_ERR_MALFORMED, m->size,
                           "data count and data section have inconsistent lengths");
    return KAPSUL_OK;
}

static kapsul_status read_header(dec *d, kpReader *r) {
    static const uint8_t magic[4] = { 0x00, 0x61, 0x73, 0x6D }, version[4] = { 1, 0, 0, 0 };
    const uint8_t *b;
    if (!kpRead_bytes(r, 4, &b)) return reader_fail(d, r, false);
    if (memcmp(b, magic, 4) != 0)
        return kpError_set(d->err, KAPSUL_ERR_MALFORMED, 0, "magic header not detected");
    if (!kpRead_bytes(r, 4, &b)) return reader_fail(d, r, false);
    if (memcmp(b, version, 4) != 0 && b[0] == 0x0D && b[2] == 0x01 && b[3] == 0x00)
        return kpError_set(d->err, KAPSUL_ERR_MALFORMED, 4,
                           "unknown binary version (0x%02x, layer 1: a WebAssembly component, which kapsul "
                           "does not run yet; it runs core modules)",
                           b[0]);
    if (memcmp(b, version, 4) != 0)
        return kpError_set(d->err, KAPSUL_ERR_MALFORMED, 4, "unknown binary version");
    return KAPSUL_OK;
}

kapsul_status kpDecode_module(const uint8_t *bytes, size_t len, kpModule **out, kapsul_error *err) {
    kapsul_status st;
    dec d = { 0 };
    *out = NULL;
    d.err = err;
    kpModule *m = d.m = kp_calloc(1, sizeof *m);
    if (!m) {
        st = nomem(&d);
        goto fail;
    }
    if (len > UINT32_MAX) {
        st = limit_fail(&d, 0, "module bytes", len, UINT32_MAX);
        goto fail;
    }
    if (!(m->bytes = kp_malloc(len))) {
        st = nomem(&d);
        goto fail;
    }
    if (len) memcpy(m->bytes, bytes, len);
    m->size = len;
    d.mod_end = m->bytes + len;
    kpReader r;
    kpRead_init(&r, m->bytes, m->bytes, m->bytes + len);
    if ((st = read_header(&d, &r)) || (st = read_sections(&d, &r)) || (st = check_counts(&d))) goto fail;
    for (uint32_t i = 0; i < m->ncustoms; i++) {
        const kpCustom *c = &m->customs[i];
        if (c->name_len == 4 && memcmp(c->name, "name", 4) == 0) {
            if ((st = kpModule_readNames(m, c))) {
                nomem(&d);
                goto fail;
            }
            break;
        }
    }
    *out = m;
    return KAPSUL_OK;
fail:
    kpModule_free(m);
    return st;
}
