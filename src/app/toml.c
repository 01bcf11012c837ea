/*
 * toml.c -- TOML 1.0 (https://toml.io/en/v1.0.0) into a tree of kpTomlValue.
 *
 * One recursive-descent pass over the bytes, after one up-front UTF-8 check. The semantic rules
 * that make TOML more than a syntax (a key is defined once; a table is defined once by a header,
 * may be created implicitly as a parent first, may be extended by dotted keys only where dotted
 * keys created it; inline tables and static arrays are closed) live in one small state per table
 * or array (TS_* / AS_*) checked by the two insertion paths, header_table and insert_dotted.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "app/toml.h"

/* How a table came to exist; decides whether a header or a dotted key may touch it again. */
enum {
    TS_IMPLICIT = 1, /* parent of a [a.b] header: one later [a] may still define it */
    TS_EXPLICIT,     /* defined by a header (or the root): never again */
    TS_DOTTED,       /* made by a dotted key: dotted keys may add to it, headers may go through it */
    TS_INLINE,       /* an inline table, closed: nothing may add to it */
};
/* Arrays: made by a value (closed) or by [[headers]] (which may append). */
enum {
    AS_STATIC = 1,
    AS_TABLES
};

typedef struct keypart {
    char *s;
    size_t len;
    int line, column;
} keypart;

typedef struct keypath {
    keypart v[KP_TOML_MAX_DEPTH];
    size_t n;
} keypath;

typedef struct parser {
    const unsigned char *s;
    size_t n, pos;
    int line;
    size_t line_start;
    kpTomlValue *root, *cur;
    int cur_depth; /* tree depth of cur (root 0) */
    kapsul_error *err;
} parser;

/* ---- positions and errors ---------------------------------------------------------------------- */

static int col(const parser *p) { return (int)(p->pos - p->line_start) + 1; }

static kapsul_status fail_at(parser *p, kapsul_status code, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static kapsul_status fail_at(parser *p, kapsul_status code, int line, int column, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kpError_setText(p->err, code, line, column, "%s", msg);
}

#define FAIL(p, ...) fail_at((p), KAPSUL_ERR_MALFORMED, (p)->line, col(p), __VA_ARGS__)
#define NOMEM(p) fail_at((p), KAPSUL_ERR_NOMEM, 0, 0, "out of memory")

/* A key for a message: printable ASCII kept, anything else '?', long keys cut. */
static void key_text(const char *s, size_t len, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < len && o + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (o + 4 >= cap && len > o) {
        out[o++] = '.';
        out[o++] = '.';
        out[o++] = '.';
    }
    out[o] = 0;
}

/* The dotted path parts[0..upto] for a message. */
static void path_text(const keypath *k, size_t upto, char *out, size_t cap) {
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i <= upto && i < k->n && o + 8 < cap; i++) {
        if (i) out[o++] = '.';
        key_text(k->v[i].s, k->v[i].len, out + o, cap - o);
        o += strlen(out + o);
    }
}

/* ---- characters -------------------------------------------------------------------------------- */

static int peek(const parser *p) { return p->pos < p->n ? p->s[p->pos] : -1; }
static int peek_at(const parser *p, size_t k) { return p->pos + k < p->n ? p->s[p->pos + k] : -1; }
static bool at_newline(const parser *p) {
    return peek(p) == '\n' || (peek(p) == '\r' && peek_at(p, 1) == '\n');
}

/* Consume one LF or CR LF and start a new line. */
static void eat_newline(parser *p) {
    p->pos += peek(p) == '\r' ? 2 : 1;
    p->line++;
    p->line_start = p->pos;
}

static void skip_ws(parser *p) {
    while (peek(p) == ' ' || peek(p) == '\t') p->pos++;
}

static bool is_control(int c) { return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f; }

/* A comment runs to the end of the line; TOML forbids control characters in it. */
static kapsul_status skip_comment(parser *p) {
    p->pos++;
    while (p->pos < p->n && !at_newline(p)) {
        if (is_control(peek(p))) return FAIL(p, "control character in a comment");
        p->pos++;
    }
    return KAPSUL_OK;
}

/* Whitespace, comments and newlines, as allowed between array elements. */
static kapsul_status skip_ws_lines(parser *p) {
    for (;;) {
        skip_ws(p);
        if (peek(p) == '#') {
            kapsul_status st = skip_comment(p);
            if (st) return st;
        } else if (at_newline(p)) {
            eat_newline(p);
        } else {
            return KAPSUL_OK;
        }
    }
}

/* After a key/value pair or a header only a comment may follow on the line. */
static kapsul_status expect_eol(parser *p, const char *after) {
    skip_ws(p);
    if (peek(p) == '#') {
        kapsul_status st = skip_comment(p);
        if (st) return st;
    }
    if (peek(p) < 0) return KAPSUL_OK;
    if (at_newline(p)) {
        eat_newline(p);
        return KAPSUL_OK;
    }
    if (peek(p) == '\r') return FAIL(p, "carriage return not followed by a newline");
    return FAIL(p, "expected the end of the line after %s", after);
}

