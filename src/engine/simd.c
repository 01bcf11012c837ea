/*
 * simd.c -- the WebAssembly 2.0 SIMD instructions, lane by lane in portable C (see simd.h).
 *
 * Every instruction is a plain loop over the lanes of a kpV128 union; GCC and Clang vectorize most
 * of them on their own, and nothing here depends on the host's vector unit, so results are the
 * same on every host. The arithmetic is done in unsigned types wherever it may wrap (no signed
 * overflow), shift counts are reduced modulo the lane width before shifting, and float lanes follow
 * the same NaN rules as the scalar instructions in interp.c.
 *
 * The work is split by family (integer, float, conversion, lane/bitwise) into functions returning
 * true when they handled the op, so each stays readable; kpSimd_exec tries them in turn.
 */
#include <math.h>
#include <string.h>

#include "engine/fnum.h"
#include "engine/simd.h"
#include "module/opcodes.h"

/* Apply expr to every lane i of shape `f` (a kpV128 field) with n lanes, into r. */
#define MAP(n, f, expr)                                 \
    do {                                                \
        for (int i = 0; i < (n); i++) r->f[i] = (expr); \
    } while (0)
/* Lane-wise comparison: all ones where x op y holds. */
#define CMP(n, out, in, op) MAP(n, out, (uint64_t)0 - (uint64_t)(x->in[i] op y->in[i]))

/* ---- Saturation helpers ---- */

static inline int8_t sat_i8(int32_t v) { return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v); }
static inline uint8_t sat_u8(int32_t v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }
static inline int16_t sat_i16(int32_t v) { return (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v); }
static inline uint16_t sat_u16(int32_t v) { return (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v); }

/* Float to integer, saturating (NaN -> 0), as i32x4.trunc_sat_* define it. */
static inline int32_t trunc_sat_s32(double x) {
    if (x != x) return 0;
    if (x <= -2147483648.0) return INT32_MIN;
    if (x >= 2147483647.0) return INT32_MAX;
    return (int32_t)x;
}
static inline uint32_t trunc_sat_u32(double x) {
    if (x != x || x <= 0) return 0;
    if (x >= 4294967295.0) return UINT32_MAX;
    return (uint32_t)x;
}

/* ---- Integer comparisons ---- */

static int int_compare(uint32_t op, kpV128 *r, const kpV128 *x, const kpV128 *y) {
    switch (op) {
    case kpOp_I8X16_EQ: CMP(16, u8, u8, ==); break;
    case kpOp_I8X16_NE: CMP(16, u8, u8, !=); break;
    case kpOp_I8X16_LT_S: CMP(16, u8, i8, <); break;
    case kpOp_I8X16_LT_U: CMP(16, u8, u8, <); break;
    case kpOp_I8X16_GT_S: CMP(16, u8, i8, >); break;
    case kpOp_I8X16_GT_U: CMP(16, u8, u8, >); break;
    case kpOp_I8X16_LE_S: CMP(16, u8, i8, <=); break;
    case kpOp_I8X16_LE_U: CMP(16, u8, u8, <=); break;
    case kpOp_I8X16_GE_S: CMP(16, u8, i8, >=); break;
    case kpOp_I8X16_GE_U: CMP(16, u8, u8, >=); break;
    case kpOp_I16X8_EQ: CMP(8, u16, u16, ==); break;
    case kpOp_I16X8_NE: CMP(8, u16, u16, !=); break;
    case kpOp_I16X8_LT_S: CMP(8, u16, i16, <); break;
    case kpOp_I16X8_LT_U: CMP(8, u16, u16, <); break;
    case kpOp_I16X8_GT_S: CMP(8, u16, i16, >); break;
    case kpOp_I16X8_GT_U: CMP(8, u16, u16, >); break;
    case kpOp_I16X8_LE_S: CMP(8, u16, i16, <=); break;
    case kpOp_I16X8_LE_U: CMP(8, u16, u16, <=); break;
    case kpOp_I16X8_GE_S: CMP(8, u16, i16, >=); break;
    case kpOp_I16X8_GE_U: CMP(8, u16, u16, >=); break;
    case kpOp_I32X4_EQ: CMP(4, u32, u32, ==); break;
    case kpOp_I32X4_NE: CMP(4, u32, u32, !=); break;
    case kpOp_I32X4_LT_S: CMP(4, u32, i32, <); break;
    case kpOp_I32X4_LT_U: CMP(4, u32, u32, <); break;
    case kpOp_I32X4_GT_S: CMP(4, u32, i32, >); break;
    case kpOp_I32X4_GT_U: CMP(4, u32, u32, >); break;
    case kpOp_I32X4_LE_S: CMP(4, u32, i32, <=); break;
    case kpOp_I32X4_LE_U: CMP(4, u32, u32, <=); break;
    case kpOp_I32X4_GE_S: CMP(4, u32, i32, >=); break;
    case kpOp_I32X4_GE_U: CMP(4, u32, u32, >=); break;
    case kpOp_I64X2_EQ: CMP(2, u64, u64, ==); break;
    case kpOp_I64X2_NE: CMP(2, u64, u64, !=); break;
    case kpOp_I64X2_LT_S: CMP(2, u64, i64, <); break;
    case kpOp_I64X2_GT_S: CMP(2, u64, i64, >); break;
    case kpOp_I64X2_LE_S: CMP(2, u64, i64, <=); break;
    case kpOp_I64X2_GE_S: CMP(2, u64, i64, >=); break;
    case kpOp_F32X4_EQ: CMP(4, u32, f32, ==); break;
    case kpOp_F32X4_NE: CMP(4, u32, f32, !=); break;
    case kpOp_F32X4_LT: CMP(4, u32, f32, <); break;
    case kpOp_F32X4_GT: CMP(4, u32, f32, >); break;
    case kpOp_F32X4_LE: CMP(4, u32, f32, <=); break;
    case kpOp_F32X4_GE: CMP(4, u32, f32, >=); break;
    case kpOp_F64X2_EQ: CMP(2, u64, f64, ==); break;
    case kpOp_F64X2_NE: CMP(2, u64, f64, !=); break;
    case kpOp_F64X2_LT: CMP(2, u64, f64, <); break;
    case kpOp_F64X2_GT: CMP(2, u64, f64, >); break;
    case kpOp_F64X2_LE: CMP(2, u64, f64, <=); break;
    case kpOp_F64X2_GE: CMP(2, u64, f64, >=); break;
    default: return 0;
    }
    return 1;
}

