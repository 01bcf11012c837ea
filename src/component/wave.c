/*
 * wave.c -- component values written in WAVE, the value syntax of wasmtime's `--invoke` and of
 * WIT tooling: `true`, `42`, `1.5`, `'x'`, `"text"`, `[1, 2]`, `{x: 1, y: 2}` (records),
 * `(1, "a")` (tuples), `case` / `case(payload)` (variants and enums), `some(x)` / `none`,
 * `ok(x)` / `err(e)` / `ok` / `err`, `{read, write}` (flags). Floats print as the shortest text
 * that reads back to the same value, with `nan`, `inf` and `-inf`. Resource handles have no WAVE
 * form and print as `<resource>`. Recursion follows the type, whose depth the decoder bounded.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "component/cabi.h"

static int put(kpBuf *o, const char *s) { return kpBuf_push(o, s, strlen(s)); }
static int putn(kpBuf *o, const char *s, uint32_t n) { return kpBuf_push(o, s, n); }

static int put_float(kpBuf *o, double v, bool f32) {
    if (isnan(v)) return put(o, "nan");
    if (isinf(v)) return put(o, v < 0 ? "-inf" : "inf");
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) { /* the shortest that reads back */
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (f32 ? (float)strtod(buf, NULL) == (float)v : strtod(buf, NULL) == v) break;
    }
    int rc = put(o, buf);
    if (!strpbrk(buf, ".eEn")) rc |= put(o, ".0"); /* 1 -> 1.0, so it reads back as a float */
    return rc;
}

/* A char or string character, escaped as WAVE wants inside quote q. */
static int put_char(kpBuf *o, uint32_t c, char q) {
    char buf[16];
    switch (c) {
    case '\n': return put(o, "\\n");
    case '\r': return put(o, "\\r");
    case '\t': return put(o, "\\t");
    case '\\': return put(o, "\\\\");
    default: break;
    }
    if (c == (uint32_t)q) return put(o, q == '"' ? "\\\"" : "\\'");
    if (c < 0x20 || c == 0x7f) {
        snprintf(buf, sizeof buf, "\\u{%x}", c);
        return put(o, buf);
    }
    uint8_t u[4];
    size_t n = c < 0x80    ? (u[0] = (uint8_t)c, 1)
               : c < 0x800 ? (u[0] = (uint8_t)(0xc0 | c >> 6), u[1] = (uint8_t)(0x80 | (c & 0x3f)), 2)
               : c < 0x10000
                   ? (u[0] = (uint8_t)(0xe0 | c >> 12), u[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f)),
                      u[2] = (uint8_t)(0x80 | (c & 0x3f)), 3)
                   : (u[0] = (uint8_t)(0xf0 | c >> 18), u[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f)),
                      u[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f)), u[3] = (uint8_t)(0x80 | (c & 0x3f)), 4);
    return kpBuf_push(o, u, n);
}

static int put_string(kpBuf *o, const kpCValue *v) {
    int rc = put(o, "\"");
    const uint8_t *s = (const uint8_t *)v->str.p;
    for (uint32_t i = 0; rc == 0 && i < v->str.len;) {
        size_t n = kpChars_utf8Len(s + i, v->str.len - i);
        if (n <= 1) { /* ASCII (or, defensively, a stray byte) */
            rc |= put_char(o, s[i], '"');
            i++;
            continue;
        }
        rc |= kpBuf_push(o, s + i, n);
        i += (uint32_t)n;
    }
    return rc | put(o, "\"");
}