/* The whole text is checked once, so the parser can treat non-ASCII bytes as opaque. */
static kapsul_status check_utf8(parser *p) {
    size_t i = 0;
    while (i < p->n) {
        size_t k = p->s[i] < 0x80 ? 1 : kpChars_utf8Len(p->s + i, p->n - i);
        if (k == 0) {
            for (size_t j = 0; j < i; j++)
                if (p->s[j] == '\n') {
                    p->line++;
                    p->line_start = j + 1;
                }
            p->pos = i;
            return FAIL(p, "invalid UTF-8");
        }
        i += k;
    }
    return KAPSUL_OK;
}

/* Append the UTF-8 encoding of a Unicode scalar value (escapes). */
static int put_utf8(kpBuf *b, uint32_t cp) {
    uint8_t t[4];
    return kpBuf_push(b, t, kpChars_utf8Put(t, cp));
}

/* ---- strings ----------------------------------------------------------------------------------- */

/* \uXXXX or \UXXXXXXXX (p->pos is on the u/U): a Unicode scalar value, appended as UTF-8. */
static kapsul_status unicode_escape(parser *p, kpBuf *b) {
    int digits = peek(p) == 'u' ? 4 : 8, line = p->line, column = col(p) - 1;
    p->pos++;
    uint32_t cp = 0;
    for (int i = 0; i < digits; i++) {
        int h = kpChars_hexval(peek(p));
        if (h < 0)
            return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "\\%c escape needs %d hex digits",
                           digits == 4 ? 'u' : 'U', digits);
        cp = cp << 4 | (uint32_t)h;
        p->pos++;
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000))
        return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "escape is not a Unicode scalar value");
    return put_utf8(b, cp) ? NOMEM(p) : KAPSUL_OK;
}

/* One escape after a backslash in a basic string (p->pos is just past the backslash). In a
 * multi-line string a backslash at the end of a line trims the newline and what follows. */
static kapsul_status escape(parser *p, kpBuf *b, bool multiline) {
    int c = peek(p), line = p->line, column = col(p) - 1;
    if (multiline && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
        skip_ws(p);
        if (!at_newline(p)) return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "invalid escape sequence");
        for (;;) {
            if (at_newline(p)) eat_newline(p);
            else if (peek(p) == ' ' || peek(p) == '\t') p->pos++;
            else return KAPSUL_OK;
        }
    }
    char out;
    switch (c) {
    case 'b': out = '\b'; break;
    case 't': out = '\t'; break;
    case 'n': out = '\n'; break;
    case 'f': out = '\f'; break;
    case 'r': out = '\r'; break;
    case '"': out = '"'; break;
    case '\\': out = '\\'; break;
    case 'u':
    case 'U': return unicode_escape(p, b);
    default: return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "invalid escape sequence");
    }
    p->pos++;
    return kpBuf_byte(b, (uint8_t)out) ? NOMEM(p) : KAPSUL_OK;
}

/* Any of the four string forms at p->pos; the decoded bytes go to b (NUL-terminated on success).
 * Multi-line forms are refused where TOML allows only single-line ones (keys). */
static kapsul_status parse_string(parser *p, kpBuf *b, bool allow_multiline) {
    int q = peek(p), line = p->line, column = col(p);
    bool literal = q == '\'';
    bool ml = peek_at(p, 1) == q && peek_at(p, 2) == q;
    if (ml && !allow_multiline) return FAIL(p, "a key cannot be a multi-line string");
    p->pos += ml ? 3 : 1;
    if (ml && at_newline(p)) eat_newline(p);
    for (;;) {
        int c = peek(p);
        if (c < 0) return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "unterminated string");
        if (c == q) {
            if (!ml) {
                p->pos++;
                break;
            }
            size_t run = 0;
            while (peek_at(p, run) == q) run++;
            if (run < 3) {
                if (kpBuf_push(b, p->s + p->pos, run)) return NOMEM(p);
                p->pos += run;
                continue;
            }
            if (run > 5) return FAIL(p, "too many quotes at the end of a multi-line string");
            if (kpBuf_push(b, p->s + p->pos, run - 3)) return NOMEM(p);
            p->pos += run;
            break;
        }
        if (c == '\\' && !literal) {
            p->pos++;
            kapsul_status st = escape(p, b, ml);
            if (st) return st;
            continue;
        }
        if (at_newline(p)) {
            if (!ml) return FAIL(p, "newline in a single-line string");
            eat_newline(p);
            if (kpBuf_byte(b, '\n')) return NOMEM(p);
            continue;
        }
        if (is_control(c)) return FAIL(p, "control character in a string (use an escape)");
        if (kpBuf_byte(b, (uint8_t)c)) return NOMEM(p);
        p->pos++;
    }
    return kpBuf_byte(b, 0) ? NOMEM(p) : KAPSUL_OK;
}

