/*
 * wat.c -- shared pieces of the module parser: errors, identifiers and index spaces, value types
 * and type uses (with the spec's rule that an inline signature with no matching type appends a
 * new type at the end of the type section).
 *
 * The module fields themselves are in fields.c and the instructions in instr.c.
 */
#include <stdio.h>

#include "text/textint.h"
#include "module/opcodes.h"

kapsul_status kpWat_error(kpWat *w, size_t tok, const char *fmt, ...) {
    const kpTok *t = kpWat_tok(w, tok);
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (t->kind == kpTok_EOF && w->tk->failed && w->err) {
        /* The token stream was cut short by a lexing error: that is the real cause. */
        *w->err = w->tk->lex_err;
        return KAPSUL_ERR_MALFORMED;
    }
    return kpError_setText(w->err, KAPSUL_ERR_MALFORMED, kpLex_line(w->tk, t), kpLex_col(w->tk, t), "%s",
                           msg);
}

/* Keywords of the text format besides the mnemonics: a misplaced one is "unexpected token",
 * while a word the format does not know at all is "unknown operator", as in the reference
 * interpreter's lexer. */
static bool known_keyword(const char *s, size_t n) {
    static const char *const kws[] = { "module",
                                       "type",
                                       "func",
                                       "param",
                                       "result",
                                       "local",
                                       "global",
                                       "table",
                                       "memory",
                                       "elem",
                                       "data",
                                       "import",
                                       "export",
                                       "start",
                                       "offset",
                                       "item",
                                       "declare",
                                       "mut",
                                       "then",
                                       "else",
                                       "end",
                                       "block",
                                       "loop",
                                       "if",
                                       "funcref",
                                       "externref",
                                       "i32",
                                       "i64",
                                       "f32",
                                       "f64",
                                       "v128",
                                       "extern",
                                       "binary",
                                       "quote",
                                       "i8x16",
                                       "i16x8",
                                       "i32x4",
                                       "i64x2",
                                       "f32x4",
                                       "f64x2",
                                       "inf",
                                       "nan",
                                       "register",
                                       "invoke",
                                       "get",
                                       "assert_return",
                                       "assert_trap",
                                       "assert_invalid",
                                       "assert_malformed",
                                       "assert_unlinkable",
                                       "assert_uninstantiable",
                                       "assert_exhaustion",
                                       "nan:canonical",
                                       "nan:arithmetic" };
    for (size_t i = 0; i < sizeof kws / sizeof *kws; i++)
        if (strlen(kws[i]) == n && memcmp(kws[i], s, n) == 0) return true;
    uint64_t v;
    if (n > 3 && (memcmp(s, "nan", 3) == 0 || memcmp(s, "inf", 3) == 0))
        return kpNum_f64(s, n, &v) == kpNum_OK;
    if ((n > 7 && memcmp(s, "offset=", 7) == 0) || (n > 6 && memcmp(s, "align=", 6) == 0)) return true;
    return kpOp_fromName(s, n) >= 0;
}

kapsul_status kpWat_unexpected(kpWat *w, size_t tok) {
    const kpTok *t = kpWat_tok(w, tok);
    const char *s = w->tk->src + t->start;
    uint64_t v;
    switch (t->kind) {
    case kpTok_EOF: return kpWat_error(w, tok, "unexpected end of input");
    case kpTok_RESERVED: return kpWat_error(w, tok, "unknown operator %.*s", (int)t->len, s);
    case kpTok_KEYWORD:
        if (known_keyword(s, t->len)) break;
        return kpWat_error(w, tok, "unknown operator %.*s", (int)t->len, s);
    case kpTok_NUM:
        if (kpNum_int(s, t->len, 64, &v) != kpNum_SYNTAX || kpNum_f64(s, t->len, &v) == kpNum_OK ||
            kpNum_f64(s, t->len, &v) == kpNum_RANGE)
            break;
        return kpWat_error(w, tok, "unknown operator %.*s", (int)t->len, s);
    default: break;
    }
    return kpWat_error(w, tok, "unexpected token");
}

/* A literal that did not parse: syntax (see kpWat_unexpected), range, or out of memory. */
kapsul_status kpWat_badNum(kpWat *w, size_t tok, int r, const char *range_msg) {
    if (r < 0) return kpWat_nomem(w);
    if (r == kpNum_RANGE) return kpWat_error(w, tok, "%s", range_msg);
    return kpWat_unexpected(w, tok);
}

kapsul_status kpWat_nomem(kpWat *w) {
    return kpError_setText(w->err, KAPSUL_ERR_NOMEM, 0, 0, "out of memory");
}

kapsul_status kpWat_close(kpWat *w) {
    const kpTok *t = kpWat_cur(w);
    if (t->kind != kpTok_RPAR) return kpWat_unexpected(w, w->pos);
    w->pos++;
    return KAPSUL_OK;
}

/* ---- identifier maps ------------------------------------------------------------------------ */

