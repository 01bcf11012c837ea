/*
 * base.h -- allocation, growable buffers, a bounds-checked byte reader with exact LEB128 rules,
 * and error reporting. Every other layer builds on these.
 */
#ifndef KP_BASE_H
#define KP_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "kapsul.h"

/* ---- Allocation --------------------------------------------------------------------------------
 * All heap allocation goes through these so a test build can make the n-th one fail
 * (kpAlloc_failAfter). They return NULL on failure like malloc; callers must propagate. */
void *kp_malloc(size_t size);
void *kp_calloc(size_t count, size_t size);
void *kp_realloc(void *ptr, size_t size);
void kp_free(void *ptr);
char *kp_strndup(const char *s, size_t len);
/* dir + "/" + rel in a new string, or NULL when out of memory. */
char *kp_pathJoin(const char *dir, const char *rel);
/* Make allocation number n (counting from the next one, 0-based) and every later one fail;
 * n < 0 disables injection. Used by the allocation-failure tests. */
#ifdef KP_TESTING /* a test seam: absent from builds without KAPSUL_TESTING */
void kpAlloc_failAfter(long n);
#endif

/* chars.c: length of the well-formed UTF-8 sequence at s (n >= 1 bytes available), or 0; the
 * value of a hexadecimal digit, or -1. */
size_t kpChars_utf8Len(const unsigned char *s, size_t n);
/* Write code point cp (at most 0x10FFFF) as UTF-8 into o (4 bytes of room); returns its length. */
size_t kpChars_utf8Put(uint8_t *o, uint32_t cp);
int kpChars_hexval(int c);

/* Overflow-checked size arithmetic: return false on overflow. */
static inline bool kp_mul_ok(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline bool kp_add_ok(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }

/* ---- Growable byte buffer ---------------------------------------------------------------------- */
typedef struct kpBuf {
    uint8_t *data;
    size_t len, cap;
} kpBuf;

/* Each returns 0 on success, -1 when out of memory (the buffer is unchanged then). */
int kpBuf_reserve(kpBuf *b, size_t extra);
int kpBuf_push(kpBuf *b, const void *data, size_t len);
int kpBuf_byte(kpBuf *b, uint8_t v);
int kpBuf_u32leb(kpBuf *b, uint32_t v);
int kpBuf_s32leb(kpBuf *b, int32_t v);
int kpBuf_s64leb(kpBuf *b, int64_t v);
int kpBuf_u64leb(kpBuf *b, uint64_t v);
void kpBuf_free(kpBuf *b);

/* Typed growable array on top of realloc: KP_VEC(T) declares { T *v; size_t n, cap; }.
 * kpVec_grow makes room for one more element; returns 0 or -1 (out of memory). */
#define KP_VEC(T)      \
    struct {           \
        T *v;          \
        size_t n, cap; \
    }
int kpVec_growRaw(void **v, size_t *cap, size_t n, size_t elem);
#define kpVec_grow(vec) \
    ((vec)->n < (vec)->cap ? 0 : kpVec_growRaw((void **)&(vec)->v, &(vec)->cap, (vec)->n, sizeof(*(vec)->v)))
#define kpVec_free(vec) (kp_free((vec)->v), (vec)->v = NULL, (vec)->n = (vec)->cap = 0)

/* ---- String index ------------------------------------------------------------------------------ */
/* A map from byte strings (borrowed: they must outlive the index and not move) to size_t values,
 * hashed (strindex.c). A zeroed kpStrIndex is empty. kpStrIndex_put adds key -> value and returns
 * 0, or returns 1 leaving the index unchanged when the key is present (its value in *existing if
 * not NULL), or -1 when out of memory. */
typedef struct kpStrIndex {
    struct kpStrSlot *slots;
    size_t n, cap;
} kpStrIndex;
int kpStrIndex_put(kpStrIndex *ix, const char *key, size_t len, size_t value, size_t *existing);
bool kpStrIndex_get(const kpStrIndex *ix, const char *key, size_t len, size_t *value);
void kpStrIndex_free(kpStrIndex *ix);

/* ---- Byte reader ------------------------------------------------------------------------------- */
/* Reads never go past end. On failure the reader functions return false and leave a reason in
 * r->error (a static string) and the failing offset in r->error_pos (offset from r->base). */
typedef struct kpReader {
    const uint8_t *base; /* start of the whole module (offsets are relative to this) */
    const uint8_t *p;
    const uint8_t *end;
    const char *error;
    size_t error_pos;
} kpReader;

void kpRead_init(kpReader *r, const uint8_t *base, const uint8_t *p, const uint8_t *end);
static inline size_t kpRead_offset(const kpReader *r) { return (size_t)(r->p - r->base); }
static inline bool kpRead_eof(const kpReader *r) { return r->p >= r->end; }
bool kpRead_fail(kpReader *r, const char *why);
bool kpRead_u8(kpReader *r, uint8_t *out);
bool kpRead_bytes(kpReader *r, size_t n, const uint8_t **out);
/* unsigned / signed LEB128, at most 5 bytes. The one-byte case is inline (most immediates);
 * the rest goes to the *Long readers. */
bool kpRead_u32Long(kpReader *r, uint32_t *out);
bool kpRead_s32Long(kpReader *r, int32_t *out);
static inline bool kpRead_u32(kpReader *r, uint32_t *out) {
    if (r->p < r->end && *r->p < 0x80) {
        *out = *r->p++;
        return true;
    }
    return kpRead_u32Long(r, out);
}
/* The value of a one-byte signed LEB128 (b < 0x80): bit 6 is the sign. */
static inline int32_t kp_sleb7(uint8_t b) { return (int32_t)b - (b & 0x40 ? 0x80 : 0); }
static inline bool kpRead_s32(kpReader *r, int32_t *out) {
    if (r->p < r->end && *r->p < 0x80) {
        *out = kp_sleb7(*r->p++);
        return true;
    }
    return kpRead_s32Long(r, out);
}
bool kpRead_s33(kpReader *r, int64_t *out);   /* signed 33-bit (block types) */
bool kpRead_s64(kpReader *r, int64_t *out);   /* signed LEB128, at most 10 bytes */
bool kpRead_u64(kpReader *r, uint64_t *out);  /* unsigned LEB128, at most 10 bytes */
bool kpRead_f32(kpReader *r, uint32_t *bits); /* 4 little-endian bytes */
bool kpRead_f64(kpReader *r, uint64_t *bits); /* 8 little-endian bytes */
/* A vector length followed by a UTF-8 name; validates the encoding. */
bool kpRead_name(kpReader *r, const char **name, uint32_t *len);

bool kp_utf8_valid(const uint8_t *s, size_t len);

/* ---- Errors ------------------------------------------------------------------------------------ */
/* Fill err (if non-NULL) and return code. */
kapsul_status kpError_set(kapsul_error *err, kapsul_status code, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
kapsul_status kpError_setText(kapsul_error *err, kapsul_status code, int line, int column, const char *fmt,
                              ...) __attribute__((format(printf, 5, 6)));
void kpError_clear(kapsul_error *err);

#endif /* KP_BASE_H */
