/*
 * ir.h -- the engine's internal code: a register (slot) machine lowered once per function.
 *
 * Frame: an array of 8-byte slots: parameters, then declared locals, then one slot per operand
 * stack position (a v128 takes two). Validation fixes the stack height at every instruction,
 * so each wasm instruction becomes one IR instruction whose operands are slot numbers:
 * `i32.add` at height 6 becomes  I32_ADD dst=s5 a=s5 b=s6  and nothing is pushed or popped.
 *
 * Encoding: a flat array of 32-bit words. Word 0 of an instruction is its opcode, the following
 * words its operands (slot numbers, immediates, branch targets as word indices into the same
 * array). Constants of 64 bits take two words (low, high).
 *
 * Calls: the arguments of a call sit in consecutive slots starting at `base`; the callee's frame
 * starts there (its params are the caller's argument slots), and its results come back to the same
 * place. Nothing is copied for an ordinary call.
 *
 * Contract of kpLower_function: the module has passed kpValidate_module; lowering never checks
 * types or indices again, it only tracks heights to assign slots.
 *
 * The opcode list below is the one source of truth of the IR: the enum, the names and the
 * interpreter's dispatch table are all generated from it. Its memory-access, unary and binary
 * lists name instructions of module/opcodes.def again (same IDs, so lowering maps them by name);
 * the preprocessor cannot pick those rows out of opcodes.def by themselves (their shape is in the
 * signature string), so tests/unit/test_opcodes.c loads and runs every opcodes.def row instead,
 * and a row forgotten here fails there by name.
 */
#ifndef KP_IR_H
#define KP_IR_H

#include <stdio.h>

#include "engine/simd.h"
#include "module/module.h"

/* X(ID, words, operands) -- operands as they follow the opcode word. */
#define KP_IR_CONTROL(X)                                                                           \
    X(UNREACHABLE, 1, "")                      /* trap: unreachable */                             \
    X(CHECK, 2, "cost")                        /* fuel -= cost; stop if out of fuel/interrupted */ \
    X(BR, 2, "target")                         /* ip = target */                                   \
    X(BR_IF, 3, "cond target")                 /* if (i32 cond != 0) ip = target */                \
    X(BR_IFZ, 3, "cond target")                /* if (i32 cond == 0) ip = target */                \
    X(BR_TABLE, 0, "idx n t0..tn-1 tdef")      /* ip = t[min(idx, n)]; n+3 words */                \
    X(COPY, 3, "dst src")                      /* s[dst] = s[src] */                               \
    X(COPY2, 5, "d1 s1 d2 s2")                 /* s[d1] = s[s1]; then s[d2] = s[s2] */             \
    X(COPYN, 0, "n d1 s1 .. dn sn")            /* n >= 3 copies in order; 2n+2 words */            \
    X(RETURN, 3, "src nres")                   /* s[0..nres) = s[src..src+nres); return */         \
    X(NATIVE, 1, "")                           /* run this function's native code on s[0..) */     \
    X(CALL, 3, "func base")                    /* call function index func, args at base */        \
    X(CALL_INDIRECT, 5, "type table idx base") /* type = canonical type id */                      \
    X(SELECT, 5, "dst c a b")                  /* s[dst] = s[c] ? s[a] : s[b] */                   \
    X(CONST32, 3, "dst imm")                   /* s[dst] = zero-extended imm */                    \
    X(CONST64, 4, "dst lo hi")                 /* s[dst] = hi:lo */                                \
    X(GLOBAL_GET, 3, "dst g")                                                                      \
    X(GLOBAL_SET, 3, "g src")                                                                      \
    X(TABLE_GET, 4, "dst t i")                                                                     \
    X(TABLE_SET, 4, "t i v")                                                                       \
    X(MEMORY_SIZE, 2, "dst")                                                                       \
    X(MEMORY_GROW, 3, "dst n")                                                                     \
    X(MEMORY_INIT, 5, "seg d s n")                                                                 \
    X(DATA_DROP, 2, "seg")                                                                         \
    X(MEMORY_COPY, 4, "d s n")                                                                     \
    X(MEMORY_FILL, 4, "d v n")                                                                     \
    X(TABLE_INIT, 6, "t seg d s n")                                                                \
    X(ELEM_DROP, 2, "seg")                                                                         \
    X(TABLE_COPY, 6, "dt st d s n")                                                                \
    X(TABLE_GROW, 5, "t dst init n")                                                               \
    X(TABLE_SIZE, 3, "t dst")                                                                      \
    X(TABLE_FILL, 5, "t i v n")                                                                    \
    X(REF_IS_NULL, 3, "dst a")                                                                     \
    X(REF_FUNC, 3, "dst f")

