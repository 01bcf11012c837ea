/*
 * test_simd.c -- edge cases of the SIMD semantics in engine/simd.c, called directly: NaN and
 * signed-zero rules of min/max/pmin/pmax, rounding, saturating narrowing and arithmetic,
 * q15mulr_sat_s, swizzle and shuffle indices, shift counts modulo the lane width, saturating
 * truncation, demote/promote, dot products, extending ops, bitmask/any/all_true, lane loads and
 * stores, and a destination that aliases its operand. The spec scripts cover the common cases;
 * these pin down the corners an implementation most easily gets wrong.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "engine/simd.h"
#include "module/opcodes.h"
#include "test.h"

typedef struct {
    uint64_t w[2];
} slots;

static slots vec_f32(float a, float b, float c, float d) {
    kpV128 v;
    v.f32[0] = a, v.f32[1] = b, v.f32[2] = c, v.f32[3] = d;
    slots s;
    memcpy(&s, &v, 16);
    return s;
}
static slots vec_f64(double a, double b) {
    kpV128 v;
    v.f64[0] = a, v.f64[1] = b;
    slots s;
    memcpy(&s, &v, 16);
    return s;
}
static slots vec_i16(const int16_t l[8]) {
    slots s;
    memcpy(&s, l, 16);
    return s;
}
static slots vec_u8(const uint8_t l[16]) {
    slots s;
    memcpy(&s, l, 16);
    return s;
}
static kpV128 view(slots s) {
    kpV128 v;
    memcpy(&v, &s, 16);
    return v;
}

/* Run a one- or two-vector op. */
static kpV128 run2(kpOp op, slots a, slots b) {
    slots r;
    kpSimd_exec(op, r.w, a.w, b.w, NULL, 0);
    return view(r);
}
static kpV128 run1(kpOp op, slots a) {
    slots r;
    kpSimd_exec(op, r.w, a.w, NULL, NULL, 0);
    return view(r);
}
static uint32_t bits32(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}
static uint64_t bits64(double d) {
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

static void test_float_minmax(void) {
    float nan = NAN;
    kpV128 r = run2(kpOp_F32X4_MIN, vec_f32(nan, 1.0f, -0.0f, 0.0f), vec_f32(1.0f, nan, 0.0f, -0.0f));
    CHECK(isnan(r.f32[0]) && isnan(r.f32[1]));
    CHECK(bits32(r.f32[2]) == 0x80000000u && bits32(r.f32[3]) == 0x80000000u); /* -0 < +0 */
    r = run2(kpOp_F32X4_MAX, vec_f32(nan, 1.0f, -0.0f, 0.0f), vec_f32(1.0f, nan, 0.0f, -0.0f));
    CHECK(isnan(r.f32[0]) && isnan(r.f32[1]));
    CHECK(bits32(r.f32[2]) == 0 && bits32(r.f32[3]) == 0);
    /* pmin(a, b) = b < a ? b : a: a NaN in either place returns a unchanged, and -0/+0 give a. */
    r = run2(kpOp_F32X4_PMIN, vec_f32(nan, 1.0f, -0.0f, 0.0f), vec_f32(1.0f, nan, 0.0f, -0.0f));
    CHECK(isnan(r.f32[0]) && r.f32[1] == 1.0f);
    CHECK(bits32(r.f32[2]) == 0x80000000u && bits32(r.f32[3]) == 0);
    r = run2(kpOp_F32X4_PMAX, vec_f32(nan, 1.0f, 2.0f, -3.0f), vec_f32(1.0f, nan, 5.0f, -4.0f));
    CHECK(isnan(r.f32[0]) && r.f32[1] == 1.0f && r.f32[2] == 5.0f && r.f32[3] == -3.0f);
    /* A NaN payload passes through pmin untouched (it is a selection, not arithmetic). */
    uint32_t snan = 0x7FA00001u;
    slots a = vec_f32(0, 0, 0, 0);
    memcpy(&a, &snan, 4);
    r = run2(kpOp_F32X4_PMIN, a, vec_f32(1, 1, 1, 1));
    CHECK(r.u32[0] == snan);
    kpV128 d = run2(kpOp_F64X2_MIN, vec_f64(-0.0, NAN), vec_f64(0.0, 1.0));
    CHECK(bits64(d.f64[0]) == 0x8000000000000000ull && isnan(d.f64[1]));
    d = run2(kpOp_F64X2_PMAX, vec_f64(NAN, 1.0), vec_f64(2.0, NAN));
    CHECK(isnan(d.f64[0]) && d.f64[1] == 1.0);
}

static void test_rounding(void) {
    kpV128 r = run1(kpOp_F32X4_NEAREST, vec_f32(2.5f, -0.5f, 3.5f, -2.5f));
    CHECK(r.f32[0] == 2.0f && r.f32[2] == 4.0f && r.f32[3] == -2.0f);
    CHECK(bits32(r.f32[1]) == 0x80000000u);
    r = run1(kpOp_F32X4_CEIL, vec_f32(-0.5f, 0.5f, -1.5f, 1e30f));
    CHECK(bits32(r.f32[0]) == 0x80000000u && r.f32[1] == 1.0f && r.f32[2] == -1.0f && r.f32[3] == 1e30f);
    r = run1(kpOp_F32X4_FLOOR, vec_f32(-0.5f, 0.5f, -0.0f, 2.0f));
    CHECK(r.f32[0] == -1.0f && r.f32[1] == 0.0f && bits32(r.f32[2]) == 0x80000000u);
    r = run1(kpOp_F32X4_TRUNC, vec_f32(-1.7f, 1.7f, NAN, -0.2f));
    CHECK(r.f32[0] == -1.0f && r.f32[1] == 1.0f && isnan(r.f32[2]) && bits32(r.f32[3]) == 0x80000000u);
    /* A signalling NaN comes back quiet. */
    uint32_t snan = 0x7F800001u;
    slots a = vec_f32(0, 0, 0, 0);
    memcpy(&a, &snan, 4);
    r = run1(kpOp_F32X4_NEAREST, a);
    CHECK(isnan(r.f32[0]) && (r.u32[0] & 0x00400000u));
    kpV128 d = run1(kpOp_F64X2_NEAREST, vec_f64(0.5, 1.5));
    CHECK(d.f64[0] == 0.0 && d.f64[1] == 2.0);
}

static void test_saturation(void) {
    int16_t a[8] = { 300, -300, 127, -128, 0, 32767, -32768, 255 };
    int16_t b[8] = { -1, 1, 2, 3, 4, 5, 6, 7 };
    kpV128 r = run2(kpOp_I8X16_NARROW_I16X8_S, vec_i16(a), vec_i16(b));
    CHECK(r.i8[0] == 127 && r.i8[1] == -128 && r.i8[2] == 127 && r.i8[3] == -128 && r.i8[5] == 127);
    CHECK(r.i8[6] == -128 && r.i8[8] == -1 && r.i8[15] == 7);
    r = run2(kpOp_I8X16_NARROW_I16X8_U, vec_i16(a), vec_i16(b));
    CHECK(r.u8[0] == 255 && r.u8[1] == 0 && r.u8[7] == 255 && r.u8[8] == 0 && r.u8[9] == 1);
    /* q15mulr_sat_s: only -1.0 * -1.0 saturates; rounding adds half an ulp. */
    int16_t q1[8] = { -32768, 16384, -16384, 1, 32767, -32768, 0, 3 };
    int16_t q2[8] = { -32768, 16384, 16384, 16384, 32767, 32767, 5, 16384 };
    r = run2(kpOp_I16X8_Q15MULR_SAT_S, vec_i16(q1), vec_i16(q2));
    CHECK(r.i16[0] == 32767 && r.i16[1] == 8192 && r.i16[2] == -8192 && r.i16[3] == 1);
    CHECK(r.i16[4] == 32766 && r.i16[5] == -32767 && r.i16[6] == 0 && r.i16[7] == 2);
    uint8_t x[16] = { 250, 5, 0x80, 0x7F }, y[16] = { 10, 10, 0xFF, 1 };
    r = run2(kpOp_I8X16_ADD_SAT_U, vec_u8(x), vec_u8(y));
    CHECK(r.u8[0] == 255 && r.u8[1] == 15);
    r = run2(kpOp_I8X16_SUB_SAT_U, vec_u8(x), vec_u8(y));
    CHECK(r.u8[0] == 240 && r.u8[1] == 0);
    r = run2(kpOp_I8X16_ADD_SAT_S, vec_u8(x), vec_u8(y));
    CHECK(r.i8[2] == -128 && r.i8[3] == 127); /* -128 + -1, 127 + 1 */
    r = run2(kpOp_I8X16_AVGR_U, vec_u8(x), vec_u8(y));
    CHECK(r.u8[0] == 130 && r.u8[2] == 192 && r.u8[3] == 64 && r.u8[4] == 0);
    uint8_t m[16] = { 0x80, 0xFF, 0x7F, 0 };
    r = run1(kpOp_I8X16_ABS, vec_u8(m));
    CHECK(r.u8[0] == 0x80 && r.u8[1] == 1 && r.u8[2] == 0x7F); /* abs(-128) wraps to -128 */
    r = run1(kpOp_I8X16_POPCNT, vec_u8(m));
    CHECK(r.u8[0] == 1 && r.u8[1] == 8 && r.u8[2] == 7 && r.u8[3] == 0);
}

static void test_swizzle_shuffle_shift(void) {
    uint8_t v[16], idx[16] = { 0, 15, 16, 255, 128, 3, 17, 1, 2, 2, 2, 2, 2, 2, 2, 2 };
    for (int i = 0; i < 16; i++) v[i] = (uint8_t)(100 + i);
    kpV128 r = run2(kpOp_I8X16_SWIZZLE, vec_u8(v), vec_u8(idx));
    CHECK(r.u8[0] == 100 && r.u8[1] == 115 && r.u8[2] == 0 && r.u8[3] == 0 && r.u8[4] == 0);
    CHECK(r.u8[5] == 103 && r.u8[6] == 0 && r.u8[7] == 101);
    uint8_t w[16], lanes[16];
    for (int i = 0; i < 16; i++) w[i] = (uint8_t)(200 + i), lanes[i] = (uint8_t)(31 - 2 * i);
    slots a = vec_u8(v), b = vec_u8(w), out;
    kpSimd_shuffle(out.w, a.w, b.w, lanes);
    r = view(out);
    CHECK(r.u8[0] == 215 && r.u8[7] == 201 && r.u8[8] == 115 && r.u8[15] == 101);
    /* Shift counts are taken modulo the lane width. */
    uint64_t nine = 9, thirty3 = 33, minus1 = 0xFFFFFFFFu;
    uint8_t one[16] = { 1, 0x80 };
    slots o = vec_u8(one);
    kpSimd_exec(kpOp_I8X16_SHL, out.w, o.w, &nine, NULL, 0);
    r = view(out);
    CHECK(r.u8[0] == 2 && r.u8[1] == 0);
    kpSimd_exec(kpOp_I8X16_SHR_S, out.w, o.w, &nine, NULL, 0);
    r = view(out);
    CHECK(r.u8[0] == 0 && r.u8[1] == 0xC0);
    slots i32 = vec_f32(0, 0, 0, 0);
    int32_t lanes32[4] = { -7, 8, INT32_MIN, 1 };
    memcpy(&i32, lanes32, 16);
    kpSimd_exec(kpOp_I32X4_SHR_S, out.w, i32.w, &thirty3, NULL, 0);
    r = view(out);
    CHECK(r.i32[0] == -4 && r.i32[1] == 4 && r.i32[2] == INT32_MIN / 2);
    kpSimd_exec(kpOp_I32X4_SHR_U, out.w, i32.w, &minus1, NULL, 0);
    r = view(out);
    CHECK(r.u32[0] == 1 && r.u32[1] == 0 && r.u32[2] == 1);
    kpSimd_exec(kpOp_I64X2_SHL, out.w, i32.w, &minus1, NULL, 0); /* 0xFFFFFFFF & 63 = 63 */
    r = view(out);
    CHECK(r.u64[0] == 0x8000000000000000ull && r.u64[1] == 0);
}

static void test_conversions(void) {
    kpV128 r = run1(kpOp_I32X4_TRUNC_SAT_F32X4_S, vec_f32(NAN, 3e9f, -INFINITY, -2.9f));
    CHECK(r.i32[0] == 0 && r.i32[1] == INT32_MAX && r.i32[2] == INT32_MIN && r.i32[3] == -2);
    r = run1(kpOp_I32X4_TRUNC_SAT_F32X4_U, vec_f32(-1.5f, 5e9f, 4294967040.0f, 0.9f));
    CHECK(r.u32[0] == 0 && r.u32[1] == UINT32_MAX && r.u32[2] == 4294967040u && r.u32[3] == 0);
    r = run1(kpOp_I32X4_TRUNC_SAT_F64X2_S_ZERO, vec_f64(-2147483649.0, 2147483647.5));
    CHECK(r.i32[0] == INT32_MIN && r.i32[1] == INT32_MAX && r.i32[2] == 0 && r.i32[3] == 0);
    r = run1(kpOp_I32X4_TRUNC_SAT_F64X2_U_ZERO, vec_f64(4294967296.0, NAN));
    CHECK(r.u32[0] == UINT32_MAX && r.u32[1] == 0 && r.u32[2] == 0 && r.u32[3] == 0);
    r = run1(kpOp_F32X4_DEMOTE_F64X2_ZERO, vec_f64(1e300, 0.1));
    CHECK(isinf(r.f32[0]) && r.f32[1] == 0.1f && r.u32[2] == 0 && r.u32[3] == 0);
    r = run1(kpOp_F64X2_PROMOTE_LOW_F32X4, vec_f32(0.1f, -0.0f, 7.0f, 8.0f));
    CHECK(r.f64[0] == (double)0.1f && bits64(r.f64[1]) == 0x8000000000000000ull);
    slots u = vec_f32(0, 0, 0, 0);
    uint32_t big[4] = { 0xFFFFFFFFu, 0x80000000u, 16777217u, 0 };
    memcpy(&u, big, 16);
    r = run1(kpOp_F32X4_CONVERT_I32X4_U, u);
    CHECK(r.f32[0] == 4294967296.0f && r.f32[1] == 2147483648.0f && r.f32[2] == 16777216.0f);
    r = run1(kpOp_F64X2_CONVERT_LOW_I32X4_S, u);
    CHECK(r.f64[0] == -1.0 && r.f64[1] == -2147483648.0);
}

static void test_widening(void) {
    int16_t a[8] = { -32768, -32768, 32767, 32767, 1, 2, -3, 4 };
    kpV128 r = run2(kpOp_I32X4_DOT_I16X8_S, vec_i16(a), vec_i16(a));
    CHECK(r.u32[0] == 0x80000000u && r.i32[1] == 2 * 32767 * 32767 && r.i32[2] == 5 && r.i32[3] == 25);
    int16_t ff[8] = { -1, -1, -1, -1, -1, -1, -1, -1 };
    r = run2(kpOp_I32X4_EXTMUL_HIGH_I16X8_U, vec_i16(ff), vec_i16(ff));
    CHECK(r.u32[0] == 0xFFFE0001u && r.u32[3] == 0xFFFE0001u);
    r = run2(kpOp_I32X4_EXTMUL_LOW_I16X8_S, vec_i16(a), vec_i16(ff));
    CHECK(r.i32[0] == 32768 && r.i32[2] == -32767);
    r = run1(kpOp_I32X4_EXTADD_PAIRWISE_I16X8_U, vec_i16(ff));
    CHECK(r.u32[0] == 131070u);
    r = run1(kpOp_I32X4_EXTADD_PAIRWISE_I16X8_S, vec_i16(a));
    CHECK(r.i32[0] == -65536 && r.i32[1] == 65534 && r.i32[2] == 3 && r.i32[3] == 1);
    uint8_t b[16] = { 0xFF, 0x80, 1, 2, 3, 4, 5, 6, 0xFE, 9 };
    r = run1(kpOp_I16X8_EXTEND_LOW_I8X16_S, vec_u8(b));
    CHECK(r.i16[0] == -1 && r.i16[1] == -128 && r.i16[2] == 1);
    r = run1(kpOp_I16X8_EXTEND_HIGH_I8X16_U, vec_u8(b));
    CHECK(r.u16[0] == 0xFE && r.u16[1] == 9 && r.u16[7] == 0);
    r = run2(kpOp_I64X2_EXTMUL_LOW_I32X4_S, vec_i16(a), vec_i16(a)); /* lanes 0x8000_8000, 0x7FFF_7FFF */
    CHECK(r.i64[0] == (int64_t)(int32_t)0x80008000u * (int32_t)0x80008000u);
}

static void test_reductions_lanes(void) {
    uint8_t v[16] = { 0x80, 1, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81 };
    slots s = vec_u8(v), out;
    uint64_t res = 77;
    kpSimd_exec(kpOp_I8X16_BITMASK, &res, s.w, NULL, NULL, 0);
    CHECK(res == 0x8005u);
    kpSimd_exec(kpOp_I8X16_ALL_TRUE, &res, s.w, NULL, NULL, 0);
    CHECK(res == 0);
    kpSimd_exec(kpOp_V128_ANY_TRUE, &res, s.w, NULL, NULL, 0);
    CHECK(res == 1);
    kpSimd_exec(kpOp_I16X8_ALL_TRUE, &res, s.w, NULL, NULL, 0);
    CHECK(res == 0);
    kpSimd_exec(kpOp_I64X2_ALL_TRUE, &res, s.w, NULL, NULL, 0);
    CHECK(res == 1);
    kpSimd_exec(kpOp_I8X16_EXTRACT_LANE_S, &res, s.w, NULL, NULL, 2);
    CHECK(res == 0xFFFFFFFFu); /* i32 -1, zero-extended slot */
    kpSimd_exec(kpOp_I8X16_EXTRACT_LANE_U, &res, s.w, NULL, NULL, 15);
    CHECK(res == 0x81);
    /* The destination may be the operand's own slots. */
    uint64_t val = 0x1234;
    kpSimd_exec(kpOp_I16X8_REPLACE_LANE, s.w, s.w, &val, NULL, 1);
    kpV128 r = view(s);
    CHECK(r.u16[1] == 0x1234 && r.u8[0] == 0x80 && r.u8[15] == 0x81);
    kpSimd_exec(kpOp_I8X16_NEG, s.w, s.w, NULL, NULL, 0);
    r = view(s);
    CHECK(r.u8[0] == 0x80 && r.u8[15] == 0x7F);
    uint64_t f = bits32(-2.5f);
    kpSimd_exec(kpOp_F32X4_SPLAT, out.w, &f, NULL, NULL, 0);
    r = view(out);
    CHECK(r.f32[0] == -2.5f && r.f32[3] == -2.5f);
    slots m = vec_u8((const uint8_t[16]){ 0xF0, 0x0F }), x = vec_u8((const uint8_t[16]){ 0xAA, 0xAA }),
          y = vec_u8((const uint8_t[16]){ 0x55, 0x55 });
    kpSimd_exec(kpOp_V128_BITSELECT, out.w, x.w, y.w, m.w, 0);
    r = view(out);
    CHECK(r.u8[0] == 0xA5 && r.u8[1] == 0x5A);
}

static void test_memory(void) {
    uint8_t mem[32];
    for (int i = 0; i < 32; i++) mem[i] = (uint8_t)(i + 1);
    slots base = vec_u8((const uint8_t[16]){ 0 }), out;
    CHECK(kpSimd_accessSize(kpOp_V128_LOAD) == 16 && kpSimd_accessSize(kpOp_V128_LOAD8X8_S) == 8);
    CHECK(kpSimd_accessSize(kpOp_V128_LOAD16_LANE) == 2 && kpSimd_accessSize(kpOp_V128_STORE64_LANE) == 8);
    kpSimd_access(kpOp_V128_LOAD, out.w, mem + 3, base.w, 0); /* unaligned */
    kpV128 r = view(out);
    CHECK(r.u8[0] == 4 && r.u8[15] == 19);
    mem[0] = 0xFF;
    kpSimd_access(kpOp_V128_LOAD8X8_S, out.w, mem, base.w, 0);
    r = view(out);
    CHECK(r.i16[0] == -1 && r.i16[1] == 2 && r.i16[7] == 8);
    kpSimd_access(kpOp_V128_LOAD16_SPLAT, out.w, mem + 1, base.w, 0);
    r = view(out);
    CHECK(r.u16[0] == 0x0302 && r.u16[7] == 0x0302);
    kpSimd_access(kpOp_V128_LOAD32_ZERO, out.w, mem + 4, base.w, 0);
    r = view(out);
    CHECK(r.u32[0] == 0x08070605u && r.u32[1] == 0 && r.u64[1] == 0);
    slots v = vec_u8((const uint8_t[16]){ 0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8 });
    kpSimd_access(kpOp_V128_LOAD16_LANE, out.w, mem + 10, v.w, 3);
    r = view(out);
    CHECK(r.u16[3] == 0x0C0B && r.u8[0] == 0xA0 && r.u8[8] == 0xA8);
    kpSimd_access(kpOp_V128_STORE32_LANE, NULL, mem + 20, v.w, 1);
    CHECK(mem[19] == 20 && mem[20] == 0xA4 && mem[23] == 0xA7 && mem[24] == 25);
    kpSimd_access(kpOp_V128_STORE, NULL, mem + 1, v.w, 0);
    CHECK(mem[0] == 0xFF && mem[1] == 0xA0 && mem[9] == 0xA8 && mem[16] == 0 && mem[17] == 18);
}

int main(void) {
    test_float_minmax();
    test_rounding();
    test_saturation();
    test_swizzle_shuffle_shift();
    test_conversions();
    test_widening();
    test_reductions_lanes();
    test_memory();
    return kpt_finish();
}
