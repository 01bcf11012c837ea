/*
 * wave_parse.c -- WAVE text read into component values, guided by the value's type (the syntax of
 * wasmtime's `--invoke 'f("x", [1, 2])'`; wave.c writes it). What the type decides: `true` is a
 * bool, `%true` an enum or variant case of that name; `{}` is empty flags, `{:}` a record whose
 * fields are all omitted options; an option's `some` and a result's `ok` may be left out when the
 * payload is not itself an option or result ("flat" form); record fields come in any order and
 * option fields may be omitted (none); trailing commas are allowed; `//` comments run to the end
 * of a line; strings also come as `"""` multiline blocks, dedented to the closing delimiter.
 *
 * Text comes from a command line or a file, so it is hostile input: every error is KAPSUL_ERR_ARG
 * with the 1-based line and column, nothing is read past len, recursion follows the type (whose
 * depth the decoder bounded), and every value is allocated from the caller's arena (bounded by
 * KP_MAX_CABI_HOST_BYTES), so a huge list is an error, not an exhausted host.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "component/cabi.h"

typedef struct wave {
    const kpComponent *c;
    const char *s;
    size_t len, pos;
    kpCArena *arena;
    kapsul_error *err;
} wave;

/* ---- Positions, errors, tokens ------------------------------------------------------------------- */

static kapsul_status fail(wave *w, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static kapsul_status fail(wave *w, size_t at, const char *fmt, ...) {
    int line = 1, col = 1;
    for (size_t i = 0; i < at && i < w->len; i++) {
        if (w->s[i] == '\n') line++, col = 1;
        else if (((unsigned char)w->s[i] & 0xC0) != 0x80) col++; /* count characters, not bytes */
    }
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kpError_setText(w->err, KAPSUL_ERR_ARG, line, col, "WAVE value, line %d column %d: %s", line, col,
                           msg);
}

static kapsul_status nomem(wave *w) {
    return fail(w, w->pos, "values larger than %u bytes in all", (unsigned)KP_MAX_CABI_HOST_BYTES);
}

static int peek(const wave *w) { return w->pos < w->len ? (unsigned char)w->s[w->pos] : -1; }

/* Skip whitespace and // comments. */
static void skip_ws(wave *w) {
    while (w->pos < w->len) {
        char ch = w->s[w->pos];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
            w->pos++;
        } else if (ch == '/' && w->pos + 1 < w->len && w->s[w->pos + 1] == '/') {
            while (w->pos < w->len && w->s[w->pos] != '\n') w->pos++;
        } else {
            break;
        }
    }
}

/* What is at pos, for "expected X, found Y" messages. */
static const char *found(const wave *w, char *buf, size_t cap) {
    if (w->pos >= w->len) return "the end of the text";
    size_t n = 0;
    while (w->pos + n < w->len && n < 12 && w->s[w->pos + n] != '\n') n++;
    snprintf(buf, cap, "'%.*s'", (int)n, w->s + w->pos);
    return buf;
}

static kapsul_status expected(wave *w, const char *what) {
    char buf[32];
    return fail(w, w->pos, "expected %s, found %s", what, found(w, buf, sizeof buf));
}

/* The punctuation ch (after whitespace) or an error. */
static kapsul_status want(wave *w, char ch) {
    skip_ws(w);
    if (peek(w) != (unsigned char)ch) {
        char what[8] = { '\'', ch, '\'', 0 };
        return expected(w, what);
    }
    w->pos++;
    return KAPSUL_OK;
}

/* Consume ch if it is next (after whitespace). */
static bool accept(wave *w, char ch) {
    skip_ws(w);
    if (peek(w) != (unsigned char)ch) return false;
    w->pos++;
    return true;
}

static bool is_alpha(int ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }
static bool is_digit(int ch) { return ch >= '0' && ch <= '9'; }

/* A label: an optional '%' and kebab-case words (a letter, then letters and digits). *escaped says
 * whether it had the '%'. */
typedef struct label {
    const char *p;
    size_t n;
    bool escaped;
    size_t at;
} label;

