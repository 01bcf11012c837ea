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

#endif /* KP_SIMD_H */
