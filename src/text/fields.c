/*
 * fields.c -- module fields of the text format and the binary module they encode to.
 *
 * Two passes over the fields. The first binds every identifier of the module-level index spaces
 * (types, funcs, tables, memories, globals, elems, datas) and records the explicit types, so a
 * field may refer to anything defined later (`call $f` before `(func $f)`). The second pass
 * encodes each field in text order into per-section buffers, which also gives the spec's order
 * for inline exports/imports and for types appended by inline signatures. Sections are then
 * written in the binary order with minimal LEB128 sizes.
 */
#include <stdlib.h>

#include "text/textint.h"
#include "text/text.h"

typedef struct sec {
    kpBuf b;
    uint32_t n;
} sec;

typedef struct mod {
    kpWat w;
    sec imports, funcs, tables, mems, globals, exports, elems, datas, codes;
    bool has_start;
    uint32_t start;
    const char *first_def;     /* kind of the first definition, for "import after ..." */
    uint32_t next[kpSp_COUNT]; /* pass 2: index of the next entity of each space */
} mod;

static const char *const dup_names[kpSp_COUNT] = {
    "type", "func", "table", "memory", "global", "elem", "data"
};

static kapsul_status put(kpWat *w, int rc) { return rc ? kpWat_nomem(w) : KAPSUL_OK; }

static size_t match_of(const kpWat *w, size_t i) {
    size_t m = kpWat_tok(w, i)->match;
    return m == KP_NO_MATCH ? w->tk->n - 1 : m;
}

/* ---- pass 1: identifiers and explicit types --------------------------------------------------- */

static kapsul_status bind_id(mod *m, int space) {
    kpWat *w = &m->w;
    const kpTok *t = kpWat_cur(w);
    if (w->count[space] == UINT32_MAX) return kpWat_error(w, w->pos, "too many %ss", dup_names[space]);
    if (t->kind == kpTok_ID) {
        int r = kpWat_bind(&w->ids[space], w->tk->src + t->start, t->len, w->count[space]);
        if (r < 0) return kpWat_nomem(w);
        if (r > 0)
            return kpWat_error(w, w->pos, "duplicate %s %.*s", dup_names[space], (int)t->len,
                               w->tk->src + t->start);
        w->pos++;
    }
    w->count[space]++;
    return KAPSUL_OK;
}

static int space_of(const kpWat *w, size_t kw) {
    if (kpWat_isKw(w, kw, "func")) return kpSp_FUNC;
    if (kpWat_isKw(w, kw, "table")) return kpSp_TABLE;
    if (kpWat_isKw(w, kw, "memory")) return kpSp_MEM;
    if (kpWat_isKw(w, kw, "global")) return kpSp_GLOBAL;
    return -1;
}

static kapsul_status import_order(mod *m, size_t at) {
    if (m->first_def) return kpWat_error(&m->w, at, "import after %s", m->first_def);
    return KAPSUL_OK;
}

static kapsul_status collect_type(mod *m) {
    kpWat *w = &m->w;
    kpTypeUse tu = { 0 };
    kapsul_status st;
    uint32_t idx;
    if ((st = bind_id(m, kpSp_TYPE))) goto fail;
    if (!kpWat_isOpen(w, w->pos, "func")) {
        st = kpWat_unexpected(w, w->pos);
        goto fail;
    }
    tu.tok = w->pos;
    w->pos += 2;
    if ((st = kpWat_sig(w, &tu, false))) goto fail;
    if ((st = kpWat_close(w))) goto fail;
    if ((st = kpWat_close(w))) goto fail;
    st = kpWat_addType(w, &tu, &idx);
fail:
    kpWat_typeUseFree(&tu);
    return st;
}

/* First look at one field: bind its identifier and count it in its index space. */
static kapsul_status collect_field(mod *m, size_t i) {
    kpWat *w = &m->w;
    size_t kw = i + 1;
    int sp;
    w->pos = i + 2;
    if (kpWat_isKw(w, kw, "type")) return collect_type(m);
    if (kpWat_isKw(w, kw, "import")) {
        size_t d = i + 4;
        if (kpWat_tok(w, i + 2)->kind != kpTok_STRING || kpWat_tok(w, i + 3)->kind != kpTok_STRING)
            return kpWat_unexpected(w, i + 2);
        if (kpWat_tok(w, d)->kind != kpTok_LPAR || (sp = space_of(w, d + 1)) < 0)
            return kpWat_unexpected(w, d);
        w->pos = d + 2;
        kapsul_status st = import_order(m, i);
        return st ? st : bind_id(m, sp);
    }
    if ((sp = space_of(w, kw)) >= 0) {
        kapsul_status st = bind_id(m, sp);
        if (st) return st;
        size_t p = w->pos;
        while (kpWat_isOpen(w, p, "export")) p = match_of(w, p) + 1;
        if (kpWat_isOpen(w, p, "import")) return import_order(m, i);
        if (!m->first_def) m->first_def = sp == kpSp_FUNC ? "function" : dup_names[sp];
        if (sp == kpSp_TABLE && kpWat_tok(w, p)->kind == kpTok_KEYWORD && kpWat_isOpen(w, p + 1, "elem"))
            w->count[kpSp_ELEM]++;
        if (sp == kpSp_MEM && kpWat_isOpen(w, p, "data")) w->count[kpSp_DATA]++;
        return KAPSUL_OK;
    }
    if (kpWat_isKw(w, kw, "elem")) return bind_id(m, kpSp_ELEM);
    if (kpWat_isKw(w, kw, "data")) return bind_id(m, kpSp_DATA);
    if (kpWat_isKw(w, kw, "export") || kpWat_isKw(w, kw, "start")) return KAPSUL_OK;
    const kpTok *t = kpWat_tok(w, kw);
    (void)t;
    return kpWat_unexpected(w, kw);
}

