/*
 * instr.c -- instructions of the text format, plain and folded, encoded straight to binary.
 *
 * Nesting is handled by an explicit frame stack, never by recursion, so a text with a million
 * nested blocks costs heap, not C stack. A folded instruction `(op imm* child*)` encodes op and
 * immediates into w->pending first and moves them to the output once its children (which must
 * come first in the binary) are done; pending works as a byte stack of unfinished operators.
 * The encoder is driven by kpOp_info: mnemonic -> kpOp -> immediate kind -> bytes, so new rows in
 * opcodes.def (SIMD) need no change here.
 */
#include "text/textint.h"
#include "module/opcodes.h"

typedef enum frkind {
    FR_BASE,     /* the outermost sequence: ends at an unmatched ')' or at `stop` */
    FR_PLAIN,    /* block/loop/if ... end */
    FR_FBLOCK,   /* (block ...) / (loop ...) body */
    FR_FIF_COND, /* (if label bt <conditions> (then ...) (else ...)?) -- in the conditions */
    FR_FIF_THEN, /* inside (then ...) */
    FR_FIF_ELSE, /* inside (else ...) */
    FR_FOP       /* (op imm* <children>): waiting for ')' */
} frkind;

/* One open construct. A text can nest a million of them, so a frame is 16 bytes: token indices
 * fit 32 bits (the lexer caps the text size) and output offsets are checked to (offset32). */
typedef struct frame {
    uint8_t kind; /* frkind */
    uint8_t op;   /* 0x02 block, 0x03 loop, 0x04 if */
    bool in_else;
    bool bt_is_index; /* bt is a type index; otherwise a negative s33 code as int32 */
    uint32_t label;   /* token of the label's $id, or KP_NO_MATCH */
    uint32_t bt;      /* folded if: block type, emitted when (then is reached */
    uint32_t pend;    /* FR_FOP: start of this operator's bytes in w->pending;
                            if frames: offset of the `else` opcode in the output */
} frame;

static int64_t frame_bt(const frame *f) { return f->bt_is_index ? (int64_t)f->bt : (int64_t)(int32_t)f->bt; }

typedef KP_VEC(frame) framevec;

static kapsul_status put(kpWat *w, int rc) { return rc ? kpWat_nomem(w) : KAPSUL_OK; }

/* One byte, in place when there is room: block structure writes three per block. */
static kapsul_status put_byte(kpWat *w, kpBuf *o, uint8_t b) {
    if (o->len < o->cap) {
        o->data[o->len++] = b;
        return KAPSUL_OK;
    }
    return put(w, kpBuf_byte(o, b));
}

/* A block type: the one-byte forms (0x40 and value types, -64..-1 as s33) without the LEB loop. */
static kapsul_status put_blocktype(kpWat *w, kpBuf *o, int64_t bt) {
    if (bt >= -64 && bt < 0) return put_byte(w, o, (uint8_t)(bt & 0x7F));
    return put(w, kpBuf_s64leb(o, bt));
}

static kapsul_status emit_op(kpWat *w, kpBuf *o, int op) {
    const kpOpInfo *in = &kpOp_info[op];
    if (in->prefix) {
        if (kpBuf_byte(o, in->prefix) || kpBuf_u32leb(o, in->code)) return kpWat_nomem(w);
        return KAPSUL_OK;
    }
    return put(w, kpBuf_byte(o, (uint8_t)in->code));
}

/* A number token as an unsigned value of `bits` bits. */
static kapsul_status parse_uint(kpWat *w, int bits, uint64_t *out) {
    const kpTok *t = kpWat_cur(w);
    if (t->kind != kpTok_NUM) return kpWat_unexpected(w, w->pos);
    int r = kpNum_uint(w->tk->src + t->start, t->len, bits, out);
    if (r) return kpWat_badNum(w, w->pos, r, "i32 constant out of range");
    w->pos++;
    return KAPSUL_OK;
}

