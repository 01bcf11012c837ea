/*
 * fuzz_text.c -- libFuzzer target (b): arbitrary text through the WAT encoder (kpWat_toBinary)
 * and the WAST script parser (kpWast_parse), then every module the script holds through the
 * encoder too, and every binary the encoder emits through kapsul_module_new. The text contract
 * (text.h) is checked as well: a syntax error carries a line and column.
 */
#include <stdlib.h>
#include <string.h>

#include "kapsul.h"
#include "text/text.h"

static kapsul_engine *engine;

/* A failed parse must say where (line >= 1) unless it ran out of memory. */
static void check_error(kapsul_status st, const kapsul_error *err) {
    if (st == KAPSUL_OK) return;
    if (err->code != st || memchr(err->message, 0, sizeof err->message) == NULL) abort();
    if (st == KAPSUL_ERR_MALFORMED && err->line < 1) abort();
}

/* Encode one module text; load what comes out. */
static void encode(const char *src, size_t len, int line0) {
    kpBuf bin = { 0 };
    kapsul_error err;
    memset(&err, 0, sizeof err);
    kapsul_status st = kpWat_toBinary(src, len, line0, &bin, &err);
    check_error(st, &err);
    if (st == KAPSUL_OK) {
        kapsul_module *m = NULL;
        if (kapsul_module_new(engine, bin.data, bin.len, &m, &err) == KAPSUL_OK) kapsul_module_free(m);
    }
    kpBuf_free(&bin);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!engine && kapsul_engine_new(NULL, &engine, NULL) != KAPSUL_OK) abort();
    const char *src = (const char *)data;
    encode(src, size, 1);

    kpWastScript script;
    memset(&script, 0, sizeof script);
    kapsul_error err;
    memset(&err, 0, sizeof err);
    kapsul_status st = kpWast_parse(src, size, &script, &err);
    check_error(st, &err);
    for (uint32_t i = 0; i < script.ncmds; i++) {
        const kpWastCommand *c = &script.cmds[i];
        if (!c->has_module) continue;
        if (c->module.kind == kpMod_TEXT) {
            if (c->module.src < src || c->module.src + c->module.len > src + size) abort();
            encode(c->module.src, c->module.len, c->module.line);
        } else if (c->module.kind == kpMod_QUOTE) {
            encode((const char *)c->module.bytes.data, c->module.bytes.len, c->module.line);
        }
    }
    kpWast_free(&script);
    return 0;
}
