/*
 * native.h -- the native tier: the ABI between code compiled ahead of time through LLVM and the
 * runtime, the .kwasm artifact, and the loader that maps compiled code without LLVM.
 *
 * Two halves. engine/native/llvm/ (built only when LLVM is found) translates a validated module
 * to LLVM IR, optimizes it and emits an x86-64 ELF relocatable object; it is linked only into the
 * compiler helper (kapsul-llvmc), never into the runtime, so running a .kwasm never loads LLVM.
 * the files of engine/native/ itself (always built) reads and writes .kwasm files, links the object into memory
 * and holds the helper functions compiled code calls.
 *
 * ---- The ABI --------------------------------------------------------------------------------
 * Every defined function i (index in the function index space, imports first) becomes
 *
 *     R kp_f<i>(kpNativeCtx *ctx, P1 p1, ..., Pn pn [, uint64_t *results])
 *
 * with i32 -> i32, i64 -> i64, f32 -> float, f64 -> double, v128 -> <2 x i64>, funcref and
 * externref -> i64 (the runtime's pointer, 0 = null). R is void for no result, the result's type
 * for one, and void for several: then a trailing `results` pointer receives them in slot layout
 * (8 bytes each, 16 for v128, i32 zero-extended, floats as bits), the layout of the runtime's
 * value slots. The functions are internal to the object; for each one the translator also emits
 *
 *     void kp_entry<i>(kpNativeCtx *ctx, uint64_t *slots)
 *
 * which reads the arguments from slots, calls kp_f<i> and writes the results back over them:
 * the single shape the host uses to enter compiled code (kpNative_call below).
 *
 * The context is one per instance. Compiled code reads it at the fixed offsets of the struct
 * below (the translator declares the same layout; KP_NATIVE_CTX_* pin it): the memory's base and
 * byte size (reloaded after every call and memory.grow, which the helpers update), the global
 * cells, the interrupt word and fuel counter, and the stack limit.
 *
 * Memory accesses: by default code relies on the memory's 8 GiB reservation (u32 address + u32
 * offset never leaves it) and an out-of-bounds access faults in the guard region; the fault
 * handler unwinds to the entry (kpNative_onFault). Such code runs only over reserved memories
 * (elsewhere the instance falls back to the interpreter). Compiled with --bounds-checks, each
 * access compares address + width with mem_size instead. Stack exhaustion: each function compares
 * its frame address with ctx->stack_limit on entry, and ctx->depth counts frames. Loop headers and
 * function entries read ctx->interrupt and call kp_rt_poll when it is non-zero (deadline,
 * interrupt, fuel). Fuel is charged in the interpreter's units: the instructions from the check to
 * the next `loop` in code order (docs/RATIONALE.md).
 *
 * Traps call kp_rt_trap(ctx, kind, offset), which does not return: it siglongjmps to the sigsetjmp
 * of the innermost kpNative_call, which reports the trap kind with the runtime's message and a
 * backtrace (function index and module offset per frame, from ctx->frames; see KP_NATIVE_FRAME).
 * Before a helper that may trap or run other code, compiled code stores the instruction's offset
 * in ctx->site. Each direct call checks depth < max_depth (the interpreter's max_call_depth).
 *
 * Anything not open-coded is a call to a kp_rt_* helper (memory.grow, bulk memory, tables,
 * calls to imports and call_indirect, ref.func). The object refers to them by name; the loader
 * resolves names only from the fixed table kpNative_helpers and refuses any other symbol.
 */
#ifndef KP_NATIVE_H
#define KP_NATIVE_H

#include <setjmp.h>

#include "base/base.h"
#include "base/sha256.h"
#include "module/module.h"

/* The per-instance context. Offsets are ABI: the translator mirrors them (see KP_NATIVE_CTX_*). */
typedef struct kpNativeCtx {
    uint8_t *mem_base;     /*  0: memory 0's base (NULL without a memory) */
    uint64_t mem_size;     /*  8: its size in bytes */
    uint64_t **globals;    /* 16: cell of each global (imports first); 16 bytes each */
    int *interrupt;        /* 24: the store's interrupt word (KP_INTR_* bits) */
    int64_t *fuel;         /* 32: the store's fuel counter */
    uintptr_t stack_limit; /* 40: a frame below this address traps "call stack exhausted" */
    void *rt;              /* 48: the runtime's instance (opaque to compiled code) */
    sigjmp_buf *jb;        /* 56: innermost entry's jump buffer */
    int trap;              /* 64: trap kind recorded by kp_rt_trap */
    uint32_t depth;        /* 68: wasm call depth, store-wide (the frame records below) */
    void *const *entries;  /* 72: kp_entry<i> per function index (NULL for imports) */
    uint64_t *frames;      /* 80: the store's frame records, max_depth of them (below) */
    uint32_t max_depth;    /* 88: the store's max_call_depth */
    uint32_t site;         /* 92: module offset of the helper call in progress (traps, callees) */
} kpNativeCtx;