/* ---- Integer arithmetic on two vectors ---- */

static int int_binary(uint32_t op, kpV128 *r, const kpV128 *x, const kpV128 *y) {
    switch (op) {
    case kpOp_I8X16_ADD: MAP(16, u8, (uint8_t)(x->u8[i] + y->u8[i])); break;
    case kpOp_I8X16_SUB: MAP(16, u8, (uint8_t)(x->u8[i] - y->u8[i])); break;
    case kpOp_I8X16_ADD_SAT_S: MAP(16, i8, sat_i8(x->i8[i] + y->i8[i])); break;
    case kpOp_I8X16_ADD_SAT_U: MAP(16, u8, sat_u8(x->u8[i] + y->u8[i])); break;
    case kpOp_I8X16_SUB_SAT_S: MAP(16, i8, sat_i8(x->i8[i] - y->i8[i])); break;
    case kpOp_I8X16_SUB_SAT_U: MAP(16, u8, sat_u8(x->u8[i] - y->u8[i])); break;
    case kpOp_I8X16_MIN_S: MAP(16, i8, x->i8[i] < y->i8[i] ? x->i8[i] : y->i8[i]); break;
    case kpOp_I8X16_MIN_U: MAP(16, u8, x->u8[i] < y->u8[i] ? x->u8[i] : y->u8[i]); break;
    case kpOp_I8X16_MAX_S: MAP(16, i8, x->i8[i] > y->i8[i] ? x->i8[i] : y->i8[i]); break;
    case kpOp_I8X16_MAX_U: MAP(16, u8, x->u8[i] > y->u8[i] ? x->u8[i] : y->u8[i]); break;
    case kpOp_I8X16_AVGR_U: MAP(16, u8, (uint8_t)((x->u8[i] + y->u8[i] + 1u) >> 1)); break;
    case kpOp_I16X8_ADD: MAP(8, u16, (uint16_t)(x->u16[i] + y->u16[i])); break;
    case kpOp_I16X8_SUB: MAP(8, u16, (uint16_t)(x->u16[i] - y->u16[i])); break;
    case kpOp_I16X8_MUL: MAP(8, u16, (uint16_t)((uint32_t)x->u16[i] * y->u16[i])); break;
    case kpOp_I16X8_ADD_SAT_S: MAP(8, i16, sat_i16(x->i16[i] + y->i16[i])); break;
    case kpOp_I16X8_ADD_SAT_U: MAP(8, u16, sat_u16(x->u16[i] + y->u16[i])); break;
    case kpOp_I16X8_SUB_SAT_S: MAP(8, i16, sat_i16(x->i16[i] - y->i16[i])); break;
    case kpOp_I16X8_SUB_SAT_U: MAP(8, u16, sat_u16(x->u16[i] - y->u16[i])); break;
    case kpOp_I16X8_MIN_S: MAP(8, i16, x->i16[i] < y->i16[i] ? x->i16[i] : y->i16[i]); break;
    case kpOp_I16X8_MIN_U: MAP(8, u16, x->u16[i] < y->u16[i] ? x->u16[i] : y->u16[i]); break;
    case kpOp_I16X8_MAX_S: MAP(8, i16, x->i16[i] > y->i16[i] ? x->i16[i] : y->i16[i]); break;
    case kpOp_I16X8_MAX_U: MAP(8, u16, x->u16[i] > y->u16[i] ? x->u16[i] : y->u16[i]); break;
    case kpOp_I16X8_AVGR_U: MAP(8, u16, (uint16_t)((x->u16[i] + y->u16[i] + 1u) >> 1)); break;
    /* (a * b + 2^14) >> 15; only -32768 * -32768 leaves the i16 range. */
    case kpOp_I16X8_Q15MULR_SAT_S:
        MAP(8, i16, sat_i16((int32_t)((x->i16[i] * y->i16[i] + 0x4000) >> 15)));
        break;
    case kpOp_I32X4_ADD: MAP(4, u32, x->u32[i] + y->u32[i]); break;
    case kpOp_I32X4_SUB: MAP(4, u32, x->u32[i] - y->u32[i]); break;
    case kpOp_I32X4_MUL: MAP(4, u32, x->u32[i] * y->u32[i]); break;
    case kpOp_I32X4_MIN_S: MAP(4, i32, x->i32[i] < y->i32[i] ? x->i32[i] : y->i32[i]); break;
    case kpOp_I32X4_MIN_U: MAP(4, u32, x->u32[i] < y->u32[i] ? x->u32[i] : y->u32[i]); break;
    case kpOp_I32X4_MAX_S: MAP(4, i32, x->i32[i] > y->i32[i] ? x->i32[i] : y->i32[i]); break;
    case kpOp_I32X4_MAX_U: MAP(4, u32, x->u32[i] > y->u32[i] ? x->u32[i] : y->u32[i]); break;
    /* Products of two i16 sum to at most 2^31, which wraps to INT32_MIN: done in 64 bits. */
    case kpOp_I32X4_DOT_I16X8_S:
        MAP(4, u32,
            (uint32_t)((int64_t)x->i16[2 * i] * y->i16[2 * i] +
                       (int64_t)x->i16[2 * i + 1] * y->i16[2 * i + 1]));
        break;
    case kpOp_I64X2_ADD: MAP(2, u64, x->u64[i] + y->u64[i]); break;
    case kpOp_I64X2_SUB: MAP(2, u64, x->u64[i] - y->u64[i]); break;
    case kpOp_I64X2_MUL: MAP(2, u64, x->u64[i] * y->u64[i]); break;
    /* Extending multiplies: lanes of the low (first) or high half, widened, then multiplied. */
    case kpOp_I16X8_EXTMUL_LOW_I8X16_S: MAP(8, i16, (int16_t)(x->i8[i] * y->i8[i])); break;
    case kpOp_I16X8_EXTMUL_HIGH_I8X16_S: MAP(8, i16, (int16_t)(x->i8[i + 8] * y->i8[i + 8])); break;
    case kpOp_I16X8_EXTMUL_LOW_I8X16_U: MAP(8, u16, (uint16_t)(x->u8[i] * y->u8[i])); break;
    case kpOp_I16X8_EXTMUL_HIGH_I8X16_U: MAP(8, u16, (uint16_t)(x->u8[i + 8] * y->u8[i + 8])); break;
    case kpOp_I32X4_EXTMUL_LOW_I16X8_S: MAP(4, i32, (int32_t)x->i16[i] * y->i16[i]); break;
    case kpOp_I32X4_EXTMUL_HIGH_I16X8_S: MAP(4, i32, (int32_t)x->i16[i + 4] * y->i16[i + 4]); break;
    case kpOp_I32X4_EXTMUL_LOW_I16X8_U: MAP(4, u32, (uint32_t)x->u16[i] * y->u16[i]); break;
    case kpOp_I32X4_EXTMUL_HIGH_I16X8_U: MAP(4, u32, (uint32_t)x->u16[i + 4] * y->u16[i + 4]); break;
    case kpOp_I64X2_EXTMUL_LOW_I32X4_S: MAP(2, i64, (int64_t)x->i32[i] * y->i32[i]); break;
    case kpOp_I64X2_EXTMUL_HIGH_I32X4_S: MAP(2, i64, (int64_t)x->i32[i + 2] * y->i32[i + 2]); break;
    case kpOp_I64X2_EXTMUL_LOW_I32X4_U: MAP(2, u64, (uint64_t)x->u32[i] * y->u32[i]); break;
    case kpOp_I64X2_EXTMUL_HIGH_I32X4_U: MAP(2, u64, (uint64_t)x->u32[i + 2] * y->u32[i + 2]); break;
    /* Narrowing: the lanes of x then those of y, each saturated to the narrower lane. */
    case kpOp_I8X16_NARROW_I16X8_S: MAP(16, i8, sat_i8(i < 8 ? x->i16[i] : y->i16[i - 8])); break;
    case kpOp_I8X16_NARROW_I16X8_U: MAP(16, u8, sat_u8(i < 8 ? x->i16[i] : y->i16[i - 8])); break;
    case kpOp_I16X8_NARROW_I32X4_S: MAP(8, i16, sat_i16(i < 4 ? x->i32[i] : y->i32[i - 4])); break;
    case kpOp_I16X8_NARROW_I32X4_U: MAP(8, u16, sat_u16(i < 4 ? x->i32[i] : y->i32[i - 4])); break;
    case kpOp_I8X16_SWIZZLE: MAP(16, u8, y->u8[i] < 16 ? x->u8[y->u8[i]] : 0); break;
    default: return 0;
    }
    return 1;
}

