/*
 * module.h -- the decoded module model shared by the decoder, validator, lowering and runtime.
 *
 * A kpModule owns a private copy of the module bytes; code bodies, constant expressions, data
 * segments and names point into that copy (as offsets or pointers) so nothing is duplicated.
 *
 * Contracts:
 *   kpDecode_module  accepts any bytes; on success the model is structurally well-formed
 *                    (indices not yet checked, code bodies not yet examined beyond their size).
 *   kpValidate_module accepts a decoded module; on success every index is in range, every function
 *                    body and constant expression is well-typed, and later passes may rely on it
 *                    without checking again.
 */
#ifndef KP_MODULE_H
#define KP_MODULE_H

#include "base/base.h"
#include "module/opcodes.h"

/* Value types use their binary encodings. */
typedef uint8_t kpValType;
enum {
    kpT_I32 = 0x7F,
    kpT_I64 = 0x7E,
    kpT_F32 = 0x7D,
    kpT_F64 = 0x7C,
    kpT_V128 = 0x7B,
    kpT_FUNCREF = 0x70,
    kpT_EXTERNREF = 0x6F
};
static inline bool kp_is_reftype(kpValType t) { return t == kpT_FUNCREF || t == kpT_EXTERNREF; }
static inline bool kp_is_valtype(uint8_t byte) {
    return byte == kpT_I32 || byte == kpT_I64 || byte == kpT_F32 || byte == kpT_F64 || byte == kpT_V128 ||
           byte == kpT_FUNCREF || byte == kpT_EXTERNREF;
}
const char *kp_valtype_name(kpValType t);

/* Implementation limits (KP_MAX_TYPES, KP_MAX_LOCALS, ...) are in config.h; the decoder enforces them. */

typedef struct kpFuncType {
    uint32_t nparams, nresults;
    kpValType *types; /* nparams params followed by nresults results */
} kpFuncType;
static inline const kpValType *kpFuncType_params(const kpFuncType *t) { return t->types; }
static inline const kpValType *kpFuncType_results(const kpFuncType *t) { return t->types + t->nparams; }
bool kpModule_typeEqual(const kpFuncType *a, const kpFuncType *b);

typedef struct kpLimits {
    uint64_t min, max;
    bool has_max;
} kpLimits;

typedef struct kpTableType {
    kpValType elem;
    kpLimits limits;
} kpTableType;
typedef struct kpMemType {
    kpLimits limits;
} kpMemType;
typedef struct kpGlobalType {
    kpValType type;
    bool mut;
} kpGlobalType;

/* A byte range of the module copy: a constant expression (including its final `end`) or a
 * function body's instructions. */
typedef struct kpRange {
    uint32_t start, len;
} kpRange;

typedef enum kpExternKind {
    kpExtern_FUNC = 0,
    kpExtern_TABLE = 1,
    kpExtern_MEMORY = 2,
    kpExtern_GLOBAL = 3
} kpExternKind;

typedef struct kpImport {
    const char *module;
    uint32_t module_len; /* point into the module copy, not NUL-terminated */
    const char *name;
    uint32_t name_len;
    kpExternKind kind;
    union {
        uint32_t func_type; /* type index */
        kpTableType table;
        kpMemType memory;
        kpGlobalType global;
    } desc;
} kpImport;

typedef struct kpExport {
    const char *name;
    uint32_t name_len;
    kpExternKind kind;
    uint32_t index;
} kpExport;

/* A local declaration run: `count` locals of `type`. */
typedef struct kpLocalRun {
    uint32_t count;
    kpValType type;
} kpLocalRun;

/* A function defined in the module (imports are not in this array). */
typedef struct kpFunc {
    uint32_t type;    /* type index */
    uint32_t nlocals; /* declared locals, not counting params */
    kpLocalRun *local_runs;
    uint32_t nlocal_runs;
    kpRange body;         /* instructions after the locals, up to and including the final end */
    uint32_t body_offset; /* offset of the body's size field, for error messages */
} kpFunc;

typedef struct kpGlobal {
    kpGlobalType type;
    kpRange init; /* constant expression */
} kpGlobal;

typedef enum kpSegMode {
    kpSeg_ACTIVE,
    kpSeg_PASSIVE,
    kpSeg_DECLARATIVE
} kpSegMode;

