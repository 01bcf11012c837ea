/*
 * translate_mem.c -- variables, parametric instructions, memory, tables, references and bulk
 * operations.
 *
 * Loads and stores compute the 64-bit effective address (u32 address + u32 offset, which cannot
 * wrap). In guard mode (the default) that is all: every such address lies inside the memory's
 * 8 GiB reservation, and an access beyond the accessible size faults in the guard region, which
 * the fault handler turns into the trap. With explicit checks (kapsul compile --bounds-checks)
 * address + width is compared with the cached memory size: one compare and a branch to the
 * function's shared trap block. The base and size live in allocas reloaded after calls, so
 * the optimizer keeps them in registers across a loop and never has to assume a guest store
 * changed them. Tables, bulk operations and memory.grow are calls to kp_rt_* helpers.
 */
#include "engine/native/llvm/translate.h"

/* The cell of global g: ctx->globals[g]. */
static LLVMValueRef global_cell(kpTx *t, uint32_t g) {
    LLVMValueRef arr = kpTranslate_ctxLoad(t, KP_NATIVE_CTX_GLOBALS, t->t_ptr);
    arr = LLVMBuildBitCast(t->b, arr, LLVMPointerType(t->t_ptr, 0), "");
    LLVMValueRef idx = kpTranslate_i64(t, g);
    LLVMValueRef at = LLVMBuildGEP2(t->b, t->t_ptr, arr, &idx, 1, "");
    LLVMValueRef cell = LLVMBuildLoad2(t->b, t->t_ptr, at, "");
    kpTranslate_invariant(t, cell); /* each global's cell stays where instantiation put it */
    return cell;
}

static kapsul_status variable(kpTx *t, const kpInstr *in) {
    switch (in->op) {
    case kpOp_LOCAL_GET:
        return kpTranslate_push(
            t, LLVMBuildLoad2(t->b, kpTranslate_type(t, t->local_types[in->a]), t->locals[in->a], ""));
    case kpOp_LOCAL_SET: LLVMBuildStore(t->b, kpTranslate_pop(t), t->locals[in->a]); return KAPSUL_OK;
    case kpOp_LOCAL_TEE: LLVMBuildStore(t->b, t->stack.v[t->stack.n - 1], t->locals[in->a]); return KAPSUL_OK;
    case kpOp_GLOBAL_GET: {
        kpValType ty = kpModule_globalType(t->m, in->a).type;
        return kpTranslate_push(t, kpTranslate_loadSlot(t, global_cell(t, in->a), 0, ty, kpTbaa_GLOBAL));
    }
    default: {
        kpValType ty = kpModule_globalType(t->m, in->a).type;
        kpTranslate_storeSlot(t, global_cell(t, in->a), 0, kpTranslate_pop(t), ty, kpTbaa_GLOBAL);
        return KAPSUL_OK;
    }
    }
}

/* The checked address of an access of `width` bytes at (u32 addr) + offset. */
LLVMValueRef kpTranslate_effectivePointer(kpTx *t, LLVMValueRef addr, uint32_t offset, unsigned width,
                                          LLVMTypeRef ty) {
    LLVMValueRef ea =
        LLVMBuildAdd(t->b, LLVMBuildZExt(t->b, addr, t->t_i64, ""), kpTranslate_i64(t, offset), "ea");
    if (!t->guard) {
        LLVMValueRef end = LLVMBuildAdd(t->b, ea, kpTranslate_i64(t, width), "");
        LLVMValueRef size = LLVMBuildLoad2(t->b, t->t_i64, t->mem_size, "");
        kpTranslate_trapIf(t, LLVMBuildICmp(t->b, LLVMIntUGT, end, size, ""), KAPSUL_TRAP_MEMORY_OOB);
    }
    LLVMValueRef base = LLVMBuildLoad2(t->b, t->t_ptr, t->mem_base, "");
    LLVMValueRef p = LLVMBuildGEP2(t->b, t->t_i8, base, &ea, 1, "");
    return LLVMBuildBitCast(t->b, p, LLVMPointerType(ty, 0), "");
}