int kpWave_print(const kpComponent *c, kpCVal type, const kpCValue *v, kpBuf *o) {
    char buf[32];
    uint8_t p = type.prim;
    const kpCType *t = NULL;
    if (!p) {
        t = kpComponent_resolve(c, type.type);
        if (t->kind == kpCT_PRIM) p = t->a.prim;
    }
    switch (p) {
    case 0: break;
    case kpCP_BOOL: return put(o, v->b ? "true" : "false");
    case kpCP_S8:
    case kpCP_S16:
    case kpCP_S32:
    case kpCP_S64: snprintf(buf, sizeof buf, "%lld", (long long)v->s); return put(o, buf);
    case kpCP_F32: return put_float(o, v->f32, true);
    case kpCP_F64: return put_float(o, v->f64, false);
    case kpCP_CHAR: return put(o, "'") | put_char(o, v->c, '\'') | put(o, "'");
    case kpCP_STRING: return put_string(o, v);
    default: snprintf(buf, sizeof buf, "%llu", (unsigned long long)v->u); return put(o, buf);
    }
    int rc = 0;
    switch ((kpCTypeKind)t->kind) {
    case kpCT_LIST:
        rc |= put(o, "[");
        for (uint32_t i = 0; rc == 0 && i < v->agg.n; i++)
            rc |= (i ? put(o, ", ") : 0) | kpWave_print(c, t->a, &v->agg.v[i], o);
        return rc | put(o, "]");
    case kpCT_RECORD:
    case kpCT_TUPLE:
        rc |= put(o, t->kind == kpCT_RECORD ? "{" : "(");
        for (uint32_t i = 0; rc == 0 && i < t->n; i++) {
            if (i) rc |= put(o, ", ");
            if (t->kind == kpCT_RECORD)
                rc |= putn(o, t->fields[i].name, t->fields[i].name_len) | put(o, ": ");
            rc |= kpWave_print(c, t->fields[i].type, &v->agg.v[i], o);
        }
        return rc | put(o, t->kind == kpCT_RECORD ? "}" : ")");
    case kpCT_VARIANT:
    case kpCT_ENUM:
    case kpCT_OPTION:
    case kpCT_RESULT: {
        static const char *const opt[2] = { "none", "some" }, *const res[2] = { "ok", "err" };
        uint32_t d = v->var.disc;
        kpCVal pt = { 0 };
        bool has = false;
        if (t->kind == kpCT_VARIANT || t->kind == kpCT_ENUM) {
            rc |= putn(o, t->fields[d].name, t->fields[d].name_len);
            has = t->kind == kpCT_VARIANT && t->fields[d].has_type, pt = t->fields[d].type;
        } else if (t->kind == kpCT_OPTION) {
            rc |= put(o, opt[d & 1]);
            has = d == 1, pt = t->a;
        } else {
            rc |= put(o, res[d & 1]);
            has = d == 0 ? t->has_a : t->has_b, pt = d == 0 ? t->a : t->b;
        }
        if (!has || !v->var.payload) return rc;
        return rc | put(o, "(") | kpWave_print(c, pt, v->var.payload, o) | put(o, ")");
    }
    case kpCT_FLAGS: {
        bool first = true;
        rc |= put(o, "{");
        for (uint32_t i = 0; i < t->n; i++) {
            if (!(v->flags >> i & 1)) continue;
            rc |= (first ? 0 : put(o, ", ")) | putn(o, t->fields[i].name, t->fields[i].name_len);
            first = false;
        }
        return rc | put(o, "}");
    }
    default: return put(o, "<resource>");
    }
}

/* ---- Parsing ------------------------------------------------------------------------------------ */

/* The parser follows the type (so its recursion is bounded by the type's depth); text need not be
 * NUL-terminated. Values and their strings are allocated from the arena. */
typedef struct wp {
    const kpComponent *c;
    const char *p, *end;
    kpCArena *arena;
    char *msg;
    size_t cap;
} wp;

static int fail(wp *w, const char *what) {
    if (w->msg && !w->msg[0]) snprintf(w->msg, w->cap, "%s at \"%.20s\"", what, w->p < w->end ? w->p : "");
    return -1;
}

static void ws(wp *w) {
    while (w->p < w->end && (*w->p == ' ' || *w->p == '\t' || *w->p == '\n' || *w->p == '\r')) w->p++;
}

static bool eat(wp *w, char ch) {
    ws(w);
    if (w->p < w->end && *w->p == ch) {
        w->p++;
        return true;
    }
    return false;
}

/* A label (kebab-case, optionally %-prefixed): *s, *n; false when there is none. */
static bool label(wp *w, const char **s, size_t *n) {
    ws(w);
    if (w->p < w->end && *w->p == '%') w->p++;
    const char *b = w->p;
    while (w->p < w->end && ((*w->p >= 'a' && *w->p <= 'z') || (*w->p >= 'A' && *w->p <= 'Z') ||
                             (*w->p >= '0' && *w->p <= '9') || *w->p == '-'))
        w->p++;
    *s = b, *n = (size_t)(w->p - b);
    return *n > 0;
}

static bool label_is(const char *s, size_t n, const char *name, uint32_t len) {
    return n == len && memcmp(s, name, n) == 0;
}