static size_t hash_name(const char *s, size_t len) {
    size_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

bool kpWat_lookup(const kpIdMap *m, const char *s, size_t len, uint32_t *idx) {
    if (!m->cap) return false;
    for (size_t i = hash_name(s, len) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const kpIdent *e = &m->slots[i];
        if (!e->s) return false;
        if (e->len == len && memcmp(e->s, s, len) == 0) {
            *idx = e->idx;
            return true;
        }
    }
}

int kpWat_set(kpIdMap *m, const char *s, size_t len, uint32_t idx) {
    if (m->cap) {
        for (size_t i = hash_name(s, len) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
            kpIdent *e = &m->slots[i];
            if (!e->s) break;
            if (e->len == len && memcmp(e->s, s, len) == 0) {
                e->idx = idx;
                return 0;
            }
        }
    }
    return kpWat_bind(m, s, len, idx) < 0 ? -1 : 0;
}

/* Returns 0, 1 if the name is already bound, -1 when out of memory. */
int kpWat_bind(kpIdMap *m, const char *s, size_t len, uint32_t idx) {
    uint32_t old;
    if (kpWat_lookup(m, s, len, &old)) return 1;
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 16;
        kpIdent *ns = kp_calloc(ncap, sizeof *ns);
        if (!ns) return -1;
        for (size_t i = 0; i < m->cap; i++) {
            kpIdent e = m->slots[i];
            if (!e.s) continue;
            size_t j = hash_name(e.s, e.len) & (ncap - 1);
            while (ns[j].s) j = (j + 1) & (ncap - 1);
            ns[j] = e;
        }
        kp_free(m->slots);
        m->slots = ns;
        m->cap = ncap;
    }
    size_t j = hash_name(s, len) & (m->cap - 1);
    while (m->slots[j].s) j = (j + 1) & (m->cap - 1);
    m->slots[j] = (kpIdent){ s, (uint32_t)len, idx };
    m->n++;
    return 0;
}

void kpWat_mapFree(kpIdMap *m) {
    kp_free(m->slots);
    memset(m, 0, sizeof *m);
}

static const char *const space_names[kpSp_COUNT] = { "type",   "function",     "table",       "memory",
                                                     "global", "elem segment", "data segment" };

bool kpWat_atIndex(const kpWat *w) {
    kpTokKind k = kpWat_cur(w)->kind;
    return k == kpTok_ID || k == kpTok_NUM;
}

kapsul_status kpWat_index(kpWat *w, int space, uint32_t *out) {
    const kpTok *t = kpWat_cur(w);
    const char *s = w->tk->src + t->start;
    if (t->kind == kpTok_ID) {
        if (!kpWat_lookup(&w->ids[space], s, t->len, out))
            return kpWat_error(w, w->pos, "unknown %s %.*s", space_names[space], (int)t->len, s);
        w->pos++;
        return KAPSUL_OK;
    }
    if (t->kind != kpTok_NUM) return kpWat_unexpected(w, w->pos);
    uint64_t v;
    int r = kpNum_uint(s, t->len, 32, &v);
    if (r) return kpWat_badNum(w, w->pos, r, "i32 constant out of range");
    *out = (uint32_t)v;
    w->pos++;
    return KAPSUL_OK;
}

/* ---- types ------------------------------------------------------------------------------------ */

kapsul_status kpWat_valtype(kpWat *w, uint8_t *out) {
    static const struct {
        const char *name;
        uint8_t code;
    } vts[] = { { "i32", 0x7F },  { "i64", 0x7E },     { "f32", 0x7D },      { "f64", 0x7C },
                { "v128", 0x7B }, { "funcref", 0x70 }, { "externref", 0x6F } };
    for (size_t i = 0; i < sizeof vts / sizeof *vts; i++) {
        if (kpWat_isKw(w, w->pos, vts[i].name)) {
            *out = vts[i].code;
            w->pos++;
            return KAPSUL_OK;
        }
    }
    return kpWat_unexpected(w, w->pos);
}

static kapsul_status push_vt(kpWat *w, kpByteVec *v, uint8_t t) {
    if (kpVec_grow(v)) return kpWat_nomem(w);
    v->v[v->n++] = t;
    return KAPSUL_OK;
}

/* (param $x t) | (param t*) ... then (result t*) ...; with bind, parameter names become locals. */
kapsul_status kpWat_sig(kpWat *w, kpTypeUse *tu, bool bind) {
    kapsul_status st;
    uint8_t t;
    while (kpWat_isOpen(w, w->pos, "param")) {
        w->pos += 2;
        tu->has_inline = true;
        if (kpWat_cur(w)->kind == kpTok_ID) {
            const kpTok *id = kpWat_cur(w);
            if (tu->no_names) return kpWat_unexpected(w, w->pos);
            w->pos++;
            if ((st = kpWat_valtype(w, &t)) || (st = push_vt(w, &tu->params, t))) return st;
            if (bind) {
                int r = kpWat_bind(&w->locals, w->tk->src + id->start, id->len, (uint32_t)(tu->params.n - 1));
                if (r < 0) return kpWat_nomem(w);
                if (r > 0)
                    return kpWat_error(w, (size_t)(id - w->tk->v), "duplicate local %.*s", (int)id->len,
                                       w->tk->src + id->start);
            }
        } else {
            while (kpWat_cur(w)->kind == kpTok_KEYWORD) {
                if ((st = kpWat_valtype(w, &t)) || (st = push_vt(w, &tu->params, t))) return st;
            }
        }
        if ((st = kpWat_close(w))) return st;
    }
    while (kpWat_isOpen(w, w->pos, "result")) {
        w->pos += 2;
        tu->has_inline = true;
        while (kpWat_cur(w)->kind == kpTok_KEYWORD) {
            if ((st = kpWat_valtype(w, &t)) || (st = push_vt(w, &tu->results, t))) return st;
        }
        if ((st = kpWat_close(w))) return st;
    }
    return KAPSUL_OK;
}