/* ---- Integer operations on one vector (and a scalar shift count) ---- */

static int int_unary(uint32_t op, kpV128 *r, const kpV128 *x, uint64_t s) {
    uint32_t k = (uint32_t)s;
    switch (op) {
    case kpOp_I8X16_ABS: MAP(16, u8, x->i8[i] < 0 ? (uint8_t)(0u - x->u8[i]) : x->u8[i]); break;
    case kpOp_I8X16_NEG: MAP(16, u8, (uint8_t)(0u - x->u8[i])); break;
    case kpOp_I8X16_POPCNT: MAP(16, u8, (uint8_t)__builtin_popcount(x->u8[i])); break;
    case kpOp_I16X8_ABS: MAP(8, u16, x->i16[i] < 0 ? (uint16_t)(0u - x->u16[i]) : x->u16[i]); break;
    case kpOp_I16X8_NEG: MAP(8, u16, (uint16_t)(0u - x->u16[i])); break;
    case kpOp_I32X4_ABS: MAP(4, u32, x->i32[i] < 0 ? 0u - x->u32[i] : x->u32[i]); break;
    case kpOp_I32X4_NEG: MAP(4, u32, 0u - x->u32[i]); break;
    case kpOp_I64X2_ABS: MAP(2, u64, x->i64[i] < 0 ? 0u - x->u64[i] : x->u64[i]); break;
    case kpOp_I64X2_NEG: MAP(2, u64, 0u - x->u64[i]); break;
    /* Shifts take the count modulo the lane width; shr_s relies on >> of a negative value being
     * arithmetic, which GCC and Clang guarantee (as the scalar shr_s in interp.c does). */
    case kpOp_I8X16_SHL: MAP(16, u8, (uint8_t)(x->u8[i] << (k & 7))); break;
    case kpOp_I8X16_SHR_S: MAP(16, i8, (int8_t)(x->i8[i] >> (k & 7))); break;
    case kpOp_I8X16_SHR_U: MAP(16, u8, (uint8_t)(x->u8[i] >> (k & 7))); break;
    case kpOp_I16X8_SHL: MAP(8, u16, (uint16_t)(x->u16[i] << (k & 15))); break;
    case kpOp_I16X8_SHR_S: MAP(8, i16, (int16_t)(x->i16[i] >> (k & 15))); break;
    case kpOp_I16X8_SHR_U: MAP(8, u16, (uint16_t)(x->u16[i] >> (k & 15))); break;
    case kpOp_I32X4_SHL: MAP(4, u32, x->u32[i] << (k & 31)); break;
    case kpOp_I32X4_SHR_S: MAP(4, i32, x->i32[i] >> (k & 31)); break;
    case kpOp_I32X4_SHR_U: MAP(4, u32, x->u32[i] >> (k & 31)); break;
    case kpOp_I64X2_SHL: MAP(2, u64, x->u64[i] << (k & 63)); break;
    case kpOp_I64X2_SHR_S: MAP(2, i64, x->i64[i] >> (k & 63)); break;
    case kpOp_I64X2_SHR_U: MAP(2, u64, x->u64[i] >> (k & 63)); break;
    /* Widening: the low (first) or high half of the lanes, sign- or zero-extended. */
    case kpOp_I16X8_EXTEND_LOW_I8X16_S: MAP(8, i16, x->i8[i]); break;
    case kpOp_I16X8_EXTEND_HIGH_I8X16_S: MAP(8, i16, x->i8[i + 8]); break;
    case kpOp_I16X8_EXTEND_LOW_I8X16_U: MAP(8, u16, x->u8[i]); break;
    case kpOp_I16X8_EXTEND_HIGH_I8X16_U: MAP(8, u16, x->u8[i + 8]); break;
    case kpOp_I32X4_EXTEND_LOW_I16X8_S: MAP(4, i32, x->i16[i]); break;
    case kpOp_I32X4_EXTEND_HIGH_I16X8_S: MAP(4, i32, x->i16[i + 4]); break;
    case kpOp_I32X4_EXTEND_LOW_I16X8_U: MAP(4, u32, x->u16[i]); break;
    case kpOp_I32X4_EXTEND_HIGH_I16X8_U: MAP(4, u32, x->u16[i + 4]); break;
    case kpOp_I64X2_EXTEND_LOW_I32X4_S: MAP(2, i64, x->i32[i]); break;
    case kpOp_I64X2_EXTEND_HIGH_I32X4_S: MAP(2, i64, x->i32[i + 2]); break;
    case kpOp_I64X2_EXTEND_LOW_I32X4_U: MAP(2, u64, x->u32[i]); break;
    case kpOp_I64X2_EXTEND_HIGH_I32X4_U: MAP(2, u64, x->u32[i + 2]); break;
    /* Pairwise sums of adjacent lanes, widened. */
    case kpOp_I16X8_EXTADD_PAIRWISE_I8X16_S: MAP(8, i16, (int16_t)(x->i8[2 * i] + x->i8[2 * i + 1])); break;
    case kpOp_I16X8_EXTADD_PAIRWISE_I8X16_U: MAP(8, u16, (uint16_t)(x->u8[2 * i] + x->u8[2 * i + 1])); break;
    case kpOp_I32X4_EXTADD_PAIRWISE_I16X8_S: MAP(4, i32, x->i16[2 * i] + x->i16[2 * i + 1]); break;
    case kpOp_I32X4_EXTADD_PAIRWISE_I16X8_U: MAP(4, u32, (uint32_t)x->u16[2 * i] + x->u16[2 * i + 1]); break;
    default: return 0;
    }
    return 1;
}