/* ---- pass 2 helpers --------------------------------------------------------------------------- */

/* A string token as a binary name: length, bytes; names must be valid UTF-8. */
static kapsul_status name_str(mod *m, kpBuf *o) {
    kpWat *w = &m->w;
    const kpTok *t = kpWat_cur(w);
    if (t->kind != kpTok_STRING) return kpWat_unexpected(w, w->pos);
    kpBuf tmp = { 0 };
    kapsul_status st = KAPSUL_OK;
    if (kpLex_string(w->tk, t, &tmp)) {
        st = kpWat_nomem(w);
        goto fail;
    }
    if (!kp_utf8_valid(tmp.data, tmp.len)) {
        st = kpWat_error(w, w->pos, "malformed UTF-8 encoding");
        goto fail;
    }
    if (tmp.len > UINT32_MAX) {
        st = kpWat_error(w, w->pos, "string too long");
        goto fail;
    }
    if (kpBuf_u32leb(o, (uint32_t)tmp.len) || kpBuf_push(o, tmp.data, tmp.len)) st = kpWat_nomem(w);
    w->pos++;
fail:
    kpBuf_free(&tmp);
    return st;
}

/* Any number of string tokens, concatenated (data segments). */
static kapsul_status strings(mod *m, kpBuf *o) {
    kpWat *w = &m->w;
    while (kpWat_cur(w)->kind == kpTok_STRING) {
        if (kpLex_string(w->tk, kpWat_cur(w), o)) return kpWat_nomem(w);
        w->pos++;
    }
    return KAPSUL_OK;
}

static kapsul_status inline_exports(mod *m, uint8_t kind, uint32_t idx) {
    kpWat *w = &m->w;
    kapsul_status st;
    while (kpWat_isOpen(w, w->pos, "export")) {
        w->pos += 2;
        if ((st = name_str(m, &m->exports.b))) return st;
        if ((st = kpWat_close(w))) return st;
        if (kpBuf_byte(&m->exports.b, kind) || kpBuf_u32leb(&m->exports.b, idx)) return kpWat_nomem(w);
        m->exports.n++;
    }
    return KAPSUL_OK;
}

/* (import "m" "n") inside a definition: starts the import entry. Returns true in *is_import. */
static kapsul_status inline_import(mod *m, bool *is_import) {
    kpWat *w = &m->w;
    kapsul_status st;
    *is_import = kpWat_isOpen(w, w->pos, "import");
    if (!*is_import) return KAPSUL_OK;
    w->pos += 2;
    if ((st = name_str(m, &m->imports.b)) || (st = name_str(m, &m->imports.b))) return st;
    m->imports.n++;
    return kpWat_close(w);
}

static kapsul_status parse_u32(kpWat *w, uint64_t *v) {
    const kpTok *t = kpWat_cur(w);
    if (t->kind != kpTok_NUM) return kpWat_unexpected(w, w->pos);
    int r = kpNum_uint(w->tk->src + t->start, t->len, 32, v);
    if (r) return kpWat_badNum(w, w->pos, r, "i32 constant out of range");
    w->pos++;
    return KAPSUL_OK;
}

static kapsul_status limits(mod *m, kpBuf *o) {
    kpWat *w = &m->w;
    uint64_t min, max;
    kapsul_status st = parse_u32(w, &min);
    if (st) return st;
    if (kpWat_cur(w)->kind != kpTok_NUM) return put(w, kpBuf_byte(o, 0) || kpBuf_u32leb(o, (uint32_t)min));
    if ((st = parse_u32(w, &max))) return st;
    return put(w, kpBuf_byte(o, 1) || kpBuf_u32leb(o, (uint32_t)min) || kpBuf_u32leb(o, (uint32_t)max));
}

static kapsul_status reftype(mod *m, uint8_t *rt) {
    kpWat *w = &m->w;
    if (kpWat_isKw(w, w->pos, "funcref")) *rt = 0x70;
    else if (kpWat_isKw(w, w->pos, "externref")) *rt = 0x6F;
    else return kpWat_unexpected(w, w->pos);
    w->pos++;
    return KAPSUL_OK;
}

/* limits reftype (text order) -> reftype limits (binary order). */
static kapsul_status tabletype(mod *m, kpBuf *o) {
    kpBuf lim = { 0 };
    uint8_t rt;
    kapsul_status st = limits(m, &lim);
    if (!st) st = reftype(m, &rt);
    if (!st) st = put(&m->w, kpBuf_byte(o, rt) || kpBuf_push(o, lim.data, lim.len));
    kpBuf_free(&lim);
    return st;
}

static kapsul_status globaltype(mod *m, kpBuf *o) {
    kpWat *w = &m->w;
    uint8_t t;
    kapsul_status st;
    if (kpWat_isOpen(w, w->pos, "mut")) {
        w->pos += 2;
        if ((st = kpWat_valtype(w, &t)) || (st = kpWat_close(w))) return st;
        return put(w, kpBuf_byte(o, t) || kpBuf_byte(o, 1));
    }
    if ((st = kpWat_valtype(w, &t))) return st;
    return put(w, kpBuf_byte(o, t) || kpBuf_byte(o, 0));
}