typedef struct kpElem {
    kpSegMode mode;
    uint32_t table; /* active only */
    kpRange offset; /* active only: constant expression */
    kpValType type; /* funcref or externref */
    uint32_t count;
    /* Exactly one of these is set: function indices (the elemkind 0x00 forms) or one constant
     * expression per item (the expression forms). */
    uint32_t *funcs;
    kpRange *exprs;
} kpElem;

typedef struct kpData {
    kpSegMode mode;  /* active or passive */
    uint32_t memory; /* active only */
    kpRange offset;  /* active only */
    kpRange bytes;
} kpData;

typedef struct kpCustom {
    const char *name;
    uint32_t name_len;
    kpRange bytes; /* the payload after the name */
} kpCustom;

typedef struct kpModule {
    uint8_t *bytes; /* private copy of the whole binary */
    size_t size;

    kpFuncType *types;
    uint32_t ntypes;
    kpValType *type_pool; /* one allocation holding every types[i].types (decoder-owned) */
    kpImport *imports;
    uint32_t nimports;
    /* Counts of imported entities of each kind; they come first in each index space. */
    uint32_t nfunc_imports, ntable_imports, nmem_imports, nglobal_imports;

    kpFunc *funcs;
    uint32_t nfuncs; /* defined functions */
    kpTableType *tables;
    uint32_t ntables; /* defined tables */
    kpMemType *memories;
    uint32_t nmemories; /* defined memories */
    kpGlobal *globals;
    uint32_t nglobals; /* defined globals */
    kpExport *exports;
    uint32_t nexports;
    bool has_start;
    uint32_t start;
    kpElem *elems;
    uint32_t nelems;
    kpData *datas;
    uint32_t ndatas;
    bool has_data_count;
    uint32_t data_count;
    kpCustom *customs;
    uint32_t ncustoms;
    /* Offset of the code section's payload (its function count): DWARF addresses in wasm are
     * relative to it. 0 without a code section. */
    uint32_t code_start;
    /* Offsets of the table and memory sections' payloads and of the start function's index, for
     * the errors of module-level rules (0 when absent). */
    uint32_t table_at, memory_at, start_at;

    /* From the "name" section (if present and well-formed): function names by function index
     * (imports included); NULL entries are unnamed. Owned strings. */
    char **func_names;
    uint32_t nfunc_names;

    /* Filled by validation: for each function index (imports included), whether ref.func may
     * name it (it appears in an export, an element segment or a global initializer). */
    bool *func_declared;

    /* Filled by the decoder: import_pos[kind][k] is the position in imports[] of the k-th import
     * of that kind, so the index-space helpers below are O(1). */
    uint32_t *import_pos[4];
} kpModule;

/* Index-space helpers (valid only on a decoded module; i must be in range). */
static inline uint32_t kpModule_numFuncs(const kpModule *m) { return m->nfunc_imports + m->nfuncs; }
static inline uint32_t kpModule_numTables(const kpModule *m) { return m->ntable_imports + m->ntables; }
static inline uint32_t kpModule_numMemories(const kpModule *m) { return m->nmem_imports + m->nmemories; }
static inline uint32_t kpModule_numGlobals(const kpModule *m) { return m->nglobal_imports + m->nglobals; }
/* Type index of function `f` (import or defined). */
uint32_t kpModule_funcTypeIndex(const kpModule *m, uint32_t f);
const kpFuncType *kpModule_funcType(const kpModule *m, uint32_t f);
kpTableType kpModule_tableType(const kpModule *m, uint32_t t);
kpMemType kpModule_memType(const kpModule *m, uint32_t i);
kpGlobalType kpModule_globalType(const kpModule *m, uint32_t g);

/* Decode bytes into a fresh module (the bytes are copied). Errors: KAPSUL_ERR_MALFORMED with the
 * byte offset and the spec's message ("unexpected end", "integer too large", "section size
 * mismatch", "malformed UTF-8 encoding", ...), KAPSUL_ERR_LIMIT, KAPSUL_ERR_NOMEM. */
kapsul_status kpDecode_module(const uint8_t *bytes, size_t len, kpModule **out, kapsul_error *err);

/* Validate a decoded module. Errors: KAPSUL_ERR_INVALID with offset and the spec's message
 * ("type mismatch", "unknown local", ...), KAPSUL_ERR_NOMEM. Sets m->func_declared.
 * Function bodies are decoded here for the first time, so encoding errors inside a body (an
 * unknown opcode, a bad LEB128, a missing data count section) come back as KAPSUL_ERR_MALFORMED. */