/* Loads i32.load .. i64.load32_u: access width, memory type, whether it sign-extends. */
static kapsul_status load(kpTx *t, const kpInstr *in) {
    static const struct {
        uint8_t width;
        kpValType result;
        int8_t sign;
    } rows[] = { { 4, kpT_I32, -1 }, { 8, kpT_I64, -1 }, { 4, kpT_F32, -1 }, { 8, kpT_F64, -1 },
                 { 1, kpT_I32, 1 },  { 1, kpT_I32, 0 },  { 2, kpT_I32, 1 },  { 2, kpT_I32, 0 },
                 { 1, kpT_I64, 1 },  { 1, kpT_I64, 0 },  { 2, kpT_I64, 1 },  { 2, kpT_I64, 0 },
                 { 4, kpT_I64, 1 },  { 4, kpT_I64, 0 } };
    unsigned k = in->op - kpOp_I32_LOAD;
    LLVMTypeRef rty = kpTranslate_type(t, rows[k].result);
    LLVMTypeRef mty = rows[k].sign < 0 ? rty : LLVMIntTypeInContext(t->c, rows[k].width * 8u);
    LLVMValueRef p = kpTranslate_effectivePointer(t, kpTranslate_pop(t), (uint32_t)in->b, rows[k].width, mty);
    LLVMValueRef v = kpTranslate_tag(t, LLVMBuildLoad2(t->b, mty, p, ""), kpTbaa_MEMORY);
    LLVMSetAlignment(v, 1);
    if (rows[k].sign == 1) v = LLVMBuildSExt(t->b, v, rty, "");
    else if (rows[k].sign == 0) v = LLVMBuildZExt(t->b, v, rty, "");
    return kpTranslate_push(t, v);
}

/* Stores i32.store .. i64.store32: access width (narrow stores truncate). */
static kapsul_status store(kpTx *t, const kpInstr *in) {
    static const uint8_t widths[] = { 4, 8, 4, 8, 1, 2, 1, 2, 4 };
    unsigned k = in->op - kpOp_I32_STORE;
    LLVMValueRef v = kpTranslate_pop(t);
    LLVMTypeRef ty = LLVMTypeOf(v);
    if (k >= 4) {
        ty = LLVMIntTypeInContext(t->c, widths[k] * 8u);
        v = LLVMBuildTrunc(t->b, v, ty, "");
    }
    LLVMValueRef p = kpTranslate_effectivePointer(t, kpTranslate_pop(t), (uint32_t)in->b, widths[k], ty);
    LLVMValueRef s = kpTranslate_tag(t, LLVMBuildStore(t->b, v, p), kpTbaa_MEMORY);
    LLVMSetAlignment(s, 1);
    return KAPSUL_OK;
}

/* Pop n operands into args (in stack order) and call helper h with `imm` immediates first. */
static LLVMValueRef helper_call(kpTx *t, int h, const uint32_t *imm, unsigned nimm, unsigned n) {
    LLVMValueRef args[8];
    for (unsigned i = 0; i < nimm; i++) args[i] = kpTranslate_i32(t, imm[i]);
    for (unsigned i = n; i > 0; i--) args[nimm + i - 1] = kpTranslate_pop(t);
    return kpTranslate_helper(t, h, args, nimm + n);
}

/* Memory size/grow and the bulk memory instructions. */
static int memory_op(kpTx *t, const kpInstr *in) {
    uint32_t a = in->a, b = in->b;
    switch (in->op) {
    case kpOp_MEMORY_SIZE: {
        LLVMValueRef size = LLVMBuildLoad2(t->b, t->t_i64, t->mem_size, "");
        size = LLVMBuildLShr(t->b, size, kpTranslate_i64(t, 16), "");
        return kpTranslate_push(t, LLVMBuildTrunc(t->b, size, t->t_i32, ""));
    }
    case kpOp_MEMORY_GROW: {
        LLVMValueRef r = helper_call(t, kpH_kp_rt_memory_grow, NULL, 0, 1);
        kpTranslate_reloadMemory(t);
        return kpTranslate_push(t, r);
    }
    case kpOp_MEMORY_FILL: helper_call(t, kpH_kp_rt_memory_fill, NULL, 0, 3); return KAPSUL_OK;
    case kpOp_MEMORY_COPY: helper_call(t, kpH_kp_rt_memory_copy, NULL, 0, 3); return KAPSUL_OK;
    case kpOp_MEMORY_INIT: helper_call(t, kpH_kp_rt_memory_init, &a, 1, 3); return KAPSUL_OK;
    case kpOp_DATA_DROP: helper_call(t, kpH_kp_rt_data_drop, &a, 1, 0); return KAPSUL_OK;
    default: (void)b; return KP_TX_NOT_MINE;
    }
}