static kapsul_status read_label(wave *w, label *l, const char *what) {
    skip_ws(w);
    l->at = w->pos;
    l->escaped = peek(w) == '%';
    if (l->escaped) w->pos++;
    size_t start = w->pos;
    for (;;) {
        if (!is_alpha(peek(w))) {
            w->pos = l->at;
            return expected(w, what);
        }
        while (is_alpha(peek(w)) || is_digit(peek(w))) w->pos++;
        if (peek(w) != '-') break;
        w->pos++;
    }
    l->p = w->s + start;
    l->n = w->pos - start;
    return KAPSUL_OK;
}

static bool is_keyword(const label *l) { return !l->escaped && kpWave_isKeyword(l->p, l->n); }

/* The field, case or flag of t called l, or -1. */
static int64_t find_field(const kpCType *t, const label *l) {
    for (uint32_t i = 0; i < t->n; i++)
        if (t->fields[i].name && t->fields[i].name_len == l->n && memcmp(t->fields[i].name, l->p, l->n) == 0)
            return i;
    return -1;
}

/* ---- Scalars ------------------------------------------------------------------------------------ */

static const char *prim_name(uint8_t p) { return kpC_primName(p); }

/* A base-10 integer token: '-'? ('0' | [1-9][0-9]*). */
static kapsul_status read_int(wave *w, uint8_t p, kpCValue *out) {
    static const struct {
        uint8_t prim;
        bool sign;
        uint64_t max; /* largest magnitude; signed types allow max + 1 negative */
    } lim[] = { { kpCP_U8, false, 0xff },         { kpCP_U16, false, 0xffff },
                { kpCP_U32, false, 0xffffffffu }, { kpCP_U64, false, UINT64_MAX },
                { kpCP_S8, true, 0x7f },          { kpCP_S16, true, 0x7fff },
                { kpCP_S32, true, 0x7fffffff },   { kpCP_S64, true, INT64_MAX } };
    size_t k = 0;
    while (k + 1 < sizeof lim / sizeof *lim && lim[k].prim != p) k++;
    skip_ws(w);
    size_t at = w->pos;
    bool neg = peek(w) == '-';
    if (neg) w->pos++;
    if (!is_digit(peek(w))) {
        w->pos = at;
        return expected(w, prim_name(p));
    }
    if (peek(w) == '0' && w->pos + 1 < w->len && is_digit(w->s[w->pos + 1]))
        return fail(w, at, "a %s has no leading zeros", prim_name(p));
    uint64_t v = 0;
    bool over = false;
    while (is_digit(peek(w))) {
        unsigned d = (unsigned)(peek(w) - '0');
        if (v > (UINT64_MAX - d) / 10) over = true;
        else v = v * 10 + d;
        w->pos++;
    }
    int nx = peek(w);
    if (nx == '.' || nx == 'e' || nx == 'E' || is_alpha(nx)) {
        w->pos = at;
        return expected(w, prim_name(p));
    }
    uint64_t max = lim[k].max + (neg && lim[k].sign ? 1 : 0);
    if (over || v > max || (neg && !lim[k].sign && v != 0))
        return fail(w, at, "%.*s is out of range for %s", (int)(w->pos - at), w->s + at, prim_name(p));
    if (lim[k].sign) out->s = neg ? (int64_t)(0 - v) : (int64_t)v;
    else out->u = v;
    return KAPSUL_OK;
}