#define KP_NATIVE_CTX_MEM_BASE 0
#define KP_NATIVE_CTX_MEM_SIZE 1
#define KP_NATIVE_CTX_GLOBALS 2
#define KP_NATIVE_CTX_INTERRUPT 3
#define KP_NATIVE_CTX_FUEL 4
#define KP_NATIVE_CTX_STACK_LIMIT 5
#define KP_NATIVE_CTX_DEPTH 9
#define KP_NATIVE_CTX_FRAMES 11
#define KP_NATIVE_CTX_MAX_DEPTH 12
#define KP_NATIVE_CTX_SITE 13
#define KP_NATIVE_CTX_FIELDS 14

/* A frame record, written by a direct call at depth d into frames[d]: the callee's function index
 * and the module offset of the call instruction. With the entry's function, the records of depths
 * d0..d-1 name every frame of a trap at depth d and where each one was (the innermost frame's
 * offset comes with the trap). */
#define KP_NATIVE_FRAME(callee, offset) (((uint64_t)(callee) << 32) | (uint32_t)(offset))

/* Helpers compiled code calls, by symbol name. Each row: symbol, C function. The loader resolves
 * only these; the translator declares them with the signatures in helpers.c's comment. */
#define KP_NATIVE_HELPERS(X)                                                                   \
    X(kp_rt_trap)          /* void (ctx, i32 kind, i32 offset)         noreturn */             \
    X(kp_rt_poll)          /* void (ctx, i32 fuel_cost)                interrupt / fuel */     \
    X(kp_rt_memory_grow)   /* i32 (ctx, i32 delta)                     old pages or -1 */      \
    X(kp_rt_memory_fill)   /* void (ctx, i32 dst, i32 val, i32 n) */                           \
    X(kp_rt_memory_copy)   /* void (ctx, i32 dst, i32 src, i32 n) */                           \
    X(kp_rt_memory_init)   /* void (ctx, i32 seg, i32 dst, i32 src, i32 n) */                  \
    X(kp_rt_data_drop)     /* void (ctx, i32 seg) */                                           \
    X(kp_rt_call_import)   /* void (ctx, i32 func, ptr slots) */                               \
    X(kp_rt_call_indirect) /* void (ctx, i32 table, i32 type, i32 elem, ptr slots) */          \
    X(kp_rt_ref_func)      /* i64 (ctx, i32 func) */                                           \
    X(kp_rt_table_get)     /* i64 (ctx, i32 table, i32 i) */                                   \
    X(kp_rt_table_set)     /* void (ctx, i32 table, i32 i, i64 ref) */                         \
    X(kp_rt_table_size)    /* i32 (ctx, i32 table) */                                          \
    X(kp_rt_table_grow)    /* i32 (ctx, i32 table, i64 init, i32 delta) */                     \
    X(kp_rt_table_fill)    /* void (ctx, i32 table, i32 i, i64 ref, i32 n) */                  \
    X(kp_rt_table_copy)    /* void (ctx, i32 dst_table, i32 src_table, i32 d, i32 s, i32 n) */ \
    X(kp_rt_table_init)    /* void (ctx, i32 table, i32 seg, i32 d, i32 s, i32 n) */           \
    X(kp_rt_elem_drop)     /* void (ctx, i32 seg) */                                           \
    X(kp_rt_simd)          /* void (ctx, i32 op, i32 lane, ptr buf): kpSimd_exec on slots */   \
    X(kp_rt_simd_mem)      /* void (ctx, i32 op, i32 lane, ptr p, ptr buf): kpSimd_access */   \
    X(memcpy)              /* LLVM may lower copies of aggregates to these */                  \
    X(memset)                                                                                  \
    X(memmove)                                                                                 \
    X(floor)                                                                                   \
    X(floorf) /* libm calls LLVM emits for rounding when SSE4.1 is absent */                   \
    X(ceil) X(ceilf) X(trunc) X(truncf) X(roundeven) X(roundevenf) X(sqrt) X(sqrtf)

