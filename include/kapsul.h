/*
 * kapsul.h -- the one public header of the kapsul WebAssembly runtime.
 *
 * Everything an embedder (a plugin host, a FaaS platform, kapsul's own CLI and WASI layer) needs:
 * an engine, modules loaded and validated from bytes, a store that owns run-time objects, a linker
 * that resolves imports by (module, name), instances, exports, calls with typed values, traps and
 * linear memory access.
 *
 * Conventions
 *   - Every fallible call returns a kapsul_status; KAPSUL_OK is always exactly 0.
 *   - Details of a failure go into an optional kapsul_error the caller owns (pass NULL to ignore).
 *   - Objects named *_new are owned by the caller and released with the matching *_free.
 *     Objects obtained from a store (instances, funcs, memories, tables, globals) are owned by the
 *     store and live until kapsul_store_free.
 *   - Nothing a module file or a guest controls can abort the host process.
 */
#ifndef KAPSUL_H
#define KAPSUL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kapsul_version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version and symbols -------------------------------------------------------------------- */

/* KAPSUL_API marks every function of this header: the shared library is built with hidden
 * visibility and exports exactly these (libkapsul.so exports nothing but kapsul_*). */
#if defined(__GNUC__) || defined(__clang__)
#define KAPSUL_API __attribute__((visibility("default")))
#else
#define KAPSUL_API
#endif

/* The library's version, "MAJOR.MINOR.PATCH" (equal to KAPSUL_VERSION of the header it was
 * built with). A host compares it with KAPSUL_VERSION to detect a header/library mismatch, e.g.
 * strcmp(kapsul_version(), KAPSUL_VERSION) != 0. Never NULL; a static string. */
KAPSUL_API const char *kapsul_version(void);

/* ---- Status and errors -------------------------------------------------------------------- */

typedef enum kapsul_status {
    KAPSUL_OK = 0,
    KAPSUL_ERR_MALFORMED,     /* module bytes or text cannot be decoded/parsed */
    KAPSUL_ERR_INVALID,       /* decoded but fails validation */
    KAPSUL_ERR_UNLINKABLE,    /* an import is missing or has the wrong type */
    KAPSUL_ERR_TRAP,          /* execution trapped (see kapsul_error.trap) */
    KAPSUL_ERR_NOMEM,         /* the host ran out of memory */
    KAPSUL_ERR_LIMIT,         /* an implementation or configured limit was exceeded */
    KAPSUL_ERR_IO,            /* a file could not be read or written */
    KAPSUL_ERR_ARG,           /* the caller passed a bad argument (wrong arity, bad type, ...) */
    KAPSUL_ERR_NOT_FOUND,     /* a named export or definition does not exist */
    KAPSUL_ERR_EXIT           /* the guest asked to exit (WASI proc_exit); see kapsul_error.exit_code */
} kapsul_status;

/* Reasons execution can stop abnormally. KAPSUL_TRAP_NONE is always 0. */
typedef enum kapsul_trap {
    KAPSUL_TRAP_NONE = 0,
    KAPSUL_TRAP_UNREACHABLE,          /* "unreachable" executed */
    KAPSUL_TRAP_MEMORY_OOB,           /* out of bounds memory access */
    KAPSUL_TRAP_TABLE_OOB,            /* out of bounds table access / undefined element */
    KAPSUL_TRAP_DIV_ZERO,             /* integer divide by zero */
    KAPSUL_TRAP_INT_OVERFLOW,         /* integer overflow (INT_MIN / -1, trunc out of range) */
    KAPSUL_TRAP_BAD_CONVERSION,       /* invalid conversion to integer (NaN) */
    KAPSUL_TRAP_INDIRECT_MISMATCH,    /* indirect call type mismatch */
    KAPSUL_TRAP_UNINITIALIZED,        /* uninitialized element (null funcref in call_indirect) */
    KAPSUL_TRAP_STACK_EXHAUSTED,      /* call stack exhausted */
    KAPSUL_TRAP_HOST,                 /* a host function reported an error */
    KAPSUL_TRAP_TIMEOUT,              /* the deadline passed (interrupt) */
    KAPSUL_TRAP_FUEL,                 /* all fuel consumed */
    KAPSUL_TRAP_MEMORY_LIMIT,         /* instantiation needed more memory than allowed */
    KAPSUL_TRAP_COUNT
} kapsul_trap;