/* instr* up to the ')' of the enclosing list (or `stop`), then the `end` opcode. */
static kapsul_status const_expr(mod *m, kpBuf *o, size_t stop) {
    kapsul_status st = kpWat_instrs(&m->w, o, stop);
    return st ? st : put(&m->w, kpBuf_byte(o, 0x0B));
}

/* An offset: (offset instr*) or one folded instruction. */
static kapsul_status offset_expr(mod *m, kpBuf *o) {
    kpWat *w = &m->w;
    kapsul_status st;
    if (kpWat_isOpen(w, w->pos, "offset")) {
        w->pos += 2;
        if ((st = const_expr(m, o, KP_NO_MATCH))) return st;
        return kpWat_close(w);
    }
    if (kpWat_cur(w)->kind != kpTok_LPAR) return kpWat_unexpected(w, w->pos);
    return const_expr(m, o, match_of(w, w->pos) + 1);
}

/* Element items, each kept as its expression bytes (without `end`) in items, starting at the
 * offsets in starts. Function-index lists become `ref.func x` expressions too, so the choice of
 * binary form is made in one place (write_elem). */
typedef struct elemlist {
    kpBuf items;
    kpSizeVec starts;
} elemlist;

static kapsul_status elem_items(mod *m, elemlist *el, bool exprs) {
    kpWat *w = &m->w;
    kapsul_status st;
    for (;;) {
        if (kpVec_grow(&el->starts)) return kpWat_nomem(w);
        size_t at = el->items.len;
        if (!exprs) {
            if (!kpWat_atIndex(w)) break;
            uint32_t f;
            if ((st = kpWat_index(w, kpSp_FUNC, &f))) return st;
            if (kpBuf_byte(&el->items, 0xD2) || kpBuf_u32leb(&el->items, f)) return kpWat_nomem(w);
        } else if (kpWat_isOpen(w, w->pos, "item")) {
            w->pos += 2;
            if ((st = kpWat_instrs(w, &el->items, KP_NO_MATCH)) || (st = kpWat_close(w))) return st;
        } else if (kpWat_cur(w)->kind == kpTok_LPAR) {
            if ((st = kpWat_instrs(w, &el->items, match_of(w, w->pos) + 1))) return st;
        } else break;
        el->starts.v[el->starts.n++] = at;
    }
    return KAPSUL_OK;
}

/* True if the expression bytes are exactly `ref.func x` (the LEB128 of x is then p[1..len)). */
static bool is_ref_func(const uint8_t *p, size_t len) {
    if (len < 2 || p[0] != 0xD2) return false;
    for (size_t i = 1; i + 1 < len; i++)
        if (!(p[i] & 0x80)) return false;
    return !(p[len - 1] & 0x80);
}

/* Pick the binary form as the reference interpreter does: function indices when every item is a
 * plain ref.func of a funcref segment, table 0 implicit when possible. */
static kapsul_status write_elem(mod *m, int mode, uint32_t table, const kpBuf *offset, uint8_t rt,
                                const elemlist *el) {
    kpWat *w = &m->w;
    kpBuf *o = &m->elems.b;
    size_t n = el->starts.n;
    bool idxform = rt == 0x70;
    for (size_t i = 0; i < n && idxform; i++) {
        size_t a = el->starts.v[i], b = i + 1 < n ? el->starts.v[i + 1] : el->items.len;
        idxform = is_ref_func(el->items.data + a, b - a);
    }
    uint32_t flags = mode == 0 ? (table == 0 && rt == 0x70 ? 0 : 2) : mode == 1 ? 1 : 3;
    if (!idxform) flags |= 4;
    int rc = kpBuf_u32leb(o, flags);
    if (flags == 2 || flags == 6) rc |= kpBuf_u32leb(o, table);
    if (mode == 0) rc |= kpBuf_push(o, offset->data, offset->len);
    if (flags & 3) rc |= kpBuf_byte(o, idxform ? 0x00 : rt);
    rc |= kpBuf_u32leb(o, (uint32_t)n);
    for (size_t i = 0; i < n && !rc; i++) {
        size_t a = el->starts.v[i], b = i + 1 < n ? el->starts.v[i + 1] : el->items.len;
        if (idxform) rc |= kpBuf_push(o, el->items.data + a + 1, b - a - 1);
        else rc |= kpBuf_push(o, el->items.data + a, b - a) | kpBuf_byte(o, 0x0B);
    }
    m->elems.n++;
    return put(w, rc);
}

static void elemlist_free(elemlist *el) {
    kpBuf_free(&el->items);
    kpVec_free(&el->starts);
}

/* ---- pass 2: the fields ----------------------------------------------------------------------- */