/* A float: a JSON-style number, nan, inf or -inf. */
static kapsul_status read_float(wave *w, uint8_t p, kpCValue *out) {
    skip_ws(w);
    size_t at = w->pos;
    double v;
    const char *rest = w->s + at;
    size_t left = w->len - at;
    if (left >= 3 && memcmp(rest, "nan", 3) == 0 && !(left > 3 && (is_alpha(rest[3]) || is_digit(rest[3])))) {
        w->pos += 3, v = NAN;
    } else if (left >= 3 && memcmp(rest, "inf", 3) == 0 &&
               !(left > 3 && (is_alpha(rest[3]) || is_digit(rest[3])))) {
        w->pos += 3, v = INFINITY;
    } else if (left >= 4 && memcmp(rest, "-inf", 4) == 0 &&
               !(left > 4 && (is_alpha(rest[4]) || is_digit(rest[4])))) {
        w->pos += 4, v = -INFINITY;
    } else {
        /* Check the shape ourselves (strtod also takes hex, "infinity", leading '+'), then
         * convert a NUL-terminated copy. */
        size_t q = at;
        if (q < w->len && w->s[q] == '-') q++;
        size_t digits = q;
        while (q < w->len && is_digit(w->s[q])) q++;
        if (q == digits) return expected(w, prim_name(p));
        if (w->s[digits] == '0' && q - digits > 1) return fail(w, at, "a number has no leading zeros");
        if (q < w->len && w->s[q] == '.') {
            size_t f = ++q;
            while (q < w->len && is_digit(w->s[q])) q++;
            if (q == f) return fail(w, at, "a digit must follow the '.'");
        }
        if (q < w->len && (w->s[q] == 'e' || w->s[q] == 'E')) {
            q++;
            if (q < w->len && (w->s[q] == '+' || w->s[q] == '-')) q++;
            size_t e = q;
            while (q < w->len && is_digit(w->s[q])) q++;
            if (q == e) return fail(w, at, "a digit must follow the exponent");
        }
        if (q < w->len && is_alpha(w->s[q])) return expected(w, prim_name(p));
        char buf[400];
        if (q - at >= sizeof buf) return fail(w, at, "a number of more than %zu characters", sizeof buf - 1);
        memcpy(buf, w->s + at, q - at);
        buf[q - at] = 0;
        errno = 0;
        v = strtod(buf, NULL); /* overflow gives +-inf, underflow 0: as WAVE's reference does */
        w->pos = q;
    }
    if (p == kpCP_F32) out->f32 = (float)v;
    else out->f64 = v;
    return KAPSUL_OK;
}

/* One character of a char or string literal at pos (not the closing quote): an escape or a UTF-8
 * scalar value. */
static kapsul_status read_char(wave *w, uint32_t *cp) {
    size_t at = w->pos;
    unsigned char ch = (unsigned char)w->s[w->pos];
    if (ch == '\n' || ch == '\r') return fail(w, at, "a line break in a quoted literal must be written \\n");
    if (ch != '\\') {
        size_t n = kpChars_utf8Len((const unsigned char *)w->s + at, w->len - at);
        if (n == 0) return fail(w, at, "invalid UTF-8");
        uint32_t v = n == 1 ? ch : n == 2 ? ch & 0x1F : n == 3 ? ch & 0x0F : ch & 0x07;
        for (size_t i = 1; i < n; i++) v = v << 6 | ((unsigned char)w->s[at + i] & 0x3F);
        w->pos += n;
        *cp = v;
        return KAPSUL_OK;
    }
    if (++w->pos >= w->len) return fail(w, at, "an escape at the end of the text");
    switch (w->s[w->pos++]) {
    case '\'': *cp = '\''; return KAPSUL_OK;
    case '"': *cp = '"'; return KAPSUL_OK;
    case '\\': *cp = '\\'; return KAPSUL_OK;
    case 't': *cp = '\t'; return KAPSUL_OK;
    case 'n': *cp = '\n'; return KAPSUL_OK;
    case 'r': *cp = '\r'; return KAPSUL_OK;
    case 'u': {
        if (peek(w) != '{') return fail(w, at, "\\u must be followed by {hex digits}");
        w->pos++;
        uint32_t v = 0;
        size_t digits = 0;
        int h;
        while (w->pos < w->len && (h = kpChars_hexval((unsigned char)w->s[w->pos])) >= 0) {
            if (++digits > 6) return fail(w, at, "\\u{...} has more than 6 hex digits");
            v = v << 4 | (uint32_t)h;
            w->pos++;
        }
        if (!digits || peek(w) != '}') return fail(w, at, "\\u{...} needs hex digits and a closing '}'");
        w->pos++;
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return fail(w, at, "\\u{%x} is not a Unicode scalar value", v);
        *cp = v;
        return KAPSUL_OK;
    }
    default: return fail(w, at, "unknown escape '\\%c'", w->s[w->pos - 1]);
    }
}

static kapsul_status read_charlit(wave *w, kpCValue *out) {
    size_t at = w->pos;
    if (w->pos >= w->len || w->s[w->pos] == '\'') return fail(w, at, "an empty char literal");
    kapsul_status st = read_char(w, &out->c);
    if (st) return st;
    if (peek(w) != '\'') return fail(w, at, "a char literal holds exactly one character");
    w->pos++;
    return KAPSUL_OK;
}