/* ---- Float arithmetic ---- */

#ifdef KP_TESTING
bool kpSimd_nanAsV8;

/* Under kpSimd_nanAsV8 (see simd.h), the NaN lanes of an f32x4/f64x2 min or max result take the
 * bits V8's x64 sequence gives. V8 runs minps in both operand orders and ORs the results, then
 * turns every unordered lane into the negative canonical NaN; for max it ORs, subtracts the XOR of
 * the two orders and keeps sign, exponent and quiet bit: the canonical NaN with the sign of a | b. */
static void nan_lanes_as_v8(uint32_t op, kpV128 *r, const kpV128 *x, const kpV128 *y) {
    bool max = op == kpOp_F32X4_MAX || op == kpOp_F64X2_MAX;
    if (op == kpOp_F32X4_MIN || op == kpOp_F32X4_MAX) {
        for (int i = 0; i < 4; i++)
            if (x->f32[i] != x->f32[i] || y->f32[i] != y->f32[i])
                r->u32[i] = max ? ((x->u32[i] | y->u32[i]) & 0x80000000u) | 0x7FC00000u : 0xFFC00000u;
    } else {
        for (int i = 0; i < 2; i++)
            if (x->f64[i] != x->f64[i] || y->f64[i] != y->f64[i])
                r->u64[i] = max ? ((x->u64[i] | y->u64[i]) & 0x8000000000000000ull) | 0x7FF8000000000000ull
                                : 0xFFF8000000000000ull;
    }
}
#endif