/* Memory accesses: loads "dst addr offset", stores "addr val offset" (4 words). Same IDs as the
 * wasm instructions, so lowering maps them by name. */
#define KP_IR_MEMOPS(X)                                                                                      \
    X(I32_LOAD)                                                                                              \
    X(I64_LOAD)                                                                                              \
    X(F32_LOAD) X(F64_LOAD) X(I32_LOAD8_S) X(I32_LOAD8_U) X(I32_LOAD16_S) X(I32_LOAD16_U) X(I64_LOAD8_S)     \
        X(I64_LOAD8_U) X(I64_LOAD16_S) X(I64_LOAD16_U) X(I64_LOAD32_S) X(I64_LOAD32_U) X(I32_STORE)          \
            X(I64_STORE) X(F32_STORE) X(F64_STORE) X(I32_STORE8) X(I32_STORE16) X(I64_STORE8) X(I64_STORE16) \
                X(I64_STORE32)

/* Numeric instructions: unary "dst a" (3 words) and binary "dst a b" (4 words). Same IDs as the
 * wasm instructions; their semantics are written beside the handlers in interp.c. */
#define KP_IR_UNARY(X)                                                                                       \
    X(I32_EQZ)                                                                                               \
    X(I64_EQZ)                                                                                               \
    X(I32_CLZ) X(I32_CTZ) X(I32_POPCNT) X(I64_CLZ) X(I64_CTZ) X(I64_POPCNT) X(F32_ABS) X(F32_NEG)            \
        X(F32_CEIL) X(F32_FLOOR) X(F32_TRUNC) X(F32_NEAREST) X(F32_SQRT) X(F64_ABS) X(F64_NEG) X(F64_CEIL)   \
            X(F64_FLOOR) X(F64_TRUNC) X(F64_NEAREST) X(F64_SQRT) X(I32_WRAP_I64) X(I32_TRUNC_F32_S)          \
                X(I32_TRUNC_F32_U) X(I32_TRUNC_F64_S) X(I32_TRUNC_F64_U) X(I64_EXTEND_I32_S)                 \
                    X(I64_EXTEND_I32_U) X(I64_TRUNC_F32_S) X(I64_TRUNC_F32_U) X(I64_TRUNC_F64_S)             \
                        X(I64_TRUNC_F64_U) X(F32_CONVERT_I32_S) X(F32_CONVERT_I32_U) X(F32_CONVERT_I64_S)    \
                            X(F32_CONVERT_I64_U) X(F32_DEMOTE_F64) X(F64_CONVERT_I32_S) X(F64_CONVERT_I32_U) \
                                X(F64_CONVERT_I64_S) X(F64_CONVERT_I64_U) X(F64_PROMOTE_F32)                 \
                                    X(I32_REINTERPRET_F32) X(I64_REINTERPRET_F64) X(F32_REINTERPRET_I32)     \
                                        X(F64_REINTERPRET_I64) X(I32_EXTEND8_S) X(I32_EXTEND16_S)            \
                                            X(I64_EXTEND8_S) X(I64_EXTEND16_S) X(I64_EXTEND32_S)             \
                                                X(I32_TRUNC_SAT_F32_S) X(I32_TRUNC_SAT_F32_U)                \
                                                    X(I32_TRUNC_SAT_F64_S) X(I32_TRUNC_SAT_F64_U)            \
                                                        X(I64_TRUNC_SAT_F32_S) X(I64_TRUNC_SAT_F32_U)        \
                                                            X(I64_TRUNC_SAT_F64_S) X(I64_TRUNC_SAT_F64_U)