/* A short identifier ("unreachable", "memory_oob", ...) and the spec's message text
 * ("unreachable", "out of bounds memory access", ...). Never NULL. */
KAPSUL_API const char *kapsul_trap_name(kapsul_trap trap);
KAPSUL_API const char *kapsul_trap_message(kapsul_trap trap);
KAPSUL_API const char *kapsul_status_name(kapsul_status status);

#define KAPSUL_MAX_FRAMES 16

/* Filled in by any fallible call. */
typedef struct kapsul_error {
    kapsul_status code;      /* same value the call returned */
    kapsul_trap trap;        /* for KAPSUL_ERR_TRAP: which trap */
    int exit_code;           /* for KAPSUL_ERR_EXIT */
    size_t offset;           /* byte offset in the module for MALFORMED/INVALID, else 0 */
    int line, column;        /* 1-based position for text-format errors, else 0 */
    char message[256];       /* human-readable, NUL-terminated */
    /* Wasm backtrace of a trap, innermost first: function indices in their defining module and
     * their names from the name section (empty string when unknown). */
    int nframes;
    struct { uint32_t func_index; char name[48]; } frames[KAPSUL_MAX_FRAMES];
} kapsul_error;

/* ---- Values ---------------------------------------------------------------------------------- */

typedef enum kapsul_valkind {
    KAPSUL_I32 = 0x7F,
    KAPSUL_I64 = 0x7E,
    KAPSUL_F32 = 0x7D,
    KAPSUL_F64 = 0x7C,
    KAPSUL_V128 = 0x7B,
    KAPSUL_FUNCREF = 0x70,
    KAPSUL_EXTERNREF = 0x6F
} kapsul_valkind;

typedef struct kapsul_func kapsul_func;

/* A typed value. Floats travel as raw bits so NaN payloads survive. A null reference is
 * ref == NULL. An externref is an opaque host pointer (the spec tests' "ref.extern N" is N+1 cast
 * to a pointer by the test runner; any non-NULL pointer works). */
typedef struct kapsul_val {
    kapsul_valkind kind;
    union {
        int32_t i32;
        int64_t i64;
        uint32_t f32_bits;
        uint64_t f64_bits;
        uint8_t v128[16];
        kapsul_func *funcref;
        void *externref;
    } of;
} kapsul_val;

/* ---- Engine and configuration ---------------------------------------------------------------- */

typedef struct kapsul_config {
    size_t max_memory_bytes;   /* cap on every linear memory's size; 0 = 4 GiB (the wasm32 maximum) */
    size_t stack_bytes;        /* wasm value/call stack per call; 0 = default (1 MiB) */
    uint32_t max_call_depth;   /* 0 = default (10000 frames) */
    /* false (default): on 64-bit hosts linear memories sit in 8 GiB guard reservations and
     * out-of-bounds accesses are caught by a SIGSEGV handler. true: plain allocations with an
     * explicit bounds check per access (for hosts that cannot install signal handlers). The
     * runtime falls back to this by itself when the address space cannot be reserved. */
    bool explicit_bounds_checks;
} kapsul_config;

typedef struct kapsul_engine kapsul_engine;

/* config may be NULL for defaults. Returns NULL only when out of memory. */
KAPSUL_API kapsul_engine *kapsul_engine_new(const kapsul_config *config);
KAPSUL_API void kapsul_engine_free(kapsul_engine *engine);

/* ---- Modules --------------------------------------------------------------------------------- */

typedef struct kapsul_module kapsul_module;

/* Decode and validate a binary module. The bytes are copied; the caller may free them after. */
KAPSUL_API kapsul_status kapsul_module_new(kapsul_engine *engine, const uint8_t *bytes, size_t len,
                                kapsul_module **out, kapsul_error *err);
