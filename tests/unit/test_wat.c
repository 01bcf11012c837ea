/*
 * test_wat.c -- the text-format encoder: literals and their range errors, string escapes,
 * abbreviations, labels, error positions and deep nesting, each checked against bytes written
 * out here by hand.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "test.h"
#include "module/opcodes.h"
#include "text/text.h"

static kapsul_error err;

/* Encode src; on success compare with the expected module bytes. */
/* The length of a module's bytes without a trailing "name" custom section (the $names, which
 * enc() leaves out of its comparisons; test_names checks them). */
static size_t without_names(const uint8_t *b, size_t len) {
    size_t at = 8;
    while (at < len) {
        size_t start = at, size = 0;
        uint8_t id = b[at++];
        for (int sh = 0; at < len; sh += 7) {
            size |= (size_t)(b[at] & 0x7f) << sh;
            if (!(b[at++] & 0x80)) break;
        }
        if (id == 0 && at + 5 <= len && b[at] == 4 && memcmp(b + at + 1, "name", 4) == 0 && at + size == len)
            return start;
        at += size;
    }
    return len;
}

static int enc(const char *src, const uint8_t *want, size_t n) {
    kpBuf out = { 0 };
    kapsul_status st = kpWat_toBinary(src, strlen(src), 1, &out, &err);
    if (st == KAPSUL_OK) out.len = without_names(out.data, out.len);
    int ok = st == KAPSUL_OK && out.len == n && memcmp(out.data, want, n) == 0;
    if (!ok) {
        fprintf(stderr, "  encoding of %s\n  status %d (%s) got:", src, st, st ? err.message : "");
        for (size_t i = 0; i < out.len; i++) fprintf(stderr, " %02x", out.data[i]);
        fprintf(stderr, "\n");
    }
    kpBuf_free(&out);
    return ok;
}

/* Expect a malformed-text error whose message starts with msg (and, if line > 0, at line:col). */
static int fails(const char *src, const char *msg, int line, int col) {
    kpBuf out = { 0 };
    kapsul_status st = kpWat_toBinary(src, strlen(src), 1, &out, &err);
    kpBuf_free(&out);
    int ok = st == KAPSUL_ERR_MALFORMED && strncmp(err.message, msg, strlen(msg)) == 0 &&
             (line <= 0 || (err.line == line && err.column == col));
    if (!ok)
        fprintf(stderr, "  %s: status %d, %d:%d %s (wanted %s)\n", src, st, err.line, err.column, err.message,
                msg);
    return ok;
}

/* A module with one function of type [] -> [t...] whose body (no locals) is `instrs`; the
 * expected code bytes exclude the local count and the final end. */
static int body(const char *results, const char *instrs, const uint8_t *code, size_t n) {
    char src[4096];
    snprintf(src, sizeof src, "(module (func %s %s))", results, instrs);
    uint8_t want[4096];
    size_t k = 0;
    static const uint8_t head[] = { 0, 'a', 's', 'm', 1, 0, 0, 0 };
    memcpy(want, head, 8);
    k = 8;
    /* type section: one type () -> (results) */
    uint8_t rt[8];
    size_t nr = 0;
    if (strstr(results, "i32")) rt[nr++] = 0x7F;
    if (strstr(results, "i64")) rt[nr++] = 0x7E;
    if (strstr(results, "f32")) rt[nr++] = 0x7D;
    if (strstr(results, "f64")) rt[nr++] = 0x7C;
    want[k++] = 1;
    want[k++] = (uint8_t)(4 + nr);
    want[k++] = 1;
    want[k++] = 0x60;
    want[k++] = 0;
    want[k++] = (uint8_t)nr;
    memcpy(want + k, rt, nr);
    k += nr;
    static const uint8_t fsec[] = { 3, 2, 1, 0 };
    memcpy(want + k, fsec, 4);
    k += 4;
    size_t blen = n + 2; /* local count + code + end */
    want[k++] = 10;
    want[k++] = (uint8_t)(blen + 2);
    want[k++] = 1;
    want[k++] = (uint8_t)blen;
    want[k++] = 0;
    memcpy(want + k, code, n);
    k += n;
    want[k++] = 0x0B;
    return enc(src, want, k);
}

#define B(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