/* A "..." string (pos after the opening quote). Decoded text is never longer than its source. */
static kapsul_status read_string(wave *w, kpCValue *out) {
    size_t at = w->pos - 1;
    char *o = kpCArena_alloc(w->arena, w->len - w->pos + 1);
    if (!o) return nomem(w);
    size_t n = 0;
    for (;;) {
        if (w->pos >= w->len) return fail(w, at, "a string without its closing '\"'");
        if (w->s[w->pos] == '"') break;
        uint32_t cp;
        kapsul_status st = read_char(w, &cp);
        if (st) return st;
        n += kpChars_utf8Put((uint8_t *)o + n, cp);
    }
    w->pos++;
    if (n > UINT32_MAX) return fail(w, at, "a string longer than 4 GiB");
    out->str.p = o, out->str.len = (uint32_t)n;
    return KAPSUL_OK;
}

/* A """ multiline string (pos after the three quotes): a line break must follow the opening
 * delimiter; the spaces before the closing one are the indent every other line loses. */
static kapsul_status read_multiline(wave *w, kpCValue *out) {
    size_t at = w->pos - 3;
    if (peek(w) == '\r' && w->pos + 1 < w->len && w->s[w->pos + 1] == '\n') w->pos++;
    if (peek(w) != '\n') return fail(w, at, "a line break must follow the opening \"\"\"");
    w->pos++;
    size_t body = w->pos, end = body;
    while (end + 2 < w->len && !(w->s[end] == '"' && w->s[end + 1] == '"' && w->s[end + 2] == '"')) {
        if (w->s[end] == '\\' && end + 1 < w->len) end++;
        end++;
    }
    if (end + 2 >= w->len) return fail(w, at, "a multiline string without its closing \"\"\"");
    size_t indent = 0; /* spaces between the last line break and the closing delimiter */
    size_t q = end;
    while (q > body && w->s[q - 1] == ' ') q--, indent++;
    if (q == body || w->s[q - 1] != '\n')
        return fail(w, end, "the closing \"\"\" must be alone on its line, after spaces only");
    size_t last_break = q - 1; /* the line break before the closing line is not part of the text */
    if (last_break > body && w->s[last_break - 1] == '\r') last_break--;
    char *o = kpCArena_alloc(w->arena, end - body + 1);
    if (!o) return nomem(w);
    size_t n = 0;
    w->pos = body;
    bool line_start = true;
    while (w->pos < last_break) {
        if (line_start) {
            for (size_t k = 0; k < indent; k++, w->pos++)
                if (w->pos >= last_break || w->s[w->pos] != ' ')
                    return fail(w, w->pos, "a line indented less than the closing \"\"\"");
            line_start = false;
            if (w->pos >= last_break) break;
        }
        char ch = w->s[w->pos];
        if (ch == '\r' && w->pos + 1 < w->len && w->s[w->pos + 1] == '\n') w->pos++, ch = '\n';
        if (ch == '\n') {
            o[n++] = '\n';
            w->pos++;
            line_start = true;
            continue;
        }
        if (ch == '\r') return fail(w, w->pos, "a carriage return must be written \\r");
        uint32_t cp;
        kapsul_status st = read_char(w, &cp);
        if (st) return st;
        n += kpChars_utf8Put((uint8_t *)o + n, cp);
    }
    w->pos = end + 3;
    if (n > UINT32_MAX) return fail(w, at, "a string longer than 4 GiB");
    out->str.p = o, out->str.len = (uint32_t)n;
    return KAPSUL_OK;
}

/* ---- Values ------------------------------------------------------------------------------------- */

static kapsul_status value(wave *w, kpCVal t, kpCValue *out);

