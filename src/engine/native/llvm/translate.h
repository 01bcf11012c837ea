/*
 * translate.h -- the state shared by the translator's files (wasm function bodies to LLVM IR).
 *
 * Contract: the input module has passed kpValidate_module, so the translator never re-checks
 * types, indices or stack heights; it only keeps its own value and control stacks in step with
 * the validator's. It refuses (KAPSUL_ERR_LIMIT) what the native tier does not compile yet.
 *
 * Files: translate.c (module, functions, entries, the instruction loop), translate_ctl.c
 * (blocks, branches, calls), translate_num.c (numeric instructions), translate_mem.c (memory,
 * globals, tables, references, bulk operations), emit.c (optimization, object code, artifact).
 */
#ifndef KP_TRANSLATE_H
#define KP_TRANSLATE_H

#include <llvm-c/Core.h>

#include "engine/native/native.h"

/* Type-based alias classes (LLVM TBAA) of the memory compiled code touches: the optimizer may
 * assume an access of one class never changes memory of another, so a guest store does not
 * force a reload of ctx->depth, a global's cell or the slot scratch. Calls clobber all of them. */
enum {
    kpTbaa_MEMORY, /* the guest's linear memory */
    kpTbaa_CTX,    /* kpNativeCtx fields that change (mem_base, mem_size, depth, site) */
    kpTbaa_GLOBAL, /* global cells */
    kpTbaa_FRAMES, /* the frame records */
    kpTbaa_SLOTS,  /* slot scratch, multi-value results, entry arguments */
    kpTbaa_INTR,   /* the store's interrupt word */
    kpTbaa_COUNT
};

enum {
    kpCtl_BLOCK,
    kpCtl_LOOP,
    kpCtl_IF,
    kpCtl_FUNC
};

/* One entry of the control stack. */
typedef struct kpTxCtl {
    uint8_t kind;
    bool dead_else;  /* if: the then-arm ended unreachable (for the else's start) */
    uint32_t height; /* value stack height below the block's params */
    uint32_t nparams, nresults;
    const kpValType *params, *results;
    LLVMBasicBlockRef cont;    /* after end (block, if, func) */
    LLVMBasicBlockRef head;    /* loop: the header branches target */
    LLVMBasicBlockRef else_bb; /* if: the false arm, NULL once else was seen */
    LLVMValueRef *phis;        /* phis in cont, one per result */
    LLVMValueRef *head_phis;   /* loop: phis in head, one per param */
    LLVMValueRef *if_params;   /* if: param values for the else arm */
    bool cont_used;            /* something branches to cont */
} kpTxCtl;

typedef struct kpTx {
    const kpModule *m;
    LLVMContextRef c;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    kapsul_error *err;
    bool guard; /* memory accesses rely on the guard region (no checks) */
    /* Types. */
    LLVMTypeRef t_i1, t_i8, t_i32, t_i64, t_f32, t_f64, t_v128, t_void, t_ptr, t_ctx, t_ctxp;
    /* Per function index: the LLVM function (kp_f<i>; NULL for imports) and its type. */
    LLVMValueRef *fns;
    LLVMTypeRef *fn_types;
    LLVMValueRef tbaa[kpTbaa_COUNT]; /* access tags */
    unsigned md_tbaa, md_invariant;  /* metadata kind ids */
    bool *may_grow;                  /* per function index: a call may change memory 0's base or size */
    /* Helpers, by KP_NATIVE_HELPERS row order (declared on first use). */
    LLVMValueRef helper_fn[48];
    LLVMTypeRef helper_ty[48];

    /* ---- the function being translated ---- */
    uint32_t func; /* function index */
    const kpFuncType *ft;
    LLVMValueRef fn, ctx, results_ptr;
    LLVMValueRef depth;   /* this frame's wasm call depth (the caller's, the parameter after ctx, + 1) */
    LLVMValueRef *locals; /* allocas */
    kpValType *local_types;
    uint32_t nlocals;
    LLVMValueRef mem_base, mem_size; /* allocas caching ctx->mem_base/mem_size */
    LLVMValueRef slots;              /* alloca of slot scratch for helper calls */
    uint32_t nslot_bytes;
    LLVMBasicBlockRef trap_bb[KAPSUL_TRAP_COUNT];
    LLVMValueRef trap_at[KAPSUL_TRAP_COUNT]; /* the phi of offsets in each trap block */
    uint32_t at;                             /* module offset of the instruction being translated */
    KP_VEC(LLVMValueRef) stack;
    KP_VEC(kpTxCtl) ctl;
    uint32_t dead_depth;   /* nested blocks opened while unreachable */
    KP_VEC(uint32_t) fuel; /* fuel cost of the entry and of each loop header, in code order */
    uint32_t fuel_next;    /* the next loop's entry in fuel */
    bool dead;             /* the rest of the current block is unreachable */
} kpTx;

/* Translate every defined function of a validated module into mod (translate.c). guard: memory
 * accesses rely on the runtime's guard region (the instance must have a reserved memory). */
kapsul_status kpTranslate_module(const kpModule *m, bool guard, LLVMContextRef c, LLVMModuleRef mod,
                                 kapsul_error *err);