kapsul_status kpWat_typeUse(kpWat *w, kpTypeUse *tu, bool bind_locals) {
    kapsul_status st;
    tu->tok = w->pos;
    if (kpWat_isOpen(w, w->pos, "type")) {
        w->pos += 2;
        if ((st = kpWat_index(w, kpSp_TYPE, &tu->idx)) || (st = kpWat_close(w))) return st;
        tu->has_idx = true;
    }
    if ((st = kpWat_sig(w, tu, bind_locals))) return st;
    /* The parts come in the order type, params, results: anything else is a syntax error,
     * reported before any "inline function type" mismatch. */
    if (kpWat_isOpen(w, w->pos, "type") || kpWat_isOpen(w, w->pos, "param") ||
        kpWat_isOpen(w, w->pos, "result"))
        return kpWat_unexpected(w, w->pos + 1);
    return KAPSUL_OK;
}

void kpWat_typeUseFree(kpTypeUse *tu) {
    kpVec_free(&tu->params);
    kpVec_free(&tu->results);
}

/* The signature key of a type use (see kpFType). */
static uint8_t *sig_key(const kpTypeUse *tu, size_t *len) {
    size_t n = 4 + tu->params.n + tu->results.n;
    uint8_t *k = kp_malloc(n);
    if (!k) return NULL;
    uint32_t np = (uint32_t)tu->params.n;
    for (int i = 0; i < 4; i++) k[i] = (uint8_t)(np >> (8 * i));
    if (tu->params.n) memcpy(k + 4, tu->params.v, tu->params.n);
    if (tu->results.n) memcpy(k + 4 + tu->params.n, tu->results.v, tu->results.n);
    *len = n;
    return k;
}

static bool type_matches(const kpFType *ft, const kpTypeUse *tu) {
    return ft->np == tu->params.n && ft->nr == tu->results.n &&
           (ft->np == 0 || memcmp(ft->t, tu->params.v, ft->np) == 0) &&
           (ft->nr == 0 || memcmp(ft->t + ft->np, tu->results.v, ft->nr) == 0);
}

/* Add a function type at the end of the type index space; the signature map keeps the least
 * index of each signature. */
kapsul_status kpWat_addType(kpWat *w, const kpTypeUse *tu, uint32_t *idx) {
    if (w->types.n >= 0xFFFFFFFFu) return kpWat_error(w, tu->tok, "too many types");
    size_t klen;
    uint8_t *key = sig_key(tu, &klen);
    if (!key || kpVec_grow(&w->types)) {
        kp_free(key);
        return kpWat_nomem(w);
    }
    *idx = (uint32_t)w->types.n;
    if (kpWat_bind(&w->type_sigs, (const char *)key, klen, *idx) < 0) {
        kp_free(key);
        return kpWat_nomem(w);
    }
    w->types.v[w->types.n++] = (kpFType){ (uint32_t)tu->params.n, (uint32_t)tu->results.n, key + 4, key };
    return KAPSUL_OK;
}

kapsul_status kpWat_resolveType(kpWat *w, const kpTypeUse *tu, uint32_t *idx) {
    if (tu->has_idx) {
        if (tu->has_inline && tu->idx >= w->types.n) return kpWat_error(w, tu->tok, "unknown type");
        if (tu->has_inline && !type_matches(&w->types.v[tu->idx], tu))
            return kpWat_error(w, tu->tok, "inline function type");
        *idx = tu->idx;
        return KAPSUL_OK;
    }
    size_t klen;
    uint8_t *key = sig_key(tu, &klen);
    if (!key) return kpWat_nomem(w);
    bool found = kpWat_lookup(&w->type_sigs, (const char *)key, klen, idx);
    kp_free(key);
    return found ? KAPSUL_OK : kpWat_addType(w, tu, idx);
}

void kpWat_free(kpWat *w) {
    for (int i = 0; i < kpSp_COUNT; i++) kpWat_mapFree(&w->ids[i]);
    for (size_t i = 0; i < w->types.n; i++) kp_free(w->types.v[i].key);
    kpVec_free(&w->types);
    kpWat_mapFree(&w->type_sigs);
    kpWat_mapFree(&w->label_ids);
    kpWat_mapFree(&w->locals);
    kpVec_free(&w->labels);
    kpBuf_free(&w->pending);
}
