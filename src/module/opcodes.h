/*
 * opcodes.h -- the instruction set, generated from opcodes.def.
 */
#ifndef KP_OPCODES_H
#define KP_OPCODES_H

#include <stdint.h>

/* What follows an opcode in the binary format (and in the text format). */
typedef enum kpImm {
    kpImm_NONE,
    kpImm_BLOCK,      /* block type: 0x40, a value type, or a type index (s33) */
    kpImm_LABEL,      /* label index */
    kpImm_BRTABLE,    /* vec(label) default label */
    kpImm_FUNC,       /* function index */
    kpImm_CALLIND,    /* type index, table index */
    kpImm_LOCAL,      /* local index */
    kpImm_GLOBAL,     /* global index */
    kpImm_TABLE,      /* table index */
    kpImm_MEMARG,     /* align (u32, log2), offset (u32) */
    kpImm_MEMIDX,     /* memory index (a 0x00 byte in 2.0) */
    kpImm_I32,        /* s32 */
    kpImm_I64,        /* s64 */
    kpImm_F32,        /* 4 bytes */
    kpImm_F64,        /* 8 bytes */
    kpImm_SELECTT,    /* vec(valtype), length 1 in 2.0 */
    kpImm_REFTYPE,    /* reference type byte */
    kpImm_MEMINIT,    /* data index, memory index */
    kpImm_DATA,       /* data index */
    kpImm_MEMCOPY,    /* memory index (dst), memory index (src) */
    kpImm_TABLEINIT,  /* element index, table index */
    kpImm_ELEM,       /* element index */
    kpImm_TABLECOPY,  /* table index (dst), table index (src) */
    kpImm_V128,       /* 16 bytes */
    kpImm_SHUFFLE,    /* 16 lane bytes */
    kpImm_LANE,       /* one lane byte */
    kpImm_MEMLANE     /* memarg then a lane byte */
} kpImm;

typedef enum kpOp {
#define KP_OP(id, name, prefix, code, imm, sig, align) kpOp_##id,
#include "opcodes.def"
    kpOp_COUNT
} kpOp;

typedef struct kpOpInfo {
    const char *name;     /* text-format mnemonic */
    uint8_t prefix;       /* 0, 0xFC or 0xFD */
    uint32_t code;        /* byte after the prefix (or the opcode byte itself) */
    kpImm imm;
    const char *sig;      /* "ab:c" or "*" (see opcodes.def) */
    uint8_t align;        /* natural alignment, log2, for memory accesses */
} kpOpInfo;

extern const kpOpInfo kpOp_info[kpOp_COUNT];

/* Decode: the kpOp for a prefix (0 for none) and code, or -1 if unknown. */
int kpOp_fromCode(uint8_t prefix, uint32_t code);
/* Text: the kpOp for a mnemonic (for "select" returns kpOp_SELECT), or -1. */
int kpOp_fromName(const char *name, size_t len);

#endif /* KP_OPCODES_H */
