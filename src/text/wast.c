/*
 * wast.c -- WAST scripts: the spec test language on top of the text format.
 *
 * The script is split into commands here; module texts are kept as spans of the script (or as
 * decoded bytes for the binary/quote forms) and encoded later by the runner, one command at a
 * time, so that a deliberately broken module fails its own command only. Values in actions and
 * expectations are decoded here into kpWastVal, including the nan:canonical / nan:arithmetic
 * patterns and per-lane v128 expectations.
 */
#include "text/textint.h"
#include "text/text.h"

typedef struct wparse {
    const kpToks *tk;
    size_t pos;
    kapsul_error *err;
} wparse;

static const kpTok *cur(const wparse *p) { return &p->tk->v[p->pos < p->tk->n ? p->pos : p->tk->n - 1]; }
static const kpTok *at(const wparse *p, size_t i) { return &p->tk->v[i < p->tk->n ? i : p->tk->n - 1]; }
static bool is_kw(const wparse *p, size_t i, const char *kw) { return kpLex_is(p->tk, at(p, i), kw); }
static bool is_open(const wparse *p, size_t i, const char *kw) {
    return at(p, i)->kind == kpTok_LPAR && is_kw(p, i + 1, kw);
}

static kapsul_status werror(wparse *p, size_t i, const char *msg) {
    const kpTok *t = at(p, i);
    if (t->kind == kpTok_EOF && p->tk->failed) {
        if (p->err) *p->err = p->tk->lex_err;
        return KAPSUL_ERR_MALFORMED;
    }
    if (t->kind == kpTok_EOF) msg = "unexpected end of input";
    return kpError_setText(p->err, KAPSUL_ERR_MALFORMED, kpLex_line(p->tk, t), kpLex_col(p->tk, t), "%s",
                           msg);
}

static kapsul_status nomem(wparse *p) {
    return kpError_setText(p->err, KAPSUL_ERR_NOMEM, 0, 0, "out of memory");
}

static kapsul_status expect_close(wparse *p) {
    if (cur(p)->kind != kpTok_RPAR) return werror(p, p->pos, "unexpected token");
    p->pos++;
    return KAPSUL_OK;
}

/* A $id as an owned string without the '$' (NULL and no advance if the token is not an id). */
static kapsul_status opt_name(wparse *p, char **out) {
    *out = NULL;
    const kpTok *t = cur(p);
    if (t->kind != kpTok_ID) return KAPSUL_OK;
    if (!(*out = kp_strndup(p->tk->src + t->start + 1, t->len - 1))) return nomem(p);
    p->pos++;
    return KAPSUL_OK;
}

/* A string token, decoded, as an owned NUL-terminated copy. */
static kapsul_status string_arg(wparse *p, char **out, size_t *len) {
    const kpTok *t = cur(p);
    if (t->kind != kpTok_STRING) return werror(p, p->pos, "unexpected token");
    kpBuf b = { 0 };
    if (kpLex_string(p->tk, t, &b) || kpBuf_byte(&b, 0)) {
        kpBuf_free(&b);
        return nomem(p);
    }
    *out = (char *)b.data;
    if (len) *len = b.len - 1;
    p->pos++;
    return KAPSUL_OK;
}

/* (module $id? ...) | (module $id? binary "..."*) | (module $id? quote "..."*) */
static kapsul_status parse_module(wparse *p, kpWastModule *m) {
    kapsul_status st;
    size_t open = p->pos;
    const kpTok *t = cur(p);
    if (!is_open(p, p->pos, "module")) return werror(p, p->pos, "unexpected token");
    if (t->match == KP_NO_MATCH) return werror(p, p->tk->n - 1, "unexpected end of input");
    m->line = kpLex_line(p->tk, t);
    m->column = kpLex_col(p->tk, t);
    p->pos += 2;
    if ((st = opt_name(p, &m->name))) return st;
    bool bin = is_kw(p, p->pos, "binary"), quote = is_kw(p, p->pos, "quote");
    if (!bin && !quote) {
        m->kind = kpMod_TEXT;
        m->src = p->tk->src + t->start;
        m->len = at(p, t->match)->start + 1 - t->start;
        p->pos = t->match + 1;
        return KAPSUL_OK;
    }
    m->kind = bin ? kpMod_BINARY : kpMod_QUOTE;
    p->pos++;
    bool first = true;
    while (cur(p)->kind == kpTok_STRING) {
        if (quote && !first && kpBuf_byte(&m->bytes, ' ')) return nomem(p);
        if (kpLex_string(p->tk, cur(p), &m->bytes)) return nomem(p);
        p->pos++;
        first = false;
    }
    if (p->pos != t->match) return werror(p, p->pos, "unexpected token");
    p->pos++;
    (void)open;
    return KAPSUL_OK;
}

