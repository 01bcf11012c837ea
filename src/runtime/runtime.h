/*
 * runtime.h -- the runtime's objects behind the opaque types of kapsul.h: the engine (config and
 * canonical function types), modules, stores, instances. The objects code touches (functions,
 * memories, tables, globals, frames, the execution state) are the engine's, in engine/objects.h;
 * the runtime embeds them (a store holds a kpExec, an instance a kpInstCore) and orchestrates.
 *
 * Ownership: the kapsul_engine owns canonical function types; a module owns its lowered code and
 * is reference-counted (the caller's handle plus one per instance); a store owns every function,
 * memory, table, global and instance created in it, and frees them all in kapsul_store_free.
 */
#ifndef KP_RUNTIME_H
#define KP_RUNTIME_H

#include "engine/objects.h"
#include "module/module.h"
#include "os/os.h"

struct kapsul_engine {
    kapsul_config config; /* defaults filled in; native_compiler points to compiler below */
    char *compiler;       /* the configured native compiler's path (copy), or NULL */
    kpOs_mutex *lock;     /* guards the type registry */
    kpFuncType **types;   /* canonical function types by id; each separately allocated */
    uint32_t ntypes, cap;
    uint32_t *hash; /* open addressing: id + 1, 0 = empty; size hash_cap */
    uint32_t hash_cap;
};

/* ---- engine.c ---- */
/* Canonical id of a function type (structural equality), registering it if new. The returned
 * type pointer stays valid until kapsul_engine_free. */
kapsul_status kpEngine_internType(kapsul_engine *e, const kpFuncType *t, uint32_t *id,
                                  const kpFuncType **canon);

struct kapsul_module {
    kapsul_engine *engine;
    kpModule *m;
    kpCode *codes; /* one per defined function (native modules: stubs, see below) */
    /* Native modules are not lowered at load (codes holds kpCode_nativeStub stubs); an instance
     * that cannot run their code (guard-mode code over an unreserved memory) gets the lowered
     * code, made on first need under lock (kpModule_lowered). */
    kpCode *lowered;
    kpOs_mutex *lock;
    uint32_t *func_types;        /* type index per function index (imports first) */
    uint32_t *type_ids;          /* canonical id per type index */
    const kpFuncType **canon;    /* canonical type per type index */
    struct kpNativeCode *native; /* compiled code when loaded from a .kwasm, else NULL */
    int refs;
    struct kpSymbols *syms; /* names and DWARF for backtraces, made on first use (symbols.c) */
};
void kpSymbols_free(struct kpSymbols *syms);
/* What an import expects, for link errors: "func (param i32) (result i64)", "memory 1 2",
 * "global mut i32", "table 0 10 funcref" (instance.c). */
void kpInstance_describeImport(const kapsul_module *mod, const kpImport *im, char *b, size_t cap);
void kpModule_release(kapsul_module *mod);
/* Run the native compiler (serialize.c) on a binary module: the .kwasm bytes into *out.
 * Errors: KAPSUL_ERR_LIMIT (no compiler, or it refused the module), KAPSUL_ERR_IO. */
kapsul_status kpRuntime_compileNative(const kapsul_engine *e, const uint8_t *wasm, size_t len, kpBuf *out,
                                      kapsul_error *err);
/* The interpreter's code for every defined function: mod->codes, or for a native module its
 * lowering, made once (thread-safe). Errors: lowering's (KAPSUL_ERR_NOMEM, KAPSUL_ERR_LIMIT). */
kapsul_status kpModule_lowered(kapsul_module *mod, const kpCode **out, kapsul_error *err);
/* Print the lowered code of every defined function (kapsul inspect --ir). */
void kpModule_dumpIr(const kapsul_module *mod, FILE *f);

struct kapsul_instance {
    kpInstCore core; /* what its code touches (engine/objects.h); core.owner = this */
    kapsul_store *store;
    kapsul_module *module;
    kapsul_func *defined; /* its defined functions, one block (not in the store's list) */
    bool lent;            /* defined belongs to a template's pool slot */
};

struct kapsul_store {
    kapsul_engine *engine;
    KP_VEC(kapsul_instance *) instances;
    KP_VEC(kapsul_func *) funcs;
    KP_VEC(kapsul_table *) tables;
    KP_VEC(kapsul_global *) globals;
    kpExec exec;          /* stacks, fuel, interrupt word, deadline; and the memories */
    kapsul_limits limits; /* kapsul_store_set_limits; 0 = none (exec.mem_limit holds the
                                      effective memory limit) */
};

/* ---- store.c ---- */
kapsul_status kpStore_addFunc(kapsul_store *s, kapsul_func **out);
/* Make sure the value stack and frame stack exist. */
kapsul_status kpStore_prepareStacks(kapsul_store *s);
/* New objects owned by the store (freed with it). Memories are created with kpMemory_create on
 * s->exec, which keeps them for the fault handler. */
kapsul_status kpStore_addTable(kapsul_store *s, kpValType elem, uint64_t min, uint64_t max,
                               kapsul_table **out);
kapsul_status kpStore_addGlobal(kapsul_store *s, kpValType type, bool mut, kapsul_global **out);
/* KAPSUL_ERR_LIMIT (err filled) if adding ninst instances, nmem memories and ntab tables would
 * pass the store's counts. */
kapsul_status kpStore_checkCounts(const kapsul_store *s, uint32_t ninst, uint32_t nmem, uint32_t ntab,
                                  kapsul_error *err);

/* ---- instance.c ---- */
kapsul_status kpInstance_new(kapsul_store *s, kapsul_module *mod, const kapsul_extern *imports,
                             kapsul_instance **out, kapsul_error *err);
/* kpInstance_new for a template (template.c): mem0, when not NULL, is the module's (defined)
 * memory 0, already registered in s->exec.mems; data_done says it already holds every active
 * data segment; defined, when not NULL, is a block of the module's defined functions that the
 * caller owns and keeps until the store is freed (a pool slot's: reused, not allocated). */
kapsul_status kpInstance_newWith(kapsul_store *s, kapsul_module *mod, const kapsul_extern *imports,
                                 kapsul_memory *mem0, bool data_done, kapsul_func *defined,
                                 kapsul_instance **out, kapsul_error *err);
void kpInstance_free(kapsul_instance *inst);

/* ---- template.c ---- */
/* Give a pooled memory back to its template (kapsul_store_free). */
void kpTemplate_release(kapsul_memory *mem);

#endif /* KP_RUNTIME_H */