/* A growable array of values while a list is read, copied into the arena at the end. */
static kapsul_status read_list(wave *w, kpCVal elem, kpCValue *out) {
    kpCValue *tmp = NULL;
    size_t n = 0, cap = 0;
    kapsul_status st = KAPSUL_OK;
    while (!accept(w, ']')) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            if (n * sizeof *tmp + w->arena->used >= KP_MAX_CABI_HOST_BYTES) { /* the copy would not fit */
                st = nomem(w);
                break;
            }
            kpCValue *p = kp_realloc(tmp, ncap * sizeof *tmp);
            if (!p) {
                st = nomem(w);
                break;
            }
            tmp = p, cap = ncap;
        }
        memset(&tmp[n], 0, sizeof tmp[n]);
        if ((st = value(w, elem, &tmp[n]))) break;
        n++;
        if (!accept(w, ',')) {
            st = want(w, ']');
            break;
        }
    }
    if (!st && n > UINT32_MAX) st = fail(w, w->pos, "a list of more than 2^32 elements");
    if (!st) {
        out->agg.v = kpCArena_alloc(w->arena, (n ? n : 1) * sizeof *tmp);
        if (!out->agg.v) st = nomem(w);
        else {
            if (n) memcpy(out->agg.v, tmp, n * sizeof *tmp);
            out->agg.n = (uint32_t)n;
        }
    }
    kp_free(tmp);
    return st;
}

static bool is_option_or_result(const kpComponent *c, kpCVal t) {
    if (t.prim) return false;
    const kpCType *r = kpComponent_resolve(c, t.type);
    return r->kind == kpCT_OPTION || r->kind == kpCT_RESULT;
}

static kapsul_status payload(wave *w, kpCVal t, kpCValue *out) {
    kpCValue *p = kpCArena_alloc(w->arena, sizeof *p);
    if (!p) return nomem(w);
    kapsul_status st = want(w, '(');
    if (!st) st = value(w, t, p);
    if (!st) st = want(w, ')');
    out->var.payload = p;
    return st;
}

/* A label at pos that is a keyword: peek without consuming. */
static bool next_is_word(wave *w, const char *kw) {
    skip_ws(w);
    size_t n = strlen(kw);
    if (w->len - w->pos < n || memcmp(w->s + w->pos, kw, n) != 0) return false;
    int after = w->pos + n < w->len ? (unsigned char)w->s[w->pos + n] : -1;
    return !(is_alpha(after) || is_digit(after) || after == '-');
}

static kapsul_status read_record(wave *w, const kpCType *t, kpCValue *out) {
    size_t at = w->pos - 1;
    kpCValue *f = kpCArena_alloc(w->arena, (t->n ? t->n : 1) * sizeof *f);
    bool *seen = kp_calloc(t->n ? t->n : 1, sizeof *seen);
    kapsul_status st = KAPSUL_OK;
    if (!f || !seen) {
        kp_free(seen);
        return nomem(w);
    }
    if (accept(w, ':')) { /* {:}, every field omitted */
        st = want(w, '}');
    } else {
        while (!st && !accept(w, '}')) {
            label l;
            if ((st = read_label(w, &l, "a field name or '}'"))) break;
            int64_t i = find_field(t, &l);
            if (i < 0) {
                st = fail(w, l.at, "the record has no field '%.*s'", (int)l.n, l.p);
                break;
            }
            if (seen[i]) {
                st = fail(w, l.at, "field '%.*s' given twice", (int)l.n, l.p);
                break;
            }
            seen[i] = true;
            if ((st = want(w, ':')) || (st = value(w, t->fields[i].type, &f[i]))) break;
            if (!accept(w, ',')) {
                st = want(w, '}');
                break;
            }
        }
        if (!st && t->n == 0) st = fail(w, at, "an empty record");
    }
    for (uint32_t i = 0; !st && i < t->n; i++) {
        if (seen[i]) continue;
        kpCVal ft = t->fields[i].type;
        if (ft.prim || kpComponent_resolve(w->c, ft.type)->kind != kpCT_OPTION)
            st = fail(w, at, "field '%.*s' is missing (only option fields may be left out)",
                      (int)t->fields[i].name_len, t->fields[i].name);
        else f[i].var.disc = 0, f[i].var.payload = NULL; /* none */
    }
    kp_free(seen);
    out->agg.v = f, out->agg.n = t->n;
    return st;
}

static kapsul_status read_flags(wave *w, const kpCType *t, kpCValue *out) {
    out->flags = 0;
    while (!accept(w, '}')) {
        label l;
        kapsul_status st = read_label(w, &l, "a flag name or '}'");
        if (st) return st;
        int64_t i = find_field(t, &l);
        if (i < 0 || i >= 32) return fail(w, l.at, "the flags have no flag '%.*s'", (int)l.n, l.p);
        if (out->flags >> i & 1) return fail(w, l.at, "flag '%.*s' given twice", (int)l.n, l.p);
        out->flags |= 1u << i;
        if (!accept(w, ',')) return want(w, '}');
    }
    return KAPSUL_OK;
}