/* Tables and references. */
static int table_op(kpTx *t, const kpInstr *in) {
    uint32_t a = in->a, ab[2] = { in->a, in->b };
    switch (in->op) {
    case kpOp_TABLE_GET: return kpTranslate_push(t, helper_call(t, kpH_kp_rt_table_get, &a, 1, 1));
    case kpOp_TABLE_SET: helper_call(t, kpH_kp_rt_table_set, &a, 1, 2); return KAPSUL_OK;
    case kpOp_TABLE_SIZE: return kpTranslate_push(t, helper_call(t, kpH_kp_rt_table_size, &a, 1, 0));
    case kpOp_TABLE_GROW: return kpTranslate_push(t, helper_call(t, kpH_kp_rt_table_grow, &a, 1, 2));
    case kpOp_TABLE_FILL: helper_call(t, kpH_kp_rt_table_fill, &a, 1, 3); return KAPSUL_OK;
    case kpOp_TABLE_COPY: helper_call(t, kpH_kp_rt_table_copy, ab, 2, 3); return KAPSUL_OK;
    case kpOp_TABLE_INIT: {
        uint32_t ts[2] = { in->b, in->a }; /* helper order: table, segment */
        helper_call(t, kpH_kp_rt_table_init, ts, 2, 3);
        return KAPSUL_OK;
    }
    case kpOp_ELEM_DROP: helper_call(t, kpH_kp_rt_elem_drop, &a, 1, 0); return KAPSUL_OK;
    case kpOp_REF_NULL: return kpTranslate_push(t, kpTranslate_i64(t, 0));
    case kpOp_REF_IS_NULL: {
        LLVMValueRef z = LLVMBuildICmp(t->b, LLVMIntEQ, kpTranslate_pop(t), kpTranslate_i64(t, 0), "");
        return kpTranslate_push(t, LLVMBuildZExt(t->b, z, t->t_i32, ""));
    }
    case kpOp_REF_FUNC: return kpTranslate_push(t, helper_call(t, kpH_kp_rt_ref_func, &a, 1, 0));
    default: return KP_TX_NOT_MINE;
    }
}

int kpTranslateMem_instr(kpTx *t, const kpInstr *in) {
    switch (in->op) {
    case kpOp_LOCAL_GET:
    case kpOp_LOCAL_SET:
    case kpOp_LOCAL_TEE:
    case kpOp_GLOBAL_GET:
    case kpOp_GLOBAL_SET: return variable(t, in);
    case kpOp_DROP: {
        /* A dropped load must still trap when out of bounds; in guard mode only the access
         * itself can, so keep it (volatile) instead of letting the optimizer delete it. */
        LLVMValueRef v = kpTranslate_pop(t);
        if (t->guard && (LLVMIsAZExtInst(v) || LLVMIsASExtInst(v))) v = LLVMGetOperand(v, 0);
        if (t->guard && LLVMIsALoadInst(v)) LLVMSetVolatile(v, true);
        return KAPSUL_OK;
    }
    case kpOp_SELECT:
    case kpOp_SELECT_T: {
        LLVMValueRef c = kpTranslate_pop(t), b = kpTranslate_pop(t), a = kpTranslate_pop(t);
        LLVMValueRef nz = LLVMBuildICmp(t->b, LLVMIntNE, c, kpTranslate_i32(t, 0), "");
        return kpTranslate_push(t, LLVMBuildSelect(t->b, nz, a, b, ""));
    }
    default: break;
    }
    if (in->op >= kpOp_I32_LOAD && in->op <= kpOp_I64_LOAD32_U) return load(t, in);
    if (in->op >= kpOp_I32_STORE && in->op <= kpOp_I64_STORE32) return store(t, in);
    int r = memory_op(t, in);
    return r == KP_TX_NOT_MINE ? table_op(t, in) : r;
}
