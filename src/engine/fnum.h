/*
 * fnum.h -- the float rules of wasm that libm does not follow, shared by the scalar instructions
 * (interp.c) and the SIMD lanes (simd.c), so both tiers round and compare alike.
 */
#ifndef KP_FNUM_H
#define KP_FNUM_H

#include <math.h>

/* IEEE min/max as wasm defines them: NaN if either is NaN, -0 < +0. */
static inline float kp_fminf(float a, float b) {
    if (a != a || b != b) return a + b;
    if (a == b) return signbit(a) ? a : b;
    return a < b ? a : b;
}
static inline float kp_fmaxf(float a, float b) {
    if (a != a || b != b) return a + b;
    if (a == b) return signbit(a) ? b : a;
    return a > b ? a : b;
}
static inline double kp_fmin(double a, double b) {
    if (a != a || b != b) return a + b;
    if (a == b) return signbit(a) ? a : b;
    return a < b ? a : b;
}
static inline double kp_fmax(double a, double b) {
    if (a != a || b != b) return a + b;
    if (a == b) return signbit(a) ? b : a;
    return a > b ? a : b;
}

/* libm's ceil/floor/trunc/nearbyint may hand a signalling NaN back unchanged; wasm wants any
 * NaN result to be quiet (an "arithmetic" NaN), which x + x gives. */
static inline float kp_roundf(float x, int mode) {
    if (x != x) return x + x;
    switch (mode) {
    case 0: return ceilf(x);
    case 1: return floorf(x);
    case 2: return truncf(x);
    default: return nearbyintf(x);
    }
}
static inline double kp_round(double x, int mode) {
    if (x != x) return x + x;
    switch (mode) {
    case 0: return ceil(x);
    case 1: return floor(x);
    case 2: return trunc(x);
    default: return nearbyint(x);
    }
}

#endif /* KP_FNUM_H */