/* ---- keys -------------------------------------------------------------------------------------- */

static bool is_bare(int c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static void keypath_free(keypath *k) {
    for (size_t i = 0; i < k->n; i++) kp_free(k->v[i].s);
    k->n = 0;
}

/* A dotted key: simple keys (bare, "basic" or 'literal') separated by dots and optional spaces. */
static kapsul_status parse_key(parser *p, keypath *k) {
    k->n = 0;
    for (;;) {
        skip_ws(p);
        if (k->n == KP_TOML_MAX_DEPTH)
            return fail_at(p, KAPSUL_ERR_LIMIT, p->line, col(p), "key has more than %d parts",
                           KP_TOML_MAX_DEPTH);
        keypart *kp = &k->v[k->n];
        kp->line = p->line;
        kp->column = col(p);
        int c = peek(p);
        if (c == '"' || c == '\'') {
            kpBuf b = { 0 };
            kapsul_status st = parse_string(p, &b, false);
            if (st) {
                kpBuf_free(&b);
                return st;
            }
            kp->s = (char *)b.data;
            kp->len = b.len - 1;
        } else if (is_bare(c)) {
            size_t start = p->pos;
            while (is_bare(peek(p))) p->pos++;
            if (!(kp->s = kp_strndup((const char *)p->s + start, p->pos - start))) return NOMEM(p);
            kp->len = p->pos - start;
        } else {
            return FAIL(p, c < 0 || at_newline(p) ? "expected a key" : "invalid character in a key");
        }
        k->n++;
        skip_ws(p);
        if (peek(p) != '.') return KAPSUL_OK;
        p->pos++;
    }
}

/* ---- the tree ---------------------------------------------------------------------------------- */

void kpToml_free(kpTomlValue *v) {
    if (!v) return;
    switch (v->kind) {
    case KP_TOML_STRING:
    case KP_TOML_DATETIME: kp_free(v->u.str.s); break;
    case KP_TOML_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++) kpToml_free(v->u.arr.v[i]);
        kp_free(v->u.arr.v);
        break;
    case KP_TOML_TABLE:
        for (size_t i = 0; i < v->u.tab.n; i++) {
            kp_free(v->u.tab.v[i].key);
            kpToml_free(v->u.tab.v[i].value);
        }
        kp_free(v->u.tab.v);
        kpStrIndex_free(&v->u.tab.index);
        break;
    default: break;
    }
    kp_free(v);
}

static kpTomlValue *new_value(kpTomlKind kind, int line, int column) {
    kpTomlValue *v = kp_calloc(1, sizeof *v);
    if (v) {
        v->kind = kind;
        v->line = line;
        v->column = column;
    }
    return v;
}

/* Tables up to KP_TOML_INDEX_FROM keys are searched linearly; bigger ones (a manifest with
 * thousands of components) through a kpStrIndex, so parsing stays linear in the number of keys.
 * Keys are allocated one by one, so the index's borrowed pointers survive the vector's growth. */
#define KP_TOML_INDEX_FROM 16

/* Index every entry once the table grows past the threshold. Returns false when out of memory. */
static bool index_reserve(kpTomlValue *t) {
    if (t->u.tab.n + 1 <= KP_TOML_INDEX_FROM || t->u.tab.index.n) return true;
    for (size_t i = 0; i < t->u.tab.n; i++)
        if (kpStrIndex_put(&t->u.tab.index, t->u.tab.v[i].key, t->u.tab.v[i].key_len, i, NULL) < 0) {
            kpStrIndex_free(&t->u.tab.index);
            return false;
        }
    return true;
}

/* Lookup by exact bytes (keys may hold NUL). */
static kpTomlEntry *find_entry(const kpTomlValue *t, const char *key, size_t len) {
    if (!t || t->kind != KP_TOML_TABLE) return NULL;
    size_t at;
    if (t->u.tab.index.n) return kpStrIndex_get(&t->u.tab.index, key, len, &at) ? &t->u.tab.v[at] : NULL;
    for (size_t i = 0; i < t->u.tab.n; i++) {
        kpTomlEntry *e = &t->u.tab.v[i];
        if (e->key_len == len && memcmp(e->key, key, len) == 0) return e;
    }
    return NULL;
}

const kpTomlEntry *kpToml_find(const kpTomlValue *t, const char *key) {
    return find_entry(t, key, strlen(key));
}

const kpTomlValue *kpToml_get(const kpTomlValue *t, const char *key) {
    const kpTomlEntry *e = kpToml_find(t, key);
    return e ? e->value : NULL;
}