/* Parse a module written in the WebAssembly text format (WAT: "(module ...)" or bare module
 * fields), then load it as kapsul_module_new does. A text error is KAPSUL_ERR_MALFORMED with
 * err->line and err->column; the text is not kept. */
KAPSUL_API kapsul_status kapsul_module_new_wat(kapsul_engine *engine, const char *text, size_t len,
                                               kapsul_module **out, kapsul_error *err);
KAPSUL_API void kapsul_module_free(kapsul_module *module);

typedef enum kapsul_externkind {
    KAPSUL_EXTERN_FUNC = 0,
    KAPSUL_EXTERN_TABLE = 1,
    KAPSUL_EXTERN_MEMORY = 2,
    KAPSUL_EXTERN_GLOBAL = 3
} kapsul_externkind;

/* Import and export listing (for inspect tools and hosts that resolve imports themselves).
 * Returned strings point into the module and live as long as it does; they are not
 * NUL-terminated, hence the lengths. */
typedef struct kapsul_import_info {
    const char *module; size_t module_len;
    const char *name; size_t name_len;
    kapsul_externkind kind;
} kapsul_import_info;
typedef struct kapsul_export_info {
    const char *name; size_t name_len;
    kapsul_externkind kind;
    uint32_t index;
} kapsul_export_info;
KAPSUL_API uint32_t kapsul_module_import_count(const kapsul_module *module);
KAPSUL_API void kapsul_module_import(const kapsul_module *module, uint32_t i, kapsul_import_info *out);
KAPSUL_API uint32_t kapsul_module_export_count(const kapsul_module *module);
KAPSUL_API void kapsul_module_export(const kapsul_module *module, uint32_t i, kapsul_export_info *out);

/* ---- Store and run-time objects -------------------------------------------------------------- */

/* A store owns instances and every function, table, memory and global they create. Objects of
 * one store may be linked together; a store is used by one thread at a time. */
typedef struct kapsul_store kapsul_store;
typedef struct kapsul_instance kapsul_instance;
typedef struct kapsul_table kapsul_table;
typedef struct kapsul_memory kapsul_memory;
typedef struct kapsul_global kapsul_global;

KAPSUL_API kapsul_store *kapsul_store_new(kapsul_engine *engine);
KAPSUL_API void kapsul_store_free(kapsul_store *store);

/* Limits on execution in this store. fuel: number of instructions-worth of work before
 * KAPSUL_TRAP_FUEL (0 = unlimited). deadline_ns: absolute CLOCK_MONOTONIC time after which running
 * code traps with KAPSUL_TRAP_TIMEOUT (0 = none). */
KAPSUL_API void kapsul_store_set_fuel(kapsul_store *store, uint64_t fuel);
KAPSUL_API uint64_t kapsul_store_fuel_remaining(const kapsul_store *store);
KAPSUL_API void kapsul_store_set_deadline(kapsul_store *store, uint64_t deadline_ns);
/* Ask running code to stop with KAPSUL_TRAP_TIMEOUT as soon as possible. Safe to call from a
 * signal handler or another thread. */
KAPSUL_API void kapsul_store_interrupt(kapsul_store *store);

/* An external value: what an export yields and an import consumes. */
typedef struct kapsul_extern {
    kapsul_externkind kind;
    union {
        kapsul_func *func;
        kapsul_table *table;
        kapsul_memory *memory;
        kapsul_global *global;
    } of;
} kapsul_extern;

/* Host functions. The callee reads args (already type-checked) and writes every result with its
 * kind set. Return KAPSUL_OK, or fill err (KAPSUL_ERR_TRAP with a trap kind, or KAPSUL_ERR_EXIT
 * with exit_code) and return its code: the guest's execution unwinds and the call that entered
 * wasm returns that error. */
typedef struct kapsul_caller kapsul_caller;
typedef kapsul_status (*kapsul_host_fn)(void *env, kapsul_caller *caller, const kapsul_val *args,
                                        kapsul_val *results, kapsul_error *err);

/* The calling instance's memory 0 (NULL if it has none), for host functions such as WASI. */
KAPSUL_API kapsul_memory *kapsul_caller_memory(kapsul_caller *caller);
KAPSUL_API kapsul_store *kapsul_caller_store(kapsul_caller *caller);