static kapsul_status field_import(mod *m) {
    kpWat *w = &m->w;
    kpBuf *o = &m->imports.b;
    kapsul_status st;
    kpTypeUse tu = { 0 };
    uint32_t tidx;
    if ((st = name_str(m, o)) || (st = name_str(m, o))) return st;
    m->imports.n++;
    w->pos++; /* '(' */
    int sp = space_of(w, w->pos);
    w->pos++;
    if (kpWat_cur(w)->kind == kpTok_ID) w->pos++;
    m->next[sp]++;
    switch (sp) {
    case kpSp_FUNC:
        if ((st = kpWat_typeUse(w, &tu, false))) goto fail;
        if ((st = kpWat_resolveType(w, &tu, &tidx))) goto fail;
        if ((st = put(w, kpBuf_byte(o, 0) || kpBuf_u32leb(o, tidx)))) goto fail;
        break;
    case kpSp_TABLE:
        if ((st = put(w, kpBuf_byte(o, 1)))) goto fail;
        if ((st = tabletype(m, o))) goto fail;
        break;
    case kpSp_MEM:
        if ((st = put(w, kpBuf_byte(o, 2)))) goto fail;
        if ((st = limits(m, o))) goto fail;
        break;
    default:
        if ((st = put(w, kpBuf_byte(o, 3)))) goto fail;
        if ((st = globaltype(m, o))) goto fail;
        break;
    }
    if ((st = kpWat_close(w))) goto fail;
    st = kpWat_close(w);
fail:
    kpWat_typeUseFree(&tu);
    return st;
}

/* local declarations: (local $x t) | (local t*); returns the types one per local. */
static kapsul_status func_locals(mod *m, uint32_t nparams, kpByteVec *lt) {
    kpWat *w = &m->w;
    kapsul_status st;
    uint8_t t;
    while (kpWat_isOpen(w, w->pos, "local")) {
        w->pos += 2;
        if (kpWat_cur(w)->kind == kpTok_ID) {
            const kpTok *id = kpWat_cur(w);
            size_t at = w->pos++;
            if ((st = kpWat_valtype(w, &t))) return st;
            if ((uint64_t)nparams + lt->n >= UINT32_MAX) return kpWat_error(w, at, "too many locals");
            int r = kpWat_bind(&w->locals, w->tk->src + id->start, id->len, nparams + (uint32_t)lt->n);
            if (r < 0) return kpWat_nomem(w);
            if (r > 0)
                return kpWat_error(w, at, "duplicate local %.*s", (int)id->len, w->tk->src + id->start);
            if (kpVec_grow(lt)) return kpWat_nomem(w);
            lt->v[lt->n++] = t;
        } else {
            while (kpWat_cur(w)->kind == kpTok_KEYWORD) {
                if ((st = kpWat_valtype(w, &t))) return st;
                if (kpVec_grow(lt)) return kpWat_nomem(w);
                lt->v[lt->n++] = t;
            }
        }
        if ((st = kpWat_close(w))) return st;
    }
    return KAPSUL_OK;
}

/* Locals as runs of equal types, then the instructions and the final `end`. */
static kapsul_status func_body(mod *m, const kpByteVec *lt, kpBuf *body) {
    kpWat *w = &m->w;
    uint32_t runs = 0;
    for (size_t i = 0; i < lt->n; i++)
        if (i == 0 || lt->v[i] != lt->v[i - 1]) runs++;
    if (kpBuf_u32leb(body, runs)) return kpWat_nomem(w);
    for (size_t i = 0; i < lt->n;) {
        size_t j = i;
        while (j < lt->n && lt->v[j] == lt->v[i]) j++;
        if (kpBuf_u32leb(body, (uint32_t)(j - i)) || kpBuf_byte(body, lt->v[i])) return kpWat_nomem(w);
        i = j;
    }
    kapsul_status st = kpWat_instrs(w, body, KP_NO_MATCH);
    if (st) return st;
    return put(w, kpBuf_byte(body, 0x0B));
}

static kapsul_status field_func(mod *m) {
    kpWat *w = &m->w;
    kapsul_status st;
    kpTypeUse tu = { 0 };
    kpByteVec lt = { 0 };
    kpBuf body = { 0 };
    uint32_t tidx, idx = m->next[kpSp_FUNC]++;
    bool imp;
    if (kpWat_cur(w)->kind == kpTok_ID) w->pos++;
    if ((st = inline_exports(m, 0, idx))) goto fail;
    if ((st = inline_import(m, &imp))) goto fail;
    kpWat_mapFree(&w->locals);
    if ((st = kpWat_typeUse(w, &tu, !imp))) goto fail;
    if ((st = kpWat_resolveType(w, &tu, &tidx))) goto fail;
    if (imp) {
        if ((st = put(w, kpBuf_byte(&m->imports.b, 0) || kpBuf_u32leb(&m->imports.b, tidx)))) goto fail;
        st = kpWat_close(w);
        goto fail;
    }
    uint32_t np = tu.has_inline ? (uint32_t)tu.params.n : tidx < w->types.n ? w->types.v[tidx].np : 0;
    if ((st = func_locals(m, np, &lt))) goto fail;
    if ((st = func_body(m, &lt, &body))) goto fail;
    if ((st = kpWat_close(w))) goto fail;
    if (body.len > UINT32_MAX) {
        st = kpWat_error(w, tu.tok, "function too large");
        goto fail;
    }
    if ((st = put(w, kpBuf_u32leb(&m->funcs.b, tidx)))) goto fail;
    m->funcs.n++;
    if ((st = put(w, kpBuf_u32leb(&m->codes.b, (uint32_t)body.len) ||
                         kpBuf_push(&m->codes.b, body.data, body.len))))
        goto fail;
    m->codes.n++;
fail:
    kpWat_typeUseFree(&tu);
    kpVec_free(&lt);
    kpBuf_free(&body);
    return st;
}

