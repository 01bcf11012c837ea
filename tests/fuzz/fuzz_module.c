/*
 * fuzz_module.c -- libFuzzer target (a): arbitrary bytes through kapsul_module_new (decode,
 * validate, lower). Whatever the bytes, the call must return a status in range with a matching
 * error code and a NUL-terminated message, and a loaded module must answer its import/export
 * listing without reading outside itself. ASan/UBSan catch everything else.
 */
#include <stdlib.h>
#include <string.h>

#include "kapsul.h"

static kapsul_engine *engine;

/* Touch every byte the listing hands out, so ASan sees any pointer outside the module. */
static unsigned touch(const char *p, size_t n) {
    unsigned h = 0;
    for (size_t i = 0; i < n; i++) h = h * 31 + (unsigned char)p[i];
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!engine && kapsul_engine_new(NULL, &engine, NULL) != KAPSUL_OK) abort();
    kapsul_module *m = NULL;
    kapsul_error err;
    memset(&err, 0x55, sizeof err);
    kapsul_status st = kapsul_module_new(engine, data, size, &m, &err);
    if ((int)st < 0 || st > KAPSUL_ERR_EXIT) abort();
    if (st != KAPSUL_OK) {
        if (err.code != st || memchr(err.message, 0, sizeof err.message) == NULL) abort();
        if (st == KAPSUL_ERR_TRAP || st == KAPSUL_ERR_EXIT || st == KAPSUL_ERR_ARG) abort();
        if (m) abort();
        return 0;
    }
    if (!m) abort();
    volatile unsigned h = 0;
    for (uint32_t i = 0; i < kapsul_module_import_count(m); i++) {
        kapsul_import_info in;
        kapsul_module_import(m, i, &in);
        h += touch(in.module, in.module_len) + touch(in.name, in.name_len) + in.kind;
    }
    for (uint32_t i = 0; i < kapsul_module_export_count(m); i++) {
        kapsul_export_info ex;
        kapsul_module_export(m, i, &ex);
        h += touch(ex.name, ex.name_len) + ex.kind + ex.index;
    }
    (void)h;
    kapsul_module_free(m);
    return 0;
}