const char *kpToml_kindName(kpTomlKind k) {
    static const char *const names[] = { "a string",    "an integer", "a float", "a boolean",
                                         "a date-time", "an array",   "a table" };
    return (unsigned)k < sizeof names / sizeof *names ? names[k] : "a value";
}

/* Append key -> v to table t; the key's bytes are copied, v is owned by t from here on (also
 * when this fails, in which case v is freed). */
static kapsul_status add_entry(parser *p, kpTomlValue *t, const keypart *k, kpTomlValue *v) {
    if (t->u.tab.n >= KP_TOML_MAX_TABLE_KEYS) {
        kpToml_free(v);
        return fail_at(p, KAPSUL_ERR_LIMIT, k->line, k->column, "table has more than %d keys",
                       KP_TOML_MAX_TABLE_KEYS);
    }
    char *key = kp_malloc(k->len + 1);
    if (!key || kpVec_grow(&t->u.tab) || !index_reserve(t)) {
        kp_free(key);
        kpToml_free(v);
        return NOMEM(p);
    }
    memcpy(key, k->s, k->len + 1);
    if (t->u.tab.index.n && kpStrIndex_put(&t->u.tab.index, key, k->len, t->u.tab.n, NULL) < 0) {
        kp_free(key);
        kpToml_free(v);
        return NOMEM(p);
    }
    t->u.tab.v[t->u.tab.n++] = (kpTomlEntry){ key, k->len, k->line, k->column, v };
    return KAPSUL_OK;
}

/* A new empty table under key k of t, made in the given state. */
static kapsul_status add_new_table(parser *p, kpTomlValue *t, const keypart *k, uint8_t state,
                                   kpTomlValue **out) {
    kpTomlValue *nt = new_value(KP_TOML_TABLE, k->line, k->column);
    if (!nt) return NOMEM(p);
    nt->state = state;
    kapsul_status st = add_entry(p, t, k, nt);
    *out = st ? NULL : nt;
    return st;
}

/* An inline table is closed once its '}' is read, and so is every table dotted keys made in it. */
static void close_inline(kpTomlValue *t) {
    t->state = TS_INLINE;
    for (size_t i = 0; i < t->u.tab.n; i++) {
        kpTomlValue *v = t->u.tab.v[i].value;
        if (v->kind == KP_TOML_TABLE && v->state == TS_DOTTED) close_inline(v);
    }
}

/* key = value inside table t: dotted parts create tables (TS_DOTTED) or go through tables that
 * dotted keys made; the last part must be new. v is consumed. */
static kapsul_status insert_dotted(parser *p, kpTomlValue *t, const keypath *k, kpTomlValue *v) {
    char name[120];
    for (size_t i = 0; i + 1 < k->n; i++) {
        kpTomlEntry *e = find_entry(t, k->v[i].s, k->v[i].len);
        if (!e) {
            kapsul_status st = add_new_table(p, t, &k->v[i], TS_DOTTED, &t);
            if (st) {
                kpToml_free(v);
                return st;
            }
            continue;
        }
        if (e->value->kind != KP_TOML_TABLE || e->value->state != TS_DOTTED) {
            kpToml_free(v);
            path_text(k, i, name, sizeof name);
            if (e->value->kind != KP_TOML_TABLE)
                return fail_at(p, KAPSUL_ERR_MALFORMED, k->v[i].line, k->v[i].column,
                               "key '%s' is %s, not a table", name, kpToml_kindName(e->value->kind));
            return fail_at(p, KAPSUL_ERR_MALFORMED, k->v[i].line, k->v[i].column,
                           "cannot add to table '%s' with a dotted key: it was defined at %d:%d", name,
                           e->value->line, e->value->column);
        }
        t = e->value;
    }
    const keypart *last = &k->v[k->n - 1];
    kpTomlEntry *e = find_entry(t, last->s, last->len);
    if (e) {
        kpToml_free(v);
        path_text(k, k->n - 1, name, sizeof name);
        return fail_at(p, KAPSUL_ERR_MALFORMED, last->line, last->column,
                       "duplicate key '%s' (first defined at %d:%d)", name, e->line, e->column);
    }
    return add_entry(p, t, last, v);
}

/* ---- values ------------------------------------------------------------------------------------ */

static kapsul_status parse_value(parser *p, int depth, kpTomlValue **out);
static kapsul_status parse_keyval(parser *p, kpTomlValue *t, int depth);

static bool digits_at(const unsigned char *s, size_t n, size_t at, size_t count) {
    if (at + count > n) return false;
    for (size_t i = 0; i < count; i++)
        if (s[at + i] < '0' || s[at + i] > '9') return false;
    return true;
}

static int num2(const char *s) { return (s[0] - '0') * 10 + (s[1] - '0'); }

