/*
 * buf.c -- growable byte buffers and LEB128 encoding (used by the text-format encoder and tests).
 */
#include "base.h"

int kpBuf_reserve(kpBuf *b, size_t extra) {
    size_t need;
    if (!kp_add_ok(b->len, extra, &need)) return -1;
    if (need <= b->cap) return 0;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            ncap = need;
            break;
        }
        ncap *= 2;
    }
    uint8_t *nd = kp_realloc(b->data, ncap);
    if (!nd) return -1;
    b->data = nd;
    b->cap = ncap;
    return 0;
}

int kpBuf_push(kpBuf *b, const void *data, size_t len) {
    if (len == 0) return 0;
    if (kpBuf_reserve(b, len)) return -1;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

int kpBuf_byte(kpBuf *b, uint8_t v) { return kpBuf_push(b, &v, 1); }

int kpBuf_u64leb(kpBuf *b, uint64_t v) {
    uint8_t tmp[10];
    int n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        if (v) byte |= 0x80;
        tmp[n++] = byte;
    } while (v);
    return kpBuf_push(b, tmp, (size_t)n);
}

int kpBuf_u32leb(kpBuf *b, uint32_t v) { return kpBuf_u64leb(b, v); }

int kpBuf_s64leb(kpBuf *b, int64_t v) {
    uint8_t tmp[10];
    int n = 0;
    for (;;) {
        uint8_t byte = v & 0x7f;
        v >>= 7; /* arithmetic shift: gcc/clang define it for signed values */
        bool done = (v == 0 && !(byte & 0x40)) || (v == -1 && (byte & 0x40));
        if (!done) byte |= 0x80;
        tmp[n++] = byte;
        if (done) break;
    }
    return kpBuf_push(b, tmp, (size_t)n);
}

int kpBuf_s32leb(kpBuf *b, int32_t v) { return kpBuf_s64leb(b, v); }

void kpBuf_free(kpBuf *b) {
    kp_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