/* Lanes of a v128 constant; in expectations float lanes may be nan patterns. */
static kapsul_status parse_v128_val(wparse *p, kpWastVal *v, bool expect) {
    static const char *const shapes[] = { "i8x16", "i16x8", "i32x4", "i64x2", "f32x4", "f64x2" };
    static const int bits[] = { 8, 16, 32, 64, 32, 64 };
    int s = 0;
    while (s < 6 && !is_kw(p, p->pos, shapes[s])) s++;
    if (s == 6) return werror(p, p->pos, "unexpected token");
    p->pos++;
    v->kind = kpWV_V128;
    v->lane_shape = (uint8_t)s;
    int lanes = 128 / bits[s], bytes = bits[s] / 8;
    for (int l = 0; l < lanes; l++) {
        const kpTok *t = cur(p);
        const char *txt = p->tk->src + t->start;
        uint64_t x = 0;
        int r;
        if (s >= 4 && expect && kpLex_is(p->tk, t, "nan:canonical")) {
            v->nan[l] = kpNan_CANONICAL;
            r = 0;
        } else if (s >= 4 && expect && kpLex_is(p->tk, t, "nan:arithmetic")) {
            v->nan[l] = kpNan_ARITHMETIC;
            r = 0;
        } else if (t->kind != kpTok_NUM && t->kind != kpTok_KEYWORD)
            return werror(p, p->pos, "unexpected token");
        else if (s < 4) r = kpNum_int(txt, t->len, bits[s], &x);
        else if (s == 4) {
            uint32_t b32 = 0;
            r = kpNum_f32(txt, t->len, &b32);
            x = b32;
        } else r = kpNum_f64(txt, t->len, &x);
        if (r < 0) return nomem(p);
        if (r) return werror(p, p->pos, r == kpNum_RANGE ? "constant out of range" : "unknown operator");
        for (int b = 0; b < bytes; b++) v->u.v128[l * bytes + b] = (uint8_t)(x >> (8 * b));
        p->pos++;
    }
    return KAPSUL_OK;
}

/* One scalar number literal for a t.const value. */
static kapsul_status parse_scalar(wparse *p, kpWastVal *v, bool expect) {
    const kpTok *t = cur(p);
    const char *txt = p->tk->src + t->start;
    int r;
    bool flt = v->kind == kpWV_F32 || v->kind == kpWV_F64;
    if (flt && expect && kpLex_is(p->tk, t, "nan:canonical")) {
        v->nan[0] = kpNan_CANONICAL;
        p->pos++;
        return KAPSUL_OK;
    }
    if (flt && expect && kpLex_is(p->tk, t, "nan:arithmetic")) {
        v->nan[0] = kpNan_ARITHMETIC;
        p->pos++;
        return KAPSUL_OK;
    }
    if (t->kind != kpTok_NUM && t->kind != kpTok_KEYWORD) return werror(p, p->pos, "unexpected token");
    uint64_t x = 0;
    uint32_t x32 = 0;
    switch (v->kind) {
    case kpWV_I32:
        r = kpNum_int(txt, t->len, 32, &x);
        v->u.i32 = (uint32_t)x;
        break;
    case kpWV_I64:
        r = kpNum_int(txt, t->len, 64, &x);
        v->u.i64 = x;
        break;
    case kpWV_F32:
        r = kpNum_f32(txt, t->len, &x32);
        v->u.i32 = x32;
        break;
    default:
        r = kpNum_f64(txt, t->len, &x);
        v->u.i64 = x;
        break;
    }
    if (r < 0) return nomem(p);
    if (r) return werror(p, p->pos, r == kpNum_RANGE ? "constant out of range" : "unknown operator");
    p->pos++;
    return KAPSUL_OK;
}

