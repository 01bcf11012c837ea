/*
 * wasmgen.h -- a tiny WebAssembly binary builder for tests and seed generators.
 *
 * Pathological modules (a million nested blocks, a hundred thousand functions) are built in code
 * rather than checked in as multi-megabyte files, so the tests say what they contain. The builder
 * writes into a kpBuf; running out of memory while building is a failure of the test itself, not
 * of the code under test, so it exits the process with status 2 instead of propagating.
 * Header-only (static functions) so each test binary stays one .c file.
 */
#ifndef KP_WASMGEN_H
#define KP_WASMGEN_H

#include <stdio.h>
#include <stdlib.h>

#include "base/base.h"

static inline void wg_must(int rc) {
    if (rc != 0) {
        fprintf(stderr, "wasmgen: out of memory while building a test module\n");
        exit(2);
    }
}

static inline void wg_byte(kpBuf *b, uint8_t v) { wg_must(kpBuf_byte(b, v)); }
static inline void wg_bytes(kpBuf *b, const void *p, size_t n) { wg_must(kpBuf_push(b, p, n)); }
static inline void wg_u32(kpBuf *b, uint32_t v) { wg_must(kpBuf_u32leb(b, v)); }
static inline void wg_s32(kpBuf *b, int32_t v) { wg_must(kpBuf_s32leb(b, v)); }
static inline void wg_s64(kpBuf *b, int64_t v) { wg_must(kpBuf_s64leb(b, v)); }
/* The same byte `n` times. */
static inline void wg_fill(kpBuf *b, uint8_t v, size_t n) {
    wg_must(kpBuf_reserve(b, n));
    memset(b->data + b->len, v, n);
    b->len += n;
}
/* A byte pattern repeated `n` times (e.g. "block" = 02 40). */
static inline void wg_repeat(kpBuf *b, const void *pat, size_t plen, size_t n) {
    size_t total;
    if (!kp_mul_ok(plen, n, &total)) wg_must(-1);
    wg_must(kpBuf_reserve(b, total));
    for (size_t i = 0; i < n; i++) {
        memcpy(b->data + b->len, pat, plen);
        b->len += plen;
    }
}
static inline void wg_name(kpBuf *b, const char *s) {
    size_t n = strlen(s);
    wg_u32(b, (uint32_t)n);
    wg_bytes(b, s, n);
}

static inline void wg_header(kpBuf *b) {
    static const uint8_t h[8] = { 0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00 };
    wg_bytes(b, h, sizeof h);
}

/* A section with its true size. The content buffer is freed. */
static inline void wg_section(kpBuf *mod, uint8_t id, kpBuf *content) {
    wg_byte(mod, id);
    wg_u32(mod, (uint32_t)content->len);
    wg_bytes(mod, content->data, content->len);
    kpBuf_free(content);
}

/* A section whose size field says `claimed` whatever the content's length. */
static inline void wg_section_lying(kpBuf *mod, uint8_t id, uint32_t claimed, kpBuf *content) {
    wg_byte(mod, id);
    wg_u32(mod, claimed);
    wg_bytes(mod, content->data, content->len);
    kpBuf_free(content);
}

/* Type section with the single type (params) -> (results); types given as valtype bytes. */
static inline void wg_type_section1(kpBuf *mod, const char *params, const char *results) {
    kpBuf s = { 0 };
    size_t np = strlen(params), nr = strlen(results);
    wg_u32(&s, 1);
    wg_byte(&s, 0x60);
    wg_u32(&s, (uint32_t)np);
    for (size_t i = 0; i < np; i++) wg_byte(&s, (uint8_t)params[i]);
    wg_u32(&s, (uint32_t)nr);
    for (size_t i = 0; i < nr; i++) wg_byte(&s, (uint8_t)results[i]);
    wg_section(mod, 1, &s);
}

/* Function section: `n` functions all of type 0. */
static inline void wg_func_section(kpBuf *mod, uint32_t n) {
    kpBuf s = { 0 };
    wg_u32(&s, n);
    wg_fill(&s, 0x00, n);
    wg_section(mod, 3, &s);
}

/* Export section entry for function `idx` named `name`. Caller writes the count first. */
static inline void wg_export_func(kpBuf *s, const char *name, uint32_t idx) {
    wg_name(s, name);
    wg_byte(s, 0x00);
    wg_u32(s, idx);
}

/* Code section holding one body: `locals` (already encoded: count + runs) then `code`. */
static inline void wg_code_section1(kpBuf *mod, const kpBuf *locals, const kpBuf *code) {
    kpBuf s = { 0 };
    wg_u32(&s, 1);
    wg_u32(&s, (uint32_t)(locals->len + code->len));
    wg_bytes(&s, locals->data, locals->len);
    wg_bytes(&s, code->data, code->len);
    wg_section(mod, 10, &s);
}

/* Value-type byte codes as chars for wg_type_section1. */
#define WG_I32 "\x7f"
#define WG_I64 "\x7e"
#define WG_F32 "\x7d"
#define WG_F64 "\x7c"

#endif /* KP_WASMGEN_H */