/* A variant or enum case. */
static kapsul_status read_case(wave *w, const kpCType *t, kpCValue *out) {
    label l;
    kapsul_status st = read_label(w, &l, t->kind == kpCT_ENUM ? "an enum case" : "a variant case");
    if (st) return st;
    if (is_keyword(&l))
        return fail(w, l.at, "'%.*s' is a WAVE keyword; write a case of that name as %%%.*s", (int)l.n, l.p,
                    (int)l.n, l.p);
    int64_t i = find_field(t, &l);
    if (i < 0) return fail(w, l.at, "no case '%.*s'", (int)l.n, l.p);
    out->var.disc = (uint32_t)i;
    out->var.payload = NULL;
    skip_ws(w);
    bool has = t->kind == kpCT_VARIANT && t->fields[i].has_type;
    if (has) return payload(w, t->fields[i].type, out);
    if (peek(w) == '(') return fail(w, w->pos, "case '%.*s' has no payload", (int)l.n, l.p);
    return KAPSUL_OK;
}

static kapsul_status read_option(wave *w, const kpCType *t, kpCValue *out) {
    if (next_is_word(w, "none")) {
        w->pos += 4;
        out->var.disc = 0, out->var.payload = NULL;
        return KAPSUL_OK;
    }
    out->var.disc = 1;
    if (next_is_word(w, "some")) {
        w->pos += 4;
        return payload(w, t->a, out);
    }
    if (is_option_or_result(w->c, t->a)) return expected(w, "some(...) or none");
    kpCValue *p = kpCArena_alloc(w->arena, sizeof *p);
    if (!p) return nomem(w);
    out->var.payload = p;
    return value(w, t->a, p); /* the flat form */
}

static kapsul_status read_result(wave *w, const kpCType *t, kpCValue *out) {
    for (uint32_t d = 0; d < 2; d++) {
        if (!next_is_word(w, d ? "err" : "ok")) continue;
        w->pos += d ? 3 : 2;
        out->var.disc = d;
        out->var.payload = NULL;
        bool has = d ? t->has_b : t->has_a;
        skip_ws(w);
        if (has) return payload(w, d ? t->b : t->a, out);
        if (peek(w) == '(') return fail(w, w->pos, "this result's %s case has no payload", d ? "err" : "ok");
        return KAPSUL_OK;
    }
    if (!t->has_a || is_option_or_result(w->c, t->a)) return expected(w, "ok or err");
    out->var.disc = 0;
    kpCValue *p = kpCArena_alloc(w->arena, sizeof *p);
    if (!p) return nomem(w);
    out->var.payload = p;
    return value(w, t->a, p); /* the flat form */
}

static kapsul_status value(wave *w, kpCVal type, kpCValue *out) {
    uint8_t p = type.prim;
    const kpCType *t = NULL;
    if (!p) {
        t = kpComponent_resolve(w->c, type.type);
        if (t->kind == kpCT_PRIM) p = t->a.prim;
    }
    skip_ws(w);
    switch (p) {
    case 0: break;
    case kpCP_BOOL:
        if (next_is_word(w, "true")) return w->pos += 4, out->b = true, KAPSUL_OK;
        if (next_is_word(w, "false")) return w->pos += 5, out->b = false, KAPSUL_OK;
        return expected(w, "true or false");
    case kpCP_F32:
    case kpCP_F64: return read_float(w, p, out);
    case kpCP_CHAR:
        if (peek(w) != '\'') return expected(w, "a char ('x')");
        w->pos++;
        return read_charlit(w, out);
    case kpCP_STRING:
        if (peek(w) != '"') return expected(w, "a string (\"...\")");
        if (w->len - w->pos >= 3 && memcmp(w->s + w->pos, "\"\"\"", 3) == 0) {
            w->pos += 3;
            return read_multiline(w, out);
        }
        w->pos++;
        return read_string(w, out);
    default: return read_int(w, p, out);
    }
    switch ((kpCTypeKind)t->kind) {
    case kpCT_LIST:
        if (!accept(w, '[')) return expected(w, "a list ('[')");
        return read_list(w, t->a, out);
    case kpCT_TUPLE: {
        if (!accept(w, '(')) return expected(w, "a tuple ('(')");
        kpCValue *v = kpCArena_alloc(w->arena, (t->n ? t->n : 1) * sizeof *v);
        if (!v) return nomem(w);
        for (uint32_t i = 0; i < t->n; i++) {
            kapsul_status st = value(w, t->fields[i].type, &v[i]);
            if (st) return st;
            if (i + 1 < t->n && (st = want(w, ','))) return st;
        }
        accept(w, ',');
        out->agg.v = v, out->agg.n = t->n;
        return want(w, ')');
    }
    case kpCT_RECORD:
        if (!accept(w, '{')) return expected(w, "a record ('{')");
        return read_record(w, t, out);
    case kpCT_FLAGS:
        if (!accept(w, '{')) return expected(w, "flags ('{')");
        return read_flags(w, t, out);
    case kpCT_VARIANT:
    case kpCT_ENUM: return read_case(w, t, out);
    case kpCT_OPTION: return read_option(w, t, out);
    case kpCT_RESULT: return read_result(w, t, out);
    default: return fail(w, w->pos, "resource handles cannot be written as WAVE values");
    }
}