/* (i32.const n) (f32.const nan:canonical) (v128.const ...) (ref.null func) (ref.extern n) ... */
static kapsul_status parse_value(wparse *p, kpWastVal *v, bool expect) {
    memset(v, 0, sizeof *v);
    if (cur(p)->kind != kpTok_LPAR) return werror(p, p->pos, "unexpected token");
    size_t kw = p->pos + 1;
    p->pos += 2;
    kapsul_status st;
    if (is_kw(p, kw, "i32.const")) {
        v->kind = kpWV_I32;
        st = parse_scalar(p, v, expect);
    } else if (is_kw(p, kw, "i64.const")) {
        v->kind = kpWV_I64;
        st = parse_scalar(p, v, expect);
    } else if (is_kw(p, kw, "f32.const")) {
        v->kind = kpWV_F32;
        st = parse_scalar(p, v, expect);
    } else if (is_kw(p, kw, "f64.const")) {
        v->kind = kpWV_F64;
        st = parse_scalar(p, v, expect);
    } else if (is_kw(p, kw, "v128.const")) st = parse_v128_val(p, v, expect);
    else if (is_kw(p, kw, "ref.null")) {
        v->kind = kpWV_REF_NULL;
        if (is_kw(p, p->pos, "func")) v->reftype = 0x70;
        else if (is_kw(p, p->pos, "extern")) v->reftype = 0x6F;
        else return werror(p, p->pos, "unexpected token");
        p->pos++;
        st = KAPSUL_OK;
    } else if (is_kw(p, kw, "ref.extern")) {
        st = KAPSUL_OK;
        if (cur(p)->kind == kpTok_NUM) {
            v->kind = kpWV_REF_EXTERN;
            if (kpNum_uint(p->tk->src + cur(p)->start, cur(p)->len, 64, &v->u.i64))
                return werror(p, p->pos, "unknown operator");
            p->pos++;
        } else if (expect) v->kind = kpWV_REF_ANY_EXTERN;
        else return werror(p, p->pos, "unexpected token");
    } else if (is_kw(p, kw, "ref.func") && expect) {
        v->kind = kpWV_REF_FUNC;
        st = KAPSUL_OK;
    } else return werror(p, kw, "unexpected token");
    if (st) return st;
    return expect_close(p);
}

static kapsul_status push_val(wparse *p, kpWastVal **vs, uint32_t *n, bool expect) {
    kpWastVal v;
    kapsul_status st = parse_value(p, &v, expect);
    if (st) return st;
    kpWastVal *nv = kp_realloc(*vs, ((size_t)*n + 1) * sizeof **vs);
    if (!nv) return nomem(p);
    *vs = nv;
    nv[(*n)++] = v;
    return KAPSUL_OK;
}

/* (invoke $id? "name" value*) | (get $id? "name") */
static kapsul_status parse_action(wparse *p, kpWastAction *a) {
    kapsul_status st;
    if (is_open(p, p->pos, "invoke")) a->kind = kpAct_INVOKE;
    else if (is_open(p, p->pos, "get")) a->kind = kpAct_GET;
    else return werror(p, p->pos, "unexpected token");
    p->pos += 2;
    if ((st = opt_name(p, &a->module)) || (st = string_arg(p, &a->field, &a->field_len))) return st;
    while (a->kind == kpAct_INVOKE && cur(p)->kind == kpTok_LPAR) {
        if ((st = push_val(p, &a->args, &a->nargs, false))) return st;
    }
    return expect_close(p);
}

static const struct {
    const char *name;
    kpWastCmdKind kind;
} assert_kinds[] = { { "assert_return", kpCmd_ASSERT_RETURN },
                     { "assert_trap", kpCmd_ASSERT_TRAP },
                     { "assert_exhaustion", kpCmd_ASSERT_EXHAUSTION },
                     { "assert_invalid", kpCmd_ASSERT_INVALID },
                     { "assert_malformed", kpCmd_ASSERT_MALFORMED },
                     { "assert_unlinkable", kpCmd_ASSERT_UNLINKABLE },
                     { "assert_uninstantiable", kpCmd_ASSERT_UNINSTANTIABLE } };

/* The body of an assertion after its keyword. */
static kapsul_status parse_assert(wparse *p, kpWastCommand *c) {
    kapsul_status st;
    bool takes_module = c->kind != kpCmd_ASSERT_RETURN && c->kind != kpCmd_ASSERT_EXHAUSTION;
    bool takes_action =
        c->kind == kpCmd_ASSERT_RETURN || c->kind == kpCmd_ASSERT_TRAP || c->kind == kpCmd_ASSERT_EXHAUSTION;
    if (takes_module && is_open(p, p->pos, "module")) {
        c->has_module = true;
        if ((st = parse_module(p, &c->module))) return st;
    } else if (takes_action) {
        c->has_action = true;
        if ((st = parse_action(p, &c->action))) return st;
    } else return werror(p, p->pos, "unexpected token");
    if (c->kind == kpCmd_ASSERT_RETURN) {
        while (cur(p)->kind == kpTok_LPAR) {
            if ((st = push_val(p, &c->results, &c->nresults, true))) return st;
        }
    } else if ((st = string_arg(p, &c->message, NULL))) return st;
    return expect_close(p);
}