static int float_ops(uint32_t op, kpV128 *r, const kpV128 *x, const kpV128 *y) {
    switch (op) {
    case kpOp_F32X4_ADD: MAP(4, f32, x->f32[i] + y->f32[i]); break;
    case kpOp_F32X4_SUB: MAP(4, f32, x->f32[i] - y->f32[i]); break;
    case kpOp_F32X4_MUL: MAP(4, f32, x->f32[i] * y->f32[i]); break;
    case kpOp_F32X4_DIV: MAP(4, f32, x->f32[i] / y->f32[i]); break;
    case kpOp_F32X4_MIN: MAP(4, f32, kp_fminf(x->f32[i], y->f32[i])); break;
    case kpOp_F32X4_MAX: MAP(4, f32, kp_fmaxf(x->f32[i], y->f32[i])); break;
    /* pmin/pmax are defined as b < a ? b : a and a < b ? b : a: they return an operand's bits
     * unchanged (NaN included), so they copy integer lanes. */
    case kpOp_F32X4_PMIN: MAP(4, u32, y->f32[i] < x->f32[i] ? y->u32[i] : x->u32[i]); break;
    case kpOp_F32X4_PMAX: MAP(4, u32, x->f32[i] < y->f32[i] ? y->u32[i] : x->u32[i]); break;
    case kpOp_F32X4_ABS: MAP(4, u32, x->u32[i] & 0x7FFFFFFFu); break;
    case kpOp_F32X4_NEG: MAP(4, u32, x->u32[i] ^ 0x80000000u); break;
    case kpOp_F32X4_SQRT: MAP(4, f32, sqrtf(x->f32[i])); break;
    case kpOp_F32X4_CEIL: MAP(4, f32, kp_roundf(x->f32[i], 0)); break;
    case kpOp_F32X4_FLOOR: MAP(4, f32, kp_roundf(x->f32[i], 1)); break;
    case kpOp_F32X4_TRUNC: MAP(4, f32, kp_roundf(x->f32[i], 2)); break;
    case kpOp_F32X4_NEAREST: MAP(4, f32, kp_roundf(x->f32[i], 3)); break;
    case kpOp_F64X2_ADD: MAP(2, f64, x->f64[i] + y->f64[i]); break;
    case kpOp_F64X2_SUB: MAP(2, f64, x->f64[i] - y->f64[i]); break;
    case kpOp_F64X2_MUL: MAP(2, f64, x->f64[i] * y->f64[i]); break;
    case kpOp_F64X2_DIV: MAP(2, f64, x->f64[i] / y->f64[i]); break;
    case kpOp_F64X2_MIN: MAP(2, f64, kp_fmin(x->f64[i], y->f64[i])); break;
    case kpOp_F64X2_MAX: MAP(2, f64, kp_fmax(x->f64[i], y->f64[i])); break;
    case kpOp_F64X2_PMIN: MAP(2, u64, y->f64[i] < x->f64[i] ? y->u64[i] : x->u64[i]); break;
    case kpOp_F64X2_PMAX: MAP(2, u64, x->f64[i] < y->f64[i] ? y->u64[i] : x->u64[i]); break;
    case kpOp_F64X2_ABS: MAP(2, u64, x->u64[i] & 0x7FFFFFFFFFFFFFFFull); break;
    case kpOp_F64X2_NEG: MAP(2, u64, x->u64[i] ^ 0x8000000000000000ull); break;
    case kpOp_F64X2_SQRT: MAP(2, f64, sqrt(x->f64[i])); break;
    case kpOp_F64X2_CEIL: MAP(2, f64, kp_round(x->f64[i], 0)); break;
    case kpOp_F64X2_FLOOR: MAP(2, f64, kp_round(x->f64[i], 1)); break;
    case kpOp_F64X2_TRUNC: MAP(2, f64, kp_round(x->f64[i], 2)); break;
    case kpOp_F64X2_NEAREST: MAP(2, f64, kp_round(x->f64[i], 3)); break;
    default: return 0;
    }
#ifdef KP_TESTING
    if (kpSimd_nanAsV8 &&
        (op == kpOp_F32X4_MIN || op == kpOp_F32X4_MAX || op == kpOp_F64X2_MIN || op == kpOp_F64X2_MAX))
        nan_lanes_as_v8(op, r, x, y);
#endif
    return 1;
}