KAPSUL_API kapsul_status kapsul_func_new_host(kapsul_store *store, const kapsul_valkind *params,
                                   uint32_t nparams, const kapsul_valkind *results,
                                   uint32_t nresults, kapsul_host_fn fn, void *env,
                                   kapsul_func **out);
KAPSUL_API uint32_t kapsul_func_param_count(const kapsul_func *func);
KAPSUL_API uint32_t kapsul_func_result_count(const kapsul_func *func);
KAPSUL_API kapsul_valkind kapsul_func_param(const kapsul_func *func, uint32_t i);
KAPSUL_API kapsul_valkind kapsul_func_result(const kapsul_func *func, uint32_t i);

/* Call a function. args must match its parameters in number and kind (else KAPSUL_ERR_ARG);
 * results must have room for its results. On a trap returns KAPSUL_ERR_TRAP with err->trap and
 * a backtrace; the store stays usable. */
KAPSUL_API kapsul_status kapsul_func_call(kapsul_store *store, kapsul_func *func, const kapsul_val *args,
                               uint32_t nargs, kapsul_val *results, uint32_t nresults,
                               kapsul_error *err);

/* Host-created memories, tables and globals (spectest, embedders). max = UINT64_MAX: none. */
#define KAPSUL_NO_MAX UINT64_MAX
KAPSUL_API kapsul_status kapsul_memory_new(kapsul_store *store, uint64_t min_pages, uint64_t max_pages,
                                kapsul_memory **out);
KAPSUL_API kapsul_status kapsul_table_new(kapsul_store *store, kapsul_valkind elem, uint64_t min,
                               uint64_t max, kapsul_table **out);
KAPSUL_API kapsul_status kapsul_global_new(kapsul_store *store, kapsul_val value, bool mutable_,
                                kapsul_global **out);

/* Linear memory access. The pointer stays valid until the memory grows. */
KAPSUL_API uint8_t *kapsul_memory_data(kapsul_memory *memory);
KAPSUL_API size_t kapsul_memory_size(const kapsul_memory *memory);       /* bytes */
KAPSUL_API uint64_t kapsul_memory_pages(const kapsul_memory *memory);
/* Returns the old size in pages, or -1 if it cannot grow (limit or max). */
KAPSUL_API int64_t kapsul_memory_grow(kapsul_memory *memory, uint64_t delta_pages);

KAPSUL_API kapsul_val kapsul_global_get(const kapsul_global *global);
KAPSUL_API kapsul_status kapsul_global_set(kapsul_global *global, kapsul_val value);

KAPSUL_API uint64_t kapsul_table_size(const kapsul_table *table);
KAPSUL_API kapsul_status kapsul_table_get(const kapsul_table *table, uint64_t index, kapsul_val *out);

/* ---- Linker and instances -------------------------------------------------------------------- */

/* A linker maps (module name, field name) to external values, then instantiates modules against
 * that map. Names are byte strings with explicit lengths. */
typedef struct kapsul_linker kapsul_linker;

KAPSUL_API kapsul_linker *kapsul_linker_new(kapsul_store *store);
KAPSUL_API void kapsul_linker_free(kapsul_linker *linker);
/* Define (or redefine, replacing the old one) one name. */
KAPSUL_API kapsul_status kapsul_linker_define(kapsul_linker *linker, const char *module, size_t module_len,
                                   const char *name, size_t name_len, kapsul_extern value);
/* Define every export of an instance under one module name (the WAST "register" command). */
KAPSUL_API kapsul_status kapsul_linker_define_instance(kapsul_linker *linker, const char *module,
                                            size_t module_len, kapsul_instance *instance);
/* Convenience: define a host function (NUL-terminated names). */
KAPSUL_API kapsul_status kapsul_linker_define_func(kapsul_linker *linker, const char *module,
                                        const char *name, const kapsul_valkind *params,
                                        uint32_t nparams, const kapsul_valkind *results,
                                        uint32_t nresults, kapsul_host_fn fn, void *env);