/* ---- Entry points ------------------------------------------------------------------------------- */

kapsul_status kpWave_parse(const kpComponent *c, kpCVal t, const char *s, size_t len, kpCArena *arena,
                           kpCValue *out, kapsul_error *err) {
    wave w = { c, s, len, 0, arena, err };
    memset(out, 0, sizeof *out);
    kapsul_status st = value(&w, t, out);
    if (st) return st;
    skip_ws(&w);
    if (w.pos != w.len) return fail(&w, w.pos, "unexpected text after the value");
    return KAPSUL_OK;
}

kapsul_status kpWave_callName(const char *s, size_t len, const char **name, size_t *name_len,
                              kapsul_error *err) {
    wave w = { NULL, s, len, 0, NULL, err };
    skip_ws(&w);
    size_t start = w.pos;
    while (w.pos < len && s[w.pos] != '(' && s[w.pos] != ' ' && s[w.pos] != '\t' && s[w.pos] != '\n') w.pos++;
    if (w.pos == start) return expected(&w, "a function name");
    *name = s + start;
    *name_len = w.pos - start;
    skip_ws(&w);
    if (peek(&w) != '(') return expected(&w, "'(' after the function name");
    return KAPSUL_OK;
}

kapsul_status kpWave_parseArgs(const kpComponent *c, const kpCType *ft, const char *s, size_t len,
                               kpCArena *arena, kpCValue **params, kapsul_error *err) {
    const char *name;
    size_t nlen;
    kapsul_status st = kpWave_callName(s, len, &name, &nlen, err);
    if (st) return st;
    wave w = { c, s, len, (size_t)(name + nlen - s), arena, err };
    uint32_t np = ft->nparams;
    kpCValue *v = kpCArena_alloc(arena, (np ? np : 1) * sizeof *v);
    if (!v) return nomem(&w);
    if ((st = want(&w, '('))) return st;
    uint32_t i = 0;
    while (!accept(&w, ')')) {
        if (i == np) return fail(&w, w.pos, "more arguments than the function's %u", np);
        if ((st = value(&w, ft->fields[i].type, &v[i]))) return st;
        i++;
        if (!accept(&w, ',')) {
            if ((st = want(&w, ')'))) return st;
            break;
        }
    }
    for (uint32_t k = i; k < np; k++) { /* omitted trailing arguments must be options: none */
        kpCVal pt = ft->fields[k].type;
        if (pt.prim || kpComponent_resolve(c, pt.type)->kind != kpCT_OPTION)
            return fail(&w, w.pos,
                        "missing argument %u ('%.*s'); only trailing option arguments may be left out", k + 1,
                        (int)ft->fields[k].name_len, ft->fields[k].name ? ft->fields[k].name : "");
        memset(&v[k], 0, sizeof v[k]);
    }
    skip_ws(&w);
    if (w.pos != w.len) return fail(&w, w.pos, "unexpected text after the call");
    *params = v;
    return KAPSUL_OK;
}