/* ---- Conversions between lane shapes ---- */

static int conversions(uint32_t op, kpV128 *r, const kpV128 *x) {
    switch (op) {
    case kpOp_F32X4_CONVERT_I32X4_S: MAP(4, f32, (float)x->i32[i]); break;
    case kpOp_F32X4_CONVERT_I32X4_U: MAP(4, f32, (float)x->u32[i]); break;
    case kpOp_I32X4_TRUNC_SAT_F32X4_S: MAP(4, i32, trunc_sat_s32(x->f32[i])); break;
    case kpOp_I32X4_TRUNC_SAT_F32X4_U: MAP(4, u32, trunc_sat_u32(x->f32[i])); break;
    /* The _zero forms fill the upper two lanes with zeros. */
    case kpOp_I32X4_TRUNC_SAT_F64X2_S_ZERO: MAP(4, i32, i < 2 ? trunc_sat_s32(x->f64[i]) : 0); break;
    case kpOp_I32X4_TRUNC_SAT_F64X2_U_ZERO: MAP(4, u32, i < 2 ? trunc_sat_u32(x->f64[i]) : 0); break;
    case kpOp_F32X4_DEMOTE_F64X2_ZERO: MAP(4, f32, i < 2 ? (float)x->f64[i] : 0.0f); break;
    case kpOp_F64X2_PROMOTE_LOW_F32X4: MAP(2, f64, (double)x->f32[i]); break;
    case kpOp_F64X2_CONVERT_LOW_I32X4_S: MAP(2, f64, (double)x->i32[i]); break;
    case kpOp_F64X2_CONVERT_LOW_I32X4_U: MAP(2, f64, (double)x->u32[i]); break;
    default: return 0;
    }
    return 1;
}

/* ---- Splats, lanes, bitwise ops and reductions to a scalar ----
 * Results that are scalars are written to *out (one slot) and reported with a return of 2. */