/* Resolve imports, allocate, initialize segments, run the start function.
 * KAPSUL_ERR_UNLINKABLE: an import is missing or mismatched (nothing was created).
 * KAPSUL_ERR_TRAP: a segment was out of bounds or the start function trapped; per the spec, the
 * writes done before the failure stay visible in shared imported objects. */
KAPSUL_API kapsul_status kapsul_linker_instantiate(kapsul_linker *linker, const kapsul_module *module,
                                        kapsul_instance **out, kapsul_error *err);

/* Look up an export by name. KAPSUL_ERR_NOT_FOUND if absent. */
KAPSUL_API kapsul_status kapsul_instance_export(kapsul_instance *instance, const char *name,
                                     size_t name_len, kapsul_extern *out);
/* Convenience: the export as a function / memory, or NULL. */
KAPSUL_API kapsul_func *kapsul_instance_func(kapsul_instance *instance, const char *name);
KAPSUL_API kapsul_memory *kapsul_instance_memory(kapsul_instance *instance, const char *name);

/* ---- WASI (wasi_snapshot_preview1) ------------------------------------------------------------ */

/* A WASI context: the capabilities one guest instance receives. It owns a private fd table
 * (guest fd numbers never equal host fd numbers), the preopened directories, the arguments and
 * environment. Nothing of the host is visible unless the config grants it. One context serves one
 * instance at a time; it is not thread-safe. */
typedef struct kapsul_wasi kapsul_wasi;

/* A directory the guest may use. */
typedef struct kapsul_wasi_dir {
    const char *host_path;    /* directory on the host, opened when the context is created */
    const char *guest_path;   /* the name the guest sees (fd_prestat_dir_name); NULL = host_path */
    bool read_only;           /* no write, create, truncate, rename, delete beneath it */
} kapsul_wasi_dir;

typedef struct kapsul_wasi_config {
    const char *const *argv;  /* argv[0] is the program name the guest sees; may be NULL */
    size_t argc;
    const char *const *env;   /* "NAME=VALUE" strings, passed exactly (nothing is inherited) */
    size_t envc;
    const kapsul_wasi_dir *dirs;   /* preopened as guest fds 3, 4, ... in this order */
    size_t ndirs;
    const char *const *tcp_listen; /* "ADDR:PORT" listening sockets preopened after the dirs */
    size_t ntcp_listen;
    /* Host fds that back guest fds 0, 1 and 2 (dup'ed; the caller keeps its own). -1 = the guest
     * fd is closed (EBADF). The usual choice is 0, 1, 2. */
    int stdin_fd, stdout_fd, stderr_fd;
    /* Absolute CLOCK_MONOTONIC time in ns (as for kapsul_store_set_deadline; 0 = none) after
     * which WASI calls that would block -- poll_oneoff, reads from pipes, terminals and sockets,
     * sock_accept -- stop the guest with KAPSUL_TRAP_TIMEOUT instead of waiting on. Pass the
     * store's deadline here so that --timeout also covers a guest sleeping in the host. */
    uint64_t deadline_ns;
} kapsul_wasi_config;

/* Create a context. Fails with KAPSUL_ERR_IO (message names the path) when a directory cannot
 * be opened or a listen address cannot be bound, KAPSUL_ERR_ARG for a malformed address,
 * KAPSUL_ERR_NOMEM. The config's strings are copied. */
KAPSUL_API kapsul_status kapsul_wasi_new(const kapsul_wasi_config *config, kapsul_wasi **out,
                              kapsul_error *err);
/* Closes every host fd the context still holds. */
KAPSUL_API void kapsul_wasi_free(kapsul_wasi *wasi);
/* Define every wasi_snapshot_preview1 function in the linker, bound to this context. The context
 * must outlive every instance linked with it. proc_exit makes the call that entered wasm return
 * KAPSUL_ERR_EXIT with err->exit_code. */
KAPSUL_API kapsul_status kapsul_wasi_define(kapsul_wasi *wasi, kapsul_linker *linker);

#ifdef __cplusplus
}
#endif
#endif /* KAPSUL_H */
