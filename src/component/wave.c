/*
 * wave.c -- component values written in WAVE, the value syntax of wasmtime's `--invoke` and of
 * WIT tooling: `true`, `42`, `1.5`, `'x'`, `"text"`, `[1, 2]`, `{x: 1, y: 2}` (records),
 * `(1, "a")` (tuples), `case` / `case(payload)` (variants and enums), `some(x)` / `none`,
 * `ok(x)` / `err(e)` / `ok` / `err`, `{read, write}` (flags). Floats print as the shortest text
 * that reads back to the same value, with `nan`, `inf` and `-inf`. Resource handles have no WAVE
 * form and print as `<resource>`. Cases named like a keyword print with a `%` (`%ok`). Recursion follows the type, whose depth the decoder bounded.
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
    size_t n = kpChars_utf8Put(u, c);
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

bool kpWave_isKeyword(const char *name, size_t n) {
    static const char *const kws[] = { "true", "false", "inf", "nan", "some", "none", "ok", "err" };
    for (size_t i = 0; i < sizeof kws / sizeof *kws; i++)
        if (strlen(kws[i]) == n && memcmp(kws[i], name, n) == 0) return true;
    return false;
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
            if (kpWave_isKeyword(t->fields[d].name, t->fields[d].name_len)) rc |= put(o, "%");
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
