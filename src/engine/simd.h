/*
 * simd.h -- semantics of the WebAssembly 2.0 fixed-width SIMD instructions (v128), in portable C.
 *
 * A v128 lives in two consecutive 8-byte frame slots (lane 0 in the lowest bytes, as in linear
 * memory; the host is little-endian like the rest of the engine). The interpreter hands these
 * functions pointers to the slots; every function reads all of its inputs before it writes its
 * output, so the destination may be the same slots as an input.
 *
 * Scalar operands and results (splat inputs, shift counts, replace_lane values, extract_lane and
 * bitmask results) take one slot; i32/f32 results are stored zero-extended, as everywhere in the
 * engine.
 */
#ifndef KP_SIMD_H
#define KP_SIMD_H

#include <stdbool.h>
#include <stdint.h>

/* The value of a v128 viewed as each lane shape (type punning through a union is defined in C11). */
typedef union kpV128 {
    uint8_t u8[16];
    int8_t i8[16];
    uint16_t u16[8];
    int16_t i16[8];
    uint32_t u32[4];
    int32_t i32[4];
    uint64_t u64[2];
    int64_t i64[2];
    float f32[4];
    double f64[2];
} kpV128;

/* GCC/Clang vector types for the fast paths the interpreter inlines (KP_SIMD_FAST below). They
 * are always loaded and stored with memcpy: frame slots are only 8-byte aligned. */
typedef uint8_t kpU8x16 __attribute__((vector_size(16)));
typedef uint16_t kpU16x8 __attribute__((vector_size(16)));
typedef uint32_t kpU32x4 __attribute__((vector_size(16)));
typedef uint64_t kpU64x2 __attribute__((vector_size(16)));
typedef int8_t kpI8x16 __attribute__((vector_size(16)));
typedef int16_t kpI16x8 __attribute__((vector_size(16)));
typedef int32_t kpI32x4 __attribute__((vector_size(16)));
typedef int64_t kpI64x2 __attribute__((vector_size(16)));
typedef float kpF32x4 __attribute__((vector_size(16)));
typedef double kpF64x2 __attribute__((vector_size(16)));

/* The v128 instructions common in loops, written once as vector expressions. Each becomes its own
 * IR instruction "dst a b" that the interpreter runs inline; every other SIMD instruction goes
 * through kpSimd_exec. X(ID, T, kind, expr) with ID the kpOp name and T the vector type of the
 * operand(s) and the result; kind VV: x and y are the two v128 operands; kind VS: x is the v128
 * and k (uint32_t) the scalar second operand; kind VL: x is the v128, `lane` the lane immediate
 * (IR "dst a lane") and the result a scalar (i32/f32 zero-extended in its slot). Comparisons
 * yield a signed all-ones/zero mask of the same lane width, cast back to T. */