/* HH:MM:SS[.frac] at s[*i]; advances *i. */
static bool valid_time(const char *s, size_t n, size_t *i) {
    const unsigned char *u = (const unsigned char *)s;
    if (!digits_at(u, n, *i, 2) || *i + 8 > n || s[*i + 2] != ':' || !digits_at(u, n, *i + 3, 2) ||
        s[*i + 5] != ':' || !digits_at(u, n, *i + 6, 2))
        return false;
    if (num2(s + *i) > 23 || num2(s + *i + 3) > 59 || num2(s + *i + 6) > 60) return false;
    *i += 8;
    if (*i < n && s[*i] == '.') {
        size_t d = ++*i;
        while (*i < n && s[*i] >= '0' && s[*i] <= '9') ++*i;
        if (*i == d) return false;
    }
    return true;
}

/* RFC 3339 as TOML takes it: offset/local date-time, local date, local time. */
static bool valid_datetime(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    if (n >= 3 && s[2] == ':') return valid_time(s, n, &i) && i == n;
    if (!digits_at(u, n, 0, 4) || n < 10 || s[4] != '-' || !digits_at(u, n, 5, 2) || s[7] != '-' ||
        !digits_at(u, n, 8, 2))
        return false;
    int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + num2(s + 2), month = num2(s + 5), day = num2(s + 8);
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (month < 1 || month > 12 || day < 1 || day > mdays[month - 1]) return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month == 2 && day == 29 && !leap) return false;
    if (n == 10) return true;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return false;
    i = 11;
    if (!valid_time(s, n, &i)) return false;
    if (i == n) return true;
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) return true;
    if ((s[i] == '+' || s[i] == '-') && i + 6 == n && digits_at(u, n, i + 1, 2) && s[i + 3] == ':' &&
        digits_at(u, n, i + 4, 2))
        return num2(s + i + 1) <= 23 && num2(s + i + 4) <= 59;
    return false;
}

/* Digits of one radix with '_' only between two digits; appends the digits (no '_') to out.
 * Returns the count of digits, or -1 on a misplaced underscore or foreign character. */
static int scan_digits(const char *s, size_t n, size_t *i, int radix, char *out, size_t *o, size_t cap) {
    int count = 0;
    bool prev_digit = false;
    while (*i < n) {
        char c = s[*i];
        int v = kpChars_hexval((unsigned char)c);
        if (c == '_') {
            if (!prev_digit || *i + 1 >= n || kpChars_hexval((unsigned char)s[*i + 1]) < 0 ||
                kpChars_hexval((unsigned char)s[*i + 1]) >= radix)
                return -1;
            prev_digit = false;
        } else if (v >= 0 && v < radix && !(radix <= 10 && c > '9')) {
            if (*o + 1 < cap) out[(*o)++] = c;
            count++;
            prev_digit = true;
        } else {
            break;
        }
        ++*i;
    }
    return count;
}

/* Integers in four radixes (overflow is an error) and floats, from one token. */
static kapsul_status parse_number(parser *p, const char *s, size_t n, int line, int column,
                                  kpTomlValue **out) {
    char clean[512];
    size_t i = 0, o = 0;
    bool neg = false;
    if (n >= sizeof clean - 8) return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "number is too long");
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
        int radix = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
        i = 2;
        int d = scan_digits(s, n, &i, radix, clean, &o, sizeof clean);
        if (d <= 0 || i != n) return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "invalid integer");
        uint64_t v = 0;
        for (size_t k = 0; k < o; k++) {
            uint64_t dv = (uint64_t)kpChars_hexval((unsigned char)clean[k]);
            if (v > (UINT64_C(0x7FFFFFFFFFFFFFFF) - dv) / (uint64_t)radix)
                return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "integer out of range");
            v = v * (uint64_t)radix + dv;
        }
        if (!(*out = new_value(KP_TOML_INTEGER, line, column))) return NOMEM(p);
        (*out)->u.i = (int64_t)v;
        return KAPSUL_OK;
    }
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        clean[o++] = s[0];
        i = 1;
    }
    size_t int_start = o;
    int d = scan_digits(s, n, &i, 10, clean, &o, sizeof clean);
    if (d <= 0) return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "invalid number");
    if (d > 1 && clean[int_start] == '0')
        return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "leading zeros are not allowed");
    bool is_float = false;
    if (i < n && s[i] == '.') {
        clean[o++] = '.';
        i++;
        if (scan_digits(s, n, &i, 10, clean, &o, sizeof clean) <= 0)
            return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "invalid float");
        is_float = true;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        clean[o++] = 'e';
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) clean[o++] = s[i++];
        if (scan_digits(s, n, &i, 10, clean, &o, sizeof clean) <= 0)
            return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "invalid float exponent");
        is_float = true;
    }
    if (i != n) return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "invalid number");
    clean[o] = 0;
    if (is_float) {
        double f = strtod(clean, NULL);
        if (isinf(f)) return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "float out of range");
        if (!(*out = new_value(KP_TOML_FLOAT, line, column))) return NOMEM(p);
        (*out)->u.f = f;
        return KAPSUL_OK;
    }
    uint64_t v = 0, limit = neg ? UINT64_C(0x8000000000000000) : UINT64_C(0x7FFFFFFFFFFFFFFF);
    for (size_t k = int_start; k < o; k++) {
        uint64_t dv = (uint64_t)(clean[k] - '0');
        if (v > (limit - dv) / 10)
            return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "integer out of range");
        v = v * 10 + dv;
    }
    if (!(*out = new_value(KP_TOML_INTEGER, line, column))) return NOMEM(p);
    (*out)->u.i = neg ? (int64_t)(0 - v) : (int64_t)v;
    return KAPSUL_OK;
}