static void test_integers(void) {
    CHECK(body("(result i32)", "i32.const 0", B(0x41, 0x00)));
    CHECK(body("(result i32)", "i32.const -1", B(0x41, 0x7F)));
    CHECK(body("(result i32)", "i32.const 4294967295", B(0x41, 0x7F)));
    CHECK(body("(result i32)", "i32.const 0xffff_ffff", B(0x41, 0x7F)));
    CHECK(body("(result i32)", "i32.const -2147483648", B(0x41, 0x80, 0x80, 0x80, 0x80, 0x78)));
    CHECK(body("(result i32)", "i32.const +0x7fff_ffff", B(0x41, 0xFF, 0xFF, 0xFF, 0xFF, 0x07)));
    CHECK(body("(result i32)", "i32.const 1_000", B(0x41, 0xE8, 0x07)));
    CHECK(body("(result i32)", "i32.const 64", B(0x41, 0xC0, 0x00)));
    CHECK(body("(result i64)", "i64.const 18446744073709551615", B(0x42, 0x7F)));
    CHECK(body("(result i64)", "i64.const -9223372036854775808",
               B(0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7F)));
    CHECK(body("(result i64)", "i64.const 0x8000_0000", B(0x42, 0x80, 0x80, 0x80, 0x80, 0x08)));
    CHECK(fails("(func (i32.const 4294967296) drop)", "constant out of range", 1, 18));
    CHECK(fails("(func (i32.const -2147483649) drop)", "constant out of range", 0, 0));
    CHECK(fails("(func (i32.const 0x1_0000_0000) drop)", "constant out of range", 0, 0));
    CHECK(fails("(func (i64.const 18446744073709551616) drop)", "constant out of range", 0, 0));
    CHECK(fails("(func (i64.const -9223372036854775809) drop)", "constant out of range", 0, 0));
    CHECK(fails("(func (i32.const 1__0) drop)", "unknown operator", 0, 0));
    CHECK(fails("(func (i32.const 1_) drop)", "unknown operator", 0, 0));
    CHECK(fails("(func (i32.const _1) drop)", "unknown operator", 0, 0));
    CHECK(fails("(func (i32.const 0x) drop)", "unknown operator", 0, 0));
    CHECK(fails("(func (i32.const 1.5) drop)", "unexpected token", 0, 0));
    CHECK(fails("(memory 0x1_0000_0000)", "i32 constant out of range", 1, 9));
}

