/*
 * translate_simd.c -- v128 instructions. A v128 is an LLVM <2 x i64> everywhere (locals, phis,
 * parameters), so values flow through registers. v128.const, i8x16.shuffle, v128.load/store and
 * the common lane-wise arithmetic, bitwise ops and comparisons are open-coded as LLVM vector
 * operations; every other SIMD instruction calls kp_rt_simd, which runs the interpreter's own
 * semantics (engine/simd.c) on slot-layout operands, so the two tiers cannot disagree on the rare
 * ones (narrowing, q15mulr, NaN rules of min/max, bitmask, ...). Memory forms other than plain
 * load/store go through kp_rt_simd_mem with an address already checked (explicit mode) or
 * covered by the guard region.
 */
#include "engine/native/llvm/translate.h"
#include "engine/simd.h"

/* The operand at position k of a SIMD signature character. */
static kpValType sig_type(char c) {
    switch (c) {
    case 'V': return kpT_V128;
    case 'I': return kpT_I64;
    case 'f': return kpT_F32;
    case 'F': return kpT_F64;
    default: return kpT_I32;
    }
}

/* <2 x i64> viewed as lanes of `bits` (integer) or as float lanes (fbits 32/64). */
static LLVMTypeRef lanes(kpTx *t, unsigned bits, bool fl) {
    if (fl) return LLVMVectorType(bits == 32 ? t->t_f32 : t->t_f64, 128 / bits);
    return LLVMVectorType(LLVMIntTypeInContext(t->c, bits), 128 / bits);
}

static LLVMValueRef as(kpTx *t, LLVMValueRef v, LLVMTypeRef ty) { return LLVMBuildBitCast(t->b, v, ty, ""); }
static LLVMValueRef back(kpTx *t, LLVMValueRef v) { return LLVMBuildBitCast(t->b, v, t->t_v128, ""); }

/* Everything else: operands to the scratch (dst at 0, operands at 16, 32, 48), the interpreter's
 * kpSimd_exec through kp_rt_simd, the result back. */
static kapsul_status generic(kpTx *t, const kpInstr *in) {
    const char *sig = kpOp_info[in->op].sig;
    const char *colon = strchr(sig, ':');
    unsigned n = (unsigned)(colon - sig);
    for (unsigned k = n; k > 0; k--) {
        LLVMValueRef v = kpTranslate_pop(t);
        kpTranslate_storeSlot(t, t->slots, 16 * k, v, sig_type(sig[k - 1]), kpTbaa_SLOTS);
    }
    LLVMValueRef args[3] = { kpTranslate_i32(t, in->op), kpTranslate_i32(t, in->lane), t->slots };
    kpTranslate_helper(t, kpH_kp_rt_simd, args, 3);
    if (!colon[1]) return KAPSUL_OK;
    return kpTranslate_push(t, kpTranslate_loadSlot(t, t->slots, 0, sig_type(colon[1]), kpTbaa_SLOTS));
}

/* Memory forms: plain v128.load/store open-coded, the rest through kp_rt_simd_mem. */
static kapsul_status memory(kpTx *t, const kpInstr *in) {
    unsigned width = kpSimd_accessSize(in->op);
    const char *sig = kpOp_info[in->op].sig;
    LLVMValueRef vec = sig[1] == 'V' ? kpTranslate_pop(t) : NULL;
    LLVMValueRef p = kpTranslate_effectivePointer(t, kpTranslate_pop(t), (uint32_t)in->b, width, t->t_i8);
    if (in->op == kpOp_V128_LOAD || in->op == kpOp_V128_STORE) {
        p = LLVMBuildBitCast(t->b, p, LLVMPointerType(t->t_v128, 0), "");
        LLVMValueRef x = vec ? LLVMBuildStore(t->b, vec, p) : LLVMBuildLoad2(t->b, t->t_v128, p, "");
        LLVMSetAlignment(x, 1);
        kpTranslate_tag(t, x, kpTbaa_MEMORY);
        return vec ? KAPSUL_OK : kpTranslate_push(t, x);
    }
    if (vec) kpTranslate_storeSlot(t, t->slots, 16, vec, kpT_V128, kpTbaa_SLOTS);
    LLVMValueRef args[4] = { kpTranslate_i32(t, in->op), kpTranslate_i32(t, in->lane), p, t->slots };
    kpTranslate_helper(t, kpH_kp_rt_simd_mem, args, 4);
    if (strchr(sig, ':')[1] != 'V') return KAPSUL_OK;
    return kpTranslate_push(t, kpTranslate_loadSlot(t, t->slots, 0, kpT_V128, kpTbaa_SLOTS));
}

/* Lane-wise binary ops LLVM has exact instructions for (wrapping integer arithmetic, bitwise,
 * float add/sub/mul/div; float results keep LLVM's NaN, which wasm allows to be any NaN). */
