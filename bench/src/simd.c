/* simd: three data-parallel kernels, built twice for wasm (scalar, and with
 * -msimd128 using <wasm_simd128.h> intrinsics) and natively (where the
 * compiler may auto-vectorize the scalar loops for SSE2):
 *   - an int16 dot product (i32x4.dot_i16x8_s),
 *   - a 5-tap f32 convolution (f32x4.mul/add on unaligned loads),
 *   - a u8 rounding-average-and-saturating-add blend (u8x16.avgr/add_sat).
 * Every lane computes exactly what the scalar loop computes, in the same
 * order, so all builds print the same checksum. */
#include "bench.h"
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define LEN 4096

static int16_t dx[LEN], dy[LEN];
static float sig_a[LEN + 8], sig_b[LEN + 8];
static uint8_t pa[LEN], pb[LEN], pc[LEN], pd[LEN];

static const float taps[5] = { 0.125f, 0.25f, 0.25f, 0.25f, 0.125f };

#ifdef __wasm_simd128__

static uint32_t dot_i16(void) {
    v128_t acc = wasm_i32x4_splat(0);
    for (int i = 0; i < LEN; i += 8) {
        v128_t a = wasm_v128_load(&dx[i]), b = wasm_v128_load(&dy[i]);
        acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(a, b));
    }
    return (uint32_t)wasm_i32x4_extract_lane(acc, 0) + (uint32_t)wasm_i32x4_extract_lane(acc, 1) +
           (uint32_t)wasm_i32x4_extract_lane(acc, 2) + (uint32_t)wasm_i32x4_extract_lane(acc, 3);
}

static void conv5(const float *in, float *out) {
    v128_t k0 = wasm_f32x4_splat(taps[0]), k1 = wasm_f32x4_splat(taps[1]);
    v128_t k2 = wasm_f32x4_splat(taps[2]), k3 = wasm_f32x4_splat(taps[3]);
    v128_t k4 = wasm_f32x4_splat(taps[4]);
    for (int i = 0; i < LEN; i += 4) {
        v128_t s = wasm_f32x4_mul(k0, wasm_v128_load(&in[i]));
        s = wasm_f32x4_add(s, wasm_f32x4_mul(k1, wasm_v128_load(&in[i + 1])));
        s = wasm_f32x4_add(s, wasm_f32x4_mul(k2, wasm_v128_load(&in[i + 2])));
        s = wasm_f32x4_add(s, wasm_f32x4_mul(k3, wasm_v128_load(&in[i + 3])));
        s = wasm_f32x4_add(s, wasm_f32x4_mul(k4, wasm_v128_load(&in[i + 4])));
        wasm_v128_store(&out[i + 2], s);
    }
}

static void blend_u8(void) {
    for (int i = 0; i < LEN; i += 16) {
        v128_t avg = wasm_u8x16_avgr(wasm_v128_load(&pa[i]), wasm_v128_load(&pb[i]));
        wasm_v128_store(&pd[i], wasm_u8x16_add_sat(avg, wasm_v128_load(&pc[i])));
    }
}

#else

static uint32_t dot_i16(void) {
    uint32_t acc = 0;
    for (int i = 0; i < LEN; i++) acc += (uint32_t)((int32_t)dx[i] * dy[i]);
    return acc;
}

static void conv5(const float *in, float *out) {
    for (int i = 0; i < LEN; i++) {
        float s = taps[0] * in[i];
        s = s + taps[1] * in[i + 1];
        s = s + taps[2] * in[i + 2];
        s = s + taps[3] * in[i + 3];
        s = s + taps[4] * in[i + 4];
        out[i + 2] = s;
    }
}

static void blend_u8(void) {
    for (int i = 0; i < LEN; i++) {
        unsigned avg = (pa[i] + pb[i] + 1u) >> 1;
        unsigned sum = avg + pc[i];
        pd[i] = (uint8_t)(sum > 255 ? 255 : sum);
    }
}

#endif

int main(int argc, char **argv) {
    long reps = bench_param(argc, argv, 40000);
    uint32_t seed = 31337, check = BENCH_SEED, dots = 0;
    for (int i = 0; i < LEN; i++) {
        dx[i] = (int16_t)((int32_t)(bench_rand(&seed) & 0x7fff) - 16384);
        dy[i] = (int16_t)((int32_t)(bench_rand(&seed) & 0x7fff) - 16384);
        pa[i] = (uint8_t)bench_rand(&seed);
        pb[i] = (uint8_t)bench_rand(&seed);
        pc[i] = (uint8_t)(bench_rand(&seed) & 0x7f);
    }
    for (int i = 0; i < LEN + 8; i++) sig_a[i] = sig_b[i] = (float)(bench_rand(&seed) % 1000) / 10.0f;
    for (long r = 0; r < reps; r++) {
        dots += dot_i16();
        dx[r % LEN] = (int16_t)(dots & 0x3fff);
        if (r & 1) conv5(sig_b, sig_a);
        else conv5(sig_a, sig_b);
        blend_u8();
        pa[r % LEN] = pd[(r * 31) % LEN];
    }
    check = bench_mix(check, dots);
    for (int i = 0; i < LEN + 8; i++) {
        uint32_t bits;
        memcpy(&bits, &sig_a[i], 4);
        check = bench_mix(check, bits);
    }
    for (int i = 0; i < LEN; i++) check = bench_mix(check, pd[i]);
    printf("simd: %d elements, %ld reps, checksum %08x\n", LEN, reps, check);
    return 0;
}