static void test_floats(void) {
    CHECK(body("(result f32)", "f32.const 1.5", B(0x43, 0x00, 0x00, 0xC0, 0x3F)));
    CHECK(body("(result f32)", "f32.const 0x1.8p3", B(0x43, 0x00, 0x00, 0x40, 0x41)));
    CHECK(body("(result f32)", "f32.const 0.1", B(0x43, 0xCD, 0xCC, 0xCC, 0x3D)));
    CHECK(body("(result f32)", "f32.const 1_000.000_1", B(0x43, 0x02, 0x00, 0x7A, 0x44)));
    CHECK(body("(result f32)", "f32.const 1e1", B(0x43, 0x00, 0x00, 0x20, 0x41)));
    CHECK(body("(result f32)", "f32.const 7", B(0x43, 0x00, 0x00, 0xE0, 0x40)));
    CHECK(body("(result f32)", "f32.const -0x10", B(0x43, 0x00, 0x00, 0x80, 0xC1)));
    CHECK(body("(result f32)", "f32.const inf", B(0x43, 0x00, 0x00, 0x80, 0x7F)));
    CHECK(body("(result f32)", "f32.const -inf", B(0x43, 0x00, 0x00, 0x80, 0xFF)));
    CHECK(body("(result f32)", "f32.const nan", B(0x43, 0x00, 0x00, 0xC0, 0x7F)));
    CHECK(body("(result f32)", "f32.const -nan", B(0x43, 0x00, 0x00, 0xC0, 0xFF)));
    CHECK(body("(result f32)", "f32.const nan:0x200000", B(0x43, 0x00, 0x00, 0xA0, 0x7F)));
    CHECK(body("(result f32)", "f32.const +nan:0x1", B(0x43, 0x01, 0x00, 0x80, 0x7F)));
    CHECK(body("(result f32)", "f32.const -0.0", B(0x43, 0x00, 0x00, 0x00, 0x80)));
    /* hex rounding: exact halfway cases go to even, anything beyond half goes up */
    CHECK(body("(result f32)", "f32.const 0x1.000001p0", B(0x43, 0x00, 0x00, 0x80, 0x3F)));
    CHECK(body("(result f32)", "f32.const 0x1.000003p0", B(0x43, 0x02, 0x00, 0x80, 0x3F)));
    CHECK(body("(result f32)", "f32.const 0x1.00000100000000000000000000001p0",
               B(0x43, 0x01, 0x00, 0x80, 0x3F)));
    CHECK(body("(result f32)", "f32.const 0x1.fffffefffffffffffp127", B(0x43, 0xFF, 0xFF, 0x7F, 0x7F)));
    /* subnormals */
    CHECK(body("(result f32)", "f32.const 0x1p-149", B(0x43, 0x01, 0x00, 0x00, 0x00)));
    CHECK(body("(result f32)", "f32.const 0x1p-150", B(0x43, 0x00, 0x00, 0x00, 0x00)));
    CHECK(body("(result f32)", "f32.const 0x1.8p-150", B(0x43, 0x01, 0x00, 0x00, 0x00)));
    CHECK(body("(result f32)", "f32.const 0x1.fffffcp-127", B(0x43, 0xFF, 0xFF, 0x7F, 0x00)));
    CHECK(body("(result f32)", "f32.const 0x1.fffffep-127", B(0x43, 0x00, 0x00, 0x80, 0x00)));
    CHECK(body("(result f64)", "f64.const 0x1p-1074", B(0x44, 1, 0, 0, 0, 0, 0, 0, 0)));
    CHECK(body("(result f64)", "f64.const 1.7976931348623157e308",
               B(0x44, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xEF, 0x7F)));
    CHECK(body("(result f64)", "f64.const 0x1.00000000000008p0", B(0x44, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F)));
    CHECK(body("(result f64)", "f64.const 0x1.00000000000018p0", B(0x44, 2, 0, 0, 0, 0, 0, 0xF0, 0x3F)));
    CHECK(body("(result f64)", "f64.const nan:0xfffffffffffff",
               B(0x44, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F)));
    CHECK(body("(result f64)", "f64.const -0x0.8p-1022", B(0x44, 0, 0, 0, 0, 0, 0, 0x08, 0x80)));
    CHECK(body("(result f64)", "f64.const 1e-400", B(0x44, 0, 0, 0, 0, 0, 0, 0, 0)));
    CHECK(fails("(func (f32.const 1e39) drop)", "constant out of range", 0, 0));
    CHECK(fails("(func (f32.const 0x1p128) drop)", "constant out of range", 0, 0));
    CHECK(fails("(func (f32.const 0x1.ffffffp127) drop)", "constant out of range", 0, 0));
    CHECK(fails("(func (f64.const 0x1.fffffffffffff8p1023) drop)", "constant out of range", 0, 0));
    CHECK(fails("(func (f64.const 1e309) drop)", "constant out of range", 0, 0));
    CHECK(fails("(func (f32.const nan:0x800000) drop)", "constant out of range", 0, 0));
    CHECK(fails("(func (f32.const nan:0x0) drop)", "constant out of range", 0, 0));
    CHECK(fails("(func (f64.const nan:0x10000000000000) drop)", "constant out of range", 0, 0));
    CHECK(fails("(func (f32.const .5) drop)", "unknown operator", 0, 0));
    CHECK(fails("(func (f32.const 1.e) drop)", "unknown operator", 0, 0));
    CHECK(fails("(func (f32.const 0x1p) drop)", "unknown operator", 0, 0));
    CHECK(fails("(func (f32.const 0x.8) drop)", "unknown operator", 0, 0));
    CHECK(fails("(func (f32.const nan:canonical) drop)", "unexpected token", 0, 0));
}

/* SIMD: the rows come from opcodes.def (added separately); the encoder handles the V128,
 * SHUFFLE, LANE and MEMLANE immediate kinds generically. Without the rows, the mnemonics are
 * unknown operators -- checked too, so this test is meaningful in both states of the table. */