/* Literal of an integer (bits 8..64) or float (kind 'f' with bits 32/64) constant. */
static kapsul_status parse_const(kpWat *w, char kind, int bits, uint64_t *out) {
    const kpTok *t = kpWat_cur(w);
    if (t->kind != kpTok_NUM && t->kind != kpTok_KEYWORD) return kpWat_unexpected(w, w->pos);
    const char *s = w->tk->src + t->start;
    int r;
    if (kind == 'i') r = kpNum_int(s, t->len, bits, out);
    else if (bits == 32) {
        uint32_t b = 0;
        r = kpNum_f32(s, t->len, &b);
        *out = b;
    } else r = kpNum_f64(s, t->len, out);
    if (r) return kpWat_badNum(w, w->pos, r, "constant out of range");
    w->pos++;
    return KAPSUL_OK;
}

static kapsul_status put_le(kpWat *w, kpBuf *o, uint64_t v, int bytes) {
    uint8_t b[8];
    for (int i = 0; i < bytes; i++) b[i] = (uint8_t)(v >> (8 * i));
    return put(w, kpBuf_push(o, b, (size_t)bytes));
}

static bool is_lane_literal(const kpWat *w, size_t i) {
    const kpTok *t = kpWat_tok(w, i);
    if (t->kind == kpTok_NUM || t->kind == kpTok_RESERVED) return true;
    return t->kind == kpTok_KEYWORD && t->len >= 3 &&
           (memcmp(w->tk->src + t->start, "nan", 3) == 0 || memcmp(w->tk->src + t->start, "inf", 3) == 0);
}

/* v128.const shape lanes... */
static kapsul_status parse_v128(kpWat *w, kpBuf *o) {
    static const struct {
        const char *name;
        char kind;
        int bits;
    } shapes[] = { { "i8x16", 'i', 8 },  { "i16x8", 'i', 16 }, { "i32x4", 'i', 32 },
                   { "i64x2", 'i', 64 }, { "f32x4", 'f', 32 }, { "f64x2", 'f', 64 } };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        if (!kpWat_isKw(w, w->pos, shapes[s].name)) continue;
        w->pos++;
        /* The count is checked before the values, as the reference interpreter does. */
        int want = 128 / shapes[s].bits, have = 0;
        while (have <= want && is_lane_literal(w, w->pos + (size_t)have)) have++;
        if (have != want) return kpWat_error(w, w->pos, "wrong number of lane literals");
        for (int lane = 0; lane < 128 / shapes[s].bits; lane++) {
            uint64_t v;
            kapsul_status st = parse_const(w, shapes[s].kind, shapes[s].bits, &v);
            if (st) return st;
            if ((st = put_le(w, o, v, shapes[s].bits / 8))) return st;
        }
        return KAPSUL_OK;
    }
    return kpWat_error(w, w->pos, "unexpected token");
}

/* memarg: offset=N? align=N?; the alignment is written in bytes and encoded as its log2. */
static kapsul_status parse_memarg(kpWat *w, kpBuf *o, int natural) {
    uint64_t offset = 0, align = (uint64_t)1 << natural;
    const kpTok *t = kpWat_cur(w);
    const char *s = w->tk->src + t->start;
    kapsul_status st;
    if (t->kind == kpTok_KEYWORD && t->len > 7 && memcmp(s, "offset=", 7) == 0) {
        int r = kpNum_uint(s + 7, t->len - 7, 32, &offset);
        if (r == kpNum_SYNTAX) return kpWat_error(w, w->pos, "unknown operator");
        if (r) return kpWat_badNum(w, w->pos, r, "i32 constant out of range");
        w->pos++;
        t = kpWat_cur(w);
        s = w->tk->src + t->start;
    }
    if (t->kind == kpTok_KEYWORD && t->len > 6 && memcmp(s, "align=", 6) == 0) {
        int r = kpNum_uint(s + 6, t->len - 6, 32, &align);
        if (r == kpNum_SYNTAX) return kpWat_error(w, w->pos, "unknown operator");
        if (r) return kpWat_badNum(w, w->pos, r, "i32 constant out of range");
        if (align == 0 || (align & (align - 1)))
            return kpWat_error(w, w->pos, "alignment must be a power of two");
        w->pos++;
    }
    uint32_t lg = 0;
    while (((uint64_t)1 << lg) < align) lg++;
    if ((st = put(w, kpBuf_u32leb(o, lg)))) return st;
    return put(w, kpBuf_u32leb(o, (uint32_t)offset));
}

/* A lane index byte. The reference interpreter calls any bad shuffle lane "malformed lane
 * index", while for the single-lane ops a signed number is a syntax error. */