/* (table id? export* reftype (elem ...)): a table sized to the list plus an active segment. */
static kapsul_status table_with_elems(mod *m, uint32_t idx) {
    kpWat *w = &m->w;
    kapsul_status st;
    elemlist el = { 0 };
    uint8_t rt;
    kpBuf off = { 0 };
    if ((st = reftype(m, &rt))) goto fail;
    w->pos += 2;
    if ((st = elem_items(m, &el, kpWat_cur(w)->kind == kpTok_LPAR))) goto fail;
    if ((st = kpWat_close(w))) goto fail;
    if ((st = kpWat_close(w))) goto fail;
    uint32_t n = (uint32_t)el.starts.n;
    if ((st = put(w, kpBuf_byte(&m->tables.b, rt) || kpBuf_byte(&m->tables.b, 1) ||
                         kpBuf_u32leb(&m->tables.b, n) || kpBuf_u32leb(&m->tables.b, n))))
        goto fail;
    m->tables.n++;
    if ((st = put(w, kpBuf_push(&off, "\x41\x00\x0B", 3)))) goto fail;
    m->next[kpSp_ELEM]++;
    st = write_elem(m, 0, idx, &off, rt, &el);
fail:
    elemlist_free(&el);
    kpBuf_free(&off);
    return st;
}

static kapsul_status field_table(mod *m) {
    kpWat *w = &m->w;
    kapsul_status st;
    uint32_t idx = m->next[kpSp_TABLE]++;
    bool imp;
    if (kpWat_cur(w)->kind == kpTok_ID) w->pos++;
    if ((st = inline_exports(m, 1, idx)) || (st = inline_import(m, &imp))) return st;
    if (imp) {
        if ((st = put(w, kpBuf_byte(&m->imports.b, 1))) || (st = tabletype(m, &m->imports.b))) return st;
        return kpWat_close(w);
    }
    if (kpWat_cur(w)->kind == kpTok_KEYWORD && kpWat_isOpen(w, w->pos + 1, "elem"))
        return table_with_elems(m, idx);
    if ((st = tabletype(m, &m->tables.b))) return st;
    m->tables.n++;
    return kpWat_close(w);
}

/* (memory id? export* (data "...")): a memory sized to the bytes plus an active segment. */
static kapsul_status memory_with_data(mod *m, uint32_t idx) {
    kpWat *w = &m->w;
    kapsul_status st;
    kpBuf bytes = { 0 };
    w->pos += 2;
    if ((st = strings(m, &bytes))) goto fail;
    if ((st = kpWat_close(w))) goto fail;
    if ((st = kpWat_close(w))) goto fail;
    uint64_t pages = ((uint64_t)bytes.len + 65535) / 65536;
    if (pages > UINT32_MAX || bytes.len > UINT32_MAX) {
        st = kpWat_error(w, w->pos - 1, "data too large");
        goto fail;
    }
    if ((st = put(w, kpBuf_byte(&m->mems.b, 1) || kpBuf_u32leb(&m->mems.b, (uint32_t)pages) ||
                         kpBuf_u32leb(&m->mems.b, (uint32_t)pages))))
        goto fail;
    m->mems.n++;
    kpBuf *o = &m->datas.b;
    if ((st = put(w, idx == 0 ? kpBuf_byte(o, 0) : (kpBuf_byte(o, 2) || kpBuf_u32leb(o, idx))))) goto fail;
    if ((st = put(w, kpBuf_push(o, "\x41\x00\x0B", 3) || kpBuf_u32leb(o, (uint32_t)bytes.len) ||
                         kpBuf_push(o, bytes.data, bytes.len))))
        goto fail;
    m->datas.n++;
    m->next[kpSp_DATA]++;
fail:
    kpBuf_free(&bytes);
    return st;
}

static kapsul_status field_memory(mod *m) {
    kpWat *w = &m->w;
    kapsul_status st;
    uint32_t idx = m->next[kpSp_MEM]++;
    bool imp;
    if (kpWat_cur(w)->kind == kpTok_ID) w->pos++;
    if ((st = inline_exports(m, 2, idx)) || (st = inline_import(m, &imp))) return st;
    if (imp) {
        if ((st = put(w, kpBuf_byte(&m->imports.b, 2))) || (st = limits(m, &m->imports.b))) return st;
        return kpWat_close(w);
    }
    if (kpWat_isOpen(w, w->pos, "data")) return memory_with_data(m, idx);
    if ((st = limits(m, &m->mems.b))) return st;
    m->mems.n++;
    return kpWat_close(w);
}

static kapsul_status field_global(mod *m) {
    kpWat *w = &m->w;
    kapsul_status st;
    uint32_t idx = m->next[kpSp_GLOBAL]++;
    bool imp;
    if (kpWat_cur(w)->kind == kpTok_ID) w->pos++;
    if ((st = inline_exports(m, 3, idx)) || (st = inline_import(m, &imp))) return st;
    if (imp) {
        if ((st = put(w, kpBuf_byte(&m->imports.b, 3))) || (st = globaltype(m, &m->imports.b))) return st;
        return kpWat_close(w);
    }
    if ((st = globaltype(m, &m->globals.b)) || (st = const_expr(m, &m->globals.b, KP_NO_MATCH))) return st;
    m->globals.n++;
    return kpWat_close(w);
}

static kapsul_status field_export(mod *m) {
    kpWat *w = &m->w;
    kpBuf *o = &m->exports.b;
    kapsul_status st;
    uint32_t idx;
    if ((st = name_str(m, o))) return st;
    int sp = kpWat_cur(w)->kind == kpTok_LPAR ? space_of(w, w->pos + 1) : -1;
    if (sp < 0) return kpWat_unexpected(w, w->pos);
    w->pos += 2;
    if ((st = kpWat_index(w, sp, &idx)) || (st = kpWat_close(w)) || (st = kpWat_close(w))) return st;
    uint8_t kind = sp == kpSp_FUNC ? 0 : sp == kpSp_TABLE ? 1 : sp == kpSp_MEM ? 2 : 3;
    m->exports.n++;
    return put(w, kpBuf_byte(o, kind) || kpBuf_u32leb(o, idx));
}

