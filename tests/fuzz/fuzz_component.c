/*
 * fuzz_component.c -- libFuzzer target: arbitrary bytes through the component decoder
 * (kpComponent_decode: sections, index spaces, types, nested core modules) and, for what it
 * accepts, the WIT description (kpWit_describe), which walks every imported and exported type.
 * Oracles: a status in range with a matching error code, an offset inside the input and a
 * NUL-terminated message on failure; on success a description that is valid UTF-8 (the names it
 * prints were checked) and ends with a newline when not empty.
 * Then the canonical ABI on hostile values: for the first function types of an accepted component,
 * the parameters and results are lifted from core values and a 64 KiB memory both made of the
 * input's bytes (pointers, lengths, discriminants, chars, strings, handles all guest-controlled),
 * printed in WAVE when lifting succeeds, and lowered back into the memory through a bump realloc.
 * Oracles: a trap code in range, and for a successful lift a WAVE text that is valid UTF-8.
 * ASan/UBSan catch everything else.
 */
#include <stdlib.h>
#include <string.h>

#include "component/cabi.h"

static uint8_t mem[1 << 16];
static uint32_t heap;

static int bump(kpCabiCx *cx, uint32_t old, uint32_t old_size, uint32_t align, uint32_t size, uint32_t *out) {
    (void)cx, (void)old, (void)old_size;
    heap = (heap + align - 1) & ~(align - 1);
    if (heap > sizeof mem || size > sizeof mem - heap) return 1;
    *out = heap;
    heap += size;
    return 0;
}

static void abi(const kpComponent *c, const uint8_t *data, size_t size) {
    for (size_t i = 0; i < sizeof mem; i++) mem[i] = data[i % size];
    uint64_t core[KP_CABI_MAX_FLAT_PARAMS + 1];
    for (int i = 0; i <= KP_CABI_MAX_FLAT_PARAMS; i++) {
        uint64_t v = 0;
        for (int k = 0; k < 8; k++) v = v << 8 | data[(size_t)(i * 8 + k) % size];
        core[i] = i % 3 ? v & 0xffff : v; /* small values too, so pointers often land in memory */
    }
    int tried = 0;
    for (size_t t = 0; t < c->types.n && tried < 16; t++) {
        const kpCType *ft = &c->types.v[t];
        if (ft->kind != kpCT_FUNC) continue;
        tried++;
        kpCHandles handles = { 0 };
        kpCArena arena = { 0 };
        kpCabiCx cx = { .c = c,
                        .mem = mem,
                        .mem_size = sizeof mem,
                        .realloc = bump,
                        .enc = (kpCStringEncoding)(t % 3),
                        .handles = &handles,
                        .arena = &arena };
        uint32_t rep, h;
        kpCHandles_add(&handles, (uint32_t)(data[0] % c->types.n), 1, true, &h); /* a handle or two to find */
        kpCHandles_lift(&handles, (uint32_t)(data[0] % c->types.n), h, false, &rep);
        kpCValue *vals;
        kpCabiTrap tr = kpCabi_liftParams(&cx, ft, core, KP_CABI_MAX_FLAT_PARAMS + 1, &vals);
        if ((unsigned)tr > KP_CABI_NOMEM) abort();
        if (tr == KP_CABI_OK && ft->nparams) {
            kpBuf b = { 0 };
            if (kpWave_print(c, ft->fields[0].type, &vals[0], &b) == 0 && b.len &&
                !kp_utf8_valid(b.data, b.len))
                abort();
            kpBuf_free(&b);
        }
        tr = kpCabi_liftResults(&cx, ft, core, 1, &vals);
        if ((unsigned)tr > KP_CABI_NOMEM) abort();
        if (tr == KP_CABI_OK) {
            uint64_t out[KP_CABI_MAX_FLAT_RESULTS + 1];
            uint32_t nout;
            heap = 0;
            tr = kpCabi_lowerResults(&cx, ft, vals, out, &nout, (uint32_t)core[1] & 0xfff8);
            if ((unsigned)tr > KP_CABI_NOMEM) abort();
        }
        kpCArena_free(&arena);
        kpCHandles_free(&handles);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kpComponent *c = NULL;
    kapsul_error err;
    memset(&err, 0x55, sizeof err);
    kapsul_status st = kpComponent_decode(data, size, &c, &err);
    if (st != KAPSUL_OK) {
        if (c || err.code != st || memchr(err.message, 0, sizeof err.message) == NULL) abort();
        if (st != KAPSUL_ERR_MALFORMED && st != KAPSUL_ERR_INVALID && st != KAPSUL_ERR_LIMIT &&
            st != KAPSUL_ERR_NOMEM)
            abort();
        if (err.offset > size) abort();
        return 0;
    }
    if (!c || !kpComponent_is(data, size)) abort();
    kpBuf out = { 0 };
    if (kpWit_describe(c, &out) == 0) {
        if (out.len && (out.data[out.len - 1] != '\n' || !kp_utf8_valid(out.data, out.len))) abort();
    }
    kpBuf_free(&out);
    abi(c, data, size);
    kpComponent_free(c);
    return 0;
}
