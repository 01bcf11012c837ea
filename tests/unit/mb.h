/*
 * mb.h -- the byte builder the decoder and validator unit tests write modules with.
 *
 * It grows with plain realloc, not kp_realloc, on purpose: those tests make the n-th kapsul
 * allocation fail (kpAlloc_failAfter), and the builder of the test input must not be one of them.
 * (tests/fuzz/wasmgen.h is the kpBuf-based builder for tests that inject nothing.)
 */
#ifndef KP_TEST_MB_H
#define KP_TEST_MB_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct mb {
    uint8_t *b;
    size_t n, cap;
} mb;

static void put(mb *m, const void *p, size_t n) {
    if (m->n + n > m->cap) {
        m->cap = (m->n + n) * 2 + 64;
        m->b = realloc(m->b, m->cap);
        if (!m->b) abort();
    }
    memcpy(m->b + m->n, p, n);
    m->n += n;
}
static void put_u8(mb *m, uint8_t v) { put(m, &v, 1); }
static void put_u32(mb *m, uint32_t v) {
    do {
        uint8_t b = v & 0x7F;
        v >>= 7;
        put_u8(m, b | (v ? 0x80 : 0));
    } while (v);
}

#endif