static kapsul_status field_start(mod *m, size_t at) {
    kpWat *w = &m->w;
    kapsul_status st;
    if (m->has_start) return kpWat_error(w, at, "multiple start sections");
    if ((st = kpWat_index(w, kpSp_FUNC, &m->start))) return st;
    m->has_start = true;
    return kpWat_close(w);
}

/* (elem id? declare? (table x)? (offset ...)|(instr)? elemlist): active, passive or declarative. */
static kapsul_status field_elem(mod *m) {
    kpWat *w = &m->w;
    kapsul_status st = KAPSUL_OK;
    elemlist el = { 0 };
    kpBuf off = { 0 };
    int mode = 1; /* 0 active, 1 passive, 2 declarative */
    uint32_t table = 0;
    uint8_t rt = 0x70;
    bool exprs;
    if (kpWat_cur(w)->kind == kpTok_ID) w->pos++;
    m->next[kpSp_ELEM]++;
    if (kpWat_isKw(w, w->pos, "declare")) {
        w->pos++;
        mode = 2;
    } else {
        if (kpWat_isOpen(w, w->pos, "table")) {
            w->pos += 2;
            if ((st = kpWat_index(w, kpSp_TABLE, &table))) goto fail;
            if ((st = kpWat_close(w))) goto fail;
            mode = 0;
            if (kpWat_cur(w)->kind != kpTok_LPAR) {
                st = kpWat_unexpected(w, w->pos);
                goto fail;
            }
        }
        if (kpWat_cur(w)->kind == kpTok_LPAR) {
            mode = 0;
            if ((st = offset_expr(m, &off))) goto fail;
        }
    }
    if (kpWat_isKw(w, w->pos, "func")) {
        w->pos++;
        exprs = false;
    } else if (kpWat_isKw(w, w->pos, "funcref") || kpWat_isKw(w, w->pos, "externref")) {
        if ((st = reftype(m, &rt))) goto fail;
        exprs = true;
    } else if (mode == 0) exprs = false; /* legacy: (elem (offset ...) funcidx*) */
    else {
        st = kpWat_unexpected(w, w->pos);
        goto fail;
    }
    if ((st = elem_items(m, &el, exprs))) goto fail;
    if ((st = kpWat_close(w))) goto fail;
    st = write_elem(m, mode, table, &off, rt, &el);
fail:
    elemlist_free(&el);
    kpBuf_free(&off);
    return st;
}

/* (data id? (memory x)? (offset ...)|(instr)? "..."*): active or passive. */
static kapsul_status field_data(mod *m) {
    kpWat *w = &m->w;
    kapsul_status st = KAPSUL_OK;
    kpBuf off = { 0 }, bytes = { 0 };
    uint32_t mem = 0;
    bool active = false;
    if (kpWat_cur(w)->kind == kpTok_ID) w->pos++;
    m->next[kpSp_DATA]++;
    if (kpWat_isOpen(w, w->pos, "memory")) {
        w->pos += 2;
        if ((st = kpWat_index(w, kpSp_MEM, &mem))) goto fail;
        if ((st = kpWat_close(w))) goto fail;
        active = true;
        if (kpWat_cur(w)->kind != kpTok_LPAR) {
            st = kpWat_unexpected(w, w->pos);
            goto fail;
        }
    }
    if (kpWat_cur(w)->kind == kpTok_LPAR) {
        active = true;
        if ((st = offset_expr(m, &off))) goto fail;
    }
    if ((st = strings(m, &bytes))) goto fail;
    if ((st = kpWat_close(w))) goto fail;
    if (bytes.len > UINT32_MAX) {
        st = kpWat_error(w, w->pos - 1, "data too large");
        goto fail;
    }
    kpBuf *o = &m->datas.b;
    int rc;
    if (!active) rc = kpBuf_byte(o, 1);
    else if (mem == 0) rc = kpBuf_byte(o, 0) || kpBuf_push(o, off.data, off.len);
    else rc = kpBuf_byte(o, 2) || kpBuf_u32leb(o, mem) || kpBuf_push(o, off.data, off.len);
    rc = rc || kpBuf_u32leb(o, (uint32_t)bytes.len) || kpBuf_push(o, bytes.data, bytes.len);
    if ((st = put(w, rc))) goto fail;
    m->datas.n++;
fail:
    kpBuf_free(&off);
    kpBuf_free(&bytes);
    return st;
}

static kapsul_status encode_field(mod *m, size_t i) {
    kpWat *w = &m->w;
    size_t kw = i + 1;
    w->pos = i + 2;
    if (kpWat_isKw(w, kw, "type")) {
        w->pos = match_of(w, i) + 1;
        return KAPSUL_OK;
    }
    if (kpWat_isKw(w, kw, "import")) return field_import(m);
    if (kpWat_isKw(w, kw, "func")) return field_func(m);
    if (kpWat_isKw(w, kw, "table")) return field_table(m);
    if (kpWat_isKw(w, kw, "memory")) return field_memory(m);
    if (kpWat_isKw(w, kw, "global")) return field_global(m);
    if (kpWat_isKw(w, kw, "export")) return field_export(m);
    if (kpWat_isKw(w, kw, "start")) return field_start(m, i);
    if (kpWat_isKw(w, kw, "elem")) return field_elem(m);
    return field_data(m);
}