static int parse_int(wp *w, uint8_t prim, kpCValue *out) {
    static const struct {
        uint8_t prim;
        int64_t min;
        uint64_t max;
    } r[] = { { kpCP_S8, INT8_MIN, INT8_MAX },    { kpCP_U8, 0, UINT8_MAX },
              { kpCP_S16, INT16_MIN, INT16_MAX }, { kpCP_U16, 0, UINT16_MAX },
              { kpCP_S32, INT32_MIN, INT32_MAX }, { kpCP_U32, 0, UINT32_MAX },
              { kpCP_S64, INT64_MIN, INT64_MAX }, { kpCP_U64, 0, UINT64_MAX } };
    ws(w);
    bool neg = w->p < w->end && *w->p == '-';
    if (neg || (w->p < w->end && *w->p == '+')) w->p++;
    uint64_t v = 0;
    const char *b = w->p;
    while (w->p < w->end && *w->p >= '0' && *w->p <= '9') {
        unsigned d = (unsigned)(*w->p++ - '0');
        if (v > (UINT64_MAX - d) / 10) return fail(w, "integer out of range");
        v = v * 10 + d;
    }
    if (w->p == b) return fail(w, "expected an integer");
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        if (r[i].prim != prim) continue;
        if (neg ? (r[i].min == 0 && v != 0) || v > (uint64_t)INT64_MAX + 1 || -(int64_t)(v - 1) - 1 < r[i].min
                : v > r[i].max)
            return fail(w, "integer out of range for its type");
        if (neg) out->s = v ? -(int64_t)(v - 1) - 1 : 0;
        else out->u = v;
        return 0;
    }
    return fail(w, "not an integer type");
}

static int parse_float(wp *w, bool f32, kpCValue *out) {
    ws(w);
    char buf[64];
    size_t n = 0;
    while (w->p + n < w->end && n < sizeof buf - 1 && strchr("+-.0123456789eEinfa", w->p[n])) n++;
    memcpy(buf, w->p, n);
    buf[n] = 0;
    double v;
    if (strcmp(buf, "nan") == 0) v = NAN;
    else if (strcmp(buf, "inf") == 0) v = INFINITY;
    else if (strcmp(buf, "-inf") == 0) v = -INFINITY;
    else {
        char *e;
        v = strtod(buf, &e);
        if (n == 0 || *e || strpbrk(buf, "inf")) return fail(w, "expected a number");
    }
    w->p += n;
    if (f32) out->f32 = (float)v;
    else out->f64 = v;
    return 0;
}

static size_t put_utf8(uint8_t *o, uint32_t c) {
    if (c < 0x80) return o[0] = (uint8_t)c, 1;
    if (c < 0x800) return o[0] = (uint8_t)(0xc0 | c >> 6), o[1] = (uint8_t)(0x80 | (c & 0x3f)), 2;
    if (c < 0x10000)
        return o[0] = (uint8_t)(0xe0 | c >> 12), o[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f)),
               o[2] = (uint8_t)(0x80 | (c & 0x3f)), 3;
    o[0] = (uint8_t)(0xf0 | c >> 18), o[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
    o[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f)), o[3] = (uint8_t)(0x80 | (c & 0x3f));
    return 4;
}