static kapsul_status parse_lane(kpWat *w, kpBuf *o, bool shuffle) {
    const kpTok *t = kpWat_cur(w);
    uint64_t v;
    if (t->kind != kpTok_NUM && !(shuffle && t->kind == kpTok_KEYWORD)) return kpWat_unexpected(w, w->pos);
    if (!shuffle && (w->tk->src[t->start] == '-' || w->tk->src[t->start] == '+'))
        return kpWat_unexpected(w, w->pos);
    int r = kpNum_uint(w->tk->src + t->start, t->len, 8, &v);
    if (r == kpNum_SYNTAX && !shuffle) return kpWat_unexpected(w, w->pos);
    if (r) return kpWat_error(w, w->pos, "malformed lane index");
    w->pos++;
    return put(w, kpBuf_byte(o, (uint8_t)v));
}

/* A label reference: $id (searched innermost first) or a number. */
static kapsul_status parse_label(kpWat *w, uint32_t *out) {
    const kpTok *t = kpWat_cur(w);
    if (t->kind == kpTok_ID) {
        uint32_t i;
        if (!kpWat_lookup(&w->label_ids, w->tk->src + t->start, t->len, &i) || i == UINT32_MAX)
            return kpWat_error(w, w->pos, "unknown label %.*s", (int)t->len, w->tk->src + t->start);
        *out = (uint32_t)(w->labels.n - 1 - i);
        w->pos++;
        return KAPSUL_OK;
    }
    uint64_t v;
    kapsul_status st = parse_uint(w, 32, &v);
    *out = (uint32_t)v;
    return st;
}

static kapsul_status emit_index(kpWat *w, kpBuf *o, int space) {
    uint32_t idx;
    kapsul_status st = kpWat_index(w, space, &idx);
    if (st) return st;
    return put(w, kpBuf_u32leb(o, idx));
}

static kapsul_status emit_opt_index(kpWat *w, kpBuf *o, int space) {
    if (kpWat_atIndex(w)) return emit_index(w, o, space);
    return put(w, kpBuf_byte(o, 0));
}

/* select, or select (result t)* which is the typed form 0x1C. */
static kapsul_status parse_select(kpWat *w, kpBuf *o) {
    if (!kpWat_isOpen(w, w->pos, "result")) return put(w, kpBuf_byte(o, 0x1B));
    kpByteVec ts = { 0 };
    kapsul_status st = KAPSUL_OK;
    while (kpWat_isOpen(w, w->pos, "result")) {
        w->pos += 2;
        while (kpWat_cur(w)->kind == kpTok_KEYWORD) {
            uint8_t t;
            if ((st = kpWat_valtype(w, &t))) goto fail;
            if (kpVec_grow(&ts)) {
                st = kpWat_nomem(w);
                goto fail;
            }
            ts.v[ts.n++] = t;
        }
        if ((st = kpWat_close(w))) goto fail;
    }
    if (kpBuf_byte(o, 0x1C) || kpBuf_u32leb(o, (uint32_t)ts.n) || kpBuf_push(o, ts.v, ts.n))
        st = kpWat_nomem(w);
fail:
    kpVec_free(&ts);
    return st;
}

