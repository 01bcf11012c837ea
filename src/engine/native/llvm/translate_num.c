/*
 * translate_num.c -- constants, comparisons, integer and float arithmetic, conversions.
 *
 * Wasm's semantics are total where LLVM's are not: shift counts are masked, division and
 * trapping truncation check their operands first (divide by zero, INT_MIN / -1, NaN, out of
 * range: each with its own trap kind), rem_s of INT_MIN by -1 is 0, and min/max propagate NaN
 * and order -0 below +0 (written out, since LLVM 14 has no x86 lowering of llvm.minimum).
 * Opcodes of one family are contiguous in opcodes.def, so each family is one switch on the
 * offset from its first row.
 */
#include "engine/native/llvm/translate.h"

#define KP_POP2(a, b) LLVMValueRef b = kpTranslate_pop(t), a = kpTranslate_pop(t)

static LLVMValueRef bool_to_i32(kpTx *t, LLVMValueRef c) { return LLVMBuildZExt(t->b, c, t->t_i32, ""); }

/* Integer comparisons: eqz eq ne lt_s lt_u gt_s gt_u le_s le_u ge_s ge_u. */
static kapsul_status int_compare(kpTx *t, unsigned k, LLVMTypeRef ty) {
    static const LLVMIntPredicate preds[] = { LLVMIntEQ,  LLVMIntEQ,  LLVMIntNE,  LLVMIntSLT,
                                              LLVMIntULT, LLVMIntSGT, LLVMIntUGT, LLVMIntSLE,
                                              LLVMIntULE, LLVMIntSGE, LLVMIntUGE };
    LLVMValueRef b = k == 0 ? LLVMConstNull(ty) : kpTranslate_pop(t);
    LLVMValueRef a = kpTranslate_pop(t);
    return kpTranslate_push(t, bool_to_i32(t, LLVMBuildICmp(t->b, preds[k], a, b, "")));
}

/* Float comparisons: eq ne lt gt le ge (ne is true on NaN, the others false). */
static kapsul_status float_compare(kpTx *t, unsigned k) {
    static const LLVMRealPredicate preds[] = { LLVMRealOEQ, LLVMRealUNE, LLVMRealOLT,
                                               LLVMRealOGT, LLVMRealOLE, LLVMRealOGE };
    KP_POP2(a, b);
    return kpTranslate_push(t, bool_to_i32(t, LLVMBuildFCmp(t->b, preds[k], a, b, "")));
}

/* div/rem: trap on a zero divisor; div_s traps on INT_MIN / -1 and rem_s yields 0 for it. */
static LLVMValueRef int_divrem(kpTx *t, unsigned k, LLVMValueRef a, LLVMValueRef b, LLVMTypeRef ty,
                               unsigned bits) {
    kpTranslate_trapIf(t, LLVMBuildICmp(t->b, LLVMIntEQ, b, LLVMConstNull(ty), ""), KAPSUL_TRAP_DIV_ZERO);
    LLVMValueRef minus1 = LLVMConstAllOnes(ty);
    LLVMValueRef min = LLVMConstShl(LLVMConstInt(ty, 1, false), LLVMConstInt(ty, bits - 1, false));
    switch (k) {
    case 3: {
        LLVMValueRef ovf = LLVMBuildAnd(t->b, LLVMBuildICmp(t->b, LLVMIntEQ, a, min, ""),
                                        LLVMBuildICmp(t->b, LLVMIntEQ, b, minus1, ""), "");
        kpTranslate_trapIf(t, ovf, KAPSUL_TRAP_INT_OVERFLOW);
        return LLVMBuildSDiv(t->b, a, b, "");
    }
    case 4: return LLVMBuildUDiv(t->b, a, b, "");
    case 5: {
        /* x rem -1 is 0 for every x; dividing by 1 instead avoids INT_MIN rem -1. */
        LLVMValueRef is_m1 = LLVMBuildICmp(t->b, LLVMIntEQ, b, minus1, "");
        LLVMValueRef d = LLVMBuildSelect(t->b, is_m1, LLVMConstInt(ty, 1, false), b, "");
        return LLVMBuildSRem(t->b, a, d, "");
    }
    default: return LLVMBuildURem(t->b, a, b, "");
    }
}