#define KP_SIMD_FAST(X)                                                                                            \
    X(I8X16_ADD, kpU8x16, VV, x + y)                                                                               \
    X(I8X16_SUB, kpU8x16, VV, x - y) X(I16X8_ADD, kpU16x8, VV, x + y) X(I16X8_SUB, kpU16x8, VV, x - y) X(          \
        I16X8_MUL, kpU16x8, VV, x *y) X(I32X4_ADD, kpU32x4, VV, x + y) X(I32X4_SUB, kpU32x4, VV, x - y)            \
        X(I32X4_MUL, kpU32x4, VV, x *y) X(I64X2_ADD, kpU64x2, VV, x + y) X(I64X2_SUB, kpU64x2, VV, x - y) X(       \
            I64X2_MUL, kpU64x2, VV, x *y) X(V128_AND, kpU64x2, VV, x &y) X(V128_OR, kpU64x2, VV, x | y)            \
            X(V128_XOR, kpU64x2, VV, x ^ y) X(V128_ANDNOT, kpU64x2, VV, x & ~y) X(                                 \
                F32X4_ADD, kpF32x4, VV,                                                                            \
                x + y) X(F32X4_SUB, kpF32x4, VV,                                                                   \
                         x - y) X(F32X4_MUL, kpF32x4, VV, x *y)                                                    \
                X(F32X4_DIV, kpF32x4, VV, x / y) X(F64X2_ADD, kpF64x2, VV, x + y) X(                               \
                    F64X2_SUB,                                                                                     \
                    kpF64x2, VV,                                                                                   \
                    x - y) X(F64X2_MUL, kpF64x2, VV, x *y)                                                         \
                    X(F64X2_DIV, kpF64x2, VV,                                                                      \
                      x / y) /* rounding average: (x | y) - ((x ^ y) >> 1) == (x + y + 1) >> 1 without widening */ \
        X(I8X16_AVGR_U, kpU8x16, VV, (x | y) - ((x ^ y) >> 1)) X(                                                  \
            I16X8_AVGR_U, kpU16x8, VV,                                                                             \
            (x | y) -                                                                                              \
                ((x ^ y) >>                                                                                        \
                 1)) /* unsigned saturation: a wrapped sum is below x; a difference saturates where x < y */       \
        X(I8X16_ADD_SAT_U, kpU8x16, VV, (x + y) | (kpU8x16)((x + y) < x)) X(                                       \
            I8X16_SUB_SAT_U, kpU8x16, VV, (x - y) & (kpU8x16)(x >= y)) X(I16X8_ADD_SAT_U, kpU16x8, VV,             \
                                                                         (x + y) | (kpU16x8)((x + y) < x))         \
            X(I16X8_SUB_SAT_U, kpU16x8, VV, (x - y) & (kpU16x8)(x >= y)) KP_SIMD_CMP(                              \
                X, I8X16, kpU8x16, kpI8x16) KP_SIMD_CMP(X, I16X8, kpU16x8, kpI16x8)                                \
                KP_SIMD_CMP(X, I32X4, kpU32x4, kpI32x4) KP_SIMD_FCMP(X, F32X4, kpF32x4) KP_SIMD_FCMP(              \
                    X, F64X2, kpF64x2) KP_SIMD_MINMAX(X, I8X16, kpU8x16, kpI8x16)                                  \
                    KP_SIMD_MINMAX(X, I16X8, kpU16x8, kpI16x8) KP_SIMD_MINMAX(X, I32X4, kpU32x4, kpI32x4)          \
                        KP_SIMD_SHIFT(X, I8X16, kpU8x16, kpI8x16, uint8_t, int8_t,                                 \
                                      7) KP_SIMD_SHIFT(X, I16X8, kpU16x8, kpI16x8, uint16_t, int16_t, 15)          \
                            KP_SIMD_SHIFT(X, I32X4, kpU32x4, kpI32x4, uint32_t, int32_t, 31)                       \
                                KP_SIMD_SHIFT(X, I64X2, kpU64x2, kpI64x2, uint64_t, int64_t, 63)                   \
                                    X(I8X16_EXTRACT_LANE_S, kpI8x16, VL, (uint32_t)(int32_t)x[lane & 15]) X(       \
                                        I8X16_EXTRACT_LANE_U, kpU8x16, VL, x[lane & 15])                           \
                                        X(I16X8_EXTRACT_LANE_S, kpI16x8, VL, (uint32_t)(int32_t)x[lane & 7])       \
                                            X(I16X8_EXTRACT_LANE_U, kpU16x8, VL, x[lane & 7])                      \
                                                X(I32X4_EXTRACT_LANE, kpU32x4, VL, x[lane & 3])                    \
                                                    X(F32X4_EXTRACT_LANE, kpU32x4, VL, x[lane & 3])                \
                                                        X(I64X2_EXTRACT_LANE, kpU64x2, VL, x[lane & 1])            \
                                                            X(F64X2_EXTRACT_LANE, kpU64x2, VL, x[lane & 1])