static int lanes_bitwise(uint32_t op, kpV128 *r, const kpV128 *x, const kpV128 *y, const kpV128 *z,
                         uint64_t s, uint32_t lane, uint64_t *out) {
    uint64_t acc = 0;
    switch (op) {
    case kpOp_I8X16_SPLAT: MAP(16, u8, (uint8_t)s); break;
    case kpOp_I16X8_SPLAT: MAP(8, u16, (uint16_t)s); break;
    case kpOp_I32X4_SPLAT:
    case kpOp_F32X4_SPLAT: MAP(4, u32, (uint32_t)s); break;
    case kpOp_I64X2_SPLAT:
    case kpOp_F64X2_SPLAT: MAP(2, u64, s); break;
    case kpOp_I8X16_EXTRACT_LANE_S: *out = (uint32_t)(int32_t)x->i8[lane & 15]; return 2;
    case kpOp_I8X16_EXTRACT_LANE_U: *out = x->u8[lane & 15]; return 2;
    case kpOp_I16X8_EXTRACT_LANE_S: *out = (uint32_t)(int32_t)x->i16[lane & 7]; return 2;
    case kpOp_I16X8_EXTRACT_LANE_U: *out = x->u16[lane & 7]; return 2;
    case kpOp_I32X4_EXTRACT_LANE:
    case kpOp_F32X4_EXTRACT_LANE: *out = x->u32[lane & 3]; return 2;
    case kpOp_I64X2_EXTRACT_LANE:
    case kpOp_F64X2_EXTRACT_LANE: *out = x->u64[lane & 1]; return 2;
    case kpOp_I8X16_REPLACE_LANE:
        *r = *x;
        r->u8[lane & 15] = (uint8_t)s;
        break;
    case kpOp_I16X8_REPLACE_LANE:
        *r = *x;
        r->u16[lane & 7] = (uint16_t)s;
        break;
    case kpOp_I32X4_REPLACE_LANE:
    case kpOp_F32X4_REPLACE_LANE:
        *r = *x;
        r->u32[lane & 3] = (uint32_t)s;
        break;
    case kpOp_I64X2_REPLACE_LANE:
    case kpOp_F64X2_REPLACE_LANE:
        *r = *x;
        r->u64[lane & 1] = s;
        break;
    case kpOp_V128_NOT: MAP(2, u64, ~x->u64[i]); break;
    case kpOp_V128_AND: MAP(2, u64, x->u64[i] & y->u64[i]); break;
    case kpOp_V128_ANDNOT: MAP(2, u64, x->u64[i] & ~y->u64[i]); break;
    case kpOp_V128_OR: MAP(2, u64, x->u64[i] | y->u64[i]); break;
    case kpOp_V128_XOR: MAP(2, u64, x->u64[i] ^ y->u64[i]); break;
    case kpOp_V128_BITSELECT: MAP(2, u64, (x->u64[i] & z->u64[i]) | (y->u64[i] & ~z->u64[i])); break;
    case kpOp_V128_ANY_TRUE: *out = (x->u64[0] | x->u64[1]) != 0; return 2;
    case kpOp_I8X16_ALL_TRUE:
        acc = 1;
        for (int i = 0; i < 16; i++) acc &= x->u8[i] != 0;
        *out = acc;
        return 2;
    case kpOp_I16X8_ALL_TRUE:
        acc = 1;
        for (int i = 0; i < 8; i++) acc &= x->u16[i] != 0;
        *out = acc;
        return 2;
    case kpOp_I32X4_ALL_TRUE:
        acc = 1;
        for (int i = 0; i < 4; i++) acc &= x->u32[i] != 0;
        *out = acc;
        return 2;
    case kpOp_I64X2_ALL_TRUE: *out = x->u64[0] != 0 && x->u64[1] != 0; return 2;
    /* bitmask: bit i of the result is the top bit of lane i. */
    case kpOp_I8X16_BITMASK:
        for (int i = 0; i < 16; i++) acc |= (uint64_t)(x->u8[i] >> 7) << i;
        *out = acc;
        return 2;
    case kpOp_I16X8_BITMASK:
        for (int i = 0; i < 8; i++) acc |= (uint64_t)(x->u16[i] >> 15) << i;
        *out = acc;
        return 2;
    case kpOp_I32X4_BITMASK:
        for (int i = 0; i < 4; i++) acc |= (uint64_t)(x->u32[i] >> 31) << i;
        *out = acc;
        return 2;
    case kpOp_I64X2_BITMASK:
        for (int i = 0; i < 2; i++) acc |= (x->u64[i] >> 63) << i;
        *out = acc;
        return 2;
    default: return 0;
    }
    return 1;
}

void kpSimd_exec(uint32_t op, uint64_t *dst, const uint64_t *a, const uint64_t *b, const uint64_t *c,
                 uint32_t lane) {
    kpV128 x, y, z, r;
    uint64_t s = 0, out = 0;
    const char *sig = kpOp_info[op].sig;
    /* Operands by the signature ("V:V", "VV:V", "VVV:V", "Vi:V", "i:V", "V:i", ...): v128 ones
     * are copied out of their slots, the scalar one (the last, or the only one) is read as a
     * slot. Each family function reads only the operands its op has. */
    if (sig[0] == 'V') memcpy(&x, a, 16);
    else if (sig[0] != ':') s = *a;
    if (sig[0] != ':' && sig[1] == 'V') {
        memcpy(&y, b, 16);
        if (sig[2] == 'V') memcpy(&z, c, 16);
    } else if (sig[0] != ':' && sig[1] != ':') {
        s = *b;
    }
    /* Lane access, splats and bitwise ops first: they are the common ones in vectorized loops. */
    int k = lanes_bitwise(op, &r, &x, &y, &z, s, lane, &out);
    if (k == 2) {
        *dst = out;
        return;
    }
    if (k == 0 && !int_compare(op, &r, &x, &y) && !int_binary(op, &r, &x, &y) && !int_unary(op, &r, &x, s) &&
        !float_ops(op, &r, &x, &y) && !conversions(op, &r, &x))
        memset(&r, 0, sizeof r); /* not a SIMD op: lowering never emits one */
    memcpy(dst, &r, 16);
}