/* The immediates of one plain instruction, by its kind in the opcode table. */
static kapsul_status parse_imm(kpWat *w, kpBuf *o, int op) {
    const kpOpInfo *in = &kpOp_info[op];
    kapsul_status st = KAPSUL_OK;
    uint64_t v;
    uint32_t a, b;
    switch (in->imm) {
    case kpImm_NONE: return KAPSUL_OK;
    case kpImm_BLOCK: return kpWat_unexpected(w, w->pos); /* handled by caller */
    case kpImm_LABEL:
        if ((st = parse_label(w, &a))) return st;
        return put(w, kpBuf_u32leb(o, a));
    case kpImm_BRTABLE: {
        kpSizeVec ls = { 0 };
        while (kpWat_atIndex(w)) {
            if ((st = parse_label(w, &a))) goto fail;
            if (kpVec_grow(&ls)) {
                st = kpWat_nomem(w);
                goto fail;
            }
            ls.v[ls.n++] = a;
        }
        if (ls.n == 0) {
            st = kpWat_unexpected(w, w->pos);
            goto fail;
        }
        if ((st = put(w, kpBuf_u32leb(o, (uint32_t)(ls.n - 1))))) goto fail;
        for (size_t i = 0; i < ls.n; i++)
            if ((st = put(w, kpBuf_u32leb(o, (uint32_t)ls.v[i])))) goto fail;
fail:
        kpVec_free(&ls);
        return st;
    }
    case kpImm_FUNC: return emit_index(w, o, kpSp_FUNC);
    case kpImm_CALLIND: {
        a = 0;
        if (kpWat_atIndex(w) && (st = kpWat_index(w, kpSp_TABLE, &a))) return st;
        kpTypeUse tu = { 0 };
        tu.no_names = true;
        st = kpWat_typeUse(w, &tu, false);
        if (!st) st = kpWat_resolveType(w, &tu, &b);
        kpWat_typeUseFree(&tu);
        if (st) return st;
        if (kpBuf_u32leb(o, b) || kpBuf_u32leb(o, a)) return kpWat_nomem(w);
        return KAPSUL_OK;
    }
    case kpImm_LOCAL:
        if (kpWat_cur(w)->kind == kpTok_ID) {
            const kpTok *t = kpWat_cur(w);
            uint32_t idx;
            if (!kpWat_lookup(&w->locals, w->tk->src + t->start, t->len, &idx))
                return kpWat_error(w, w->pos, "unknown local %.*s", (int)t->len, w->tk->src + t->start);
            w->pos++;
            return put(w, kpBuf_u32leb(o, idx));
        }
        if ((st = parse_uint(w, 32, &v))) return st;
        return put(w, kpBuf_u32leb(o, (uint32_t)v));
    case kpImm_GLOBAL: return emit_index(w, o, kpSp_GLOBAL);
    case kpImm_TABLE: return emit_opt_index(w, o, kpSp_TABLE);
    case kpImm_MEMARG: return parse_memarg(w, o, in->align);
    case kpImm_MEMIDX: return put(w, kpBuf_byte(o, 0));
    case kpImm_I32:
        if ((st = parse_const(w, 'i', 32, &v))) return st;
        return put(w, kpBuf_s32leb(o, (int32_t)(uint32_t)v));
    case kpImm_I64:
        if ((st = parse_const(w, 'i', 64, &v))) return st;
        return put(w, kpBuf_s64leb(o, (int64_t)v));
    case kpImm_F32:
        if ((st = parse_const(w, 'f', 32, &v))) return st;
        return put_le(w, o, v, 4);
    case kpImm_F64:
        if ((st = parse_const(w, 'f', 64, &v))) return st;
        return put_le(w, o, v, 8);
    case kpImm_SELECTT: return kpWat_unexpected(w, w->pos); /* via parse_select */
    case kpImm_REFTYPE:
        if (kpWat_isKw(w, w->pos, "func")) {
            w->pos++;
            return put(w, kpBuf_byte(o, 0x70));
        }
        if (kpWat_isKw(w, w->pos, "extern")) {
            w->pos++;
            return put(w, kpBuf_byte(o, 0x6F));
        }
        return kpWat_unexpected(w, w->pos);
    case kpImm_MEMINIT:
        w->uses_data = true;
        if ((st = emit_index(w, o, kpSp_DATA))) return st;
        return put(w, kpBuf_byte(o, 0));
    case kpImm_DATA: w->uses_data = true; return emit_index(w, o, kpSp_DATA);
    case kpImm_MEMCOPY: return put(w, kpBuf_push(o, "\0\0", 2));
    case kpImm_TABLEINIT:
        a = 0;
        if (kpWat_atIndex(w) &&
            (kpWat_tok(w, w->pos + 1)->kind == kpTok_ID || kpWat_tok(w, w->pos + 1)->kind == kpTok_NUM)) {
            if ((st = kpWat_index(w, kpSp_TABLE, &a))) return st;
        }
        if ((st = kpWat_index(w, kpSp_ELEM, &b))) return st;
        if (kpBuf_u32leb(o, b) || kpBuf_u32leb(o, a)) return kpWat_nomem(w);
        return KAPSUL_OK;
    case kpImm_ELEM: return emit_index(w, o, kpSp_ELEM);
    case kpImm_TABLECOPY:
        if (!kpWat_atIndex(w)) return put(w, kpBuf_push(o, "\0\0", 2));
        if ((st = emit_index(w, o, kpSp_TABLE))) return st;
        return emit_index(w, o, kpSp_TABLE);
    case kpImm_V128: return parse_v128(w, o);
    case kpImm_SHUFFLE:
        for (int i = 0; i < 16; i++) {
            kpTokKind k = kpWat_cur(w)->kind;
            if (k == kpTok_LPAR || k == kpTok_RPAR || k == kpTok_EOF)
                return kpWat_error(w, w->pos, "invalid lane length");
            if ((st = parse_lane(w, o, true))) return st;
        }
        if (kpWat_cur(w)->kind == kpTok_NUM) return kpWat_error(w, w->pos, "invalid lane length");
        return KAPSUL_OK;
    case kpImm_LANE: return parse_lane(w, o, false);
    case kpImm_MEMLANE:
        if ((st = parse_memarg(w, o, in->align))) return st;
        return parse_lane(w, o, false);
    }
    return kpWat_error(w, w->pos, "unknown operator");
}