static void test_v128(void) {
    if (kpOp_fromName("v128.const", 10) < 0) {
        CHECK(fails("(func (v128.const i32x4 1 2 3 4) drop)", "unknown operator v128.const", 1, 8));
        return;
    }
    CHECK(body("", "v128.const i32x4 1 -1 0xffffffff 0 drop",
               B(0xFD, 0x0C, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0x1A)));
    CHECK(body("", "v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 -1 drop",
               B(0xFD, 0x0C, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xFF, 0x1A)));
    CHECK(body("", "v128.const f32x4 1 -0 inf nan drop",
               B(0xFD, 0x0C, 0, 0, 0x80, 0x3F, 0, 0, 0, 0x80, 0, 0, 0x80, 0x7F, 0, 0, 0xC0, 0x7F, 0x1A)));
    CHECK(body(
        "",
        "v128.const i64x2 0 0 v128.const f64x2 0 0 i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 31 drop",
        B(0xFD, 0x0C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFD, 0x0C, 0, 0, 0, 0, 0, 0, 0, 0, 0,
          0, 0, 0, 0, 0, 0, 0, 0xFD, 0x0D, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 31, 0x1A)));
    CHECK(body("(result i32)", "(i8x16.extract_lane_u 15 (v128.const i16x8 0 0 0 0 0 0 0 0))",
               B(0xFD, 0x0C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFD, 0x16, 15)));
    CHECK(fails("(func (v128.const i32x4 1 2 3) drop)", "wrong number of lane literals", 0, 0));
    CHECK(fails("(func (v128.const i32x4 1 2 3 4 5) drop)", "wrong number of lane literals", 0, 0));
    CHECK(fails("(func (v128.const i8x16 256 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0) drop)", "constant out of range",
                0, 0));
    CHECK(fails("(func (v128.const i32x8 0) drop)", "unexpected token", 0, 0));
    CHECK(
        fails("(func (i8x16.extract_lane_s 256 (v128.const i64x2 0 0)) drop)", "malformed lane index", 0, 0));
    CHECK(fails("(func (i8x16.extract_lane_s -1 (v128.const i64x2 0 0)) drop)", "unexpected token", 0, 0));
    CHECK(fails("(func (i8x16.shuffle 0 1 (v128.const i64x2 0 0)) drop)", "invalid lane length", 0, 0));
}

/* Data segments show the decoded string bytes directly. */
static void test_strings(void) {
    static const uint8_t want[] = { 0,    'a',  's',  'm',  1,    0,    0,    0,    5,    3,
                                    1,    0,    1,    11,   22,   1,    0,    0x41, 0,    0x0B,
                                    16,   0x09, 0x0A, 0x0D, 0x22, 0x27, 0x5C, 0x00, 0xFF, 0x41,
                                    0xF0, 0x9F, 0x98, 0x80, 0xC3, 0xA9, 'x' };
    CHECK(enc(
        "(memory 1) (data (i32.const 0) \"\\t\\n\\r\\\"\\'\\\\\\00\\ff\\u{41}\\u{1F6_00}\" \"\xC3\xA9x\")",
        want, sizeof want));
    CHECK(fails("(memory 1) (data (i32.const 0) \"\\x\")", "illegal escape", 1, 33));
    CHECK(fails("(memory 1) (data (i32.const 0) \"\\u{D800}\")", "illegal escape", 0, 0));
    CHECK(fails("(memory 1) (data (i32.const 0) \"\\u{110000}\")", "illegal escape", 0, 0));
    CHECK(fails("(memory 1) (data (i32.const 0) \"abc", "unclosed string", 1, 32));
    CHECK(fails("(memory 1) (data (i32.const 0) \"a\x01\")", "illegal control character", 0, 0));
    CHECK(fails("(memory 1) (data (i32.const 0) \"\xC3\")", "malformed UTF-8 encoding", 0, 0));
    CHECK(fails("(func (export \"\\ff\"))", "malformed UTF-8 encoding", 0, 0));
    /* comments: line, nested block, and a block comment across lines */
    static const uint8_t empty[] = { 0, 'a', 's', 'm', 1, 0, 0, 0 };
    CHECK(enc(";; c\n(module (; a (; nested ;) b ;) ;; x\n (;\n;) )", empty, sizeof empty));
    CHECK(fails("(module (; (; ;) )", "unclosed comment", 1, 9));
    /* a line comment ends at CR as well as LF; CR LF and lone CR count as one line each */
    static const uint8_t f2[] = { 0,    'a', 's', 'm', 1, 0,  0, 0, 1, 5, 1,    0x60, 0,   1,
                                  0x7F, 3,   2,   1,   0, 10, 6, 1, 4, 0, 0x41, 2,    0x0B };
    CHECK(enc("(func (result i32) ;; c\r (i32.const 2))", f2, sizeof f2));
    CHECK(fails("(module\r\n(func)\r(func)\r\n\n  bad)", "unexpected token", 5, 3));
}