void kpSimd_shuffle(uint64_t *dst, const uint64_t *a, const uint64_t *b, const uint8_t lanes[16]) {
    uint8_t both[32], out[16];
    memcpy(both, a, 16);
    memcpy(both + 16, b, 16);
    for (int i = 0; i < 16; i++) out[i] = both[lanes[i] & 31];
    memcpy(dst, out, 16);
}

uint32_t kpSimd_accessSize(uint32_t op) { return op < kpOp_COUNT ? 1u << kpOp_info[op].align : 16u; }

/* ---- Memory ---- */

void kpSimd_load(uint32_t op, uint64_t *dst, const uint8_t *p, const uint64_t *vec, uint32_t lane) {
    kpV128 r, m;
    memset(&r, 0, sizeof r);
    memset(&m, 0, sizeof m);
    switch (kpSimd_accessSize(op)) { /* constant sizes, so each memcpy is one move */
    case 1: memcpy(&m, p, 1); break;
    case 2: memcpy(&m, p, 2); break;
    case 4: memcpy(&m, p, 4); break;
    case 8: memcpy(&m, p, 8); break;
    default: memcpy(&m, p, 16); break;
    }
    switch (op) {
    case kpOp_V128_LOAD: r = m; break;
    case kpOp_V128_LOAD8X8_S:
        for (int i = 0; i < 8; i++) r.i16[i] = m.i8[i];
        break;
    case kpOp_V128_LOAD8X8_U:
        for (int i = 0; i < 8; i++) r.u16[i] = m.u8[i];
        break;
    case kpOp_V128_LOAD16X4_S:
        for (int i = 0; i < 4; i++) r.i32[i] = m.i16[i];
        break;
    case kpOp_V128_LOAD16X4_U:
        for (int i = 0; i < 4; i++) r.u32[i] = m.u16[i];
        break;
    case kpOp_V128_LOAD32X2_S:
        for (int i = 0; i < 2; i++) r.i64[i] = m.i32[i];
        break;
    case kpOp_V128_LOAD32X2_U:
        for (int i = 0; i < 2; i++) r.u64[i] = m.u32[i];
        break;
    case kpOp_V128_LOAD8_SPLAT:
        for (int i = 0; i < 16; i++) r.u8[i] = m.u8[0];
        break;
    case kpOp_V128_LOAD16_SPLAT:
        for (int i = 0; i < 8; i++) r.u16[i] = m.u16[0];
        break;
    case kpOp_V128_LOAD32_SPLAT:
        for (int i = 0; i < 4; i++) r.u32[i] = m.u32[0];
        break;
    case kpOp_V128_LOAD64_SPLAT:
        for (int i = 0; i < 2; i++) r.u64[i] = m.u64[0];
        break;
    case kpOp_V128_LOAD32_ZERO:
    case kpOp_V128_LOAD64_ZERO: r = m; break;
    case kpOp_V128_LOAD8_LANE:
        memcpy(&r, vec, 16);
        r.u8[lane & 15] = m.u8[0];
        break;
    case kpOp_V128_LOAD16_LANE:
        memcpy(&r, vec, 16);
        r.u16[lane & 7] = m.u16[0];
        break;
    case kpOp_V128_LOAD32_LANE:
        memcpy(&r, vec, 16);
        r.u32[lane & 3] = m.u32[0];
        break;
    case kpOp_V128_LOAD64_LANE:
        memcpy(&r, vec, 16);
        r.u64[lane & 1] = m.u64[0];
        break;
    default: break;
    }
    memcpy(dst, &r, 16);
}

void kpSimd_store(uint32_t op, uint8_t *p, const uint64_t *vec, uint32_t lane) {
    kpV128 v;
    memcpy(&v, vec, 16);
    switch (op) {
    case kpOp_V128_STORE: memcpy(p, &v, 16); break;
    case kpOp_V128_STORE8_LANE: memcpy(p, &v.u8[lane & 15], 1); break;
    case kpOp_V128_STORE16_LANE: memcpy(p, &v.u16[lane & 7], 2); break;
    case kpOp_V128_STORE32_LANE: memcpy(p, &v.u32[lane & 3], 4); break;
    case kpOp_V128_STORE64_LANE: memcpy(p, &v.u64[lane & 1], 8); break;
    default: break;
    }
}

void kpSimd_access(uint32_t op, uint64_t *dst, uint8_t *p, const uint64_t *vec, uint32_t lane) {
    if (op == kpOp_V128_STORE || (op >= kpOp_V128_STORE8_LANE && op <= kpOp_V128_STORE64_LANE))
        kpSimd_store(op, p, vec, lane);
    else kpSimd_load(op, dst, p, vec, lane);
}
