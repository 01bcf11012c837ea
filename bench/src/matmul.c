/* matmul: dense 32-bit integer matrix multiply, the textbook i-j-k loop with
 * a dot product down a column, repeated with the product fed back as input.
 * Measures multiply-add chains and strided loads. (The i-k-j order would let
 * native compilers vectorize with SSE2 while the wasm build stays scalar; that
 * comparison belongs to the SIMD benchmark, see docs/RATIONALE.md ("Benchmarks").) */
#include "bench.h"

#define N 256

static uint32_t a[N * N], b[N * N], c[N * N];

static void multiply(const uint32_t *x, const uint32_t *y, uint32_t *out) {
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            uint32_t sum = 0;
            for (int k = 0; k < N; k++) sum += x[i * N + k] * y[k * N + j];
            out[i * N + j] = sum;
        }
    }
}

int main(int argc, char **argv) {
    long reps = bench_param(argc, argv, 75);
    uint32_t seed = 12345, check = BENCH_SEED;
    for (int i = 0; i < N * N; i++) {
        a[i] = bench_rand(&seed) & 0xffff;
        b[i] = bench_rand(&seed) & 0xffff;
    }
    for (long r = 0; r < reps; r++) {
        multiply(a, b, c);
        /* Feed the product back so no round can be skipped. */
        for (int i = 0; i < N * N; i++) a[i] = c[i] >> 7;
        check = bench_mix(check, c[(r * 7919) % (N * N)]);
    }
    for (int i = 0; i < N * N; i++) check = bench_mix(check, c[i]);
    printf("matmul: %dx%d, reps %ld, checksum %08x\n", N, N, reps, check);
    return 0;
}
