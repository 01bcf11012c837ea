/*
 * opcodes.c -- the info table and lookups generated from opcodes.def.
 */
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "opcodes.h"

const kpOpInfo kpOp_info[kpOp_COUNT] = {
#define KP_OP(id, name, prefix, code, imm, sig, align) {name, prefix, code, kpImm_##imm, sig, align},
#include "opcodes.def"
};

/* Dense maps built once, on first use, from the table: single-byte opcodes and the 0xFC / 0xFD
 * families. pthread_once makes the first use safe when several threads decode at once. */
static int16_t map_plain[256], map_fc[32], map_fd[512];
static pthread_once_t maps_once = PTHREAD_ONCE_INIT;

static void build_maps(void) {
    for (int i = 0; i < 256; i++) map_plain[i] = -1;
    for (int i = 0; i < 32; i++) map_fc[i] = -1;
    for (int i = 0; i < 512; i++) map_fd[i] = -1;
    for (int op = 0; op < kpOp_COUNT; op++) {
        const kpOpInfo *in = &kpOp_info[op];
        if (in->prefix == 0) map_plain[in->code] = (int16_t)op;
        else if (in->prefix == 0xFC && in->code < 32) map_fc[in->code] = (int16_t)op;
        else if (in->prefix == 0xFD && in->code < 512) map_fd[in->code] = (int16_t)op;
    }
}

int kpOp_fromCode(uint8_t prefix, uint32_t code) {
    pthread_once(&maps_once, build_maps);
    if (prefix == 0) return map_plain[code & 0xFF];
    if (prefix == 0xFC) return code < 32 ? map_fc[code] : -1;
    if (prefix == 0xFD) return code < 512 ? map_fd[code] : -1;
    return -1;
}

int kpOp_fromName(const char *name, size_t len) {
    /* Linear scan is fine: the text parser caches nothing hot here, and the table is small.
     * The first row of a name wins, so "select" maps to kpOp_SELECT. */
    for (int op = 0; op < kpOp_COUNT; op++) {
        const char *n = kpOp_info[op].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0) return op;
    }
    return -1;
}