/* A bare value: boolean, number, inf/nan or date-time. The token is the longest run of the
 * characters these may contain; a date followed by a space and a time is one token. */
static kapsul_status parse_bare(parser *p, kpTomlValue **out) {
    int line = p->line, column = col(p);
    size_t start = p->pos;
    for (;;) {
        int c = peek(p);
        if (is_bare(c) || c == '+' || c == '.' || c == ':') {
            p->pos++;
            continue;
        }
        if (c == ' ' && p->pos - start == 10 && digits_at(p->s, p->n, p->pos + 1, 2) &&
            peek_at(p, 3) == ':' && p->s[start + 4] == '-') {
            p->pos++;
            continue;
        }
        break;
    }
    const char *s = (const char *)p->s + start;
    size_t n = p->pos - start;
    if (n == 0)
        return FAIL(p, peek(p) < 0 || at_newline(p) ? "expected a value"
                                                    : "invalid character at the start of a value");
    if ((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5))) {
        if (!(*out = new_value(KP_TOML_BOOL, line, column))) return NOMEM(p);
        (*out)->u.b = n == 4;
        return KAPSUL_OK;
    }
    const char *sp = s + (n > 0 && (s[0] == '+' || s[0] == '-'));
    size_t sn = n - (size_t)(sp - s);
    if (sn == 3 && (!memcmp(sp, "inf", 3) || !memcmp(sp, "nan", 3))) {
        if (!(*out = new_value(KP_TOML_FLOAT, line, column))) return NOMEM(p);
        double f = sp[0] == 'i' ? INFINITY : NAN;
        (*out)->u.f = s[0] == '-' ? -f : f;
        return KAPSUL_OK;
    }
    if (n >= 5 && ((s[2] == ':' && digits_at(p->s, p->n, start, 2)) ||
                   (s[4] == '-' && digits_at(p->s, p->n, start, 4)))) {
        if (!valid_datetime(s, n)) return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "invalid date-time");
        if (!(*out = new_value(KP_TOML_DATETIME, line, column))) return NOMEM(p);
        if (!((*out)->u.str.s = kp_strndup(s, n))) {
            kpToml_free(*out);
            *out = NULL;
            return NOMEM(p);
        }
        (*out)->u.str.len = n;
        return KAPSUL_OK;
    }
    if ((s[0] >= '0' && s[0] <= '9') || s[0] == '+' || s[0] == '-')
        return parse_number(p, s, n, line, column, out);
    return fail_at(p, KAPSUL_ERR_MALFORMED, line, column, "invalid value (strings need quotes)");
}

/* [ v, v, ] over any number of lines, comments allowed between elements (TOML 1.0). */
static kapsul_status parse_array(parser *p, int depth, kpTomlValue **out) {
    kpTomlValue *a = new_value(KP_TOML_ARRAY, p->line, col(p));
    kapsul_status st;
    if (!a) return NOMEM(p);
    a->state = AS_STATIC;
    p->pos++;
    for (;;) {
        if ((st = skip_ws_lines(p))) goto fail;
        if (peek(p) == ']') break;
        if (peek(p) < 0) {
            st = FAIL(p, "unterminated array");
            goto fail;
        }
        if (a->u.arr.n >= KP_TOML_MAX_ARRAY) {
            st = fail_at(p, KAPSUL_ERR_LIMIT, p->line, col(p), "array has more than %d elements",
                         KP_TOML_MAX_ARRAY);
            goto fail;
        }
        kpTomlValue *v = NULL;
        if ((st = parse_value(p, depth + 1, &v))) goto fail;
        if (kpVec_grow(&a->u.arr)) {
            kpToml_free(v);
            st = NOMEM(p);
            goto fail;
        }
        a->u.arr.v[a->u.arr.n++] = v;
        if ((st = skip_ws_lines(p))) goto fail;
        if (peek(p) == ',') {
            p->pos++;
            continue;
        }
        if (peek(p) == ']') break;
        st = FAIL(p, peek(p) < 0 ? "unterminated array" : "expected ',' or ']' in an array");
        goto fail;
    }
    p->pos++;
    *out = a;
    return KAPSUL_OK;
fail:
    kpToml_free(a);
    return st;
}