/* ---- the binary --------------------------------------------------------------------------------- */

static int write_section(kpBuf *out, uint8_t id, const sec *s) {
    kpBuf cnt = { 0 };
    if (kpBuf_u32leb(&cnt, s->n)) return -1;
    int rc = kpBuf_byte(out, id) || kpBuf_u32leb(out, (uint32_t)(cnt.len + s->b.len)) ||
             kpBuf_push(out, cnt.data, cnt.len) || kpBuf_push(out, s->b.data, s->b.len);
    kpBuf_free(&cnt);
    return rc;
}

static int by_index(const void *a, const void *b) {
    uint32_t x = ((const kpIdent *)a)->idx, y = ((const kpIdent *)b)->idx;
    return x < y ? -1 : x > y;
}

/* The "name" custom section with the $names of functions (subsection 1), so backtraces and
 * validation errors of a module written as text name its functions. Nothing when none is named. */
static int write_names(const kpWat *w, kpBuf *out) {
    const kpIdMap *ids = &w->ids[kpSp_FUNC];
    if (ids->n == 0) return 0;
    kpIdent *v = kp_malloc(ids->n * sizeof *v);
    if (!v) return -1;
    size_t n = 0;
    for (size_t i = 0; i < ids->cap && n < ids->n; i++)
        if (ids->slots[i].s) v[n++] = ids->slots[i];
    qsort(v, n, sizeof *v, by_index);
    kpBuf map = { 0 }, sub = { 0 };
    int rc = kpBuf_u32leb(&map, (uint32_t)n);
    for (size_t i = 0; i < n && !rc; i++) /* without the '$' */
        rc = kpBuf_u32leb(&map, v[i].idx) || kpBuf_u32leb(&map, v[i].len - 1) ||
             kpBuf_push(&map, v[i].s + 1, v[i].len - 1);
    rc = rc || kpBuf_u32leb(&sub, 4) || kpBuf_push(&sub, "name", 4) || kpBuf_byte(&sub, 1) ||
         kpBuf_u32leb(&sub, (uint32_t)map.len) || kpBuf_push(&sub, map.data, map.len);
    rc = rc || kpBuf_byte(out, 0) || kpBuf_u32leb(out, (uint32_t)sub.len) ||
         kpBuf_push(out, sub.data, sub.len);
    kpBuf_free(&map);
    kpBuf_free(&sub);
    kp_free(v);
    return rc;
}

static int write_module(mod *m, kpBuf *out) {
    kpWat *w = &m->w;
    sec types = { { 0 }, 0 };
    int rc = kpBuf_push(out, "\0asm\1\0\0\0", 8);
    for (size_t i = 0; i < w->types.n && !rc; i++) {
        const kpFType *t = &w->types.v[i];
        rc = kpBuf_byte(&types.b, 0x60) || kpBuf_u32leb(&types.b, t->np) ||
             kpBuf_push(&types.b, t->t, t->np) || kpBuf_u32leb(&types.b, t->nr) ||
             kpBuf_push(&types.b, t->t + t->np, t->nr);
        types.n++;
    }
    if (!rc && types.n) rc = write_section(out, 1, &types);
    kpBuf_free(&types.b);
    if (!rc && m->imports.n) rc = write_section(out, 2, &m->imports);
    if (!rc && m->funcs.n) rc = write_section(out, 3, &m->funcs);
    if (!rc && m->tables.n) rc = write_section(out, 4, &m->tables);
    if (!rc && m->mems.n) rc = write_section(out, 5, &m->mems);
    if (!rc && m->globals.n) rc = write_section(out, 6, &m->globals);
    if (!rc && m->exports.n) rc = write_section(out, 7, &m->exports);
    if (!rc && m->has_start) {
        kpBuf tmp = { 0 };
        rc = kpBuf_u32leb(&tmp, m->start) || kpBuf_byte(out, 8) || kpBuf_u32leb(out, (uint32_t)tmp.len) ||
             kpBuf_push(out, tmp.data, tmp.len);
        kpBuf_free(&tmp);
    }
    if (!rc && m->elems.n) rc = write_section(out, 9, &m->elems);
    if (!rc && w->uses_data) {
        kpBuf tmp = { 0 };
        rc = kpBuf_u32leb(&tmp, m->datas.n) || kpBuf_byte(out, 12) || kpBuf_u32leb(out, (uint32_t)tmp.len) ||
             kpBuf_push(out, tmp.data, tmp.len);
        kpBuf_free(&tmp);
    }
    if (!rc && m->codes.n) rc = write_section(out, 10, &m->codes);
    if (!rc && m->datas.n) rc = write_section(out, 11, &m->datas);
    if (!rc) rc = write_names(w, out);
    return rc;
}

static void mod_free(mod *m) {
    kpWat_free(&m->w);
    sec *ss[] = { &m->imports, &m->funcs, &m->tables, &m->mems, &m->globals,
                  &m->exports, &m->elems, &m->datas,  &m->codes };
    for (size_t i = 0; i < sizeof ss / sizeof *ss; i++) kpBuf_free(&ss[i]->b);
}

/* Fields from token `first` up to the closing ')' (or EOF when bare). Returns the index of the
 * token after the module in *after. */
