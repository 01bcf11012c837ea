/*
 * text.h -- the WebAssembly text format: WAT modules to binary, and WAST scripts to commands.
 *
 * Contract: any input text is accepted without crashing; errors carry line:column. The encoder
 * emits a binary module that kpDecode_module can read; it does not validate (a well-formed but
 * ill-typed module, as assert_invalid needs, encodes fine and fails later in validation).
 */
#ifndef KP_TEXT_H
#define KP_TEXT_H

#include "base/base.h"

/* Encode one module written in the text format: either "(module ...)" (optionally named, and
 * also the "(module binary ...)" / "(module quote ...)" forms) or a bare sequence of module
 * fields. Appends the binary to *out. Errors: KAPSUL_ERR_MALFORMED with line/column,
 * KAPSUL_ERR_NOMEM. `line0` is the line number of src[0] within its file (1 for a whole file),
 * so positions in scripts are reported against the script. */
kapsul_status kpWat_toBinary(const char *src, size_t len, int line0, kpBuf *out, kapsul_error *err);
/* Same, for a text that starts mid-line: src[0] is at line0:col0 of its file (a module inside a
 * WAST script: pass kpWastModule.line and .column), so columns on the first line are right too. */
kapsul_status kpWat_toBinaryAt(const char *src, size_t len, int line0, int col0, kpBuf *out,
                               kapsul_error *err);

/* ---- WAST scripts ---------------------------------------------------------------------------- */

typedef enum kpWastValKind {
    kpWV_I32,
    kpWV_I64,
    kpWV_F32,
    kpWV_F64,
    kpWV_V128,
    kpWV_REF_NULL,      /* (ref.null func|extern): reftype in .reftype */
    kpWV_REF_EXTERN,    /* (ref.extern N): N in .u.i64 */
    kpWV_REF_FUNC,      /* (ref.func) in expectations: any non-null funcref */
    kpWV_REF_ANY_EXTERN /* (ref.extern) with no number in expectations: any non-null externref */
} kpWastValKind;

/* How a float (or a float lane) is matched in an expectation. */
typedef enum kpWastNan {
    kpNan_NONE = 0,
    kpNan_CANONICAL,
    kpNan_ARITHMETIC
} kpWastNan;

typedef struct kpWastVal {
    kpWastValKind kind;
    uint8_t reftype;    /* 0x70 funcref / 0x6F externref for kpWV_REF_NULL */
    uint8_t lane_shape; /* v128: 0=i8x16 1=i16x8 2=i32x4 3=i64x2 4=f32x4 5=f64x2 */
    kpWastNan nan[16];  /* nan[0] for scalars; per lane for v128 float shapes */
    union {
        uint32_t i32; /* also f32 bits */
        uint64_t i64; /* also f64 bits */
        uint8_t v128[16];
    } u;
} kpWastVal;

typedef enum kpWastModKind {
    kpMod_TEXT,   /* text: pass src[0..len) to kpWat_toBinary */
    kpMod_BINARY, /* (module binary "..."): bytes already decoded into .bytes */
    kpMod_QUOTE   /* (module quote "..."): the concatenated strings in .bytes, to be parsed as
                       WAT by kpWat_toBinary (they may be deliberately malformed) */
} kpWastModKind;

typedef struct kpWastModule {
    kpWastModKind kind;
    char *name;      /* "$id" without the '$', or NULL; owned */
    const char *src; /* kpMod_TEXT: points into the script text */
    size_t len;
    int line;    /* line where the module starts */
    kpBuf bytes; /* kpMod_BINARY / kpMod_QUOTE */
    int column;  /* column of the module's '(' (for kpWat_toBinaryAt) */
} kpWastModule;

typedef enum kpWastActionKind {
    kpAct_INVOKE,
    kpAct_GET
} kpWastActionKind;

typedef struct kpWastAction {
    kpWastActionKind kind;
    char *module; /* "$id" without '$' or NULL for the latest module; owned */
    char *field;  /* export name (may contain any bytes; NUL-terminated, owned) */
    size_t field_len;
    kpWastVal *args;
    uint32_t nargs;
} kpWastAction;

typedef enum kpWastCmdKind {
    kpCmd_MODULE,   /* define (and instantiate) a module */
    kpCmd_REGISTER, /* (register "name" $id?) */
    kpCmd_ACTION,   /* a bare (invoke ...) or (get ...) */
    kpCmd_ASSERT_RETURN,
    kpCmd_ASSERT_TRAP, /* action or module */
    kpCmd_ASSERT_EXHAUSTION,
    kpCmd_ASSERT_INVALID,
    kpCmd_ASSERT_MALFORMED,
    kpCmd_ASSERT_UNLINKABLE,
    kpCmd_ASSERT_UNINSTANTIABLE
} kpWastCmdKind;

typedef struct kpWastCommand {
    kpWastCmdKind kind;
    int line, column;
    bool has_module; /* MODULE, ASSERT_INVALID/MALFORMED/UNLINKABLE/UNINSTANTIABLE,
                                 ASSERT_TRAP on a module */
    kpWastModule module;
    bool has_action;
    kpWastAction action;
    char *register_name;   /* REGISTER: the name; owned */
    char *register_module; /* REGISTER: "$id" without '$' or NULL; owned */
    /* ASSERT_RETURN: expected results. An expectation may list alternatives, (either ...):
     * nalts[i] > 1 means results[i] has alternatives stored in alts. For 2.0 nalts is all 1. */
    kpWastVal *results;
    uint32_t nresults;
    char *message; /* the expected failure text of assert_trap/invalid/...; owned */
} kpWastCommand;

typedef struct kpWastScript {
    kpWastCommand *cmds;
    uint32_t ncmds;
} kpWastScript;

/* Split a script into commands. Module texts are not encoded here (the runner calls
 * kpWat_toBinary per module so that one bad module fails one command, not the script).
 * On a syntax error in the script structure itself returns KAPSUL_ERR_MALFORMED with
 * line/column; the commands parsed before the error are kept in *out. */
kapsul_status kpWast_parse(const char *src, size_t len, kpWastScript *out, kapsul_error *err);
void kpWast_free(kpWastScript *script);

#endif /* KP_TEXT_H */
