/*
 * fuzz_dwarf.c -- libFuzzer target: fuzzed DWARF sections through backtrace symbolization
 * (src/module/debuginfo.c: the in-memory ELF image, libdw, the scope walk, demangling).
 *
 * Input: records [section u8][length u16 LE][bytes], section 0-6 = .debug_info, .debug_abbrev,
 * .debug_line, .debug_str, .debug_ranges, .debug_line_str, .debug_rnglists (a trailing partial
 * record is cut to what is left). They become custom sections of a module with one function of
 * 64 bytes of code, and every code address of that function is looked up. Oracles: nothing
 * crashes or reads out of bounds (ASan), every position's strings are NUL-terminated, and the
 * count never goes past what was asked for when out is written (the return may exceed max).
 */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "module/debuginfo.h"

static const char *const names[] = { ".debug_info",   ".debug_abbrev",   ".debug_line",    ".debug_str",
                                     ".debug_ranges", ".debug_line_str", ".debug_rnglists" };

static void leb(kpBuf *b, uint32_t v) {
    if (kpBuf_u32leb(b, v)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kpBuf m = { 0 };
    /* type () -> (), one function, its body: 62 nops and end (64 bytes with the locals count). */
    static const uint8_t head[] = { 0, 'a', 's', 'm', 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0 };
    if (kpBuf_push(&m, head, sizeof head)) abort();
    uint8_t body[66] = { 10, 64, 1, 62, 0 };
    memset(body + 5, 0x01, 60);
    body[65] = 0x0B;
    if (kpBuf_push(&m, body, sizeof body)) abort();
    size_t at = 0;
    while (at + 3 <= size) {
        uint8_t which = data[at] % 7;
        size_t len = (size_t)data[at + 1] | (size_t)data[at + 2] << 8;
        at += 3;
        if (len > size - at) len = size - at;
        size_t nlen = strlen(names[which]);
        kpBuf sec = { 0 };
        leb(&sec, (uint32_t)nlen);
        if (kpBuf_push(&sec, names[which], nlen) || kpBuf_push(&sec, data + at, len)) abort();
        if (kpBuf_byte(&m, 0)) abort();
        leb(&m, (uint32_t)sec.len);
        if (kpBuf_push(&m, sec.data, sec.len)) abort();
        kpBuf_free(&sec);
        at += len;
    }
    kpModule *mod = NULL;
    kapsul_error err;
    if (kpDecode_module(m.data, m.len, &mod, &err) == KAPSUL_OK) {
        kpDebugInfo *d = kpDebug_open(mod);
        for (uint32_t addr = 0; d && addr < 70; addr++) {
            kpDebugLoc loc[4];
            size_t n = kpDebug_locate(d, addr, loc, 4);
            for (size_t i = 0; i < n && i < 4; i++) {
                if (loc[i].file) (void)strlen(loc[i].file);
                if (loc[i].function) {
                    char *dm = kpDebug_demangle(loc[i].function);
                    if (dm) (void)strlen(dm);
                    kp_free(dm);
                }
            }
        }
        kpDebug_free(d);
        kpModule_free(mod);
    }
    kpBuf_free(&m);
    return 0;
}