/* { k = v, ... } on one line, no trailing comma (TOML 1.0). */
static kapsul_status parse_inline_table(parser *p, int depth, kpTomlValue **out) {
    kpTomlValue *t = new_value(KP_TOML_TABLE, p->line, col(p));
    kapsul_status st;
    if (!t) return NOMEM(p);
    t->state = TS_EXPLICIT;
    p->pos++;
    skip_ws(p);
    if (peek(p) != '}') {
        for (;;) {
            if ((st = parse_keyval(p, t, depth))) goto fail;
            skip_ws(p);
            if (peek(p) == '}') break;
            if (peek(p) == ',') {
                p->pos++;
                skip_ws(p);
                if (peek(p) == '}') {
                    st = FAIL(p, "trailing comma in an inline table");
                    goto fail;
                }
                continue;
            }
            st = FAIL(p, peek(p) < 0     ? "unterminated inline table"
                         : at_newline(p) ? "newline in an inline table (TOML 1.0 keeps them on one line)"
                                         : "expected ',' or '}' in an inline table");
            goto fail;
        }
    }
    p->pos++;
    close_inline(t);
    *out = t;
    return KAPSUL_OK;
fail:
    kpToml_free(t);
    return st;
}

/* Any value; depth is the tree depth the value will have. */
static kapsul_status parse_value(parser *p, int depth, kpTomlValue **out) {
    *out = NULL;
    if (depth > KP_TOML_MAX_DEPTH)
        return fail_at(p, KAPSUL_ERR_LIMIT, p->line, col(p), "values nested more than %d deep",
                       KP_TOML_MAX_DEPTH);
    int c = peek(p);
    if (c == '"' || c == '\'') {
        int line = p->line, column = col(p);
        kpBuf b = { 0 };
        kapsul_status st = parse_string(p, &b, true);
        if (st) {
            kpBuf_free(&b);
            return st;
        }
        if (!(*out = new_value(KP_TOML_STRING, line, column))) {
            kpBuf_free(&b);
            return NOMEM(p);
        }
        (*out)->u.str.s = (char *)b.data;
        (*out)->u.str.len = b.len - 1;
        return KAPSUL_OK;
    }
    if (c == '[') return parse_array(p, depth, out);
    if (c == '{') return parse_inline_table(p, depth, out);
    return parse_bare(p, out);
}

/* key = value into table t (at tree depth depth). */
static kapsul_status parse_keyval(parser *p, kpTomlValue *t, int depth) {
    keypath k;
    kpTomlValue *v = NULL;
    kapsul_status st = parse_key(p, &k);
    if (st) goto fail;
    skip_ws(p);
    if (peek(p) != '=') {
        st = FAIL(p, "expected '=' after a key");
        goto fail;
    }
    p->pos++;
    skip_ws(p);
    if ((st = parse_value(p, depth + (int)k.n, &v))) goto fail;
    st = insert_dotted(p, t, &k, v);
fail:
    keypath_free(&k);
    return st;
}

/* ---- headers ----------------------------------------------------------------------------------- */