kapsul_status kpValidate_module(kpModule *m, kapsul_error *err);

void kpModule_free(kpModule *m);

/* ---- One instruction -------------------------------------------------------------------------
 * The single decoder of instruction encodings, shared by the module decoder (to find the end of
 * constant expressions), the validator and lowering. It checks encodings only (opcode known,
 * LEB128 sizes, reserved zero bytes, reference/value type bytes), never indices or types. */
typedef enum kpBlockKind {
    kpBlock_EMPTY,
    kpBlock_VAL,
    kpBlock_TYPE
} kpBlockKind;

typedef struct kpInstr {
    uint16_t op;        /* kpOp */
    uint8_t block_kind; /* kpImm_BLOCK: kpBlockKind */
    kpValType type;     /* kpBlock_VAL type, ref.null type, select_t's first type */
    uint8_t lane;       /* kpImm_LANE / kpImm_MEMLANE */
    uint32_t offset;    /* offset of the opcode's first byte in the module */
    /* Index immediates in encoding order: label, function, local, global, table, element, data;
     * call_indirect (type, table); memarg (align log2, offset); memory.init (data, memory);
     * table.init (elem, table); table.copy / memory.copy (dst, src); block type index (a);
     * br_table default label (a); select_t vector length (a). */
    uint32_t a, b;
    uint64_t bits; /* i32/i64 constants (two's complement), f32/f64 bit patterns */
    /* br_table: `count` target labels as LEB128 u32 starting at `bytes` (already checked, reread
     * them with kpRead_u32); v128.const / i8x16.shuffle: the 16 immediate bytes. */
    const uint8_t *bytes;
    uint32_t count;
} kpInstr;

/* Decode the instruction at r->p (r->base must be the module's start). On failure returns false
 * with the spec's message in r->error ("illegal opcode", "zero byte expected", "malformed memop
 * flags", "malformed reference type", "unexpected end", "integer too large", ...). */
bool kpDecode_instr(kpReader *r, kpInstr *in);

/* kpDecode_instr with the common shapes inline, for the loops that walk whole bodies (validation,
 * lowering): a one-byte opcode whose immediate is absent, an index or i32 that fits one byte, or
 * a block type that is empty or a value type. Anything else goes to kpDecode_instr; the result is
 * the same either way. */
static inline bool kpDecode_next(kpReader *r, kpInstr *in) {
    const uint8_t *p = r->p;
    if (p + 1 < r->end && kpOp_codeMap[*p]) {
        unsigned op = kpOp_codeMap[*p] - 1u;
        uint8_t x = p[1];
        uint32_t offset = (uint32_t)(p - r->base);
        switch (kpOp_info[op].imm) {
        case kpImm_NONE:
            *in = (kpInstr){ .op = (uint16_t)op, .offset = offset };
            r->p = p + 1;
            return true;
        case kpImm_LABEL:
        case kpImm_FUNC:
        case kpImm_LOCAL:
        case kpImm_GLOBAL:
        case kpImm_TABLE:
        case kpImm_DATA:
        case kpImm_ELEM:
            if (x >= 0x80) break;
            *in = (kpInstr){ .op = (uint16_t)op, .offset = offset, .a = x };
            r->p = p + 2;
            return true;
        case kpImm_I32:
            if (x >= 0x80) break;
            *in = (kpInstr){ .op = (uint16_t)op, .offset = offset, .bits = (uint32_t)kp_sleb7(x) };
            r->p = p + 2;
            return true;
        case kpImm_BLOCK:
            if (x == 0x40) {
                *in = (kpInstr){ .op = (uint16_t)op, .offset = offset, .block_kind = kpBlock_EMPTY };
            } else if (kp_is_valtype(x)) {
                *in = (kpInstr){ .op = (uint16_t)op, .offset = offset, .block_kind = kpBlock_VAL, .type = x };
            } else {
                break;
            }
            r->p = p + 2;
            return true;
        default: break;
        }
    }
    return kpDecode_instr(r, in);
}

/* Parse the "name" custom section payload into m->func_names. A malformed name section is
 * ignored (as engines do); only running out of memory is an error (KAPSUL_ERR_NOMEM). */
kapsul_status kpModule_readNames(kpModule *m, const kpCustom *names);

#endif /* KP_MODULE_H */
