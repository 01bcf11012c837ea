/*
 * runtime.h -- the run-time objects behind the opaque types of kapsul.h, shared by the runtime
 * (store, instances, linker, memories, tables, globals) and the engine (lowering, interpreter).
 *
 * Ownership: the engine owns canonical function types; a module owns its lowered code and is
 * reference-counted (the caller's handle plus one per instance); a store owns every function,
 * memory, table, global and instance created in it, and frees them all in kapsul_store_free.
 */
#ifndef KP_RUNTIME_H
#define KP_RUNTIME_H

#include "engine/ir.h"
#include "module/module.h"
#include "os/os.h"

/* On 64-bit hosts every memory reserves this much address space: any u32 address plus any u32
 * offset plus an access width stays inside, so loads and stores need no bounds check. */
#define KP_MEM_RESERVE ((size_t)8 << 30)
#define KP_PAGE_SIZE 65536u
#define KP_DEFAULT_STACK_BYTES ((size_t)1 << 20)
#define KP_DEFAULT_CALL_DEPTH 10000u

struct kapsul_engine {
    kapsul_config config;          /* defaults filled in */
    kpOs_mutex *lock;              /* guards the type registry */
    kpFuncType **types;            /* canonical function types by id; each separately allocated */
    uint32_t ntypes, cap;
    uint32_t *hash;                /* open addressing: id + 1, 0 = empty; size hash_cap */
    uint32_t hash_cap;
};

/* Canonical id of a function type (structural equality), registering it if new. The returned
 * type pointer stays valid until kapsul_engine_free. */
kapsul_status kpEngine_internType(kapsul_engine *e, const kpFuncType *t, uint32_t *id,
                                  const kpFuncType **canon);

struct kapsul_module {
    kapsul_engine *engine;
    kpModule *m;
    kpCode *codes;                 /* one per defined function */
    uint32_t *func_types;          /* type index per function index (imports first) */
    uint32_t *type_ids;            /* canonical id per type index */
    const kpFuncType **canon;      /* canonical type per type index */
    struct kpNativeCode *native;   /* compiled code when loaded from a .kwasm, else NULL */
    int refs;
};
void kpModule_release(kapsul_module *mod);

struct kapsul_func {
    const kpFuncType *type;        /* canonical (engine-owned) */
    uint32_t type_id;
    kapsul_instance *inst;         /* defining instance; NULL for host functions */
    const kpCode *code;            /* NULL for host functions */
    uint32_t index;                /* function index in its module */
    kapsul_host_fn host;
    void *env;
};

struct kapsul_memory {
    uint8_t *base;
    uint64_t size;                 /* bytes accessible */
    uint64_t max_pages;            /* effective maximum (type max, config limit, 65536) */
    uint64_t type_max;             /* the declared maximum (KAPSUL_NO_MAX if none), for linking */
    size_t reserved;               /* bytes reserved; 0 = plain heap block with bounds checks */
    size_t mapped;                 /* bytes of address space backing the memory (== reserved in the
                                      guard-page mode; the maximum size in the bounds-checked mode
                                      when it could be mapped; 0 = a kp_malloc block) */
};

struct kapsul_table {
    kpValType elem;
    uint32_t size;
    uint64_t max;                  /* declared maximum, KAPSUL_NO_MAX if none */
    void **elems;                  /* kapsul_func * or extern pointers; NULL = null ref */
};

struct kapsul_global {
    kpValType type;
    bool mut;
    uint64_t bits[2];
};

struct kapsul_instance {
    kapsul_store *store;
    kapsul_module *module;
    kapsul_func **funcs;
    kapsul_table **tables;
    kapsul_memory **mems;
    kapsul_global **globals;
    kapsul_memory *mem0;           /* memory 0 or NULL: what loads and stores use */
    void ***elems;                 /* evaluated element segments */
    uint32_t *elem_len;            /* 0 once dropped */
    uint32_t *data_len;            /* 0 once dropped */
    struct kpNativeInst *native;   /* the native tier's context when the module is compiled */
};

