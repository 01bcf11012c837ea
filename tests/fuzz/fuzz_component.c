/*
 * fuzz_component.c -- libFuzzer target: arbitrary bytes through the component decoder
 * (kpComponent_decode: sections, index spaces, types, nested core modules) and, for what it
 * accepts, the WIT description (kpWit_describe), which walks every imported and exported type.
 * Oracles: a status in range with a matching error code, an offset inside the input and a
 * NUL-terminated message on failure; on success a description that is valid UTF-8 (the names it
 * prints were checked) and ends with a newline when not empty. ASan/UBSan catch everything else.
 */
#include <stdlib.h>
#include <string.h>

#include "component/component.h"

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
    kpComponent_free(c);
    return 0;
}