/* LLVM type of a wasm value type. */
LLVMTypeRef kpTranslate_type(kpTx *t, kpValType v);
/* Push / pop the value stack. */
kapsul_status kpTranslate_push(kpTx *t, LLVMValueRef v);
LLVMValueRef kpTranslate_pop(kpTx *t);
/* Branch to the trap block of `kind` when cond is true; continue in a fresh block. */
void kpTranslate_trapIf(kpTx *t, LLVMValueRef cond, kapsul_trap kind);
/* Call helper row `h` (its index in KP_NATIVE_HELPERS) with ctx prepended to args. */
LLVMValueRef kpTranslate_helper(kpTx *t, int h, LLVMValueRef *args, unsigned nargs);
/* Call an intrinsic overloaded on `ty` (e.g. "llvm.ctlz"). */
LLVMValueRef kpTranslate_intrinsic(kpTx *t, const char *name, LLVMTypeRef ty, LLVMValueRef *args, unsigned n);
/* A pointer to ctx field k (see KP_NATIVE_CTX_*). */
LLVMValueRef kpTranslate_ctxField(kpTx *t, unsigned k);
/* Load ctx field k of type ty, tagged: fields fixed while compiled code runs (globals, interrupt,
 * fuel, stack_limit, frames, max_depth) are invariant loads the optimizer may hoist and share. */
LLVMValueRef kpTranslate_ctxLoad(kpTx *t, unsigned k, LLVMTypeRef ty);
/* Tag a load or store with alias class `cls` (kpTbaa_*); returns it. */
LLVMValueRef kpTranslate_tag(kpTx *t, LLVMValueRef access, int cls);
/* Mark a load invariant (its location never changes while compiled code runs). */
void kpTranslate_invariant(kpTx *t, LLVMValueRef load);
/* Reload the cached memory base and size from ctx (after calls and memory.grow). */
void kpTranslate_reloadMemory(kpTx *t);
/* Load / store one value in slot layout at byte offset `at` of the slot scratch or a pointer
 * (cls: kpTbaa_SLOTS, or kpTbaa_GLOBAL for a global's cell). */
LLVMValueRef kpTranslate_loadSlot(kpTx *t, LLVMValueRef base, uint32_t at, kpValType type, int cls);
void kpTranslate_storeSlot(kpTx *t, LLVMValueRef base, uint32_t at, LLVMValueRef v, kpValType type, int cls);
uint32_t kpTranslate_slotBytes(kpValType type);
LLVMValueRef kpTranslate_i32(kpTx *t, uint64_t v);
LLVMValueRef kpTranslate_i64(kpTx *t, uint64_t v);
/* Zero of a value type (locals' initial values, ref.null). */
LLVMValueRef kpTranslate_zero(kpTx *t, kpValType v);

/* Helper rows (positions in KP_NATIVE_HELPERS). */
enum {
#define KP_TX_HELPER_ENUM(name) kpH_##name,
    KP_NATIVE_HELPERS(KP_TX_HELPER_ENUM)
#undef KP_TX_HELPER_ENUM
    kpH_COUNT
};

/* ---- translate_ctl.c: control, calls ---- */
kapsul_status kpTranslateCtl_open(kpTx *t, const kpInstr *in);
kapsul_status kpTranslateCtl_else(kpTx *t);
kapsul_status kpTranslateCtl_end(kpTx *t, bool *func_done);
kapsul_status kpTranslateCtl_branch(kpTx *t, const kpInstr *in);
kapsul_status kpTranslateCtl_call(kpTx *t, const kpInstr *in);
/* Fill t->may_grow (per function index: calling it may change memory 0's base or size). */
kapsul_status kpTranslateCtl_mayGrow(kpTx *t);
/* Open the function-level frame (results flow to the return block). */
kapsul_status kpTranslateCtl_enterFunc(kpTx *t);
/* The fuel cost of the next check site in code order (the entry, then each loop, dead or not). */
uint32_t kpTranslate_nextFuel(kpTx *t);
/* Emit the interrupt/fuel check at function entry and loop headers. */
void kpTranslateCtl_check(kpTx *t, uint32_t cost);

/* ---- translate_num.c: constants, comparisons, arithmetic, conversions ---- */
/* Each family returns a status, or KP_TX_NOT_MINE for an instruction of another family. */
#define KP_TX_NOT_MINE (-1)
int kpTranslateNum_instr(kpTx *t, const kpInstr *in);

/* ---- translate_mem.c: locals, globals, memory, tables, references, bulk operations ---- */
int kpTranslateMem_instr(kpTx *t, const kpInstr *in);
/* The pointer for an access of `width` bytes at (u32 addr) + offset, checked unless guard mode. */
LLVMValueRef kpTranslate_effectivePointer(kpTx *t, LLVMValueRef addr, uint32_t offset, unsigned width,
                                          LLVMTypeRef ty);

/* ---- translate_simd.c: v128 instructions ---- */
int kpTranslateSimd_instr(kpTx *t, const kpInstr *in);

#endif /* KP_TRANSLATE_H */
