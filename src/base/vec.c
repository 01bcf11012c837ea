/*
 * vec.c -- growth of the KP_VEC vectors (base.h): capacity doubles, sizes are overflow-checked,
 * allocation goes through kp_realloc so injected failures reach every vector.
 */
#include "base.h"

int kpVec_growRaw(void **v, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 8, bytes;
    if (ncap < *cap || !kp_mul_ok(ncap, elem, &bytes)) return -1;
    void *nv = kp_realloc(*v, bytes);
    if (!nv) return -1;
    *v = nv;
    *cap = ncap;
    return 0;
}