#define KP_IR_BINARY(X)                                                                                    \
    X(I32_EQ)                                                                                              \
    X(I32_NE)                                                                                              \
    X(I32_LT_S) X(I32_LT_U) X(I32_GT_S) X(I32_GT_U) X(I32_LE_S) X(I32_LE_U) X(I32_GE_S) X(I32_GE_U)        \
        X(I64_EQ) X(I64_NE) X(I64_LT_S) X(I64_LT_U) X(I64_GT_S) X(I64_GT_U) X(I64_LE_S) X(I64_LE_U)        \
            X(I64_GE_S) X(I64_GE_U) X(F32_EQ) X(F32_NE) X(F32_LT) X(F32_GT) X(F32_LE) X(F32_GE) X(F64_EQ)  \
                X(F64_NE) X(F64_LT) X(F64_GT) X(F64_LE) X(F64_GE) X(I32_ADD) X(I32_SUB) X(I32_MUL)         \
                    X(I32_DIV_S) X(I32_DIV_U) X(I32_REM_S) X(I32_REM_U) X(I32_AND) X(I32_OR) X(I32_XOR)    \
                        X(I32_SHL) X(I32_SHR_S) X(I32_SHR_U) X(I32_ROTL) X(I32_ROTR) X(I64_ADD) X(I64_SUB) \
                            X(I64_MUL) X(I64_DIV_S) X(I64_DIV_U) X(I64_REM_S) X(I64_REM_U) X(I64_AND)      \
                                X(I64_OR) X(I64_XOR) X(I64_SHL) X(I64_SHR_S) X(I64_SHR_U) X(I64_ROTL)      \
                                    X(I64_ROTR) X(F32_ADD) X(F32_SUB) X(F32_MUL) X(F32_DIV) X(F32_MIN)     \
                                        X(F32_MAX) X(F32_COPYSIGN) X(F64_ADD) X(F64_SUB) X(F64_MUL)        \
                                            X(F64_DIV) X(F64_MIN) X(F64_MAX) X(F64_COPYSIGN)

/* Fused forms, made by peepholes in lowering. Their semantics are written here, once, as C
 * expressions over x and y (uint32_t for i32, uint64_t for i64); the interpreter expands them.
 *
 * <op>_IMM "dst a imm" (4 words): the second operand is an immediate (i64: sign-extended 32 bits);
 *   made from `const; op` (and `const; local.get; op` for commutative ops).
 * BR_<cmp> "a b target" and BR_<cmp>_IMM "a imm target" (4 words): compare and branch if true;
 *   made from `compare; br_if` and, with the negated compare, `compare; if`.
 * BRA_<cmp> "d x k b target" and BRA_<cmp>_IMM "d x k imm target" (6 words): s[d] = x + k (i32),
 *   then BR_<cmp> on d: a counted loop's step and test in one, made from an I32_ADD_IMM or
 *   I32_SUB_IMM right before a BR_<cmp> whose first operand it wrote.
 * BRR_<cmp> "d x y b target" and BRR_<cmp>_IMM "d x y imm target" (6 words): the same with the
 *   step in a register, s[d] = x + s[y], made from an I32_ADD. */
#define KP_IR_IMM32(X)                                                                             \
    X(I32_ADD, x + y)                                                                              \
    X(I32_SUB, x - y)                                                                              \
    X(I32_MUL, x *y) X(I32_AND, x &y) X(I32_OR, x | y) X(I32_XOR, x ^ y) X(I32_SHL, x << (y & 31)) \
        X(I32_SHR_U, x >> (y & 31)) X(I32_SHR_S, (uint32_t)((int32_t)x >> (y & 31)))               \
            X(I32_ROTL, (x << (y & 31)) | (x >> ((32 - (y & 31)) & 31)))                           \
                X(I32_ROTR, (x >> (y & 31)) | (x << ((32 - (y & 31)) & 31))) KP_IR_CMP32(X)
#define KP_IR_CMP32(X)                                                                           \
    X(I32_EQ, x == y)                                                                            \
    X(I32_NE, x != y)                                                                            \
    X(I32_LT_S, (int32_t)x < (int32_t)y) X(I32_LT_U, x < y) X(I32_GT_S, (int32_t)x > (int32_t)y) \
        X(I32_GT_U, x > y) X(I32_LE_S, (int32_t)x <= (int32_t)y) X(I32_LE_U, x <= y)             \
            X(I32_GE_S, (int32_t)x >= (int32_t)y) X(I32_GE_U, x >= y)
