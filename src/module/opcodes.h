/*
 * opcodes.h -- the instruction set, generated from opcodes.def.
 */
#ifndef KP_OPCODES_H
#define KP_OPCODES_H

#include <stdint.h>

/* What follows an opcode in the binary format (and in the text format). */
typedef enum kpImm {
    kpImm_NONE,
    kpImm_BLOCK,     /* block type: 0x40, a value type, or a type index (s33) */
    kpImm_LABEL,     /* label index */
    kpImm_BRTABLE,   /* vec(label) default label */
    kpImm_FUNC,      /* function index */
    kpImm_CALLIND,   /* type index, table index */
    kpImm_LOCAL,     /* local index */
    kpImm_GLOBAL,    /* global index */
    kpImm_TABLE,     /* table index */
    kpImm_MEMARG,    /* align (u32, log2), offset (u32) */
    kpImm_MEMIDX,    /* memory index (a 0x00 byte in 2.0) */
    kpImm_I32,       /* s32 */
    kpImm_I64,       /* s64 */
    kpImm_F32,       /* 4 bytes */
    kpImm_F64,       /* 8 bytes */
    kpImm_SELECTT,   /* vec(valtype), length 1 in 2.0 */
    kpImm_REFTYPE,   /* reference type byte */
    kpImm_MEMINIT,   /* data index, memory index */
    kpImm_DATA,      /* data index */
    kpImm_MEMCOPY,   /* memory index (dst), memory index (src) */
    kpImm_TABLEINIT, /* element index, table index */
    kpImm_ELEM,      /* element index */
    kpImm_TABLECOPY, /* table index (dst), table index (src) */
    kpImm_V128,      /* 16 bytes */
    kpImm_SHUFFLE,   /* 16 lane bytes */
    kpImm_LANE,      /* one lane byte */
    kpImm_MEMLANE    /* memarg then a lane byte */
} kpImm;

typedef enum kpOp {
#define KP_OP(id, name, prefix, code, imm, sig, align) kpOp_##id,
#include "opcodes.def"
    kpOp_COUNT
} kpOp;

typedef struct kpOpInfo {
    const char *name; /* text-format mnemonic */
    uint8_t prefix;   /* 0, 0xFC or 0xFD */
    uint32_t code;    /* byte after the prefix (or the opcode byte itself) */
    kpImm imm;
    const char *sig; /* "ab:c" or "*" (see opcodes.def) */
    uint8_t align;   /* natural alignment, log2, for memory accesses */
} kpOpInfo;

extern const kpOpInfo kpOp_info[kpOp_COUNT];

/* Dense maps from (prefix, code) to kpOp + 1 (0 = unknown), one array for all three families:
 * single-byte opcodes at 0..255, 0xFC codes at 256..287, 0xFD codes at 288..799. Built by the
 * compiler from the table, so decoding an instruction costs one load (no first-use setup, no
 * synchronisation on the hot path). opcodes.def keeps 0xFC codes below 32 and 0xFD codes below
 * 512; a row outside that range would collide with another and gcc's -Woverride-init says so. */
#define KP_MAP_FC 256
#define KP_MAP_FD (KP_MAP_FC + 32)
#define KP_MAP_SIZE (KP_MAP_FD + 512)
#define KP_MAP_AT(prefix, code) \
    ((prefix) == 0 ? (code) : (prefix) == 0xFC ? KP_MAP_FC + (code) : KP_MAP_FD + (code))
extern const uint16_t kpOp_codeMap[KP_MAP_SIZE];

/* Decode: the kpOp for a prefix (0 for none) and code, or -1 if unknown. */
static inline int kpOp_fromCode(uint8_t prefix, uint32_t code) {
    uint32_t at;
    if (prefix == 0) at = code & 0xFF;
    else if (prefix == 0xFC && code < 32) at = KP_MAP_FC + code;
    else if (prefix == 0xFD && code < 512) at = KP_MAP_FD + code;
    else return -1;
    return (int)kpOp_codeMap[at] - 1;
}

/* Text: the kpOp for a mnemonic (for "select" returns kpOp_SELECT), or -1. */
int kpOp_fromName(const char *name, size_t len);

#endif /* KP_OPCODES_H */