/* One character of a quoted char or string (after the quote): an escape or one UTF-8 sequence. */
static int quoted_char(wp *w, uint32_t *c) {
    if (w->p >= w->end) return fail(w, "unterminated quote");
    const unsigned char *s = (const unsigned char *)w->p;
    if (*s != '\\') {
        size_t n = kpChars_utf8Len(s, (size_t)(w->end - w->p));
        if (n == 0 || !kp_utf8_valid(s, n)) return fail(w, "invalid UTF-8");
        *c = n == 1   ? s[0]
             : n == 2 ? (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f)
             : n == 3 ? (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f)
                      : (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
                            (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
        w->p += n;
        return 0;
    }
    w->p++;
    if (w->p >= w->end) return fail(w, "unterminated escape");
    char e = *w->p++;
    switch (e) {
    case 'n': *c = '\n'; return 0;
    case 'r': *c = '\r'; return 0;
    case 't': *c = '\t'; return 0;
    case '\\':
    case '\'':
    case '"': *c = (uint32_t)e; return 0;
    case 'u': {
        if (w->p >= w->end || *w->p++ != '{') return fail(w, "bad \\u escape");
        uint32_t v = 0;
        int digits = 0, h;
        while (w->p < w->end && (h = kpChars_hexval(*w->p)) >= 0 && digits < 6)
            v = v * 16 + (uint32_t)h, w->p++, digits++;
        if (!digits || w->p >= w->end || *w->p++ != '}') return fail(w, "bad \\u escape");
        if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
            return fail(w, "\\u escape is not a Unicode scalar value");
        *c = v;
        return 0;
    }
    default: return fail(w, "unknown escape");
    }
}

static int parse_string(wp *w, kpCValue *out) {
    if (!eat(w, '"')) return fail(w, "expected a string");
    size_t cap = (size_t)(w->end - w->p) * 4 / 3 + 8;
    uint8_t *o = kpCArena_alloc(w->arena, cap);
    if (!o) return fail(w, "string too long");
    size_t n = 0;
    while (w->p < w->end && *w->p != '"') {
        uint32_t c;
        if (quoted_char(w, &c) != 0) return -1;
        if (n + 4 > cap) return fail(w, "string too long");
        n += put_utf8(o + n, c);
    }
    if (!eat(w, '"')) return fail(w, "unterminated string");
    if (n > UINT32_MAX) return fail(w, "string too long");
    out->str.p = (const char *)o, out->str.len = (uint32_t)n;
    return 0;
}

static int parse_val(wp *w, kpCVal type, kpCValue *out);

/* `(payload)` after a case label when the case has one. */
static int payload(wp *w, bool has, kpCVal t, kpCValue *out) {
    out->var.payload = NULL;
    if (!has) return 0;
    if (!eat(w, '(')) return fail(w, "expected '(' and the case's payload");
    if (!(out->var.payload = kpCArena_alloc(w->arena, sizeof(kpCValue)))) return fail(w, "value too large");
    if (parse_val(w, t, out->var.payload) != 0) return -1;
    return eat(w, ')') ? 0 : fail(w, "expected ')'");
}

static int parse_seq(wp *w, kpCVal elem, char close, kpCValue *out) {
    KP_VEC(kpCValue) v = { 0 };
    int rc = 0;
    if (!eat(w, close)) {
        for (;;) {
            if (kpVec_grow(&v) != 0) {
                rc = fail(w, "out of memory");
                break;
            }
            v.v[v.n] = (kpCValue){ 0 };
            if ((rc = parse_val(w, elem, &v.v[v.n++])) != 0) break;
            bool comma = eat(w, ',');
            if (eat(w, close)) break;
            if (!comma) {
                rc = fail(w, "expected ',' or the end of the list");
                break;
            }
        }
    }
    if (rc == 0) {
        out->agg.n = (uint32_t)v.n;
        out->agg.v = kpCArena_alloc(w->arena, (v.n ? v.n : 1) * sizeof(kpCValue));
        if (!out->agg.v) rc = fail(w, "list too long");
        else if (v.n) memcpy(out->agg.v, v.v, v.n * sizeof(kpCValue));
    }
    kpVec_free(&v);
    return rc;
}

static int parse_fields(wp *w, const kpCType *t, kpCValue *out) {
    bool record = t->kind == kpCT_RECORD;
    if (!eat(w, record ? '{' : '(')) return fail(w, record ? "expected '{'" : "expected '('");
    if (!(out->agg.v = kpCArena_alloc(w->arena, (t->n ? t->n : 1) * sizeof(kpCValue))))
        return fail(w, "too large");
    out->agg.n = t->n;
    uint64_t seen = 0;
    for (uint32_t k = 0; k < t->n; k++) {
        if (k && !eat(w, ',')) return fail(w, record && eat(w, '}') ? "a field is missing" : "expected ','");
        uint32_t i = k;
        if (record) {
            const char *s;
            size_t n;
            if (!label(w, &s, &n)) return fail(w, "expected a field name");
            for (i = 0; i < t->n && !label_is(s, n, t->fields[i].name, t->fields[i].name_len); i++) {}
            if (i == t->n) return fail(w, "no such field");
            if (i < 64 && (seen >> i & 1)) return fail(w, "field given twice");
            if (i < 64) seen |= 1ull << i;
            if (!eat(w, ':')) return fail(w, "expected ':'");
        }
        if (parse_val(w, t->fields[i].type, &out->agg.v[i]) != 0) return -1;
    }
    eat(w, ',');
    if (record && t->n <= 64 && seen != (t->n == 64 ? UINT64_MAX : (1ull << t->n) - 1))
        return fail(w, "a field is missing");
    return eat(w, record ? '}' : ')') ? 0 : fail(w, record ? "expected '}'" : "expected ')'");
}

static int parse_val(wp *w, kpCVal type, kpCValue *out) {
    uint8_t p = type.prim;
    const kpCType *t = NULL;
    if (!p) {
        t = kpComponent_resolve(w->c, type.type);
        if (t->kind == kpCT_PRIM) p = t->a.prim;
    }
    const char *s;
    size_t n;
    switch (p) {
    case 0: break;
    case kpCP_BOOL:
        if (!label(w, &s, &n) || !(label_is(s, n, "true", 4) || label_is(s, n, "false", 5)))
            return fail(w, "expected true or false");
        out->b = n == 4;
        return 0;
    case kpCP_F32:
    case kpCP_F64: return parse_float(w, p == kpCP_F32, out);
    case kpCP_CHAR:
        if (!eat(w, '\'') || quoted_char(w, &out->c) != 0 || !eat(w, '\'')) return fail(w, "expected a char");
        return 0;
    case kpCP_STRING: return parse_string(w, out);
    default: return parse_int(w, p, out);
    }
    switch ((kpCTypeKind)t->kind) {
    case kpCT_LIST: return eat(w, '[') ? parse_seq(w, t->a, ']', out) : fail(w, "expected '['");
    case kpCT_RECORD:
    case kpCT_TUPLE: return parse_fields(w, t, out);
    case kpCT_VARIANT:
    case kpCT_ENUM:
        if (!label(w, &s, &n)) return fail(w, "expected a case name");
        for (uint32_t i = 0; i < t->n; i++)
            if (label_is(s, n, t->fields[i].name, t->fields[i].name_len)) {
                out->var.disc = i;
                return payload(w, t->kind == kpCT_VARIANT && t->fields[i].has_type, t->fields[i].type, out);
            }
        return fail(w, "no such case");
    case kpCT_OPTION:
        if (!label(w, &s, &n)) return fail(w, "expected some(...) or none");
        if (label_is(s, n, "none", 4)) return out->var.disc = 0, out->var.payload = NULL, 0;
        if (!label_is(s, n, "some", 4)) return fail(w, "expected some(...) or none");
        out->var.disc = 1;
        return payload(w, true, t->a, out);
    case kpCT_RESULT:
        if (!label(w, &s, &n) || !(label_is(s, n, "ok", 2) || label_is(s, n, "err", 3)))
            return fail(w, "expected ok or err");
        out->var.disc = n == 3;
        return payload(w, n == 3 ? t->has_b : t->has_a, n == 3 ? t->b : t->a, out);
    case kpCT_FLAGS:
        out->flags = 0;
        if (!eat(w, '{')) return fail(w, "expected '{'");
        if (eat(w, '}')) return 0;
        do {
            if (!label(w, &s, &n)) return fail(w, "expected a flag name");
            uint32_t i = 0;
            while (i < t->n && !label_is(s, n, t->fields[i].name, t->fields[i].name_len)) i++;
            if (i == t->n || i >= 32) return fail(w, "no such flag");
            out->flags |= 1u << i;
        } while (eat(w, ','));
        return eat(w, '}') ? 0 : fail(w, "expected '}'");
    default: return fail(w, "resource handles have no WAVE form");
    }
}

int kpWave_parseArgs(const kpComponent *c, const kpCType *ft, const char *text, size_t len, kpCArena *arena,
                     kpCValue **params, char *msg, size_t cap) {
    wp w = { c, text, text + len, arena, msg, cap };
    if (msg && cap) msg[0] = 0;
    *params = kpCArena_alloc(arena, (ft->nparams + 1) * sizeof(kpCValue));
    if (!*params) return fail(&w, "arguments too large for the host");
    if (!eat(&w, '(')) return fail(&w, "expected '('");
    for (uint32_t i = 0; i < ft->nparams; i++) {
        if (i && !eat(&w, ',')) return fail(&w, "expected ',' and another argument");
        if (parse_val(&w, ft->fields[i].type, &(*params)[i]) != 0) return -1;
    }
    if (ft->nparams) eat(&w, ',');
    if (!eat(&w, ')')) return fail(&w, ft->nparams ? "expected ')' (too many arguments?)" : "expected ')'");
    ws(&w);
    return w.p == w.end ? 0 : fail(&w, "unexpected text after the call");
}