#define KP_IR_IMM64(X)                                                                             \
    X(I64_ADD, x + y)                                                                              \
    X(I64_SUB, x - y)                                                                              \
    X(I64_MUL, x *y) X(I64_AND, x &y) X(I64_OR, x | y) X(I64_XOR, x ^ y) X(I64_SHL, x << (y & 63)) \
        X(I64_SHR_U, x >> (y & 63)) X(I64_SHR_S, (uint64_t)((int64_t)x >> (y & 63)))               \
            X(I64_ROTL, (x << (y & 63)) | (x >> ((64 - (y & 63)) & 63)))                           \
                X(I64_ROTR, (x >> (y & 63)) | (x << ((64 - (y & 63)) & 63)))
/* <store>_IMM "addr imm offset" (4 words): stores a constant (i64: sign-extended 32 bits); made
 * from `const; store`. X(ID, access bytes). */
#define KP_IR_STOREI(X) X(I32_STORE, 4) X(I32_STORE8, 1) X(I32_STORE16, 2) X(I64_STORE, 8)
/* <load>_ADD "dst x imm offset" (5 words): loads from address (uint32_t)(x + imm) + offset; made
 * from `i32.add/sub` with a constant right before the load. The add wraps at 32 bits before the
 * memarg offset is added, exactly as the two instructions do, so nothing changes at the 4 GiB
 * edge; it only saves a dispatch. */
#define KP_IR_LOADA(X)                                                                                   \
    X(I32_LOAD)                                                                                          \
    X(I64_LOAD)                                                                                          \
    X(F32_LOAD) X(F64_LOAD) X(I32_LOAD8_S) X(I32_LOAD8_U) X(I32_LOAD16_S) X(I32_LOAD16_U) X(I64_LOAD8_S) \
        X(I64_LOAD8_U) X(I64_LOAD16_S) X(I64_LOAD16_U) X(I64_LOAD32_S) X(I64_LOAD32_U)

/* Pairs fused into one instruction "dst a x y" (5 words): an operation whose second operand is the
 * result of the instruction right before, an operand-stack temporary used nowhere else. Made by
 * lowering from `x op1 y` then `a op2 t` (or `t op2 a` where op2 commutes); y is the immediate k
 * (taken mod the width) for the shift/rotate forms. Floating point rounds twice, as the two
 * instructions do (the build forbids contraction into FMA). <access>_X forms take the address (uint32_t)(x + (y << k)) + offset,
 * made from an I32_ADD (k = 0) or I32_ADDSHL right before the access: loads "dst x y k offset",
 * stores "x y k val offset", constant stores (<store>_IMM_X) "x y k imm offset"; 6 words each.
 * The sum wraps at 32 bits exactly as the separate instructions do. */