/* A call record on the store's frame stack: `func` is the callee; ret_ip/fp are the caller's
 * resume point (ret_ip NULL: return to the host). */
typedef struct kpFrame {
    kapsul_func *func;
    const uint32_t *ret_ip;
    uint64_t *fp;
} kpFrame;

struct kapsul_store {
    kapsul_engine *engine;
    KP_VEC(kapsul_instance *) instances;
    KP_VEC(kapsul_func *) funcs;
    KP_VEC(kapsul_memory *) mems;
    KP_VEC(kapsul_table *) tables;
    KP_VEC(kapsul_global *) globals;

    uint64_t *stack;               /* value stack (slots), allocated on first call */
    size_t stack_slots;
    uint64_t *stack_free;          /* first free slot while the host has control */
    kpFrame *frames;
    uint32_t nframes, max_frames;

    int64_t fuel;                  /* remaining when KP_INTR_FUEL is set */
    int interrupt;                 /* KP_INTR_* bits, set from other threads / the watchdog; the
                                    * interpreter's CHECK reads this one word on its fast path */
    uint64_t deadline;
    int entries;                   /* nesting of host -> wasm entries */
};
#define KP_INTR_USER 1
#define KP_INTR_DEADLINE 2
#define KP_INTR_FUEL 4             /* not an interrupt: fuel metering is on */

struct kapsul_caller {
    kapsul_store *store;
    kapsul_instance *inst;
};

/* ---- store.c ---- */
kapsul_status kpStore_addFunc(kapsul_store *s, kapsul_func **out);
/* Make sure the value stack and frame stack exist. */
kapsul_status kpStore_prepareStacks(kapsul_store *s);

/* ---- memory.c ---- */
kapsul_status kpMemory_create(kapsul_store *s, uint64_t min_pages, uint64_t max_pages,
                              kapsul_memory **out, kapsul_error *err);
/* memory.grow semantics: old size in pages or -1. */
int64_t kpMemory_grow(kapsul_memory *mem, uint64_t delta, size_t limit_bytes);
bool kpMemory_isGuestAddress(const kapsul_store *s, const void *addr);

/* ---- table.c ---- */
kapsul_status kpTable_create(kapsul_store *s, kpValType elem, uint64_t min, uint64_t max,
                             kapsul_table **out);
int64_t kpTable_grow(kapsul_table *t, uint64_t delta, void *init);
kapsul_status kpGlobal_create(kapsul_store *s, kpValType type, bool mut, kapsul_global **out);

/* ---- interp.c ---- */
/* Run func with its arguments already in args[0..nparam_slots) (slots on the store's stack, at
 * s->stack_free); the results replace them. Traps fill err (with a backtrace). */
kapsul_status kpInterp_call(kapsul_store *s, kapsul_func *func, uint64_t *args, kapsul_error *err);
/* Install the fault handler (idempotent); false if it cannot be, and memories must not rely on
 * guard regions then. */
bool kpInterp_guardPagesReady(void);

/* ---- api.c ---- */
/* Convert between kapsul_val and slots. */
void kpVal_toSlots(const kapsul_val *v, uint64_t *slots);
kapsul_val kpVal_fromSlots(kpValType t, const uint64_t *slots);
/* Call a host function with args in slots; results written back to slots. */
kapsul_status kpHost_call(kapsul_store *s, kapsul_instance *caller_inst, kapsul_func *f,
                          uint64_t *slots, kapsul_error *err);

/* ---- instance.c ---- */
kapsul_status kpInstance_new(kapsul_store *s, kapsul_module *mod, const kapsul_extern *imports,
                             kapsul_instance **out, kapsul_error *err);
void kpInstance_free(kapsul_instance *inst);

#endif /* KP_RUNTIME_H */
