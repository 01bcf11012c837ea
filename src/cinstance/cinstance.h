/*
 * cinstance.h -- component instances: the component graph of a decoded component (src/component)
 * made real on top of the core runtime, which this layer reaches only through include/kapsul.h.
 *
 * Two objects, split for per-request instantiation:
 *   kpCPre       what does not change between instances: the decoded component and its core
 *                modules compiled once (kapsul_module); immutable after kpCPre_new, shareable.
 *   kpCInstance  one instance: the store's core instances, the functions made by `canon lower`,
 *                the handle tables (one per component instance of the tree), the host instances
 *                its imports resolved to. Freed in one call; everything it allocated goes with it.
 *
 * Instantiation replays each component body's program (kpCProgram: imports, core modules and
 * instances, aliases, canonical definitions, nested instances, exports, start) with run-time
 * index spaces of kpCVal_ values. `canon lower` makes a kapsul host function whose body lifts the
 * core arguments with the caller's canonical options, calls the component function, and lowers
 * the results; `canon lift` makes a kpCFunc that does the reverse and calls post-return.
 *
 * Type safety across the boundary: a component function value carries its type, and wherever one
 * meets a use with another declared type (a `canon lower`, an import satisfied by a host function
 * or a nested instance's export) the two shapes (component/shape.c) must be equal, so no host
 * code ever reads a kpCValue as another type than the one it was lifted with. Every bad value a
 * guest passes is a trap of the canonical ABI (cabi.h), reported as KAPSUL_ERR_TRAP with
 * KAPSUL_TRAP_HOST and the ABI's message.
 */
#ifndef KP_CINSTANCE_H
#define KP_CINSTANCE_H

#include "kapsul.h"
#include "component/cabi.h"

typedef struct kpCPre kpCPre;
typedef struct kpCInstance kpCInstance;
typedef struct kpCInst kpCInst;   /* a component or host instance value */
typedef struct kpCFunc kpCFunc;   /* a component function value */
typedef struct kpCRes kpCRes;     /* a resource type at run time */
typedef struct kpCFrame kpCFrame; /* one component instance of the tree (its index spaces) */

/* ---- Preparing ------------------------------------------------------------------------------- */

/* Decode and validate the component (src/component) and compile its core modules in engine.
 * Errors as kpComponent_decode and kapsul_module_new (the message names the core module). */
kapsul_status kpCPre_new(kapsul_engine *engine, const uint8_t *bytes, size_t len, kpCPre **out,
                         kapsul_error *err);
/* How kpCPre_newWith makes each core module of the component from its bytes; NULL means
 * kapsul_module_new. A host running components on the native tier passes one that finds (or
 * compiles) the module's .kwasm and loads that. */
typedef kapsul_status (*kpCModuleFn)(void *env, kapsul_engine *engine, const uint8_t *bytes, size_t len,
                                     kapsul_module **out, kapsul_error *err);
kapsul_status kpCPre_newWith(kapsul_engine *engine, const uint8_t *bytes, size_t len, kpCModuleFn load,
                             void *load_env, kpCPre **out, kapsul_error *err);
const kpComponent *kpCPre_component(const kpCPre *pre);
void kpCPre_free(kpCPre *pre);

/* ---- Host instances (what a component's imports resolve to) ---------------------------------- */

/* One call of a host function: the instance it serves and an arena for its results (strings,
 * lists, records are allocated there; freed after the results are lowered). */
typedef struct kpCHostCall {
    kpCInstance *ci;
    kpCArena *arena;
    const kpCType *ft; /* the function's type as the caller declared it (same shape as the host's) */
} kpCHostCall;

/* A host implementation: reads params (their shape is the one given at kpCHost_func) and writes
 * every result (results has one entry per result). Returns KAPSUL_OK, or an error as a
 * kapsul_host_fn does (KAPSUL_ERR_TRAP, KAPSUL_ERR_EXIT with err->exit_code). */
typedef kapsul_status (*kpCHostFn)(void *env, kpCHostCall *call, const kpCValue *params, kpCValue *results,
                                   kapsul_error *err);
/* A host resource's destructor: the guest dropped its last owning handle of rep. */
typedef void (*kpCHostDtor)(void *env, uint32_t rep);

/* A new, empty host instance owned by ci, named for messages (an interface name). */
kapsul_status kpCHost_instance(kpCInstance *ci, const char *name, kpCInst **out, kapsul_error *err);
/* A host resource type owned by ci. */
kapsul_status kpCHost_resource(kpCInstance *ci, const char *name, kpCHostDtor dtor, void *env, kpCRes **out,
                               kapsul_error *err);
/* Export a function of the given shape (kpCShape_func's notation), or a resource type, from a
 * host instance. Names are static strings (not copied). */
kapsul_status kpCHost_func(kpCInst *hi, const char *name, const char *shape, kpCHostFn fn, void *env,
                           kapsul_error *err);
kapsul_status kpCHost_type(kpCInst *hi, const char *name, kpCRes *res, kapsul_error *err);
/* A stand-in host instance for fuzzing and tests: every function an importer names is fn (with
 * the importer's type; fn must write zeros of that type or fail), every type a resource. */
kapsul_status kpCHost_any(kpCInstance *ci, const char *name, kpCHostFn fn, void *env, kpCInst **out,
                          kapsul_error *err);

/* What the outermost component's imports resolve to: for an instance import called name, *out
 * gets a host instance (KAPSUL_ERR_NOT_FOUND when the host has none of that name). */
