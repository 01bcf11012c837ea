/*
 * objects.h -- the run-time objects code touches (functions, memories, tables, globals, the
 * part of an instance its code refers to by index) and the execution state a store lends the
 * interpreter (value and frame stacks, fuel, the interrupt word, the deadline). The runtime
 * (src/runtime/) embeds these in its store and instances and orchestrates them; nothing here
 * knows the store, the linker or the module cache, so the engine only ever looks down.
 *
 * kapsul_store and kapsul_instance appear only as opaque back-pointers (the handles a host
 * function's kapsul_caller gives back); their definitions are the runtime's.
 */
#ifndef KP_OBJECTS_H
#define KP_OBJECTS_H

#include "engine/ir.h"
#include "module/module.h"

/* KP_MEM_RESERVE (the guard reservation per memory) and KP_PAGE_SIZE are in config.h. */

typedef struct kpInstCore kpInstCore;

struct kapsul_func {
    const kpFuncType *type; /* canonical (owned by the kapsul_engine) */
    uint32_t type_id;
    kpInstCore *inst;   /* defining instance; NULL for host functions */
    const kpCode *code; /* NULL for host functions */
    uint32_t index;     /* function index in its module */
    kapsul_host_fn host;
    void *env;
};

struct kapsul_memory {
    uint8_t *base;
    uint64_t size;      /* bytes accessible */
    uint64_t max_pages; /* effective maximum (type max, config limit, 65536) */
    uint64_t type_max;  /* the declared maximum (KAPSUL_NO_MAX if none), for linking */
    size_t reserved;    /* bytes reserved; 0 = plain heap block with bounds checks */
    size_t mapped;      /* bytes of address space backing the memory (== reserved in the
                                      guard-page mode; the maximum size in the bounds-checked mode
                                      when it could be mapped; 0 = a kp_malloc block) */
    void *pool;         /* a module template's slot that owns this memory (the store
                                      gives it back instead of calling kpMemory_free), or NULL */
};

struct kapsul_table {
    kpValType elem;
    uint32_t size;
    uint64_t max;   /* declared maximum, KAPSUL_NO_MAX if none, for linking */
    uint64_t limit; /* effective maximum: max, the store's and the implementation's */
    void **elems;   /* kapsul_func * or extern pointers; NULL = null ref */
};

struct kapsul_global {
    kpValType type;
    bool mut;
    uint64_t bits[2];
};

/* What an instance's code refers to: its index spaces, its memory 0 and the state of its
 * segments. The runtime's kapsul_instance contains one (and fills it at instantiation); the
 * interpreter keeps a pointer to the current one in a local. */
struct kpInstCore {
    const kpModule *m;           /* the module (data segment bytes, function names) */
    kapsul_instance *owner;      /* the runtime's instance, opaque here: what kapsul_caller names */
    const kapsul_module *module; /* the runtime's module, opaque here: what trap frames name */
    kapsul_func **funcs;
    kapsul_table **tables;
    kapsul_memory **mems;
    kapsul_global **globals;
    kapsul_memory *mem0;         /* memory 0 or NULL: what loads and stores use */
    void ***elems;               /* evaluated element segments */
    uint32_t *elem_len;          /* 0 once dropped */
    uint32_t *data_len;          /* 0 once dropped */
    struct kpNativeInst *native; /* the native tier's context when the module runs compiled
                                      (engine/native/bridge.h), else NULL */
};

/* A call record on the frame stack: `func` is the callee; ret_ip/fp are the caller's resume
 * point (ret_ip NULL: return to the host). */
typedef struct kpFrame {
    kapsul_func *func;
    const uint32_t *ret_ip;
    uint64_t *fp;
} kpFrame;

/* The execution state of one store: what the interpreter reads and writes while wasm runs. The
 * store embeds one (and fills stack, frames and config); fuel, interrupt and deadline are set
 * through the store's public API. */
typedef struct kpExec {
    uint64_t *stack; /* value stack (slots), allocated on first call */
    size_t stack_slots;
    uint64_t *stack_free; /* first free slot while the host has control */
    kpFrame *frames;
    uint32_t nframes, max_frames;

    int64_t fuel;  /* remaining when KP_INTR_FUEL is set */
    int interrupt; /* KP_INTR_* bits, set from other threads / the watchdog; the
                                    * interpreter's CHECK reads this one word on its fast path */
    uint64_t deadline;
    int entries; /* nesting of host -> wasm entries */

    const kapsul_config *config; /* the engine's, defaults filled in (memory limit, bounds mode) */
    size_t mem_limit;            /* bytes per memory: the engine's limit, lowered by the store's */
    kapsul_store *store;         /* the store embedding this, opaque here: what kapsul_caller names */
    /* Every memory of the store. They live here, not with the store's other objects, because the
     * fault handler asks whether a faulting address lies in one of their reservations. */
    KP_VEC(kapsul_memory *) mems;
    /* The native tier's frame records (max_frames, made by the first native instance) and the
     * store-wide depth a native entry starts at (engine/native/bridge.c). */
    uint64_t *native_frames;
    uint32_t native_depth;
    const struct kpNativeAct *native_act; /* the innermost native entry running (kpExec_sample) */
} kpExec;