/* One plain instruction (not block/loop/if) at the current keyword, appended to o. */
static kapsul_status parse_plain(kpWat *w, kpBuf *o) {
    const kpTok *t = kpWat_cur(w);
    if (t->kind != kpTok_KEYWORD) return kpWat_unexpected(w, w->pos);
    int op = kpOp_fromName(w->tk->src + t->start, t->len);
    if (op < 0) {
        /* Keywords of the surrounding syntax are misplaced tokens, not unknown operators. */
        static const char *const structural[] = { "type",   "param",  "result", "local", "then",   "else",
                                                  "end",    "export", "import", "item",  "offset", "func",
                                                  "table",  "memory", "global", "elem",  "data",   "start",
                                                  "module", "mut",    "declare" };
        for (size_t i = 0; i < sizeof structural / sizeof *structural; i++)
            if (kpWat_isKw(w, w->pos, structural[i])) return kpWat_unexpected(w, w->pos);
        return kpWat_error(w, w->pos, "unknown operator %.*s", (int)t->len, w->tk->src + t->start);
    }
    if (kpOp_info[op].imm == kpImm_BLOCK || op == kpOp_ELSE || op == kpOp_END)
        return kpWat_unexpected(w, w->pos);
    w->pos++;
    if (op == kpOp_SELECT) return parse_select(w, o);
    kapsul_status st = emit_op(w, o, op);
    if (st) return st;
    return parse_imm(w, o, op);
}

/* label? blocktype for block/loop/if; the type is 0x40, a value type or a type index (s33). */
static kapsul_status parse_block_head(kpWat *w, size_t *label, int64_t *bt) {
    *label = KP_NO_MATCH;
    if (kpWat_cur(w)->kind == kpTok_ID) *label = w->pos++;
    /* Most blocks have no type use at all: answer that without building one (a text may nest a
     * million blocks). */
    if (!kpWat_isOpen(w, w->pos, "type") && !kpWat_isOpen(w, w->pos, "param") &&
        !kpWat_isOpen(w, w->pos, "result")) {
        *bt = -64;
        return KAPSUL_OK;
    }
    kpTypeUse tu = { 0 };
    tu.no_names = true;
    kapsul_status st = kpWat_typeUse(w, &tu, false);
    if (st) goto fail;
    if (!tu.has_idx && tu.params.n == 0 && tu.results.n == 0) *bt = -64;
    else if (!tu.has_idx && tu.params.n == 0 && tu.results.n == 1) *bt = (int64_t)tu.results.v[0] - 128;
    else {
        uint32_t idx;
        if ((st = kpWat_resolveType(w, &tu, &idx))) goto fail;
        *bt = idx;
    }
fail:
    kpWat_typeUseFree(&tu);
    return st;
}

/* An output offset kept in a frame; a function body over 4 GiB cannot be encoded anyway. */
static kapsul_status offset32(kpWat *w, size_t len, uint32_t *out) {
    if (len > UINT32_MAX) return kpWat_error(w, w->pos, "function too large");
    *out = (uint32_t)len;
    return KAPSUL_OK;
}