/* Integer binary ops: add sub mul div_s div_u rem_s rem_u and or xor shl shr_s shr_u rotl rotr. */
static kapsul_status int_binary(kpTx *t, unsigned k, LLVMTypeRef ty, unsigned bits) {
    KP_POP2(a, b);
    LLVMValueRef mask = LLVMConstInt(ty, bits - 1, false), r;
    switch (k) {
    case 0: r = LLVMBuildAdd(t->b, a, b, ""); break;
    case 1: r = LLVMBuildSub(t->b, a, b, ""); break;
    case 2: r = LLVMBuildMul(t->b, a, b, ""); break;
    case 3:
    case 4:
    case 5:
    case 6: r = int_divrem(t, k, a, b, ty, bits); break;
    case 7: r = LLVMBuildAnd(t->b, a, b, ""); break;
    case 8: r = LLVMBuildOr(t->b, a, b, ""); break;
    case 9: r = LLVMBuildXor(t->b, a, b, ""); break;
    case 10: r = LLVMBuildShl(t->b, a, LLVMBuildAnd(t->b, b, mask, ""), ""); break;
    case 11: r = LLVMBuildAShr(t->b, a, LLVMBuildAnd(t->b, b, mask, ""), ""); break;
    case 12: r = LLVMBuildLShr(t->b, a, LLVMBuildAnd(t->b, b, mask, ""), ""); break;
    default: {
        LLVMValueRef args[3] = { a, a, b };
        r = kpTranslate_intrinsic(t, k == 13 ? "llvm.fshl" : "llvm.fshr", ty, args, 3);
        break;
    }
    }
    return kpTranslate_push(t, r);
}

/* clz ctz popcnt. */
static kapsul_status int_unary(kpTx *t, unsigned k, LLVMTypeRef ty) {
    LLVMValueRef args[2] = { kpTranslate_pop(t), LLVMConstInt(t->t_i1, 0, false) };
    static const char *const names[] = { "llvm.ctlz", "llvm.cttz", "llvm.ctpop" };
    return kpTranslate_push(t, kpTranslate_intrinsic(t, names[k], ty, args, k == 2 ? 1 : 2));
}

/* min/max: NaN if either is NaN; -0 < +0; otherwise the ordinary comparison. */
static LLVMValueRef float_minmax(kpTx *t, bool is_min, LLVMValueRef a, LLVMValueRef b, LLVMTypeRef ty) {
    LLVMTypeRef ity = ty == t->t_f32 ? t->t_i32 : t->t_i64;
    LLVMValueRef nan = LLVMBuildFCmp(t->b, LLVMRealUNO, a, b, "");
    LLVMValueRef eq = LLVMBuildFCmp(t->b, LLVMRealOEQ, a, b, "");
    LLVMValueRef ia = LLVMBuildBitCast(t->b, a, ity, ""), ib = LLVMBuildBitCast(t->b, b, ity, "");
    /* Equal operands differ at most in the sign of zero: or picks -0 for min, and +0 for max. */
    LLVMValueRef same = LLVMBuildBitCast(
        t->b, is_min ? LLVMBuildOr(t->b, ia, ib, "") : LLVMBuildAnd(t->b, ia, ib, ""), ty, "");
    LLVMValueRef lt = LLVMBuildFCmp(t->b, is_min ? LLVMRealOLT : LLVMRealOGT, a, b, "");
    LLVMValueRef r = LLVMBuildSelect(t->b, lt, a, b, "");
    r = LLVMBuildSelect(t->b, eq, same, r, "");
    return LLVMBuildSelect(t->b, nan, LLVMBuildFAdd(t->b, a, b, ""), r, "");
}

/* LLVM folds x+(-0), x-0, x*1, x/1 and x*(-1) to x or -x, which would let a signaling NaN
 * through where wasm's arithmetic must return a quiet one; a float constant operand of an
 * arithmetic instruction goes through an empty inline asm, which no optimizer can see through.
 * The same for f64.promote_f32's result: demote(promote(x)) must quiet a signaling NaN. */
static LLVMValueRef opaque(kpTx *t, LLVMValueRef v) {
    LLVMTypeRef ty = LLVMTypeOf(v);
    LLVMTypeRef fty = LLVMFunctionType(ty, &ty, 1, false);
    LLVMValueRef asm_ = LLVMGetInlineAsm(fty, "", 0, "=x,0", 4, false, false, LLVMInlineAsmDialectATT, false);
    return LLVMBuildCall2(t->b, fty, asm_, &v, 1, "");
}

/* Float unary abs neg ceil floor trunc nearest sqrt, and binary add sub mul div min max copysign. */
static kapsul_status float_arith(kpTx *t, unsigned k, LLVMTypeRef ty) {
    static const char *const unary[] = { "llvm.fabs",  NULL,         "llvm.ceil",
                                         "llvm.floor", "llvm.trunc", "llvm.roundeven",
                                         "llvm.sqrt" };
    LLVMValueRef r;
    if (k < 7) {
        LLVMValueRef a = kpTranslate_pop(t);
        r = k == 1 ? LLVMBuildFNeg(t->b, a, "") : kpTranslate_intrinsic(t, unary[k], ty, &a, 1);
        return kpTranslate_push(t, r);
    }
    KP_POP2(a, b);
    if (k <= 10) {
        if (LLVMIsConstant(a)) a = opaque(t, a);
        if (LLVMIsConstant(b)) b = opaque(t, b);
    }
    switch (k) {
    case 7: r = LLVMBuildFAdd(t->b, a, b, ""); break;
    case 8: r = LLVMBuildFSub(t->b, a, b, ""); break;
    case 9: r = LLVMBuildFMul(t->b, a, b, ""); break;
    case 10: r = LLVMBuildFDiv(t->b, a, b, ""); break;
    case 11:
    case 12: r = float_minmax(t, k == 11, a, b, ty); break;
    default: {
        LLVMValueRef args[2] = { a, b };
        r = kpTranslate_intrinsic(t, "llvm.copysign", ty, args, 2);
        break;
    }
    }
    return kpTranslate_push(t, r);
}

