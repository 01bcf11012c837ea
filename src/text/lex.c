/*
 * lex.c -- the tokenizer of the WebAssembly text format (spec 2.0, "Lexical Format").
 *
 * The whole text is turned into one token array up front, with each '(' linked to its matching
 * ')'. The parsers then work on indices: skipping a field is one jump, lookahead is free, and
 * nothing recurses. Strings are checked here (escapes, UTF-8, control characters) but decoded
 * only when a parser asks for their bytes.
 */
#include <pthread.h>

#include "text/textint.h"

/* The spec's idchar set: the characters an identifier, keyword or number may contain. A table,
 * since the lexer asks for every byte of every token. */
static const char idchars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "!#$%&'*+-./:<=>?@\\^_`|~";
static bool idchar_table[256];
static pthread_once_t idchar_once = PTHREAD_ONCE_INIT;

static void build_idchar_table(void) {
    for (const char *p = idchars; *p; p++) idchar_table[(unsigned char)*p] = true;
}

static bool is_idchar(unsigned char c) { return idchar_table[c]; }



typedef KP_VEC(uint32_t) u32vec;

typedef struct lexer {
    const unsigned char *s;
    size_t n, pos;
    int line;
    size_t line_start;
    int col_shift; /* added to columns on the first line (text starting mid-line) */
    int first_line;
    kpToks *toks;
} lexer;

static int col_of(const lexer *lx, size_t pos) {
    return (int)(pos - lx->line_start) + 1 + (lx->line == lx->first_line ? lx->col_shift : 0);
}

static kapsul_status lex_error(lexer *lx, size_t pos, const char *msg, kapsul_error *err) {
    kpToks *t = lx->toks;
    t->failed = true;
    kpError_setText(&t->lex_err, KAPSUL_ERR_MALFORMED, lx->line, col_of(lx, pos), "%s", msg);
    if (err) *err = t->lex_err;
    return KAPSUL_ERR_MALFORMED;
}

/* Offsets and lengths fit in their fields because kpLex_all refuses texts over KP_MAX_TEXT. */
static int push_tok(kpToks *t, kpTokKind kind, size_t start, size_t len) {
    if (t->n == t->cap && kpVec_grow(t)) return -1;
    kpTok *k = &t->v[t->n++];
    k->start = (uint32_t)start;
    k->kind = kind;
    if (kind == kpTok_LPAR) k->match = KP_NO_MATCH;
    else k->len = (uint32_t)len;
    return 0;
}

/* Consume one newline (LF, CR, or CR LF) and start the next line, remembering where it starts
 * for kpLex_line / kpLex_col. Returns false when out of memory. */
static bool newline(lexer *lx) {
    if (lx->s[lx->pos] == '\r' && lx->pos + 1 < lx->n && lx->s[lx->pos + 1] == '\n') lx->pos++;
    lx->pos++;
    lx->line++;
    lx->line_start = lx->pos;
    if (kpVec_grow(&lx->toks->lines)) return false;
    lx->toks->lines.v[lx->toks->lines.n++] = (uint32_t)lx->pos;
    return true;
}

/* Skip whitespace and comments. Block comments nest; the depth is a counter, not recursion. */
static kapsul_status skip_space(lexer *lx, kapsul_error *err) {
    while (lx->pos < lx->n) {
        unsigned char c = lx->s[lx->pos];
        if (c == '\n' || c == '\r') {
            if (!newline(lx)) return KAPSUL_ERR_NOMEM;
        } else if (c == ' ' || c == '\t') {
            size_t p = lx->pos + 1, n = lx->n;
            const unsigned char *src = lx->s;
            while (p < n && (src[p] == ' ' || src[p] == '\t')) p++;
            lx->pos = p;
        } else if (c == ';' && lx->pos + 1 < lx->n && lx->s[lx->pos + 1] == ';') {
            /* a line comment ends at any newline: LF, CR or CR LF */
            while (lx->pos < lx->n && lx->s[lx->pos] != '\n' && lx->s[lx->pos] != '\r') {
                size_t l = kpChars_utf8Len(lx->s + lx->pos, lx->n - lx->pos);
                if (!l) return lex_error(lx, lx->pos, "malformed UTF-8 encoding", err);
                lx->pos += l;
            }
        } else if (c == '(' && lx->pos + 1 < lx->n && lx->s[lx->pos + 1] == ';') {
            size_t depth = 1, open = lx->pos;
            lx->pos += 2;
            while (depth > 0) {
                if (lx->pos >= lx->n) return lex_error(lx, open, "unclosed comment", err);
                unsigned char d = lx->s[lx->pos];
                if (d == '(' && lx->pos + 1 < lx->n && lx->s[lx->pos + 1] == ';') {
                    depth++;
                    lx->pos += 2;
                } else if (d == ';' && lx->pos + 1 < lx->n && lx->s[lx->pos + 1] == ')') {
                    depth--;
                    lx->pos += 2;
                } else if (d == '\n' || d == '\r') {
                    if (!newline(lx)) return KAPSUL_ERR_NOMEM;
                } else {
                    size_t l = kpChars_utf8Len(lx->s + lx->pos, lx->n - lx->pos);
                    if (!l) return lex_error(lx, lx->pos, "malformed UTF-8 encoding", err);
                    lx->pos += l;
                }
            }
        } else break;
    }
    return KAPSUL_OK;
}

