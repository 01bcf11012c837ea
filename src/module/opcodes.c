/*
 * opcodes.c -- the info table and lookups generated from opcodes.def.
 */
#include <stddef.h>
#include <string.h>

#include "opcodes.h"

const kpOpInfo kpOp_info[kpOp_COUNT] = {
#define KP_OP(id, name, prefix, code, imm, sig, align) {name, prefix, code, kpImm_##imm, sig, align},
#include "opcodes.def"
};

/* Dense maps from (prefix, code) to kpOp + 1 (0 = unknown), one array for all three families:
 * single-byte opcodes at 0..255, 0xFC codes at 256..287, 0xFD codes at 288..799. Built by the
 * compiler from the table, so decoding an instruction costs one load (no first-use setup, no
 * synchronisation on the hot path). opcodes.def keeps 0xFC codes below 32 and 0xFD codes below
 * 512; a row outside that range would collide with another and gcc's -Woverride-init says so. */
#define KP_MAP_FC 256
#define KP_MAP_FD (KP_MAP_FC + 32)
#define KP_MAP_SIZE (KP_MAP_FD + 512)
#define KP_MAP_AT(prefix, code) ((prefix) == 0 ? (code) : (prefix) == 0xFC ? KP_MAP_FC + (code) : KP_MAP_FD + (code))
static const uint16_t code_map[KP_MAP_SIZE] = {
#define KP_OP(id, name, prefix, code, imm, sig, align) [KP_MAP_AT(prefix, code)] = kpOp_##id + 1,
#include "opcodes.def"
};

int kpOp_fromCode(uint8_t prefix, uint32_t code) {
    uint32_t at;
    if (prefix == 0) at = code & 0xFF;
    else if (prefix == 0xFC && code < 32) at = KP_MAP_FC + code;
    else if (prefix == 0xFD && code < 512) at = KP_MAP_FD + code;
    else return -1;
    return (int)code_map[at] - 1;
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
