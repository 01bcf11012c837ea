/*
 * fuzz_wave.c -- libFuzzer target: arbitrary text through the WAVE reader (kpWave_parse,
 * kpWave_parseArgs; what `kapsul run --invoke` feeds it from a command line). The first byte picks
 * a type of tests/fuzz/wave_types.h (or the call form against its function type); the rest is the
 * text. Oracles: a failure is KAPSUL_ERR_ARG with a line and column inside the text; a value read
 * successfully prints (wave.c), and the printed text reads back and prints the same again (a fixed
 * point: what kapsul prints, kapsul reads). ASan/UBSan catch everything else.
 */
#include <stdlib.h>
#include <string.h>

#include "component/cabi.h"
#include "wave_types.h"

static kpComponent *comp;

static void check_error(const kapsul_error *err, const uint8_t *text, size_t len) {
    int lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    if (err->code != KAPSUL_ERR_ARG || err->line < 1 || err->line > lines || err->column < 1 ||
        !memchr(err->message, 0, sizeof err->message))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!comp) {
        kapsul_error e;
        if (!(comp = kpWaveTypes_component(&e))) abort();
    }
    if (size < 1) return 0;
    uint32_t pick = data[0] % (KP_WAVE_NTYPES + 1);
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    kpCArena arena = { 0 };
    kapsul_error err;
    if (pick == KP_WAVE_NTYPES) { /* a call against the function type */
        kpCValue *params;
        if (kpWave_parseArgs(comp, kpComponent_resolve(comp, 15), text, len, &arena, &params, &err) !=
            KAPSUL_OK)
            check_error(&err, data + 1, len);
        kpCArena_free(&arena);
        return 0;
    }
    if (kpComponent_resolve(comp, pick)->kind == kpCT_FUNC) pick = 0;
    kpCVal t = { .type = pick };
    kpCValue v;
    if (kpWave_parse(comp, t, text, len, &arena, &v, &err) != KAPSUL_OK) {
        check_error(&err, data + 1, len);
        kpCArena_free(&arena);
        return 0;
    }
    kpBuf a = { 0 }, b = { 0 };
    if (kpWave_print(comp, t, &v, &a) == 0) {
        kpCValue again;
        if (kpWave_parse(comp, t, (const char *)a.data, a.len, &arena, &again, &err) != KAPSUL_OK) abort();
        if (kpWave_print(comp, t, &again, &b) != 0) abort();
        if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) abort();
    }
    kpBuf_free(&a);
    kpBuf_free(&b);
    kpCArena_free(&arena);
    return 0;
}