/* A native entry in progress: kpNative_call keeps one on its C stack and links it into
 * kpExec.native_act while compiled code runs, so a profiler's signal handler can name the
 * compiled frames (kpExec_sample). Levels d0..depth of the store's frame records are its frames:
 * d0 is the entry's function, each level above it the callee recorded by a direct call. */
typedef struct kpNativeAct {
    const struct kpNativeAct *prev; /* the entry it runs inside of, NULL for the outermost */
    const kapsul_func *entry;       /* the function entered */
    const uint32_t *depth;          /* the context's depth: this entry's innermost level */
    const uint32_t *site;           /* the context's site: where that level called out */
    uint32_t d0;                    /* the entry's level in the store's frame records */
    uint32_t interp_base;           /* interpreter frames at entry (those above are newer) */
} kpNativeAct;

#define KP_INTR_USER 1
#define KP_INTR_DEADLINE 2
#define KP_INTR_FUEL 4 /* not an interrupt: fuel metering is on */

/* What a host function receives: the store it runs in and the calling instance (NULL when the
 * host called it directly), both the runtime's handles (opaque here; see kpExec.store and
 * kpInstCore.owner). */
struct kapsul_caller {
    kapsul_store *store;
    kapsul_instance *inst;
};

/* ---- memory.c ---- */
/* A new memory under x->mem_limit, registered in x->mems (which frees it with
 * kpMemory_free). Above the configured limit: KAPSUL_ERR_TRAP with KAPSUL_TRAP_MEMORY_LIMIT. */
kapsul_status kpMemory_create(kpExec *x, uint64_t min_pages, uint64_t max_pages, kapsul_memory **out,
                              kapsul_error *err);
/* memory.grow semantics: old size in pages or -1. */
int64_t kpMemory_grow(kapsul_memory *mem, uint64_t delta, size_t limit_bytes);
bool kpMemory_isGuestAddress(const kpExec *x, const void *addr);
/* Whether memories made under cfg live in guard reservations (else bounds-checked mappings);
 * a template's pool reserves its slots the same way. */
bool kpMemory_guardMode(const kapsul_config *cfg);
void kpMemory_free(kapsul_memory *mem);

/* ---- table.c ---- */
/* limit: the store's cap on elements (growth also stops at max and KP_MAX_TABLE_ENTRIES);
 * min above it: KAPSUL_ERR_LIMIT. */
kapsul_status kpTable_new(kpValType elem, uint64_t min, uint64_t max, uint64_t limit, kapsul_table **out);
/* table.grow semantics: old size or -1. */
int64_t kpTable_grow(kapsul_table *t, uint64_t delta, void *init);
void kpTable_free(kapsul_table *t);

/* ---- host.c ---- */
/* Convert between kapsul_val and slots. */
void kpHost_toSlots(const kapsul_val *v, uint64_t *slots);
kapsul_val kpHost_fromSlots(kpValType t, const uint64_t *slots);
/* Call a host function with args in slots; results written back to slots. */
kapsul_status kpHost_call(kpExec *x, kpInstCore *caller_inst, kapsul_func *f, uint64_t *slots,
                          kapsul_error *err);

/* ---- sample.c ---- */
/* The wasm frames x is running, interpreted and native, innermost first, for a profiler's signal
 * handler on the thread running x (see kapsul_store_sample): async-signal-safe, no locks, no
 * allocation. */
size_t kpExec_sample(const kpExec *x, kapsul_frame *out, size_t max);

/* ---- interp.c ---- */
/* Run func with its arguments already in args[0..nparam_slots) (slots on x's stack, at
 * x->stack_free); the results replace them. Traps fill err (with a backtrace). */
kapsul_status kpInterp_call(kpExec *x, kapsul_func *func, uint64_t *args, kapsul_error *err);
/* Install the fault handler (idempotent); false if it cannot be, and memories must not rely on
 * guard regions then. */
bool kpInterp_guardPagesReady(void);
/* Append one frame to err's backtrace: function func of instance inst (NULL: nameless) at module
 * offset `offset` (0: unknown). Past KAPSUL_MAX_FRAMES the innermost frames stay and the last
 * KAPSUL_TAIL_FRAMES slide, counted in frames_omitted. Both tiers record frames through this. */
void kpTrap_addFrame(kapsul_error *err, const kpInstCore *inst, uint32_t func, uint32_t offset);

#endif /* KP_OBJECTS_H */
