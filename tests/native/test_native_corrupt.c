/*
 * test_native_corrupt.c KWASM -- a compiled artifact, damaged every way we can think of, must be
 * refused with an error and never crash (run under ASan+UBSan in the sanitizer build):
 *   - the artifact: truncated at every length class, a flipped bit at many offsets (the header
 *     fields and their padding, the object, the module) -- kpArtifact_read must refuse each one;
 *   - the ELF object behind the checksum, handed straight to the loader: truncations, and bytes
 *     flipped in the ELF header, the section header table, the symbol table and every relocation
 *     section -- kpNativeCode_load must either refuse it or link it (it is never run here).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/native/native.h"
#include "../unit/test.h"

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static unsigned long loaded, refused;

/* Try to link one object variant (a private copy, so ASan sees any read past its end). */
static void try_load(const uint8_t *obj, size_t n, uint32_t nfuncs) {
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, obj, n);
    kpNativeCode *c = NULL;
    kapsul_error err;
    kapsul_status st = kpNativeCode_load(copy, n, nfuncs, &c, &err);
    if (st == KAPSUL_OK) {
        loaded++;
        kpNativeCode_free(c);
    } else {
        refused++;
        CHECK(err.message[0] != 0);
    }
    free(copy);
}

static uint64_t rd(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Flip bytes across the object's structures. */
static void mutate_object(const uint8_t *obj, size_t n, uint32_t nfuncs) {
    uint8_t *m = malloc(n);
    for (size_t len = 0; len < n; len += len < 128 ? 1 : 61) try_load(obj, len, nfuncs);
    /* ELF header, every byte, three patterns. */
    for (size_t i = 0; i < 64 && i < n; i++)
        for (int k = 0; k < 3; k++) {
            static const uint8_t pats[3] = { 0x01, 0x80, 0xFF };
            memcpy(m, obj, n);
            m[i] ^= pats[k];
            try_load(m, n, nfuncs);
        }
    uint64_t shoff = rd(obj + 40, 8);
    unsigned shnum = (unsigned)rd(obj + 60, 2);
    for (unsigned s = 0; s < shnum; s++) {
        const uint8_t *sh = obj + shoff + (uint64_t)s * 64;
        /* The section header itself. */
        for (int i = 0; i < 64; i += 1) {
            memcpy(m, obj, n);
            m[shoff + (uint64_t)s * 64 + (uint64_t)i] ^= (uint8_t)(0x5A + i);
            try_load(m, n, nfuncs);
        }
        uint32_t type = (uint32_t)rd(sh + 4, 4);
        uint64_t off = rd(sh + 24, 8), size = rd(sh + 32, 8);
        if ((type != 2 && type != 4) || off + size > n) continue; /* symbols, relocations */
        for (uint64_t at = 0; at < size; at += type == 4 ? 1 : 3) {
            memcpy(m, obj, n);
            m[off + at] ^= (uint8_t)(at * 37 + 11);
            try_load(m, n, nfuncs);
        }
    }
    free(m);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        printf("usage: test_native_corrupt FILE.kwasm (skipped)\n");
        return 0;
    }
    size_t len;
    uint8_t *file = read_all(argv[1], &len);
    CHECK(file != NULL);
    if (!file) return kpt_finish();
    kpArtifact a;
    kapsul_error err;
    CHECK(kpArtifact_read(file, len, &a, &err) == KAPSUL_OK);
    /* Artifact level: truncations and flips are all refused. */
    for (size_t n = 0; n < len; n += n < 400 ? 1 : 97) {
        uint8_t *t = malloc(n ? n : 1);
        memcpy(t, file, n);
        CHECK(kpArtifact_read(t, n, &a, &err) != KAPSUL_OK);
        free(t);
    }
    uint8_t *f = malloc(len);
    for (size_t i = 0; i < len; i += i < 400 ? 1 : 13) {
        memcpy(f, file, len);
        f[i] ^= 0x20;
        kapsul_status st = kpArtifact_read(f, len, &a, &err);
        /* Format 2's CRC-32C covers the header too (format 1's hash covered only the payload, so
         * a flip in a header string's NUL padding used to pass): every single-bit flip, anywhere,
         * is refused -- by the checksum, or by the checksum field's own check. */
        if (st == KAPSUL_OK) fprintf(stderr, "flip at %zu accepted\n", i);
        CHECK(st != KAPSUL_OK);
    }
    free(f);
    /* Loader level, behind the checksum. */
    CHECK(kpArtifact_read(file, len, &a, &err) == KAPSUL_OK);
    mutate_object(a.object, a.object_size, a.nfuncs);
    printf("loader: %lu variants linked, %lu refused\n", loaded, refused);
    CHECK(refused > 0);
    free(file);
    return kpt_finish();
}