/* Trapping float-to-int: NaN -> invalid conversion, out of range -> integer overflow. The range
 * is (lo, hi) or [lo, hi) as the bound is or is not exactly representable. */
static kapsul_status trunc_trapping(kpTx *t, LLVMTypeRef to, bool is_signed) {
    LLVMValueRef x = kpTranslate_pop(t);
    LLVMTypeRef from = LLVMTypeOf(x);
    bool wide = to == t->t_i64;
    double lo, hi;
    LLVMRealPredicate lo_pred = LLVMRealOGT;
    if (is_signed) {
        hi = wide ? 9223372036854775808.0 : 2147483648.0;
        if (wide || from == t->t_f32) {
            lo = -hi;
            lo_pred = LLVMRealOGE;
        } else {
            lo = -2147483649.0;
        }
    } else {
        hi = wide ? 18446744073709551616.0 : 4294967296.0;
        lo = -1.0;
    }
    kpTranslate_trapIf(t, LLVMBuildFCmp(t->b, LLVMRealUNO, x, x, ""), KAPSUL_TRAP_BAD_CONVERSION);
    LLVMValueRef ok = LLVMBuildAnd(t->b, LLVMBuildFCmp(t->b, lo_pred, x, LLVMConstReal(from, lo), ""),
                                   LLVMBuildFCmp(t->b, LLVMRealOLT, x, LLVMConstReal(from, hi), ""), "");
    kpTranslate_trapIf(t, LLVMBuildNot(t->b, ok, ""), KAPSUL_TRAP_INT_OVERFLOW);
    return kpTranslate_push(t,
                            is_signed ? LLVMBuildFPToSI(t->b, x, to, "") : LLVMBuildFPToUI(t->b, x, to, ""));
}

/* Conversions from i32.wrap_i64 to f64.reinterpret_i64, and the sign extensions. */
static kapsul_status convert(kpTx *t, unsigned op) {
    LLVMTypeRef i32 = t->t_i32, i64 = t->t_i64, f32 = t->t_f32, f64 = t->t_f64;
    switch (op) {
    case kpOp_I32_TRUNC_F32_S:
    case kpOp_I32_TRUNC_F64_S: return trunc_trapping(t, i32, true);
    case kpOp_I32_TRUNC_F32_U:
    case kpOp_I32_TRUNC_F64_U: return trunc_trapping(t, i32, false);
    case kpOp_I64_TRUNC_F32_S:
    case kpOp_I64_TRUNC_F64_S: return trunc_trapping(t, i64, true);
    case kpOp_I64_TRUNC_F32_U:
    case kpOp_I64_TRUNC_F64_U: return trunc_trapping(t, i64, false);
    default: break;
    }
    LLVMValueRef x = kpTranslate_pop(t), r;
    switch (op) {
    case kpOp_I32_WRAP_I64: r = LLVMBuildTrunc(t->b, x, i32, ""); break;
    case kpOp_I64_EXTEND_I32_S: r = LLVMBuildSExt(t->b, x, i64, ""); break;
    case kpOp_I64_EXTEND_I32_U: r = LLVMBuildZExt(t->b, x, i64, ""); break;
    case kpOp_F32_CONVERT_I32_S:
    case kpOp_F32_CONVERT_I64_S: r = LLVMBuildSIToFP(t->b, x, f32, ""); break;
    case kpOp_F32_CONVERT_I32_U:
    case kpOp_F32_CONVERT_I64_U: r = LLVMBuildUIToFP(t->b, x, f32, ""); break;
    case kpOp_F64_CONVERT_I32_S:
    case kpOp_F64_CONVERT_I64_S: r = LLVMBuildSIToFP(t->b, x, f64, ""); break;
    case kpOp_F64_CONVERT_I32_U:
    case kpOp_F64_CONVERT_I64_U: r = LLVMBuildUIToFP(t->b, x, f64, ""); break;
    case kpOp_F32_DEMOTE_F64: r = LLVMBuildFPTrunc(t->b, x, f32, ""); break;
    case kpOp_F64_PROMOTE_F32: r = opaque(t, LLVMBuildFPExt(t->b, x, f64, "")); break;
    case kpOp_I32_REINTERPRET_F32: r = LLVMBuildBitCast(t->b, x, i32, ""); break;
    case kpOp_I64_REINTERPRET_F64: r = LLVMBuildBitCast(t->b, x, i64, ""); break;
    case kpOp_F32_REINTERPRET_I32: r = LLVMBuildBitCast(t->b, x, f32, ""); break;
    case kpOp_F64_REINTERPRET_I64: r = LLVMBuildBitCast(t->b, x, f64, ""); break;
    case kpOp_I32_EXTEND8_S: r = LLVMBuildSExt(t->b, LLVMBuildTrunc(t->b, x, t->t_i8, ""), i32, ""); break;
    case kpOp_I32_EXTEND16_S:
        r = LLVMBuildSExt(t->b, LLVMBuildTrunc(t->b, x, LLVMInt16TypeInContext(t->c), ""), i32, "");
        break;
    case kpOp_I64_EXTEND8_S: r = LLVMBuildSExt(t->b, LLVMBuildTrunc(t->b, x, t->t_i8, ""), i64, ""); break;
    case kpOp_I64_EXTEND16_S:
        r = LLVMBuildSExt(t->b, LLVMBuildTrunc(t->b, x, LLVMInt16TypeInContext(t->c), ""), i64, "");
        break;
    case kpOp_I64_EXTEND32_S: r = LLVMBuildSExt(t->b, LLVMBuildTrunc(t->b, x, i32, ""), i64, ""); break;
    default: {
        /* The saturating truncations, i32.trunc_sat_f32_s .. i64.trunc_sat_f64_u. */
        unsigned k = op - kpOp_I32_TRUNC_SAT_F32_S;
        LLVMTypeRef to = k < 4 ? i32 : i64;
        r = kpTranslate_intrinsic(t, k & 1 ? "llvm.fptoui.sat" : "llvm.fptosi.sat", to, &x, 1);
        break;
    }
    }
    return kpTranslate_push(t, r);
}