/* bt: the block type as parse_block_head returns it (-64, a value type - 128, or an index). */
static kapsul_status push_frame(kpWat *w, framevec *fs, frkind kind, uint8_t op, size_t label, int64_t bt,
                                size_t pend) {
    frame f = {
        .kind = (uint8_t)kind, .op = op, .label = (uint32_t)label, .bt_is_index = bt >= 0, .bt = (uint32_t)bt
    };
    kapsul_status st = offset32(w, pend, &f.pend);
    if (st) return st;
    if (fs->n == fs->cap && kpVec_grow(fs)) return kpWat_nomem(w);
    fs->v[fs->n++] = f;
    return KAPSUL_OK;
}

static kapsul_status push_label(kpWat *w, size_t label) {
    uint32_t prev = UINT32_MAX;
    if (w->labels.n >= UINT32_MAX - 1) return kpWat_error(w, w->pos, "too many nested blocks");
    if (w->labels.n == w->labels.cap && kpVec_grow(&w->labels)) return kpWat_nomem(w);
    if (label != KP_NO_MATCH) {
        const kpTok *t = kpWat_tok(w, label);
        if (!kpWat_lookup(&w->label_ids, w->tk->src + t->start, t->len, &prev)) prev = UINT32_MAX;
        if (kpWat_set(&w->label_ids, w->tk->src + t->start, t->len, (uint32_t)w->labels.n))
            return kpWat_nomem(w);
    }
    w->labels.v[w->labels.n++] = (kpLabel){ (uint32_t)label, prev };
    return KAPSUL_OK;
}

/* After `end` or `else`: an optional $id that must repeat the block's label. */
static kapsul_status check_end_label(kpWat *w, size_t label) {
    const kpTok *t = kpWat_cur(w);
    if (t->kind != kpTok_ID) return KAPSUL_OK;
    const kpTok *l = label == KP_NO_MATCH ? NULL : kpWat_tok(w, label);
    if (!l || l->len != t->len || memcmp(w->tk->src + l->start, w->tk->src + t->start, t->len) != 0)
        return kpWat_error(w, w->pos, "mismatching label");
    w->pos++;
    return KAPSUL_OK;
}

/* Start one instruction in a sequence: plain, plain block, or any folded form. */
static kapsul_status start_instr(kpWat *w, kpBuf *out, framevec *fs) {
    kapsul_status st;
    size_t label;
    int64_t bt;
    const kpTok *t = kpWat_cur(w);
    bool folded = t->kind == kpTok_LPAR;
    size_t kw = folded ? w->pos + 1 : w->pos;
    uint8_t op = kpWat_isKw(w, kw, "block")  ? 0x02
                 : kpWat_isKw(w, kw, "loop") ? 0x03
                 : kpWat_isKw(w, kw, "if")   ? 0x04
                                             : 0;
    if (!folded && !op) return parse_plain(w, out);
    if (op && !(folded && op == 0x04)) {
        w->pos = kw + 1;
        if ((st = parse_block_head(w, &label, &bt))) return st;
        if ((st = put_byte(w, out, op)) || (st = put_blocktype(w, out, bt))) return st;
        if ((st = push_label(w, label))) return st;
        return push_frame(w, fs, folded ? FR_FBLOCK : FR_PLAIN, op, label, bt, 0);
    }
    if (op) { /* folded if: the conditions come before the `if` opcode */
        w->pos = kw + 1;
        if ((st = parse_block_head(w, &label, &bt))) return st;
        return push_frame(w, fs, FR_FIF_COND, op, label, bt, 0);
    }
    /* (op imm* children*) */
    size_t pend = w->pending.len;
    w->pos = kw;
    if ((st = parse_plain(w, &w->pending))) return st;
    return push_frame(w, fs, FR_FOP, 0, KP_NO_MATCH, 0, pend);
}

/* Close a block frame: emit `end`, drop its label. An empty else branch is dropped, as the
 * reference encoder does (if ... else end and if ... end are the same instruction). */
