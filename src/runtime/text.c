/*
 * text.c -- modules from WebAssembly text: the WAT parser (text/) produces binary bytes, which
 * then take exactly the path of kapsul_module_new (decode, validate, lower). Kept apart from
 * module.c so the binary path does not depend on the text parser.
 */
#include "runtime/runtime.h"
#include "text/text.h"

kapsul_status kapsul_module_new_wat(kapsul_engine *engine, const char *text, size_t len, kapsul_module **out,
                                    kapsul_error *err) {
    kpError_clear(err);
    if (out) *out = NULL;
    if (!engine || (!text && len) || !out) return kpError_set(err, KAPSUL_ERR_ARG, 0, "bad argument");
    kpBuf bytes = { 0 };
    kapsul_status st = kpWat_toBinary(text ? text : "", len, 1, &bytes, err);
    if (st == KAPSUL_OK) st = kapsul_module_new(engine, bytes.data, bytes.len, out, err);
    kpBuf_free(&bytes);
    return st;
}