static void test_abbreviations(void) {
    /* inline export and import on a function; the export refers to the import's index */
    static const uint8_t imp[] = { 0, 'a', 's', 'm', 1, 0,   0, 0, 1, 5, 1, 0x60, 1,   0x7F, 0, 2,
                                   7, 1,   1,   'm', 1, 'g', 0, 0, 7, 5, 1, 1,    'f', 0,    0 };
    CHECK(enc("(module (func $i (export \"f\") (import \"m\" \"g\") (param i32)))", imp, sizeof imp));
    /* type uses: explicit type first, inline signatures reuse a match or append in order */
    static const uint8_t tu[] = { 0,    'a', 's',  'm', 1, 0,    0, 0, 1,    12, 3, 0x60, 0, 0,   0x60, 1,
                                  0x7F, 0,   0x60, 0,   1, 0x7E, 3, 5, 4,    1,  0, 1,    2, 10,  15,   4,
                                  2,    0,   0x0B, 2,   0, 0x0B, 2, 0, 0x0B, 4,  0, 0x42, 0, 0x0B };
    CHECK(enc(
        "(func (param i32)) (type (func)) (func) (func (type 1) (param i32)) (func (result i64) i64.const 0)",
        tu, sizeof tu));
    CHECK(fails("(type (func)) (func (type 0) (param i32))", "inline function type", 1, 21));
    CHECK(fails("(func (type 3) (param i32))", "unknown type", 0, 0));
    CHECK(fails("(func (result i32) (param i32))", "unexpected token", 0, 0));
    /* table with inline elements, memory with inline data */
    static const uint8_t tab[] = { 0, 'a',  's', 'm', 1, 0,    0,    0,    1,    4, 1,   0x60, 0, 0, 3,
                                   2, 1,    0,   4,   5, 1,    0x70, 1,    2,    2, 5,   4,    1, 1, 1,
                                   1, 9,    8,   1,   0, 0x41, 0,    0x0B, 2,    0, 0,   10,   4, 1, 2,
                                   0, 0x0B, 11,  8,   1, 0,    0x41, 0,    0x0B, 2, 'h', 'i' };
    CHECK(enc("(table funcref (elem $f $f)) (memory (data \"h\" \"i\")) (func $f)", tab, sizeof tab));
    /* elem forms: passive exprs, declarative funcs, active on table 1 with an expression */
    static const uint8_t el[] = { 0,    'a', 's', 'm', 1,  0,    0,    0,    1,    4,    1,    0x60, 0,
                                  0,    3,   2,   1,   0,  4,    7,    2,    0x70, 0,    0,    0x6F, 0,
                                  0,    9,   27,  4,   5,  0x70, 2,    0xD0, 0x70, 0x0B, 0xD2, 0,    0x0B,
                                  3,    0,   1,   0,   6,  1,    0x41, 0,    0x0B, 0x6F, 1,    0xD0, 0x6F,
                                  0x0B, 1,   0,   0,   10, 4,    1,    2,    0,    0x0B };
    CHECK(enc("(table 0 funcref) (table $t 0 externref)"
              "(elem funcref (ref.null func) (item ref.func $f))"
              "(elem declare func $f)"
              "(elem (table $t) (offset i32.const 0) externref (ref.null extern))"
              "(elem func)"
              "(func $f)",
              el, sizeof el));
    /* data forms: passive, and active on memory 1 via the offset abbreviation */
    static const uint8_t da[] = { 0, 'a', 's', 'm', 1, 0, 0,  0,  2, 8, 1, 1,   'm', 1, 'n',  2, 0,    0,
                                  5, 4,   1,   1,   0, 1, 11, 10, 2, 1, 1, 'a', 2,   1, 0x41, 4, 0x0B, 0 };
    CHECK(enc("(import \"m\" \"n\" (memory 0)) (memory $m 0 1) (data \"a\") (data (memory $m) (i32.const 4))",
              da, sizeof da));
    CHECK(fails("(func) (import \"m\" \"n\" (func))", "import after function", 0, 0));
    CHECK(fails("(memory 0) (global (import \"m\" \"n\") i32)", "import after memory", 0, 0));
    CHECK(fails("(start 0) (start 0) (func)", "multiple start sections", 0, 0));
    CHECK(fails("(func $a) (func $a)", "duplicate func", 1, 17));
    CHECK(fails("(func (param $x i32) (local $x i32))", "duplicate local", 0, 0));
    CHECK(fails("(func call $g)", "unknown function $g", 0, 0));
}

