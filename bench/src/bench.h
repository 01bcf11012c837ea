/* Shared helpers for the kapsul benchmark programs.
 *
 * Every program takes one optional size parameter as argv[1] (so the compiler
 * cannot fold the work away and the harness can run a small size under
 * callgrind) and prints a checksum line that must be identical on every
 * runner: native gcc, native clang, Node's WASI and kapsul. */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The size parameter: argv[1] when it is a positive number, else the default. */
static long bench_param(int argc, char **argv, long def) {
    if (argc > 1) {
        long v = strtol(argv[1], NULL, 10);
        if (v > 0) return v;
    }
    return def;
}

/* A 32-bit linear congruential generator: deterministic input data on
 * every platform without depending on libc's rand(). */
static inline uint32_t bench_rand(uint32_t *state) {
    *state = *state * 1664525u + 1013904223u;
    return *state ^ (*state >> 15);
}

/* FNV-1a style mixing of a 32-bit value into a running checksum. */
static inline uint32_t bench_mix(uint32_t h, uint32_t v) {
    for (int i = 0; i < 4; i++) {
        h ^= (v >> (8 * i)) & 0xffu;
        h *= 16777619u;
    }
    return h;
}

#define BENCH_SEED 2166136261u

#endif