#define KP_IR_FUSED(X)                                                                             \
    X(I32_ADDSHL, 5, "dst a x k")  /* a + (x << k): array indexing */                              \
    X(I32_XORROTL, 5, "dst a x k") /* a ^ rotl(x, k): hash rounds */                               \
    X(I32_XORSHRU, 5, "dst a x k") /* a ^ (x >> k) */                                              \
    X(I32_MULADD, 5, "dst a x y")  /* a + x * y */                                                 \
    X(F32_MULADD, 5, "dst a x y")                                                                  \
    X(F32_MULSUB, 5, "dst a x y") /* a - x * y */                                                  \
    X(F64_MULADD, 5, "dst a x y")                                                                  \
    X(F64_MULSUB, 5, "dst a x y")                                                                  \
    X(I32_ADD3, 5, "dst a x y")   /* a + (x + y) */                                                \
    X(F32_MULMUL, 5, "dst a x y") /* (x * y) * a */                                                \
    X(F64_MULMUL, 5, "dst a x y")                                                                  \
    X(F64_ADDLD, 5, "dst a x off")      /* a + f64 at x + off (a load right before) */             \
    X(F64_SUBLD, 5, "dst a x off")      /* a - f64 at x + off */                                   \
    X(F64_MULLD, 5, "dst a x off")      /* a * f64 at x + off */                                   \
    X(F64_ADDLDA, 6, "dst a x imm off") /* the same after an F64_LOAD_ADD: address            \
                                           (uint32_t)(x + imm) + off */    \
    X(F64_SUBLDA, 6, "dst a x imm off")                                                            \
    X(F64_MULLDA, 6, "dst a x imm off")                                                            \
    X(F64_ADDTO, 4, "a x off")           /* f64 at x + off += a: F64_ADDLD stored back in place */ \
    X(I32_ADD4, 6, "dst a x y z")        /* a + (x + (y + z)) */                                   \
    X(I32_ROTXOR, 6, "dst x j y k")      /* rotl(x, j) ^ rotl(y, k) */                             \
    X(F64_SUBMM, 6, "dst a b x y")       /* a - (x * y) * b: from F64_MULMUL then f64.sub */       \
    X(F64_MMADDTO, 6, "b x y p off")     /* f64 at p + off += (x * y) * b */                       \
    X(I32_LOAD_SA, 6, "dst x k imm off") /* i32 at (uint32_t)((x << k) + imm) + off: a table  \
                                            indexed by x (i32.shl right before I32_LOAD_ADD) */    \
    X(I32_SHRAND, 5, "dst x k m")        /* (x >> k) & m: from `i32.shr_u k; i32.and m` */         \
    X(BRA_NZ, 5, "d x k target")         /* s[d] = x + k; branch if s[d] != 0 (add/sub; br_if) */
#define KP_IR_STOREX(X) \
    X(I32_STORE)        \
    X(I64_STORE)        \
    X(F32_STORE) X(F64_STORE) X(I32_STORE8) X(I32_STORE16) X(I64_STORE8) X(I64_STORE16) X(I64_STORE32)

/* Every IR opcode family in enum order; the enum, the names and the dispatch table expand it.
 * C(id, words, ops); N(id) plain; I(id, x) id_IMM; B(id, x) BR_id and BR_id_IMM; A(id) id_ADD;
 * XM(id) id_X; XI(id, x) id_IMM_X; BA(id, x) BRA_id and BRA_id_IMM; BR(id, x) BRR_id and
 * BRR_id_IMM. The inlined SIMD ops (kpIr_V_*) follow. */
#define KP_IR_EACH(C, N, I, B, A, XM, XI, BA, BR)                                                       \
    KP_IR_CONTROL(C)                                                                                    \
    KP_IR_MEMOPS(N)                                                                                     \
    KP_IR_UNARY(N) KP_IR_BINARY(N) KP_IR_IMM32(I) KP_IR_IMM64(I) KP_IR_CMP32(B) KP_IR_STOREI(I)         \
        KP_IR_LOADA(A) KP_IR_FUSED(C) KP_IR_LOADA(XM) KP_IR_STOREX(XM) KP_IR_STOREI(XI) KP_IR_CMP32(BA) \
            KP_IR_CMP32(BR) KP_IR_SIMD(C)

/* SIMD (v128 = two consecutive slots; semantics in simd.c). X(ID, words, operands) as above.
 * sop is the kpOp of the wasm instruction; unused operand slots are 0. */
#define KP_IR_SIMD(X)                                                                                  \
    X(SIMD, 7, "dst sop a b c lane")                    /* s[dst] = kpSimd_exec(sop, a, b, c, lane) */ \
    X(V128_CONST, 6, "dst w0 w1 w2 w3")                 /* s[dst..dst+1] = w3:w2:w1:w0 */              \
    X(SHUFFLE, 8, "dst a b l0 l1 l2 l3")                /* i8x16.shuffle, 16 lane bytes in 4 words */  \
    X(SIMD_MEM, 8, "dst sop addr vec offset lane size") /* load/store, bounds-checked */               \
    X(GLOBAL_GET128, 3, "dst g")                                                                       \
    X(GLOBAL_SET128, 3, "g src")                                                                       \
    X(V128_LOAD, 4, "dst addr offset")  /* v128.load, inline */                                        \
    X(V128_STORE, 4, "addr val offset") /* v128.store, inline */
/* The inlined binary ones (simd.h's KP_SIMD_FAST) follow in the enum: kpIr_V_<ID> "dst a b",
 * 4 words. */