static void test_instructions(void) {
    /* folded expressions are emitted operands first */
    CHECK(body("(result i32)", "(i32.add (i32.const 1) (i32.mul (i32.const 2) (i32.const 3)))",
               B(0x41, 1, 0x41, 2, 0x41, 3, 0x6C, 0x6A)));
    /* folded if: condition, then `if`, then/else arms; an empty else is dropped */
    CHECK(body("(result i32)", "(if (result i32) (i32.const 1) (then (i32.const 2)) (else (i32.const 3)))",
               B(0x41, 1, 0x04, 0x7F, 0x41, 2, 0x05, 0x41, 3, 0x0B)));
    CHECK(body("", "(if (i32.const 0) (then nop) (else))", B(0x41, 0, 0x04, 0x40, 0x01, 0x0B)));
    CHECK(body("", "i32.const 0 if nop else end", B(0x41, 0, 0x04, 0x40, 0x01, 0x0B)));
    CHECK(body("", "(block (loop))", B(0x02, 0x40, 0x03, 0x40, 0x0B, 0x0B)));
    /* memargs: defaults to natural alignment, align in bytes encoded as log2 */
    CHECK(body("(result i32)", "(i32.load offset=16 align=1 (i32.const 0))", B(0x41, 0, 0x28, 0, 16)));
    CHECK(body("(result i64)", "(i64.load (i32.const 0))", B(0x41, 0, 0x29, 3, 0)));
    CHECK(body("(result i32)", "(i32.load8_u offset=0xffff_ffff (i32.const 0))",
               B(0x41, 0, 0x2D, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F)));
    CHECK(fails("(memory 1) (func (drop (i32.load align=3 (i32.const 0))))",
                "alignment must be a power of two", 1, 34));
    CHECK(fails("(memory 1) (func (drop (i32.load offset=0x1_0000_0000 (i32.const 0))))", "i32 constant", 0,
                0));
    /* select with a type, br_table, call_indirect with an inline type, bulk ops */
    CHECK(body("(result i32)", "(select (result i32) (i32.const 1) (i32.const 2) (i32.const 0))",
               B(0x41, 1, 0x41, 2, 0x41, 0, 0x1C, 1, 0x7F)));
    CHECK(body("", "(block (block (br_table 1 0 1 (i32.const 0))))",
               B(0x02, 0x40, 0x02, 0x40, 0x41, 0, 0x0E, 2, 1, 0, 1, 0x0B, 0x0B)));
    CHECK(body("", "memory.copy table.copy elem.drop 0 ref.null extern drop",
               B(0xFC, 0x0A, 0, 0, 0xFC, 0x0E, 0, 0, 0xFC, 0x0D, 0, 0xD0, 0x6F, 0x1A)));
    CHECK(body("", "table.init 1 2 table.init 3", B(0xFC, 0x0C, 2, 1, 0xFC, 0x0C, 3, 0)));
    CHECK(fails("(func (i32.bogus))", "unknown operator i32.bogus", 1, 8));
    CHECK(fails("(func (then))", "unexpected token", 1, 8));
    CHECK(fails("(func block)", "unexpected token", 1, 12));
    CHECK(fails("(func end)", "unexpected token", 1, 7));
}