static kapsul_status encode_fields(const kpToks *toks, size_t first, kpBuf *out, size_t *after,
                                   kapsul_error *err) {
    mod m;
    memset(&m, 0, sizeof m);
    m.w.tk = toks;
    m.w.err = err;
    kpWat *w = &m.w;
    kapsul_status st = KAPSUL_OK;
    size_t i;
    for (i = first; kpWat_tok(w, i)->kind == kpTok_LPAR; i = match_of(w, i) + 1) {
        if (kpWat_tok(w, i)->match == KP_NO_MATCH) {
            st = kpWat_error(w, toks->n - 1, "unexpected end of input");
            goto fail;
        }
        if ((st = collect_field(&m, i))) goto fail;
    }
    *after = i;
    for (i = first; i < *after; i = match_of(w, i) + 1) {
        if ((st = encode_field(&m, i))) goto fail;
        if (w->pos != match_of(w, i) + 1) {
            st = kpWat_unexpected(w, w->pos);
            goto fail;
        }
    }
    if (write_module(&m, out)) st = kpWat_nomem(w);
fail:
    mod_free(&m);
    return st;
}

/* True if toks start with "(module $id? <kw>"; *at is the index of <kw>'s successor. */
static bool module_form(const kpToks *toks, const char *kw, size_t *at) {
    if (toks->n < 3 || toks->v[0].kind != kpTok_LPAR || !kpLex_is(toks, &toks->v[1], "module")) return false;
    size_t i = toks->v[2].kind == kpTok_ID ? 3 : 2;
    if (i >= toks->n || !kpLex_is(toks, &toks->v[i], kw)) return false;
    *at = i + 1;
    return true;
}

/* The strings of a binary/quote module, decoded and concatenated; then ')' and the end. */
static kapsul_status module_strings(const kpToks *toks, size_t i, kpBuf *out, kapsul_error *err) {
    for (; toks->v[i].kind == kpTok_STRING; i++) {
        if (kpLex_string(toks, &toks->v[i], out))
            return kpError_setText(err, KAPSUL_ERR_NOMEM, 0, 0, "out of memory");
    }
    const kpTok *t = &toks->v[i];
    if (t->kind != kpTok_RPAR || toks->v[i + 1].kind != kpTok_EOF) {
        if (t->kind == kpTok_RPAR) t = &toks->v[i + 1];
        if (toks->failed && t->kind == kpTok_EOF) {
            if (err) *err = toks->lex_err;
            return KAPSUL_ERR_MALFORMED;
        }
        return kpError_setText(err, KAPSUL_ERR_MALFORMED, kpLex_line(toks, t), kpLex_col(toks, t),
                               "unexpected token");
    }
    return KAPSUL_OK;
}

kapsul_status kpWat_module(const kpToks *toks, kpBuf *out, kapsul_error *err) {
    size_t at, after;
    kapsul_status st;
    if (module_form(toks, "binary", &at)) return module_strings(toks, at, out, err);
    bool wrapped = toks->n >= 2 && toks->v[0].kind == kpTok_LPAR && kpLex_is(toks, &toks->v[1], "module");
    size_t first = wrapped ? (toks->v[2].kind == kpTok_ID ? 3 : 2) : 0;
    size_t mark = out->len;
    if ((st = encode_fields(toks, first, out, &after, err))) goto fail;
    const kpTok *t = &toks->v[after < toks->n ? after : toks->n - 1];
    if (wrapped) {
        if (t->kind == kpTok_RPAR) t = &toks->v[after + 1 < toks->n ? after + 1 : toks->n - 1];
        else if (t->kind != kpTok_EOF || !toks->failed) {
            st = kpError_setText(err, KAPSUL_ERR_MALFORMED, kpLex_line(toks, t), kpLex_col(toks, t), "%s",
                                 t->kind == kpTok_EOF ? "unexpected end of input" : "unexpected token");
            goto fail;
        }
    }
    if (t->kind != kpTok_EOF || toks->failed) {
        if (toks->failed && t->kind == kpTok_EOF) {
            if (err) *err = toks->lex_err;
            st = KAPSUL_ERR_MALFORMED;
        } else
            st = kpError_setText(err, KAPSUL_ERR_MALFORMED, kpLex_line(toks, t), kpLex_col(toks, t),
                                 "unexpected token");
        goto fail;
    }
    return KAPSUL_OK;
fail:
    out->len = mark;
    return st;
}

/* Lex, resolve (module quote ...) (iteratively: a quoted text may itself be quoted), encode. */
kapsul_status kpWat_toBinary(const char *src, size_t len, int line0, kpBuf *out, kapsul_error *err) {
    return kpWat_toBinaryAt(src, len, line0, 1, out, err);
}

kapsul_status kpWat_toBinaryAt(const char *src, size_t len, int line0, int col0, kpBuf *out,
                               kapsul_error *err) {
    kpToks toks;
    kpBuf owned = { 0 };
    size_t at;
    kapsul_status st = kpLex_all(src, len, line0, col0, &toks, err);
    while (st == KAPSUL_OK && module_form(&toks, "quote", &at)) {
        kpBuf text = { 0 };
        st = module_strings(&toks, at, &text, err);
        kpLex_free(&toks);
        kpBuf_free(&owned);
        owned = text;
        if (st) break;
        st = kpLex_all((const char *)owned.data, owned.len, 1, 1, &toks, err);
    }
    if (st == KAPSUL_OK) st = kpWat_module(&toks, out, err);
    kpLex_free(&toks);
    kpBuf_free(&owned);
    return st;
}