/* Check one string literal starting at the opening quote; leaves pos after the closing quote. */
static kapsul_status scan_string(lexer *lx, kapsul_error *err) {
    size_t open = lx->pos++;
    for (;;) {
        if (lx->pos >= lx->n || lx->s[lx->pos] == '\n') return lex_error(lx, open, "unclosed string", err);
        unsigned char c = lx->s[lx->pos];
        if (c == '"') {
            lx->pos++;
            return KAPSUL_OK;
        }
        if (c < 0x20 || c == 0x7F) return lex_error(lx, lx->pos, "illegal control character", err);
        if (c != '\\') {
            size_t l = kpChars_utf8Len(lx->s + lx->pos, lx->n - lx->pos);
            if (!l) return lex_error(lx, lx->pos, "malformed UTF-8 encoding", err);
            lx->pos += l;
            continue;
        }
        size_t esc = lx->pos++;
        if (lx->pos >= lx->n) return lex_error(lx, open, "unclosed string", err);
        c = lx->s[lx->pos];
        if (c == 't' || c == 'n' || c == 'r' || c == '"' || c == '\'' || c == '\\') {
            lx->pos++;
            continue;
        }
        if (c == 'u') {
            if (lx->pos + 1 >= lx->n || lx->s[lx->pos + 1] != '{')
                return lex_error(lx, esc, "illegal escape", err);
            lx->pos += 2;
            uint32_t v = 0;
            int digits = 0;
            bool prev_digit = false;
            while (lx->pos < lx->n && lx->s[lx->pos] != '}') {
                unsigned char d = lx->s[lx->pos];
                if (d == '_' && prev_digit) {
                    prev_digit = false;
                    lx->pos++;
                    continue;
                }
                int h = kpChars_hexval(d);
                if (h < 0) return lex_error(lx, esc, "illegal escape", err);
                v = v * 16 + (uint32_t)h;
                if (v > 0x10FFFF) return lex_error(lx, esc, "illegal escape", err);
                digits++;
                prev_digit = true;
                lx->pos++;
            }
            if (lx->pos >= lx->n || !digits || !prev_digit || (v >= 0xD800 && v < 0xE000))
                return lex_error(lx, esc, "illegal escape", err);
            lx->pos++;
            continue;
        }
        if (lx->pos + 1 < lx->n && kpChars_hexval(c) >= 0 && kpChars_hexval(lx->s[lx->pos + 1]) >= 0) {
            lx->pos += 2;
            continue;
        }
        return lex_error(lx, esc, "illegal escape", err);
    }
}

/* One token starting at lx->pos (not whitespace, not a comment). */
static kapsul_status lex_token(lexer *lx, u32vec *open, kapsul_error *err) {
    kpToks *t = lx->toks;
    size_t start = lx->pos;
    unsigned char c = lx->s[start];
    if (c == '(') {
        lx->pos++;
        if (open->n == open->cap && kpVec_grow(open)) return KAPSUL_ERR_NOMEM;
        open->v[open->n++] = (uint32_t)t->n;
        return push_tok(t, kpTok_LPAR, start, 1) ? KAPSUL_ERR_NOMEM : KAPSUL_OK;
    }
    if (c == ')') {
        lx->pos++;
        if (open->n > 0) t->v[open->v[--open->n]].match = (uint32_t)t->n;
        return push_tok(t, kpTok_RPAR, start, 1) ? KAPSUL_ERR_NOMEM : KAPSUL_OK;
    }
    if (c != '"' && !is_idchar(c)) return lex_error(lx, start, "unexpected character", err);
    /* A maximal run of id characters and strings: one string alone is a string token; anything
     * glued to a string is a reserved token (as in `"a""b"` or `x"y"`). */
    int pieces = 0;
    bool has_string = false;
    while (lx->pos < lx->n) {
        unsigned char d = lx->s[lx->pos];
        if (d == '"') {
            kapsul_status st = scan_string(lx, err);
            if (st) return st;
            has_string = true;
        } else if (is_idchar(d)) {
            /* Locals, not lx->: a byte read through lx->s may alias lx->pos, which would force
             * a store and a reload per character. */
            const unsigned char *src = lx->s;
            size_t p = lx->pos, n = lx->n;
            while (p < n && is_idchar(src[p])) p++;
            lx->pos = p;
        } else break;
        pieces++;
    }
    kpTokKind kind;
    if (has_string) kind = pieces == 1 ? kpTok_STRING : kpTok_RESERVED;
    else if (c >= 'a' && c <= 'z') kind = kpTok_KEYWORD;
    else if (c == '$' && lx->pos - start > 1) kind = kpTok_ID;
    else if ((c >= '0' && c <= '9') || c == '+' || c == '-') kind = kpTok_NUM;
    else kind = kpTok_RESERVED;
    return push_tok(t, kind, start, lx->pos - start) ? KAPSUL_ERR_NOMEM : KAPSUL_OK;
}