static void test_labels(void) {
    CHECK(body("", "block $a block $b br $a br $b end end",
               B(0x02, 0x40, 0x02, 0x40, 0x0C, 1, 0x0C, 0, 0x0B, 0x0B)));
    /* shadowing: the innermost $a wins */
    CHECK(body("", "block $a block $a br $a end br $a end",
               B(0x02, 0x40, 0x02, 0x40, 0x0C, 0, 0x0B, 0x0C, 0, 0x0B)));
    /* after the inner $a closes, $a means the outer one again */
    CHECK(body("", "block $a block $b block $a end br $a end end",
               B(0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x0B, 0x0C, 1, 0x0B, 0x0B)));
    CHECK(body("", "(block $a (if $b (i32.const 0) (then (br $a)) (else (br $b))))",
               B(0x02, 0x40, 0x41, 0, 0x04, 0x40, 0x0C, 1, 0x05, 0x0C, 0, 0x0B, 0x0B)));
    CHECK(body("", "loop $l br 0 end $l", B(0x03, 0x40, 0x0C, 0, 0x0B)));
    CHECK(body("", "i32.const 0 if $l else $l end $l", B(0x41, 0, 0x04, 0x40, 0x0B)));
    CHECK(fails("(func block $a end $b)", "mismatching label", 1, 20));
    CHECK(fails("(func block end $a)", "mismatching label", 0, 0));
    CHECK(fails("(func block $a br $b end)", "unknown label", 1, 19));
    /* a label is not visible in the condition of its own folded if */
    CHECK(fails("(func (if $l (br_if $l (i32.const 1)) (then)))", "unknown label", 0, 0));
}

static void test_positions(void) {
    CHECK(fails("(module\n  (func\n    i32.bogus))", "unknown operator", 3, 5));
    CHECK(
        fails("(module\n  (func (result i32)\n\t(i32.const 99999999999)))", "constant out of range", 3, 13));
    CHECK(fails("(module (func)", "unexpected end of input", 0, 0));
    CHECK(fails("(module) (module)", "unexpected token", 1, 10));
    CHECK(fails("(module (func) \x7f)", "unexpected character", 1, 16));
    /* line0 shifts positions when the text is part of a larger file */
    kpBuf out = { 0 };
    CHECK(kpWat_toBinary("(module\n(funk))", 15, 40, &out, &err) == KAPSUL_ERR_MALFORMED && err.line == 41 &&
          err.column == 2);
    kpBuf_free(&out);
    /* Positions come from a table of line starts: CR, LF and CR LF each end one line, also
     * inside block comments, and a text starting mid-line shifts only its first line. */
    CHECK(fails("(module\r(func\r\n  i32.bogus))", "unknown operator", 3, 3));
    CHECK(fails("(module (; a\n b\r\n c ;) (func\n\n i32.bogus))", "unknown operator", 5, 2));
    CHECK(kpWat_toBinaryAt("(module (funk))", 15, 7, 5, &out, &err) == KAPSUL_ERR_MALFORMED &&
          err.line == 7 && err.column == 14);
    kpBuf_free(&out);
    CHECK(kpWat_toBinaryAt("(module\n  (funk))", 17, 7, 5, &out, &err) == KAPSUL_ERR_MALFORMED &&
          err.line == 8 && err.column == 4);
    kpBuf_free(&out);
}

/* A text over 512 MiB is refused before it is read (tokens keep 29-bit offsets). The buffer is
 * an untouched anonymous mapping, so it costs address space only. */
static void test_size_limit(void) {
    size_t len = ((size_t)512 << 20) + 1;
    void *big = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (big == MAP_FAILED) {
        CHECK(!"mmap of 512 MiB failed");
        return;
    }
    kpBuf out = { 0 };
    CHECK(kpWat_toBinary(big, len, 1, &out, &err) == KAPSUL_ERR_LIMIT && out.len == 0);
    kpWastScript script;
    CHECK(kpWast_parse(big, len, &script, &err) == KAPSUL_ERR_LIMIT && script.ncmds == 0);
    kpWast_free(&script);
    kpBuf_free(&out);
    munmap(big, len);
}

