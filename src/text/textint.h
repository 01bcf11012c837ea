/*
 * textint.h -- internals shared by the text-format files: the token array produced by the lexer
 * (lex.c), literal parsing (num.c), and the entry points of the module parser (wat.c) and the
 * instruction parser (instr.c). Not part of any public contract.
 */
#ifndef KP_TEXTINT_H
#define KP_TEXTINT_H

#include "base/base.h"

typedef enum kpTokKind {
    kpTok_EOF,
    kpTok_LPAR,
    kpTok_RPAR,
    kpTok_KEYWORD, /* starts with a-z: keywords, mnemonics, offset=..., inf, nan */
    kpTok_ID,      /* $name */
    kpTok_NUM,     /* starts with a digit or a sign: a number if it parses as one */
    kpTok_STRING,  /* "..." (escapes checked by the lexer, decoded on demand) */
    kpTok_RESERVED /* any other run of id characters */
} kpTokKind;

/* "No token": an unmatched '(' and an absent label. It fits the 29 bits of kpTok.match. */
#define KP_NO_MATCH ((size_t)0x1FFFFFFF)
/* KP_MAX_TEXT, the longest text one lexer call accepts, is in config.h (below KP_NO_MATCH). */

/* One token: 8 bytes, because a hostile text of N bytes can hold N tokens ("((((...").
 * Its line and column are not stored: kpLex_line / kpLex_col derive them from `start`.
 * `len` and `match` share their bits: a '(' has `match` (the index of its ')' or KP_NO_MATCH)
 * and no meaningful `len`; every other token has `len` (1 for ')', 0 for EOF). */
typedef struct kpTok {
    uint32_t start; /* offset of the first byte in the source text */
    union {
        struct {
            uint32_t kind : 3, len : 29;
        };
        struct {
            uint32_t kind_ : 3, match : 29;
        };
    };
} kpTok;

typedef struct kpToks {
    const char *src;
    size_t srclen;
    kpTok *v;
    size_t n, cap;          /* v[n-1] is always the EOF token once lexing finished */
    KP_VEC(uint32_t) lines; /* offset where each line after the first starts */
    int col_shift;          /* added to columns on the first line (text starting mid-line) */
    /* A lexing error stops the lexer; the tokens before it are kept (for WAST scripts). */
    bool failed;
    kapsul_error lex_err;
    int line0;
} kpToks;

/* Tokenize src, whose first byte is at line0:col0 of its file. On a lexing error returns KAPSUL_ERR_MALFORMED (also recorded in toks->lex_err),
 * keeping the tokens before the error followed by an EOF token at the error position. Any other
 * error (KAPSUL_ERR_NOMEM; KAPSUL_ERR_LIMIT for a text over KP_MAX_TEXT bytes) leaves no tokens. */
kapsul_status kpLex_all(const char *src, size_t len, int line0, int col0, kpToks *toks, kapsul_error *err);
void kpLex_free(kpToks *toks);
/* Line and column (1-based, in the file) of a token. */
int kpLex_line(const kpToks *toks, const kpTok *t);
int kpLex_col(const kpToks *toks, const kpTok *t);
/* Append the decoded bytes of a string token. Returns -1 when out of memory. */
int kpLex_string(const kpToks *toks, const kpTok *t, kpBuf *out);
/* True if the token text equals the given keyword. Inline, so that strlen of the literal
 * keywords the parsers pass folds to a constant (these checks run for nearly every token). */
static inline bool kpLex_is(const kpToks *toks, const kpTok *t, const char *kw) {
    if (t->kind != kpTok_KEYWORD) return false;
    size_t n = strlen(kw);
    return t->len == n && memcmp(toks->src + t->start, kw, n) == 0;
}

/* Literal parsing on raw token text. Results: 0 = ok, 1 = not a literal of that kind (syntax),
 * 2 = a literal, but out of range for the type. */
enum {
    kpNum_OK = 0,
    kpNum_SYNTAX = 1,
    kpNum_RANGE = 2
};
/* An unsigned literal (no sign) fitting in `bits` bits. */
int kpNum_uint(const char *s, size_t n, int bits, uint64_t *out);
/* An integer constant of `bits` (32 or 64): signed or unsigned range; result is the bit pattern. */
int kpNum_int(const char *s, size_t n, int bits, uint64_t *out);
int kpNum_f32(const char *s, size_t n, uint32_t *bits);
int kpNum_f64(const char *s, size_t n, uint64_t *bits);

/* ---- Module parser state (wat.c), shared with the instruction parser (instr.c) ---------------- */

typedef struct kpIdent {
    const char *s;
    uint32_t len, idx;
} kpIdent;
/* Identifier -> index, open addressing. Keys point into the source text. */
typedef struct kpIdMap {
    kpIdent *slots;
    size_t cap, n;
} kpIdMap;

/* A function type: t = params then results. key = 4-byte little-endian param count followed by
 * t, so equal signatures have equal keys (the allocation starts at key). */