/* One top-level command starting at p->pos ('('). */
static kapsul_status parse_command(wparse *p, kpWastCommand *c) {
    const kpTok *t = cur(p);
    kapsul_status st;
    c->line = kpLex_line(p->tk, t);
    c->column = kpLex_col(p->tk, t);
    if (t->kind != kpTok_LPAR) return werror(p, p->pos, "unexpected token");
    if (t->match == KP_NO_MATCH) return werror(p, p->tk->n - 1, "unexpected end of input");
    size_t kw = p->pos + 1;
    if (is_kw(p, kw, "module")) {
        c->kind = kpCmd_MODULE;
        c->has_module = true;
        return parse_module(p, &c->module);
    }
    if (is_kw(p, kw, "invoke") || is_kw(p, kw, "get")) {
        c->kind = kpCmd_ACTION;
        c->has_action = true;
        return parse_action(p, &c->action);
    }
    if (is_kw(p, kw, "register")) {
        c->kind = kpCmd_REGISTER;
        p->pos += 2;
        if ((st = string_arg(p, &c->register_name, NULL)) || (st = opt_name(p, &c->register_module)))
            return st;
        return expect_close(p);
    }
    for (size_t i = 0; i < sizeof assert_kinds / sizeof *assert_kinds; i++) {
        if (!is_kw(p, kw, assert_kinds[i].name)) continue;
        c->kind = assert_kinds[i].kind;
        p->pos += 2;
        return parse_assert(p, c);
    }
    return werror(p, kw, "unknown command");
}

static void free_action(kpWastAction *a) {
    kp_free(a->module);
    kp_free(a->field);
    kp_free(a->args);
}

static void free_command(kpWastCommand *c) {
    kp_free(c->module.name);
    kpBuf_free(&c->module.bytes);
    free_action(&c->action);
    kp_free(c->register_name);
    kp_free(c->register_module);
    kp_free(c->results);
    kp_free(c->message);
}

static bool is_bare_module(const wparse *p) {
    static const char *const fields[] = { "type",   "import", "func",  "table", "memory",
                                          "global", "export", "start", "elem",  "data" };
    if (at(p, 0)->kind != kpTok_LPAR) return false;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        if (is_kw(p, 1, fields[i])) return true;
    return false;
}

kapsul_status kpWast_parse(const char *src, size_t len, kpWastScript *out, kapsul_error *err) {
    kpToks toks;
    memset(out, 0, sizeof *out);
    kapsul_status st = kpLex_all(src, len, 1, 1, &toks, err);
    if (st != KAPSUL_OK && st != KAPSUL_ERR_MALFORMED) goto done; /* no tokens */
    wparse p = { &toks, 0, err };
    size_t cap = 0;
    st = KAPSUL_OK;
    if (is_bare_module(&p)) {
        /* A script that is just module fields is one module (spec: inline-module.wast). */
        if (!(out->cmds = kp_calloc(1, sizeof *out->cmds))) {
            st = nomem(&p);
            goto done;
        }
        kpWastCommand *c = &out->cmds[0];
        c->kind = kpCmd_MODULE;
        c->line = kpLex_line(&toks, &toks.v[0]);
        c->column = kpLex_col(&toks, &toks.v[0]);
        c->has_module = true;
        c->module.kind = kpMod_TEXT;
        c->module.src = src + toks.v[0].start;
        c->module.len = len - toks.v[0].start;
        c->module.line = kpLex_line(&toks, &toks.v[0]);
        c->module.column = kpLex_col(&toks, &toks.v[0]);
        out->ncmds = 1;
        goto done;
    }
    while (cur(&p)->kind != kpTok_EOF) {
        if (out->ncmds == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            kpWastCommand *nc = kp_realloc(out->cmds, ncap * sizeof *nc);
            if (!nc) {
                st = nomem(&p);
                goto done;
            }
            out->cmds = nc;
            cap = ncap;
        }
        kpWastCommand *c = &out->cmds[out->ncmds];
        memset(c, 0, sizeof *c);
        size_t start = p.pos;
        st = parse_command(&p, c);
        if (st == KAPSUL_OK && p.pos != (size_t)at(&p, start)->match + 1)
            st = werror(&p, p.pos, "unexpected token");
        if (st) {
            free_command(c);
            goto done;
        }
        out->ncmds++;
    }
    if (toks.failed) {
        if (err) *err = toks.lex_err;
        st = KAPSUL_ERR_MALFORMED;
    }
done:
    kpLex_free(&toks);
    return st;
}

void kpWast_free(kpWastScript *script) {
    if (!script) return;
    for (uint32_t i = 0; i < script->ncmds; i++) free_command(&script->cmds[i]);
    kp_free(script->cmds);
    memset(script, 0, sizeof *script);
}