typedef enum kpIrOp {
#define KP_IR_C(id, words, ops) kpIr_##id,
#define KP_IR_N(id) kpIr_##id,
#define KP_IR_I(id, expr) kpIr_##id##_IMM,
#define KP_IR_B(id, expr) kpIr_BR_##id, kpIr_BR_##id##_IMM,
#define KP_IR_A(id) kpIr_##id##_ADD,
#define KP_IR_XM(id) kpIr_##id##_X,
#define KP_IR_XI(id, x) kpIr_##id##_IMM_X,
#define KP_IR_BA(id, x) kpIr_BRA_##id, kpIr_BRA_##id##_IMM,
#define KP_IR_BR(id, x) kpIr_BRR_##id, kpIr_BRR_##id##_IMM,
    KP_IR_EACH(KP_IR_C, KP_IR_N, KP_IR_I, KP_IR_B, KP_IR_A, KP_IR_XM, KP_IR_XI, KP_IR_BA, KP_IR_BR)
#define KP_IR_V(id, type, kind, expr) kpIr_V_##id,
    KP_SIMD_FAST(KP_IR_V)
#undef KP_IR_V
#undef KP_IR_C
#undef KP_IR_N
#undef KP_IR_I
#undef KP_IR_B
#undef KP_IR_A
#undef KP_IR_XM
#undef KP_IR_XI
#undef KP_IR_BA
#undef KP_IR_BR
        kpIr_COUNT
} kpIrOp;

extern const char *const kpIr_names[kpIr_COUNT];

/* One lowered function. */
typedef struct kpCode {
    uint32_t *code; /* the instruction words */
    uint32_t len;
    uint32_t nparam_slots;  /* slots taken by the parameters */
    uint32_t nlocal_slots;  /* declared locals (zeroed at entry) */
    uint32_t nresult_slots; /* slots taken by the results */
    uint32_t nslots;        /* whole frame: params + locals + maximum operand stack */
    /* Where each stretch of code came from (lower.c, "The position map"): pairs of LEB128
     * deltas (IR words, module offset) starting from (0, body_offset). */
    uint8_t *pcmap;
    uint32_t pcmap_len;
    uint32_t body_offset; /* module offset of the function body (its local declarations) */
} kpCode;

/* Per-module information lowering needs beyond the module model. */
typedef struct kpLowerCtx {
    const kpModule *m;
    const uint32_t *func_types; /* type index of every function (imports first) */
    const uint32_t *type_ids;   /* canonical engine id of every type index */
} kpLowerCtx;

/* Lower defined function `i` (0-based among defined functions) into *out. Errors: KAPSUL_ERR_NOMEM,
 * KAPSUL_ERR_LIMIT (frame too large, or an instruction the engine does not implement). */
kapsul_status kpLower_function(const kpLowerCtx *ctx, uint32_t i, kpCode *out, kapsul_error *err);
void kpCode_free(kpCode *c);
/* The module offset of the wasm instruction that IR word `word` of c came from (code.c). */
uint32_t kpCode_offsetAt(const kpCode *c, uint32_t word);
/* Print the instructions, one per line (debugging; works before and after threading). */
void kpCode_dump(const kpCode *c, FILE *out);
/* The code of a function of a module loaded with native code (a .kwasm): not lowered, a stub
 * `CHECK 0; NATIVE; RETURN 0 nres` whose NATIVE runs the compiled function with the frame's
 * slots, for interpreted callers in other instances (kpInterp_call enters native code directly).
 * KAPSUL_ERR_NOMEM only. */
kapsul_status kpCode_nativeStub(const kpFuncType *ft, kpCode *out);
/* Number of words of the instruction at ip (opcode numbers, i.e. before threading). */
uint32_t kpCode_words(const uint32_t *ip);

/* interp.c: turn opcode numbers into handler addresses (computed-goto builds; a no-op with
 * KP_SWITCH_DISPATCH), done once per function at load time; and the reverse, for kpCode_dump. */
void kpInterp_thread(kpCode *c);
int kpInterp_opcode(uint32_t word);

/* Slots a value of type t takes in a frame. */
static inline uint32_t kp_slot_width(kpValType t) { return t == kpT_V128 ? 2u : 1u; }

#endif /* KP_IR_H */