static bool binary(kpTx *t, unsigned op) {
    static const struct {
        uint16_t op;
        uint8_t bits, kind;
    } rows[] = { { kpOp_I8X16_ADD, 8, 0 },   { kpOp_I8X16_SUB, 8, 1 },  { kpOp_I16X8_ADD, 16, 0 },
                 { kpOp_I16X8_SUB, 16, 1 },  { kpOp_I16X8_MUL, 16, 2 }, { kpOp_I32X4_ADD, 32, 0 },
                 { kpOp_I32X4_SUB, 32, 1 },  { kpOp_I32X4_MUL, 32, 2 }, { kpOp_I64X2_ADD, 64, 0 },
                 { kpOp_I64X2_SUB, 64, 1 },  { kpOp_I64X2_MUL, 64, 2 }, { kpOp_V128_AND, 64, 3 },
                 { kpOp_V128_OR, 64, 4 },    { kpOp_V128_XOR, 64, 5 },  { kpOp_V128_ANDNOT, 64, 6 },
                 { kpOp_F32X4_ADD, 32, 7 },  { kpOp_F32X4_SUB, 32, 8 }, { kpOp_F32X4_MUL, 32, 9 },
                 { kpOp_F32X4_DIV, 32, 10 }, { kpOp_F64X2_ADD, 64, 7 }, { kpOp_F64X2_SUB, 64, 8 },
                 { kpOp_F64X2_MUL, 64, 9 },  { kpOp_F64X2_DIV, 64, 10 } };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (rows[i].op != op) continue;
        bool fl = rows[i].kind >= 7;
        LLVMTypeRef ty = lanes(t, rows[i].bits, fl);
        LLVMValueRef b = as(t, kpTranslate_pop(t), ty), a = as(t, kpTranslate_pop(t), ty), r;
        switch (rows[i].kind) {
        case 0: r = LLVMBuildAdd(t->b, a, b, ""); break;
        case 1: r = LLVMBuildSub(t->b, a, b, ""); break;
        case 2: r = LLVMBuildMul(t->b, a, b, ""); break;
        case 3: r = LLVMBuildAnd(t->b, a, b, ""); break;
        case 4: r = LLVMBuildOr(t->b, a, b, ""); break;
        case 5: r = LLVMBuildXor(t->b, a, b, ""); break;
        case 6: r = LLVMBuildAnd(t->b, a, LLVMBuildNot(t->b, b, ""), ""); break;
        case 7: r = LLVMBuildFAdd(t->b, a, b, ""); break;
        case 8: r = LLVMBuildFSub(t->b, a, b, ""); break;
        case 9: r = LLVMBuildFMul(t->b, a, b, ""); break;
        default: r = LLVMBuildFDiv(t->b, a, b, ""); break;
        }
        kpTranslate_push(t, back(t, r));
        return true;
    }
    return false;
}

/* Splats and lane extraction of the integer and float shapes. */
static bool lane_op(kpTx *t, const kpInstr *in) {
    unsigned op = in->op;
    if (op >= kpOp_I8X16_SPLAT && op <= kpOp_F64X2_SPLAT) {
        static const uint8_t bits[] = { 8, 16, 32, 64, 32, 64 };
        unsigned k = op - kpOp_I8X16_SPLAT;
        bool fl = k >= 4;
        LLVMTypeRef ty = lanes(t, bits[k], fl), et = LLVMGetElementType(ty);
        LLVMValueRef x = kpTranslate_pop(t);
        if (!fl && bits[k] < 32) x = LLVMBuildTrunc(t->b, x, et, "");
        LLVMValueRef v = LLVMGetUndef(ty);
        for (unsigned i = 0; i < 128u / bits[k]; i++)
            v = LLVMBuildInsertElement(t->b, v, x, kpTranslate_i32(t, i), "");
        kpTranslate_push(t, back(t, v));
        return true;
    }
    if (op == kpOp_I32X4_EXTRACT_LANE || op == kpOp_I64X2_EXTRACT_LANE || op == kpOp_F32X4_EXTRACT_LANE ||
        op == kpOp_F64X2_EXTRACT_LANE) {
        bool fl = op == kpOp_F32X4_EXTRACT_LANE || op == kpOp_F64X2_EXTRACT_LANE;
        unsigned bits = (op == kpOp_I32X4_EXTRACT_LANE || op == kpOp_F32X4_EXTRACT_LANE) ? 32 : 64;
        LLVMValueRef v = as(t, kpTranslate_pop(t), lanes(t, bits, fl));
        kpTranslate_push(t, LLVMBuildExtractElement(t->b, v, kpTranslate_i32(t, in->lane), ""));
        return true;
    }
    return false;
}

int kpTranslateSimd_instr(kpTx *t, const kpInstr *in) {
    switch (in->op) {
    case kpOp_V128_CONST: {
        uint64_t lo, hi;
        memcpy(&lo, in->bytes, 8);
        memcpy(&hi, in->bytes + 8, 8);
        LLVMValueRef e[2] = { kpTranslate_i64(t, lo), kpTranslate_i64(t, hi) };
        return kpTranslate_push(t, LLVMConstVector(e, 2));
    }
    case kpOp_I8X16_SHUFFLE: {
        LLVMTypeRef ty = lanes(t, 8, false);
        LLVMValueRef b = as(t, kpTranslate_pop(t), ty), a = as(t, kpTranslate_pop(t), ty), mask[16];
        for (int i = 0; i < 16; i++) mask[i] = kpTranslate_i32(t, in->bytes[i]);
        return kpTranslate_push(t,
                                back(t, LLVMBuildShuffleVector(t->b, a, b, LLVMConstVector(mask, 16), "")));
    }
    default: break;
    }
    const kpOpInfo *info = &kpOp_info[in->op];
    if (info->imm == kpImm_MEMARG || info->imm == kpImm_MEMLANE) return memory(t, in);
    if (binary(t, in->op) || lane_op(t, in)) return KAPSUL_OK;
    return generic(t, in);
}