typedef struct kpNativeHelper {
    const char *name;
    void *fn;
} kpNativeHelper;
extern const kpNativeHelper kpNative_helpers[];
extern const size_t kpNative_nhelpers;

/* ---- The .kwasm artifact -----------------------------------------------------------------------
 * Little-endian. Header (KP_KWASM_HEADER bytes):
 *    0  magic "\0kwasm\r\n" (8)       8  format version u32      12  header size u32
 *   16  kapsul version (32, NUL-padded)                           48  module SHA-256 (32)
 *   80  CPU features (128, NUL-padded, the features the code was compiled for)
 *  208  flags (32, NUL-padded, e.g. "O2")                       240  wasm offset u64, size u64
 *  256  object offset u64, size u64                              272  nfuncs u32, reserved u32
 *  280  CRC-32C of the file but these 32 bytes (u32, then 28 zero bytes)  312  end of header
 * then the module's bytes and the ELF object, each inside the file. */
#define KP_KWASM_MAGIC "\0kwasm\r\n"
#define KP_KWASM_FORMAT 2u /* 2: frame records in the context, CRC-32C checksum */
#define KP_KWASM_HEADER 312u

typedef struct kpArtifact {
    char version[33];
    uint8_t module_hash[32];
    char cpu[129];
    char flags[33];
    const uint8_t *wasm;
    size_t wasm_size; /* point into the file's bytes */
    const uint8_t *object;
    size_t object_size;
    uint32_t nfuncs;
} kpArtifact;

/* Serialize an artifact (wasm + object + metadata) into out. KAPSUL_ERR_NOMEM only. */
kapsul_status kpArtifact_write(const kpArtifact *a, kpBuf *out, kapsul_error *err);
/* Parse and check a file's bytes: magic, format, sizes, the content hash, the module hash, and
 * that version, CPU features and flags match what this kapsul expects (expect_flags NULL: any).
 * Errors: KAPSUL_ERR_MALFORMED ("not a kapsul artifact", "artifact truncated", ...) or
 * KAPSUL_ERR_LIMIT ("artifact built by kapsul X, this is Y", "artifact built for CPU ..."). */
kapsul_status kpArtifact_read(const uint8_t *bytes, size_t len, kpArtifact *a, kapsul_error *err);
/* The version string and the host CPU's feature string artifacts record and compare. */
const char *kpArtifact_version(void);
/* The checksum kpArtifact_write stores at offset 280 of a file of len >= KP_KWASM_HEADER bytes. */
uint32_t kpArtifact_checksum(const uint8_t *file, size_t len);
const char *kpArtifact_hostCpu(void);
bool kpArtifact_isKwasm(const uint8_t *bytes, size_t len);

/* ---- The loader (load.c): link an ELF64 x86-64 relocatable object into executable memory ---- */
typedef struct kpNativeCode kpNativeCode;
/* Map the object, resolve helpers, apply relocations, make text read-only executable, and look
 * up kp_entry<i> for each defined function i (nfuncs = function index space size). Errors:
 * KAPSUL_ERR_MALFORMED with what was wrong ("bad ELF header", "relocation out of range",
 * "unknown symbol kp_xyz", ...), KAPSUL_ERR_NOMEM. */
kapsul_status kpNativeCode_load(const uint8_t *obj, size_t size, uint32_t nfuncs, kpNativeCode **out,
                                kapsul_error *err);
/* Whether the code relies on guard regions (artifact flags without "bounds-checks"). */
void kpNativeCode_setGuard(kpNativeCode *c, bool guard);
bool kpNativeCode_guard(const kpNativeCode *c);
/* kp_entry<i> of function i, NULL if absent (imports). */
void *kpNativeCode_entry(const kpNativeCode *c, uint32_t func);
void *const *kpNativeCode_entries(const kpNativeCode *c);
/* Where the code of each function lies: one row per function symbol of the object (kp_f<i>, and
 * kp_entry<i> with entry set; LLVM often inlines kp_f<i> into its entry), for profilers. */
typedef struct kpNativeSym {
    uint32_t func;
    bool entry;
    const void *start;
    size_t size;
} kpNativeSym;
const kpNativeSym *kpNativeCode_symbols(const kpNativeCode *c, size_t *n);
void kpNativeCode_free(kpNativeCode *c);

typedef void (*kpNativeEntry)(kpNativeCtx *ctx, uint64_t *slots);

#endif /* KP_NATIVE_H */