kapsul_status kpLex_all(const char *src, size_t len, int line0, int col0, kpToks *toks, kapsul_error *err) {
    pthread_once(&idchar_once, build_idchar_table);
    memset(toks, 0, sizeof *toks);
    toks->src = src;
    toks->srclen = len;
    toks->line0 = line0;
    toks->col_shift = col0 > 1 ? col0 - 1 : 0;
    if (len > KP_MAX_TEXT)
        return kpError_setText(err, KAPSUL_ERR_LIMIT, 0, 0, "text too large (%zu bytes, limit %zu)", len,
                               (size_t)KP_MAX_TEXT);
    lexer lx = { (const unsigned char *)src, len, 0, line0, 0, toks->col_shift, line0, toks };
    u32vec open = { 0 };
    kapsul_status st = KAPSUL_OK;
    for (;;) {
        st = skip_space(&lx, err);
        if (st || lx.pos >= lx.n) break;
        st = lex_token(&lx, &open, err);
        if (st) break;
    }
    kpVec_free(&open);
    if (st != KAPSUL_ERR_NOMEM && push_tok(toks, kpTok_EOF, lx.pos, 0)) st = KAPSUL_ERR_NOMEM;
    if (st == KAPSUL_ERR_NOMEM) {
        kpLex_free(toks);
        return kpError_setText(err, st, 0, 0, "out of memory");
    }
    return st;
}

void kpLex_free(kpToks *toks) {
    kpVec_free(toks);
    kpVec_free(&toks->lines);
}

/* Lines: how many recorded line starts lie at or before the offset (binary search). */
static size_t line_index(const kpToks *toks, size_t offset) {
    size_t lo = 0, hi = toks->lines.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (toks->lines.v[mid] <= offset) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int kpLex_line(const kpToks *toks, const kpTok *t) { return toks->line0 + (int)line_index(toks, t->start); }

int kpLex_col(const kpToks *toks, const kpTok *t) {
    size_t k = line_index(toks, t->start);
    size_t line_start = k ? toks->lines.v[k - 1] : 0;
    return (int)(t->start - line_start) + 1 + (k == 0 ? toks->col_shift : 0);
}

/* Decode a string token the lexer already checked, so every escape here is well-formed. */
int kpLex_string(const kpToks *toks, const kpTok *t, kpBuf *out) {
    const unsigned char *s = (const unsigned char *)toks->src + t->start + 1;
    const unsigned char *e = (const unsigned char *)toks->src + t->start + t->len - 1;
    if (kpBuf_reserve(out, (size_t)(e - s))) return -1;
    while (s < e) {
        if (*s != '\\') {
            out->data[out->len++] = *s++;
            continue;
        }
        s++;
        unsigned char c = *s++;
        switch (c) {
        case 't': out->data[out->len++] = '\t'; break;
        case 'n': out->data[out->len++] = '\n'; break;
        case 'r': out->data[out->len++] = '\r'; break;
        case '"':
        case '\'':
        case '\\': out->data[out->len++] = c; break;
        case 'u': {
            uint32_t v = 0;
            s++; /* '{' */
            while (*s != '}') {
                if (*s != '_') v = v * 16 + (uint32_t)kpChars_hexval(*s);
                s++;
            }
            s++;
            uint8_t u[4];
            size_t n;
            if (v < 0x80) {
                u[0] = (uint8_t)v;
                n = 1;
            } else if (v < 0x800) {
                u[0] = (uint8_t)(0xC0 | (v >> 6));
                u[1] = (uint8_t)(0x80 | (v & 0x3F));
                n = 2;
            } else if (v < 0x10000) {
                u[0] = (uint8_t)(0xE0 | (v >> 12));
                u[1] = (uint8_t)(0x80 | ((v >> 6) & 0x3F));
                u[2] = (uint8_t)(0x80 | (v & 0x3F));
                n = 3;
            } else {
                u[0] = (uint8_t)(0xF0 | (v >> 18));
                u[1] = (uint8_t)(0x80 | ((v >> 12) & 0x3F));
                u[2] = (uint8_t)(0x80 | ((v >> 6) & 0x3F));
                u[3] = (uint8_t)(0x80 | (v & 0x3F));
                n = 4;
            }
            /* \u{...} is at least 5 source bytes and produces at most 4, so room was reserved. */
            memcpy(out->data + out->len, u, n);
            out->len += n;
            break;
        }
        default:
            out->data[out->len++] = (uint8_t)(kpChars_hexval(c) * 16 + kpChars_hexval(*s));
            s++;
            break;
        }
    }
    return 0;
}