typedef kapsul_status (*kpCResolveFn)(void *env, kpCInstance *ci, const char *name, uint32_t len,
                                      kpCInst **out, kapsul_error *err);

/* ---- Instances ------------------------------------------------------------------------------- */

/* Instantiate pre in store (of pre's engine): resolve the imports, run every component body's
 * definitions and start functions. On failure *out is NULL and everything made is freed (the
 * store keeps core instances that were created; free the store with the failed instance).
 *   KAPSUL_ERR_UNLINKABLE  an import is missing or has another shape than the host's
 *   KAPSUL_ERR_LIMIT       the instance tree is too large (KP_MAX_COMPONENT_INSTANCES, ...)
 *   KAPSUL_ERR_TRAP, KAPSUL_ERR_EXIT  from a core start function or a component start */
kapsul_status kpCInstance_new(kpCPre *pre, kapsul_store *store, kpCResolveFn resolve, void *resolve_env,
                              kpCInstance **out, kapsul_error *err);
void kpCInstance_free(kpCInstance *ci);
kapsul_store *kpCInstance_store(const kpCInstance *ci);
const kpComponent *kpCInstance_component(const kpCInstance *ci);

/* The outermost component's exported function `name`, or the function `func` of its exported
 * instance `name` (matched by semver when name is an interface name: wasi:cli/run@0.2.0 finds
 * an export wasi:cli/run@0.2.12). NULL when there is none. */
kpCFunc *kpCInstance_func(kpCInstance *ci, const char *name, const char *func);
/* A function's type id in kpCInstance_component(ci). */
uint32_t kpCFunc_type(const kpCFunc *f);

/* Trace every call of a host function (a WASI 0.2 call): fn gets one line per call, valid during
 * the call only, `IFACE#NAME(ARGS) = RESULTS` with values in WAVE (cut at about 300 bytes), or
 * `... = error: MESSAGE`. NULL turns it off. */
void kpCInstance_setTrace(kpCInstance *ci, void (*fn)(void *env, const char *line), void *env);

/* Call a component function with host values (params: one per parameter of its type); results
 * (one per result) are allocated from arena, which the caller frees. Guest traps come back as
 * KAPSUL_ERR_TRAP; the canonical ABI's traps as KAPSUL_ERR_TRAP / KAPSUL_TRAP_HOST with the ABI's
 * message. */
kapsul_status kpCFunc_call(kpCInstance *ci, kpCFunc *f, const kpCValue *params, kpCValue *results,
                           kpCArena *arena, kapsul_error *err);

/* ---- Templates: a fresh instance per request ------------------------------------------------- */

/* A component template makes instances of pre that equal kpCInstance_new's (the same imports
 * resolved through the resolver given per instance, fresh handle tables, every core start
 * function and component start run again) at a smaller cost: each core module has a module
 * template (kapsul_template, imports_per_instance) whose memory is a slot of a pool mapped over
 * a copy-on-write image of its initial contents (data segments, and so a wizer snapshot, applied
 * once), so an instance copies no data and maps or unmaps nothing. Core instances are linked to
 * each other and to the canon lower trampolines per instance, as kpCInstance_new links them.
 *
 * A core module whose template cannot be made (kapsul_template_new refuses it: more than one
 * memory, no address space for the pool) is linked per instance instead (kpCTemplate_describe
 * says which and why); so is a core instance whose module's pool is in use to the last slot
 * (counted in kpCTemplateStats.pool_empty). Either way the instance is the same.
 *
 * Threads: any number of threads may instantiate from one template at once, each into its own
 * store and with its own resolver environment (a kpP2 per instance). pre must outlive the
 * template; every store an instance of it lives in must be freed before kpCTemplate_free. */
typedef struct kpCTemplate kpCTemplate;

/* config: the module templates' pool_size (slots per core module: live instances at once, each
 * an address-space reservation) and keep_resident_bytes (0: a module's whole initial memory, up
 * to KP_CTEMPLATE_KEEP_RESIDENT_MAX, at least kapsul_template_new's default); NULL for defaults.
 *   KAPSUL_ERR_NOMEM  out of memory (a module template that fails otherwise is a fallback) */
kapsul_status kpCTemplate_new(kpCPre *pre, const kapsul_template_config *config, kpCTemplate **out,
                              kapsul_error *err);
/* As kpCInstance_new(pre, store, resolve, resolve_env, out, err), with the template's fast path. */
kapsul_status kpCTemplate_instantiate(kpCTemplate *t, kapsul_store *store, kpCResolveFn resolve,
                                      void *resolve_env, kpCInstance **out, kapsul_error *err);
void kpCTemplate_free(kpCTemplate *t);

typedef struct kpCTemplateStats {
    uint64_t instances;   /* successful kpCTemplate_instantiate calls */
    uint64_t core_pooled; /* core instances made from a module template */
    uint64_t core_linked; /* core instances linked per instance (the slow path) ... */
    uint64_t pool_empty;  /* ... of which: their module's pool had no free slot */
} kpCTemplateStats;
void kpCTemplate_stats(const kpCTemplate *t, kpCTemplateStats *out);
/* One line per core module into buf (cut at cap, NUL-terminated), e.g.
 *   "core module 0: template: 64 slots, 18 pages, image 6.2 MiB copy-on-write"
 *   "core module 1: template: no memory of its own (imports one)"
 *   "core module 2: linked per instance: a template takes modules with at most one memory"
 * Returns the length it would have without the cut. */
size_t kpCTemplate_describe(const kpCTemplate *t, char *buf, size_t cap);

#endif /* KP_CINSTANCE_H */