static void test_module_forms(void) {
    static const uint8_t empty[] = { 0, 'a', 's', 'm', 1, 0, 0, 0 };
    CHECK(enc("(module $m)", empty, sizeof empty));
    CHECK(enc("(module binary \"\\00asm\" \"\\01\\00\\00\\00\")", empty, sizeof empty));
    CHECK(enc("(module quote \"(module $q \" \")\")", empty, sizeof empty));
    CHECK(enc("(module quote \"(module quote \\\"\\\")\")", empty, sizeof empty));
    CHECK(enc("", empty, sizeof empty));
    CHECK(fails("(module quote \"(func (i32.const 0x))\")", "unknown operator", 1, 18));
}

/* 100000 nested blocks, plain and folded, and deep folded operands: no recursion, no crash. */
static void test_deep_nesting(void) {
    enum {
        N = 100000
    };
    const char *open[] = { "block ", "(block ", "(i32.eqz ", "(if (i32.const 1) (then " };
    const char *close[] = { "end ", ")", ")", "))" };
    for (int kind = 0; kind < 4; kind++) {
        size_t lo = strlen(open[kind]), lc = strlen(close[kind]);
        char *src = malloc(64 + N * (lo + lc));
        size_t k = (size_t)sprintf(src, "(module (func %s", kind == 2 ? "(result i32)" : "");
        for (int i = 0; i < N; i++) {
            memcpy(src + k, open[kind], lo);
            k += lo;
        }
        if (kind == 2) k += (size_t)sprintf(src + k, "(i32.const 0)");
        for (int i = 0; i < N; i++) {
            memcpy(src + k, close[kind], lc);
            k += lc;
        }
        k += (size_t)sprintf(src + k, "))");
        kpBuf out = { 0 };
        kapsul_status st = kpWat_toBinary(src, k, 1, &out, &err);
        CHECK(st == KAPSUL_OK);
        /* body: blocks are 3 bytes (op, 0x40, end), eqz 1 byte, if 5 (const, if, 0x40, end) */
        size_t per = kind == 2 ? 1 : kind == 3 ? 5 : 3;
        CHECK(st == KAPSUL_OK && out.len > N * per && out.data[out.len - 1] == 0x0B);
        kpBuf_free(&out);
        /* and the same text cut short: an error, not a crash */
        st = kpWat_toBinary(src, k / 2, 1, &out, &err);
        CHECK(st == KAPSUL_ERR_MALFORMED);
        kpBuf_free(&out);
        free(src);
    }
    /* nested block comments are counted, not recursed */
    char *c = malloc(4 * N + 16);
    size_t k = 0;
    for (int i = 0; i < N; i++) {
        c[k++] = '(';
        c[k++] = ';';
    }
    for (int i = 0; i < N; i++) {
        c[k++] = ';';
        c[k++] = ')';
    }
    memcpy(c + k, "(module)", 8);
    kpBuf out = { 0 };
    CHECK(kpWat_toBinary(c, k + 8, 1, &out, &err) == KAPSUL_OK && out.len == 8);
    kpBuf_free(&out);
    free(c);
}

/* $names of functions (imported and defined) become the name section's function names, by
 * index, without the '$'; unnamed functions are left out. */
static void test_names(void) {
    const char *src = "(module (import \"m\" \"f\" (func $imp)) (func) (func $zeta) (func $alpha))";
    kpBuf out = { 0 };
    CHECK(kpWat_toBinary(src, strlen(src), 1, &out, &err) == KAPSUL_OK);
    static const uint8_t want[] = { 0x00, 0x1a, 0x04, 'n', 'a', 'm',  'e',  0x01, 0x13, 0x03,
                                    0x00, 0x03, 'i',  'm', 'p', 0x02, 0x04, 'z',  'e',  't',
                                    'a',  0x03, 0x05, 'a', 'l', 'p',  'h',  'a' };
    size_t at = without_names(out.data, out.len);
    CHECK(out.len - at == sizeof want && memcmp(out.data + at, want, sizeof want) == 0);
    kpBuf_free(&out);
}

int main(void) {
    test_names();
    test_integers();
    test_floats();
    test_v128();
    test_strings();
    test_abbreviations();
    test_instructions();
    test_labels();
    test_positions();
    test_module_forms();
    test_deep_nesting();
    test_size_limit();
    return kpt_finish();
}