/* Walk/create the tables of a [a.b.c] or [[a.b.c]] header and make the last one current. */
static kapsul_status header_table(parser *p, const keypath *k, bool aot, int hline, int hcol) {
    kpTomlValue *t = p->root;
    int depth = 0;
    char name[120];
    for (size_t i = 0; i < k->n; i++) {
        const keypart *kp = &k->v[i];
        kpTomlEntry *e = find_entry(t, kp->s, kp->len);
        bool last = i + 1 == k->n;
        path_text(k, i, name, sizeof name);
        if (last && !aot) {
            if (!e) {
                kapsul_status st = add_new_table(p, t, kp, TS_EXPLICIT, &t);
                if (st) return st;
                t->line = hline;
                t->column = hcol;
            } else if (e->value->kind == KP_TOML_TABLE && e->value->state == TS_IMPLICIT) {
                t = e->value;
                t->state = TS_EXPLICIT;
                t->line = hline;
                t->column = hcol;
            } else {
                return fail_at(p, KAPSUL_ERR_MALFORMED, kp->line, kp->column,
                               "table '%s' is already defined (at %d:%d)", name, e->value->line,
                               e->value->column);
            }
            p->cur = t;
            p->cur_depth = depth + 1;
            return KAPSUL_OK;
        }
        if (last) {
            kpTomlValue *a;
            if (!e) {
                if (!(a = new_value(KP_TOML_ARRAY, hline, hcol))) return NOMEM(p);
                a->state = AS_TABLES;
                kapsul_status st = add_entry(p, t, kp, a);
                if (st) return st;
            } else if (e->value->kind == KP_TOML_ARRAY && e->value->state == AS_TABLES) {
                a = e->value;
            } else {
                return fail_at(p, KAPSUL_ERR_MALFORMED, kp->line, kp->column,
                               "cannot make '%s' an array of tables: it is already defined as %s (at %d:%d)",
                               name, kpToml_kindName(e->value->kind), e->value->line, e->value->column);
            }
            if (a->u.arr.n >= KP_TOML_MAX_ARRAY)
                return fail_at(p, KAPSUL_ERR_LIMIT, hline, hcol, "array has more than %d elements",
                               KP_TOML_MAX_ARRAY);
            kpTomlValue *nt = new_value(KP_TOML_TABLE, hline, hcol);
            if (!nt || kpVec_grow(&a->u.arr)) {
                kp_free(nt);
                return NOMEM(p);
            }
            nt->state = TS_EXPLICIT;
            a->u.arr.v[a->u.arr.n++] = nt;
            p->cur = nt;
            p->cur_depth = depth + 2;
            return KAPSUL_OK;
        }
        if (!e) {
            kapsul_status st = add_new_table(p, t, kp, TS_IMPLICIT, &t);
            if (st) return st;
            depth++;
        } else if (e->value->kind == KP_TOML_TABLE && e->value->state != TS_INLINE) {
            t = e->value;
            depth++;
        } else if (e->value->kind == KP_TOML_ARRAY && e->value->state == AS_TABLES) {
            t = e->value->u.arr.v[e->value->u.arr.n - 1];
            depth += 2;
        } else {
            return fail_at(p, KAPSUL_ERR_MALFORMED, kp->line, kp->column,
                           "cannot define a table under '%s': it is %s (at %d:%d)", name,
                           e->value->kind == KP_TOML_TABLE   ? "an inline table, which is closed"
                           : e->value->kind == KP_TOML_ARRAY ? "a static array"
                                                             : kpToml_kindName(e->value->kind),
                           e->value->line, e->value->column);
        }
        if (depth > KP_TOML_MAX_DEPTH)
            return fail_at(p, KAPSUL_ERR_LIMIT, kp->line, kp->column, "tables nested more than %d deep",
                           KP_TOML_MAX_DEPTH);
    }
    return KAPSUL_OK;
}

/* A [table] or [[array.of.tables]] line: the key, the closing bracket(s), then the table. */
static kapsul_status parse_header(parser *p) {
    int hline = p->line, hcol = col(p);
    bool aot = peek_at(p, 1) == '[';
    keypath k;
    p->pos += aot ? 2 : 1;
    kapsul_status st = parse_key(p, &k);
    if (st) goto fail;
    skip_ws(p);
    if (peek(p) != ']' || (aot && peek_at(p, 1) != ']')) {
        st = FAIL(p, aot ? "expected ']]' at the end of an array-of-tables header"
                         : "expected ']' at the end of a table header");
        goto fail;
    }
    p->pos += aot ? 2 : 1;
    if ((st = header_table(p, &k, aot, hline, hcol))) goto fail;
    st = expect_eol(p, "a table header");
fail:
    keypath_free(&k);
    return st;
}

/* ---- the document ------------------------------------------------------------------------------ */

kapsul_status kpToml_parse(const char *text, size_t len, kpTomlValue **out, kapsul_error *err) {
    parser p = { .s = (const unsigned char *)text, .n = len, .line = 1, .err = err };
    kapsul_status st;
    *out = NULL;
    if (len > KP_TOML_MAX_INPUT)
        return kpError_setText(err, KAPSUL_ERR_LIMIT, 1, 1, "TOML text is larger than %u bytes",
                               KP_TOML_MAX_INPUT);
    if ((st = check_utf8(&p))) return st;
    if (!(p.root = new_value(KP_TOML_TABLE, 1, 1))) return NOMEM(&p);
    p.root->state = TS_EXPLICIT;
    p.cur = p.root;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) p.pos = p.line_start = 3; /* a byte-order mark */
    for (;;) {
        skip_ws(&p);
        int c = peek(&p);
        if (c < 0) break;
        if (c == '#') {
            if ((st = skip_comment(&p))) goto fail;
        } else if (at_newline(&p)) eat_newline(&p);
        else if (c == '\r') {
            st = FAIL(&p, "carriage return not followed by a newline");
            goto fail;
        } else if (c == '[') {
            if ((st = parse_header(&p))) goto fail;
        } else if ((st = parse_keyval(&p, p.cur, p.cur_depth)) || (st = expect_eol(&p, "a value"))) goto fail;
    }
    *out = p.root;
    return KAPSUL_OK;
fail:
    kpToml_free(p.root);
    return st;
}