/* The ten integer comparisons of one shape; U/S are its unsigned and signed vector types. */
#define KP_SIMD_CMP(X, SH, U, S)                                                                         \
    X(SH##_EQ, U, VV, (U)(x == y))                                                                       \
    X(SH##_NE, U, VV, (U)(x != y)) X(SH##_LT_S, U, VV, (U)((S)x < (S)y)) X(SH##_LT_U, U, VV, (U)(x < y)) \
        X(SH##_GT_S, U, VV, (U)((S)x > (S)y)) X(SH##_GT_U, U, VV, (U)(x > y))                            \
            X(SH##_LE_S, U, VV, (U)((S)x <= (S)y)) X(SH##_LE_U, U, VV, (U)(x <= y))                      \
                X(SH##_GE_S, U, VV, (U)((S)x >= (S)y)) X(SH##_GE_U, U, VV, (U)(x >= y))
/* The six float comparisons (IEEE: every comparison with a NaN is false, except ne). */
#define KP_SIMD_FCMP(X, SH, F)                                                                 \
    X(SH##_EQ, F, VV, (F)(x == y))                                                             \
    X(SH##_NE, F, VV, (F)(x != y)) X(SH##_LT, F, VV, (F)(x < y)) X(SH##_GT, F, VV, (F)(x > y)) \
        X(SH##_LE, F, VV, (F)(x <= y)) X(SH##_GE, F, VV, (F)(x >= y))
/* Integer min/max: select through the comparison mask. */
#define KP_SIMD_MINMAX(X, SH, U, S)                                        \
    X(SH##_MIN_S, U, VV, (x & (U)((S)x < (S)y)) | (y & ~(U)((S)x < (S)y))) \
    X(SH##_MIN_U, U, VV, (x & (U)(x < y)) | (y & ~(U)(x < y)))             \
    X(SH##_MAX_S, U, VV, (x & (U)((S)x > (S)y)) | (y & ~(U)((S)x > (S)y))) \
    X(SH##_MAX_U, U, VV, (x & (U)(x > y)) | (y & ~(U)(x > y)))
/* The three shifts of one shape: u/s are the lane types (a vector op with a scalar operand takes
 * the scalar at the lane type), m the count mask (the count is taken modulo the lane width). */
#define KP_SIMD_SHIFT(X, SH, U, S, u, s, m) \
    X(SH##_SHL, U, VS, x << (u)(k & m))     \
    X(SH##_SHR_U, U, VS, x >> (u)(k & m)) X(SH##_SHR_S, U, VS, (U)((S)x >> (s)(k & m)))

/* Every SIMD instruction without a memory access, v128.const or i8x16.shuffle: `op` is the kpOp,
 * a/b/c the operand slots in order (unused ones may be NULL), `lane` the lane immediate. */
void kpSimd_exec(uint32_t op, uint64_t *dst, const uint64_t *a, const uint64_t *b, const uint64_t *c,
                 uint32_t lane);

/* i8x16.shuffle with its 16 lane indices (each < 32, checked by validation). */
void kpSimd_shuffle(uint64_t *dst, const uint64_t *a, const uint64_t *b, const uint8_t lanes[16]);

/* Bytes a SIMD memory instruction accesses (1, 2, 4, 8 or 16). */
uint32_t kpSimd_accessSize(uint32_t op);

/* Memory instructions, once the caller has checked that [p, p + kpSimd_accessSize(op)) is inside
 * the memory. Loads (including the load*_lane forms, which take the vector `vec`) write dst;
 * stores (v128.store and store*_lane) read `vec` and write p. Unaligned p is fine. */
void kpSimd_load(uint32_t op, uint64_t *dst, const uint8_t *p, const uint64_t *vec, uint32_t lane);
void kpSimd_store(uint32_t op, uint8_t *p, const uint64_t *vec, uint32_t lane);
/* Either of the two, by op. */
void kpSimd_access(uint32_t op, uint64_t *dst, uint8_t *p, const uint64_t *vec, uint32_t lane);

/* Testing hook for the differential test against V8 (tests/diff), never set by the runtime:
 * when true, a NaN lane of f32x4/f64x2 min and max gets the bits V8's x64 code sequence gives
 * (min: the negative canonical NaN; max: the canonical NaN with the sign bit of a | b) instead of
 * kapsul's (the input NaN). The spec allows both; the hook lets the test tell such a difference
 * from a bug. Not thread-safe by design: set it before loading anything. */
#ifdef KP_TESTING /* a test seam: absent from builds without KAPSUL_TESTING */
extern bool kpSimd_nanAsV8;
#endif

#endif /* KP_SIMD_H */
