/* sieve: the sieve of Eratosthenes over an 8 MB byte array, repeated.
 * Measures byte loads and stores with a large, strided memory footprint. */
#include "bench.h"

#define LIMIT (8u * 1024u * 1024u)

int main(int argc, char **argv) {
    long reps = bench_param(argc, argv, 88);
    uint8_t *composite = malloc(LIMIT);
    uint32_t check = BENCH_SEED;
    if (!composite) return 1;
    for (long r = 0; r < reps; r++) {
        /* A slightly different limit each round keeps rounds distinct. */
        uint32_t limit = LIMIT - (uint32_t)r * 7u;
        uint32_t count = 0, sum = 0;
        memset(composite, 0, limit);
        for (uint32_t i = 2; i * i < limit; i++) {
            if (composite[i]) continue;
            for (uint32_t j = i * i; j < limit; j += i) composite[j] = 1;
        }
        for (uint32_t i = 2; i < limit; i++) {
            if (!composite[i]) {
                count++;
                sum += i;
            }
        }
        check = bench_mix(check, count);
        check = bench_mix(check, sum);
    }
    printf("sieve: reps %ld, checksum %08x\n", reps, check);
    free(composite);
    return 0;
}