static kapsul_status end_block(kpWat *w, kpBuf *out, framevec *fs) {
    frame *f = &fs->v[fs->n - 1];
    if (f->op == 0x04 && (f->in_else || f->kind == FR_FIF_ELSE) && out->len == f->pend + 1)
        out->len = f->pend;
    fs->n--;
    kpLabel l = w->labels.v[--w->labels.n];
    if (l.tok != KP_NO_MATCH) { /* unshadow: the name goes back to its outer binding */
        const kpTok *t = kpWat_tok(w, l.tok);
        if (kpWat_set(&w->label_ids, w->tk->src + t->start, t->len, l.prev)) return kpWat_nomem(w);
    }
    return put_byte(w, out, 0x0B);
}

/* One step for the frame on top: consume a terminator or start the next instruction. */
static kapsul_status step(kpWat *w, kpBuf *out, framevec *fs, size_t stop, bool *done) {
    frame *f = &fs->v[fs->n - 1];
    const kpTok *t = kpWat_cur(w);
    kapsul_status st;
    bool at_end = t->kind == kpTok_RPAR || t->kind == kpTok_EOF || w->pos >= stop;
    switch (f->kind) {
    case FR_BASE:
        if (at_end) {
            *done = true;
            return KAPSUL_OK;
        }
        return start_instr(w, out, fs);
    case FR_PLAIN:
        if (kpWat_isKw(w, w->pos, "end")) {
            w->pos++;
            if ((st = check_end_label(w, f->label))) return st;
            return end_block(w, out, fs);
        }
        if (kpWat_isKw(w, w->pos, "else") && f->op == 0x04 && !f->in_else) {
            w->pos++;
            f->in_else = true;
            if ((st = check_end_label(w, f->label))) return st;
            if ((st = offset32(w, out->len, &f->pend))) return st;
            return put(w, kpBuf_byte(out, 0x05));
        }
        if (at_end) return kpWat_unexpected(w, w->pos);
        return start_instr(w, out, fs);
    case FR_FBLOCK:
    case FR_FIF_ELSE:
        if (t->kind == kpTok_RPAR) {
            w->pos++;
            if (f->kind == FR_FIF_ELSE && (st = kpWat_close(w))) return st;
            return end_block(w, out, fs);
        }
        if (at_end) return kpWat_error(w, w->pos, "unexpected end of input");
        return start_instr(w, out, fs);
    case FR_FIF_THEN:
        if (t->kind != kpTok_RPAR) {
            if (at_end) return kpWat_error(w, w->pos, "unexpected end of input");
            return start_instr(w, out, fs);
        }
        w->pos++;
        if (kpWat_isOpen(w, w->pos, "else")) {
            w->pos += 2;
            f->kind = FR_FIF_ELSE;
            if ((st = offset32(w, out->len, &f->pend))) return st;
            return put(w, kpBuf_byte(out, 0x05));
        }
        if ((st = kpWat_close(w))) return st;
        return end_block(w, out, fs);
    case FR_FIF_COND:
        if (kpWat_isOpen(w, w->pos, "then")) {
            w->pos += 2;
            f->kind = FR_FIF_THEN;
            if ((st = put_byte(w, out, 0x04)) || (st = put_blocktype(w, out, frame_bt(f)))) return st;
            return push_label(w, f->label);
        }
        if (t->kind != kpTok_LPAR || kpWat_isKw(w, w->pos + 1, "else")) return kpWat_unexpected(w, w->pos);
        return start_instr(w, out, fs);
    case FR_FOP:
        if (t->kind == kpTok_RPAR) {
            w->pos++;
            size_t pend = f->pend;
            fs->n--;
            if (kpBuf_push(out, w->pending.data + pend, w->pending.len - pend)) return kpWat_nomem(w);
            w->pending.len = pend;
            return KAPSUL_OK;
        }
        if (t->kind != kpTok_LPAR) return kpWat_unexpected(w, w->pos);
        return start_instr(w, out, fs);
    }
    return kpWat_unexpected(w, w->pos);
}

kapsul_status kpWat_instrs(kpWat *w, kpBuf *out, size_t stop) {
    framevec fs = { 0 };
    kapsul_status st;
    bool done = false;
    w->labels.n = 0;
    kpWat_mapFree(&w->label_ids);
    w->pending.len = 0;
    if ((st = push_frame(w, &fs, FR_BASE, 0, KP_NO_MATCH, 0, 0))) goto fail;
    while (!done) {
        if ((st = step(w, out, &fs, stop, &done))) goto fail;
    }
fail:
    kpVec_free(&fs);
    return st;
}