int kpTranslateNum_instr(kpTx *t, const kpInstr *in) {
    unsigned op = in->op;
    switch (op) {
    case kpOp_I32_CONST: return kpTranslate_push(t, kpTranslate_i32(t, (uint32_t)in->bits));
    case kpOp_I64_CONST: return kpTranslate_push(t, kpTranslate_i64(t, in->bits));
    case kpOp_F32_CONST:
        return kpTranslate_push(t, LLVMConstBitCast(kpTranslate_i32(t, (uint32_t)in->bits), t->t_f32));
    case kpOp_F64_CONST: return kpTranslate_push(t, LLVMConstBitCast(kpTranslate_i64(t, in->bits), t->t_f64));
    default: break;
    }
    if (op >= kpOp_I32_EQZ && op <= kpOp_I32_GE_U) return int_compare(t, op - kpOp_I32_EQZ, t->t_i32);
    if (op >= kpOp_I64_EQZ && op <= kpOp_I64_GE_U) return int_compare(t, op - kpOp_I64_EQZ, t->t_i64);
    if (op >= kpOp_F32_EQ && op <= kpOp_F32_GE) return float_compare(t, op - kpOp_F32_EQ);
    if (op >= kpOp_F64_EQ && op <= kpOp_F64_GE) return float_compare(t, op - kpOp_F64_EQ);
    if (op >= kpOp_I32_CLZ && op <= kpOp_I32_POPCNT) return int_unary(t, op - kpOp_I32_CLZ, t->t_i32);
    if (op >= kpOp_I64_CLZ && op <= kpOp_I64_POPCNT) return int_unary(t, op - kpOp_I64_CLZ, t->t_i64);
    if (op >= kpOp_I32_ADD && op <= kpOp_I32_ROTR) return int_binary(t, op - kpOp_I32_ADD, t->t_i32, 32);
    if (op >= kpOp_I64_ADD && op <= kpOp_I64_ROTR) return int_binary(t, op - kpOp_I64_ADD, t->t_i64, 64);
    if (op >= kpOp_F32_ABS && op <= kpOp_F32_COPYSIGN) return float_arith(t, op - kpOp_F32_ABS, t->t_f32);
    if (op >= kpOp_F64_ABS && op <= kpOp_F64_COPYSIGN) return float_arith(t, op - kpOp_F64_ABS, t->t_f64);
    if ((op >= kpOp_I32_WRAP_I64 && op <= kpOp_I64_EXTEND32_S) ||
        (op >= kpOp_I32_TRUNC_SAT_F32_S && op <= kpOp_I64_TRUNC_SAT_F64_U))
        return convert(t, op);
    return KP_TX_NOT_MINE;
}