typedef struct kpFType {
    uint32_t np, nr;
    uint8_t *t, *key;
} kpFType;
/* One open label: its $id token (or KP_NO_MATCH) and the label it shadows (index, or UINT32_MAX). */
typedef struct kpLabel {
    uint32_t tok, prev;
} kpLabel;

enum {
    kpSp_TYPE,
    kpSp_FUNC,
    kpSp_TABLE,
    kpSp_MEM,
    kpSp_GLOBAL,
    kpSp_ELEM,
    kpSp_DATA,
    kpSp_COUNT
};

typedef KP_VEC(uint8_t) kpByteVec;
typedef KP_VEC(size_t) kpSizeVec;

/* A parsed type use: (type x)? (param ...)* (result ...)*. */
typedef struct kpTypeUse {
    bool has_idx, has_inline;
    bool no_names; /* set by the caller: (param $x t) is malformed here */
    uint32_t idx;
    size_t tok; /* where it started, for errors */
    kpByteVec params, results;
} kpTypeUse;

typedef struct kpWat {
    const kpToks *tk;
    size_t pos; /* current token */
    kapsul_error *err;
    kpIdMap ids[kpSp_COUNT];
    uint32_t count[kpSp_COUNT];
    KP_VEC(kpFType) types;
    kpIdMap type_sigs; /* signature key -> least type index with that signature */
    /* Per function: locals by name; the label stack, and each label name's innermost binding
     * (an index into labels, UINT32_MAX when not bound) so lookups do not scan the stack. */
    kpIdMap locals;
    uint32_t nlocals;
    KP_VEC(kpLabel) labels;
    kpIdMap label_ids;
    kpBuf pending;  /* folded instructions waiting for their operands */
    bool uses_data; /* memory.init / data.drop seen: emit the data count section */
} kpWat;

static inline const kpTok *kpWat_tok(const kpWat *w, size_t i) {
    return &w->tk->v[i < w->tk->n ? i : w->tk->n - 1];
}
static inline const kpTok *kpWat_cur(const kpWat *w) { return kpWat_tok(w, w->pos); }
static inline bool kpWat_isKw(const kpWat *w, size_t i, const char *kw) {
    return kpLex_is(w->tk, kpWat_tok(w, i), kw);
}
/* True if tokens i, i+1 are "(" kw. */
static inline bool kpWat_isOpen(const kpWat *w, size_t i, const char *kw) {
    return kpWat_tok(w, i)->kind == kpTok_LPAR && kpWat_isKw(w, i + 1, kw);
}
kapsul_status kpWat_error(kpWat *w, size_t tok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
kapsul_status kpWat_nomem(kpWat *w);
/* The right complaint about token `tok` where something else was expected. */
kapsul_status kpWat_unexpected(kpWat *w, size_t tok);
/* Complaint for a literal that kpNum_* rejected with result r (range -> range_msg). */
kapsul_status kpWat_badNum(kpWat *w, size_t tok, int r, const char *range_msg);
bool kpWat_lookup(const kpIdMap *m, const char *s, size_t len, uint32_t *idx);
/* Expect and consume a ')'. */
kapsul_status kpWat_close(kpWat *w);
/* An index in `space` ($id or u32) at the current token. */
kapsul_status kpWat_index(kpWat *w, int space, uint32_t *out);
bool kpWat_atIndex(const kpWat *w);
kapsul_status kpWat_valtype(kpWat *w, uint8_t *out);
kapsul_status kpWat_typeUse(kpWat *w, kpTypeUse *tu, bool bind_locals);
/* Only the (param ...)* (result ...)* part. */
kapsul_status kpWat_sig(kpWat *w, kpTypeUse *tu, bool bind_locals);
kapsul_status kpWat_addType(kpWat *w, const kpTypeUse *tu, uint32_t *idx);
/* Returns 0, 1 if the name is already bound, -1 when out of memory. */
int kpWat_bind(kpIdMap *m, const char *s, size_t len, uint32_t idx);
/* Bind or rebind a name. Returns 0, or -1 when out of memory. */
int kpWat_set(kpIdMap *m, const char *s, size_t len, uint32_t idx);
void kpWat_mapFree(kpIdMap *m);
void kpWat_free(kpWat *w);
kapsul_status kpWat_resolveType(kpWat *w, const kpTypeUse *tu, uint32_t *idx);
void kpWat_typeUseFree(kpTypeUse *tu);
/* Instructions up to a ')' that closes the enclosing list (not consumed) or token `stop`. */
kapsul_status kpWat_instrs(kpWat *w, kpBuf *out, size_t stop);

/* Encode the module in toks (one "(module ...)", its binary form, or bare fields) and append
 * the binary to out. The quote form is resolved by kpWat_toBinary before this is called. */
kapsul_status kpWat_module(const kpToks *toks, kpBuf *out, kapsul_error *err);

#endif /* KP_TEXTINT_H */
