/*
 * kapsul.h -- the one public header of the kapsul WebAssembly runtime.
 *
 * Everything an embedder (a plugin host, a FaaS platform, kapsul's own CLI and WASI layer) needs:
 * an engine, modules loaded and validated from bytes or text, a store that owns run-time objects,
 * a linker that resolves imports by (module, name), instances, exports, calls with typed values,
 * host functions, traps, fuel and deadlines, linear memory access, and WASI preview1.
 * Build against it with `pkg-config --cflags --libs kapsul` (examples/embed/host.c is a complete
 * host program).
 *
 * Conventions (they hold for every function below; each function's comment adds its own cases)
 *
 *   Statuses.  Every call that can fail returns a kapsul_status and takes a trailing
 *     `kapsul_error *err`. KAPSUL_OK is always exactly 0, so `if (kapsul_x(...))` tests for
 *     failure. Each function lists the statuses it can return besides KAPSUL_OK; KAPSUL_ERR_ARG
 *     (a required pointer is NULL, or an argument is out of its documented range) and
 *     KAPSUL_ERR_NOMEM (the host ran out of memory) are possible for every function that returns
 *     a status and are not repeated.
 *   Errors.  err may be NULL. Otherwise it is cleared on entry and, on failure, filled with
 *     err->code equal to the returned status and a NUL-terminated message; the other fields as
 *     described at kapsul_error. A call that succeeds leaves err cleared (code KAPSUL_OK).
 *   Out parameters.  A constructor `kapsul_status kapsul_x_new(..., kapsul_x **out, err)` sets
 *     *out to the new object on success and to NULL on failure (when out itself is not NULL).
 *   Ownership.  What a *_new call returns is the caller's and is released with the matching
 *     *_free: engines, modules, stores, linkers, WASI contexts. Instances, functions, memories,
 *     tables and globals belong to the store they were created in and live until
 *     kapsul_store_free; they have no *_free. Every *_free accepts NULL and then does nothing.
 *     Strings and arrays passed in are copied unless a function says otherwise.
 *   Lifetimes.  An engine must outlive the modules and stores made from it; a store must outlive
 *     its linkers' use and every pointer into it; a WASI context must outlive the instances linked
 *     with it. A module may be freed while instances of it live (they keep it alive).
 *   Accessors.  Functions that return a value rather than a status (counts, kinds, sizes) cannot
 *     fail and need a valid, non-NULL object unless their comment says what NULL gives.
 *   Threads.  An engine and a module may be shared by any number of threads: loading modules into
 *     one engine, and instantiating one module in several stores, may happen concurrently (the
 *     engine's type registry is locked; a module is immutable after loading and its reference
 *     count is atomic). A store and everything in it (instances, functions, memories, tables,
 *     globals, the linkers made over it, the WASI contexts linked into it) is used by one thread
 *     at a time; different stores run in parallel. kapsul_store_interrupt is the exception: any
 *     thread or a signal handler may call it. kapsul_version, kapsul_status_name,
 *     kapsul_trap_name and kapsul_trap_message may be called from anywhere.
 *   Safety.  Nothing a module file, a text file or a guest controls can abort the host process or
 *     reach undefined behaviour; it ends in a status. (Breaking this header's rules -- a dangling
 *     pointer, one store used by two threads at once -- is the host's bug and is not detected.)
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
 * built with; kapsul_version.h defines KAPSUL_VERSION, KAPSUL_VERSION_MAJOR/MINOR/PATCH and
 * KAPSUL_VERSION_NUMBER). A host compares it with KAPSUL_VERSION to detect a header/library
 * mismatch: strcmp(kapsul_version(), KAPSUL_VERSION) != 0. A static string, never NULL. */
KAPSUL_API const char *kapsul_version(void);

/* ---- Status and errors -------------------------------------------------------------------- */

/* What a call returns. The values are stable: new statuses are only ever appended. */
typedef enum kapsul_status {
    KAPSUL_OK = 0,
    KAPSUL_ERR_MALFORMED,  /* module bytes or text cannot be decoded/parsed */
    KAPSUL_ERR_INVALID,    /* decoded but fails validation */
    KAPSUL_ERR_UNLINKABLE, /* an import is missing or has the wrong type */
    KAPSUL_ERR_TRAP,       /* execution trapped (see kapsul_error.trap) */
    KAPSUL_ERR_NOMEM,      /* the host ran out of memory */
    KAPSUL_ERR_LIMIT,      /* an implementation or configured limit was exceeded */
    KAPSUL_ERR_IO,         /* a file could not be read or written */
    KAPSUL_ERR_ARG,        /* the caller passed a bad argument (NULL, wrong arity, bad type, ...) */
    KAPSUL_ERR_NOT_FOUND,  /* a named export or an index does not exist */
    KAPSUL_ERR_EXIT        /* the guest asked to exit (WASI proc_exit); see kapsul_error.exit_code */
} kapsul_status;

/* Reasons execution can stop abnormally. KAPSUL_TRAP_NONE is always 0; values are stable. */
typedef enum kapsul_trap {
    KAPSUL_TRAP_NONE = 0,
    KAPSUL_TRAP_UNREACHABLE,       /* "unreachable" executed */
    KAPSUL_TRAP_MEMORY_OOB,        /* out of bounds memory access */
    KAPSUL_TRAP_TABLE_OOB,         /* out of bounds table access / undefined element */
    KAPSUL_TRAP_DIV_ZERO,          /* integer divide by zero */
    KAPSUL_TRAP_INT_OVERFLOW,      /* integer overflow (INT_MIN / -1, trunc out of range) */
    KAPSUL_TRAP_BAD_CONVERSION,    /* invalid conversion to integer (NaN) */
    KAPSUL_TRAP_INDIRECT_MISMATCH, /* indirect call type mismatch */
    KAPSUL_TRAP_UNINITIALIZED,     /* uninitialized element (null funcref in call_indirect) */
    KAPSUL_TRAP_STACK_EXHAUSTED,   /* call stack exhausted */
    KAPSUL_TRAP_HOST,              /* a host function reported an error */
    KAPSUL_TRAP_TIMEOUT,           /* the deadline passed, or kapsul_store_interrupt */
    KAPSUL_TRAP_FUEL,              /* all fuel consumed */
    KAPSUL_TRAP_MEMORY_LIMIT,      /* instantiation needed more memory than allowed */
    KAPSUL_TRAP_COUNT
} kapsul_trap;

/* A short identifier ("unreachable", "memory_oob", ...) and the spec's message text
 * ("unreachable", "out of bounds memory access", ...); "unknown" for a value out of range.
 * kapsul_status_name: "ok", "malformed", ..., "unknown". Static strings, never NULL. */
KAPSUL_API const char *kapsul_trap_name(kapsul_trap trap);
KAPSUL_API const char *kapsul_trap_message(kapsul_trap trap);
KAPSUL_API const char *kapsul_status_name(kapsul_status status);

typedef struct kapsul_module kapsul_module;

/* A backtrace keeps at most KAPSUL_MAX_FRAMES frames: all of them when the stack is no deeper,
 * else the innermost KAPSUL_MAX_FRAMES - KAPSUL_TAIL_FRAMES and the outermost KAPSUL_TAIL_FRAMES,
 * with kapsul_error.frames_omitted counting the frames left out between them. */
#define KAPSUL_MAX_FRAMES 32
#define KAPSUL_TAIL_FRAMES 8

/* One wasm frame of a trap's backtrace. Frames are numbers only; kapsul_frame_locations turns
 * one into names and source positions (the module's name section, exports, DWARF). */
typedef struct kapsul_frame {
    uint32_t func_index; /* in its defining module's function index space (imports count) */
    /* Byte offset in the module's bytes of the instruction the frame is at: the trapping one in
     * the innermost frame, the call in the others (what wasmtime prints as 0x1a3, and what
     * `llvm-objdump -d` shows). 0 when unknown (a memory access that faulted in a guard
     * region of a frame compiled without a position map). */
    uint32_t offset;
    /* The defining module, borrowed: valid while the store that trapped lives (its instances
     * hold their modules) or while the caller holds the module; NULL when unknown. */
    const kapsul_module *module;
    char name[48]; /* the raw name from the name section, cut at 47 bytes; "" when unnamed.
                      kapsul_frame_locations gives the whole name, demangled. */
} kapsul_frame;

/* The details of a failure, filled by the call that failed (see Conventions). The caller owns
 * it; besides the frames' borrowed module pointers it holds no pointers, so it may be copied,
 * kept or discarded freely. */
typedef struct kapsul_error {
    kapsul_status code; /* same value the call returned */
    kapsul_trap trap;   /* for KAPSUL_ERR_TRAP: which trap; else KAPSUL_TRAP_NONE */
    int exit_code;      /* for KAPSUL_ERR_EXIT: the guest's exit code */
    size_t offset;      /* byte offset in the module for MALFORMED/INVALID, else 0 */
    int line, column;   /* 1-based position for text-format errors, else 0 */
    char message[256];  /* human-readable, NUL-terminated; empty only for KAPSUL_OK */
    /* Wasm backtrace of a trap, innermost first (nframes of them, see KAPSUL_MAX_FRAMES); when
     * frames_omitted > 0 they were left out after frames[KAPSUL_MAX_FRAMES -
     * KAPSUL_TAIL_FRAMES - 1]. */
    int nframes;
    int frames_omitted;
    kapsul_frame frames[KAPSUL_MAX_FRAMES];
} kapsul_error;

/* A source position of a frame. */
typedef struct kapsul_location {
    const char *function;  /* demangled (Rust legacy and v0, C++ Itanium) when mangled; from DWARF,
                             else the name section, else an export name; NULL when unknown */
    const char *file;      /* source file from DWARF .debug_line; NULL when unknown */
    uint32_t line, column; /* 1-based; 0 when unknown */
} kapsul_location;

/* Symbolize a frame: fill out[0..max) with its positions, innermost first -- with DWARF, one
 * per inlined call at the frame's offset, the function itself last -- and return how many there
 * are (at least 1 for a frame with a module, which may exceed max; 0 when frame->module is
 * NULL). The strings belong to the module and live as long as it does. Debug sections are read
 * on the first call for a module; malformed ones are ignored. Thread-safe for a shared module. */
KAPSUL_API size_t kapsul_frame_locations(const kapsul_frame *frame, kapsul_location *out, size_t max);

/* The module offset of defined function func_index's first instruction, 0 for an import or an
 * index out of range. A kapsul_frame there symbolizes to where the function starts in its
 * source (with DWARF): what a profile shows for a function as a whole. */
KAPSUL_API uint32_t kapsul_module_func_offset(const kapsul_module *module, uint32_t func_index);

/* Where a module's functions lie in memory when it runs on the native tier, for profilers that
 * see only machine addresses (kapsul run --perf-map writes Linux perf's map from these). One
 * range per compiled body: `entry` marks the trampoline the host enters function func_index
 * through, which often holds the whole function (LLVM inlines the body into it). */
typedef struct kapsul_code_range {
    uint32_t func_index;
    bool entry;
    const void *start; /* executable while the module lives */
    size_t size;
} kapsul_code_range;
/* Fill out[0..max) with the module's code ranges and return how many there are (which may exceed
 * max); 0 for a module without native code (it runs in the interpreter). */
KAPSUL_API size_t kapsul_module_code_ranges(const kapsul_module *module, kapsul_code_range *out, size_t max);

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
 * ref == NULL. An externref is an opaque host pointer that kapsul never dereferences (the spec
 * tests' "ref.extern N" is N+1 cast to a pointer by the test runner; any non-NULL pointer works).
 * A funcref is a function of the same store. */
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

/* How a module's code runs. KAPSUL_TIER_INTERP (the default): kapsul_module_new lowers a binary
 * module for the interpreter (starts in microseconds, about 10x slower than native code).
 * KAPSUL_TIER_NATIVE: kapsul_module_new first compiles a binary module to machine code, as
 * kapsul_module_serialize does (seconds for a large module, no cache: compile once with
 * kapsul_module_serialize and keep the bytes, or use `kapsul compile`). Either way, .kwasm bytes
 * (compiled artifacts) load as native code, and an instance whose memory could not get its guard
 * reservation runs in the interpreter. */
typedef enum kapsul_tier {
    KAPSUL_TIER_INTERP = 0,
    KAPSUL_TIER_NATIVE = 1
} kapsul_tier;

/* Zero in every field means the default, so `kapsul_config c = {0};` (or a NULL config) is the
 * default configuration. */
typedef struct kapsul_config {
    size_t max_memory_bytes; /* cap on every linear memory's size; 0 (and anything above 4 GiB)
                                  = 4 GiB, the wasm32 maximum */
    size_t stack_bytes;      /* wasm value stack per store; 0 = default (1 MiB); below 512 = 512 */
    uint32_t max_call_depth; /* wasm call frames per store; 0 = default (10000) */
    /* false (default): on 64-bit hosts linear memories sit in 8 GiB guard reservations and
     * out-of-bounds accesses are caught by a SIGSEGV handler. true: plain allocations with an
     * explicit bounds check per access (for hosts that cannot install signal handlers). The
     * runtime falls back to this by itself when the address space cannot be reserved. */
    bool explicit_bounds_checks;
    kapsul_tier tier; /* see kapsul_tier */
    /* The native compiler kapsul_module_serialize (and KAPSUL_TIER_NATIVE) runs: the library never
     * links LLVM, it runs this program (kapsul-llvmc, built and installed with kapsul) with the
     * module on stdin. NULL: $KAPSUL_LLVMC if set, else kapsul-llvmc in the running executable's
     * directory, else kapsul-llvmc on $PATH. Copied by kapsul_engine_new. */
    const char *native_compiler;
} kapsul_config;

/* An engine: the configuration and the registry of function types that modules and stores made
 * from it share. Thread-safe (see Conventions). */
typedef struct kapsul_engine kapsul_engine;

/* config may be NULL for the defaults; it is copied. */
KAPSUL_API kapsul_status kapsul_engine_new(const kapsul_config *config, kapsul_engine **out,
                                           kapsul_error *err);
/* Free the engine. Every module and store made from it must be freed first. */
KAPSUL_API void kapsul_engine_free(kapsul_engine *engine);

/* ---- Modules --------------------------------------------------------------------------------- */

/* A decoded, validated and compiled module (declared with kapsul_error). Immutable, so it may be
 * shared across threads and instantiated in any number of stores of its engine. */

/* Decode, validate and compile a binary module. bytes may be NULL when len is 0; they are copied
 * as needed, so the caller may free them on return.
 *   KAPSUL_ERR_MALFORMED  the bytes are not a well-formed module (err->offset: where)
 *   KAPSUL_ERR_INVALID    the module fails validation (err->offset: where)
 *   KAPSUL_ERR_LIMIT      the module exceeds an implementation limit (too many functions, locals,
 *                         a function too large, ...) */
KAPSUL_API kapsul_status kapsul_module_new(kapsul_engine *engine, const uint8_t *bytes, size_t len,
                                           kapsul_module **out, kapsul_error *err);
/* Parse a module written in the WebAssembly text format (WAT: "(module ...)" or bare module
 * fields), then load it as kapsul_module_new does. text need not be NUL-terminated and may be
 * NULL when len is 0; it is not kept.
 *   KAPSUL_ERR_MALFORMED  a text error (err->line, err->column) or malformed binary
 *   KAPSUL_ERR_INVALID, KAPSUL_ERR_LIMIT  as for kapsul_module_new */
KAPSUL_API kapsul_status kapsul_module_new_wat(kapsul_engine *engine, const char *text, size_t len,
                                               kapsul_module **out, kapsul_error *err);
/* Drop the caller's reference; the module is freed when no instance uses it any more. */
KAPSUL_API void kapsul_module_free(kapsul_module *module);

/* Compile the module's code to native machine code for this host and return the .kwasm artifact
 * (the module's bytes, the code, kapsul's version, the CPU features and flags), which
 * kapsul_module_deserialize or kapsul_module_new load later without compiling, in this process or
 * another, as long as kapsul's version and the CPU features match. *out is malloc'd: free it with
 * kapsul_bytes_free. Runs the native compiler (kapsul_config.native_compiler), also for a module
 * that was itself loaded from a .kwasm.
 *   KAPSUL_ERR_LIMIT  no native compiler found ("the native tier is absent"), or it refused the
 *                     module (err->message says why)
 *   KAPSUL_ERR_IO     the compiler could not be run */
KAPSUL_API kapsul_status kapsul_module_serialize(const kapsul_module *module, uint8_t **out, size_t *out_len,
                                                 kapsul_error *err);
/* Load a .kwasm artifact made by kapsul_module_serialize or `kapsul compile`. Only artifacts are
 * accepted; they are checked as kapsul_module_new checks them (checksum, layout, version, CPU
 * features, the ELF object) and refused, never run, when anything is off:
 *   KAPSUL_ERR_MALFORMED  not an artifact, truncated or corrupted (err->message says which)
 *   KAPSUL_ERR_LIMIT      built by another kapsul version or for other CPU features (recompile) */
KAPSUL_API kapsul_status kapsul_module_deserialize(kapsul_engine *engine, const uint8_t *bytes, size_t len,
                                                   kapsul_module **out, kapsul_error *err);
/* Free bytes kapsul returned (kapsul_module_serialize). NULL is ignored. */
KAPSUL_API void kapsul_bytes_free(uint8_t *bytes);

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
    const char *module;
    size_t module_len;
    const char *name;
    size_t name_len;
    kapsul_externkind kind;
} kapsul_import_info;
typedef struct kapsul_export_info {
    const char *name;
    size_t name_len;
    kapsul_externkind kind;
    uint32_t index; /* index in the module's space of that kind (imports first) */
} kapsul_export_info;
/* Accessors: i counts from 0 below the count; for i out of range *out is zeroed. */
KAPSUL_API uint32_t kapsul_module_import_count(const kapsul_module *module);
KAPSUL_API void kapsul_module_import(const kapsul_module *module, uint32_t i, kapsul_import_info *out);
KAPSUL_API uint32_t kapsul_module_export_count(const kapsul_module *module);
KAPSUL_API void kapsul_module_export(const kapsul_module *module, uint32_t i, kapsul_export_info *out);

/* ---- Store and run-time objects -------------------------------------------------------------- */

/* A store owns instances and every function, table, memory and global they create, plus the
 * value and call stacks, fuel and deadline of the code running in it. Objects of one store may
 * be linked together, never with objects of another store. One thread at a time (Conventions). */
typedef struct kapsul_store kapsul_store;
typedef struct kapsul_instance kapsul_instance;
typedef struct kapsul_table kapsul_table;
typedef struct kapsul_memory kapsul_memory;
typedef struct kapsul_global kapsul_global;

/* A store that uses the engine's configuration. The stacks are allocated at the first call. */
KAPSUL_API kapsul_status kapsul_store_new(kapsul_engine *engine, kapsul_store **out, kapsul_error *err);
/* Free the store and every instance, function, memory, table and global in it. Pointers to them
 * (and kapsul_memory_data pointers) are dangling afterwards. Not while code runs in the store. */
KAPSUL_API void kapsul_store_free(kapsul_store *store);

/* Limits on what this store may hold, on top of the engine's kapsul_config. Zero in a field
 * means "no store limit" (the engine's and the implementation's limits still hold), so
 * `kapsul_limits l = {0};` removes every store limit. They apply to objects created after the
 * call (a memory or table records its effective maximum when it is made), so a host sets them
 * right after kapsul_store_new. */
typedef struct kapsul_limits {
    size_t max_memory_bytes;     /* per linear memory, at creation and on memory.grow; values
                                      above the engine's max_memory_bytes change nothing */
    uint64_t max_table_elements; /* per table, at creation and on table.grow */
    uint32_t max_instances;      /* instances in the store */
    uint32_t max_memories;       /* memories in the store (defined by instances or the host) */
    uint32_t max_tables;         /* tables in the store (defined by instances or the host) */
} kapsul_limits;

/* Set the store's limits (limits is copied). Beyond them: memory.grow and table.grow return -1
 * to the guest (the spec's failure value); kapsul_memory_grow returns KAPSUL_ERR_LIMIT;
 * instantiation fails before creating anything with KAPSUL_ERR_LIMIT when the module would pass
 * a count or a table size, and with KAPSUL_ERR_TRAP / KAPSUL_TRAP_MEMORY_LIMIT when its memory's
 * initial size passes max_memory_bytes (as for the engine's limit); kapsul_memory_new and
 * kapsul_table_new fail with KAPSUL_ERR_LIMIT. kapsul_store_limits copies the current ones out.
 * Only KAPSUL_ERR_ARG (a NULL argument) can fail. */
KAPSUL_API kapsul_status kapsul_store_set_limits(kapsul_store *store, const kapsul_limits *limits,
                                                 kapsul_error *err);
KAPSUL_API void kapsul_store_limits(const kapsul_store *store, kapsul_limits *out);

/* Limits on execution in this store; they cannot fail. fuel: number of instructions-worth of
 * work before KAPSUL_TRAP_FUEL (0 = unlimited; it is not replenished between calls).
 * kapsul_store_fuel_remaining: what is left, 0 when metering is off or the fuel is spent.
 * deadline_ns: absolute CLOCK_MONOTONIC time after which running code traps with
 * KAPSUL_TRAP_TIMEOUT (0 = none). */
KAPSUL_API void kapsul_store_set_fuel(kapsul_store *store, uint64_t fuel);
KAPSUL_API uint64_t kapsul_store_fuel_remaining(const kapsul_store *store);
KAPSUL_API void kapsul_store_set_deadline(kapsul_store *store, uint64_t deadline_ns);
/* Ask running code to stop with KAPSUL_TRAP_TIMEOUT as soon as possible. Safe to call from any
 * thread or a signal handler (it only sets an atomic flag). If nothing is running, the next call
 * into wasm in this store stops at its first check; the trap clears the request. */
KAPSUL_API void kapsul_store_interrupt(kapsul_store *store);

/* Profiling: the wasm frames the store is running right now, innermost first, into
 * out[0..max); returns how many were written (0 when no wasm runs). Async-signal-safe and
 * lock-free: meant for a SIGPROF handler on the thread running the store (kapsul run --profile).
 * Frames have func_index and module; offset is the call site for callers and 0 for the innermost
 * frame; name is empty (kapsul_frame_locations symbolizes later, outside the handler). A sample
 * taken while a call is being entered may miss the callee. Both tiers: native frames come from
 * the frame records compiled code keeps for backtraces, so a function LLVM inlined into its
 * caller without a call left in between may be missing (its time counts for the caller). */
KAPSUL_API size_t kapsul_store_sample(const kapsul_store *store, kapsul_frame *out, size_t max);

/* An external value: what an export yields and an import consumes. The pointer in `of` must
 * match `kind` and belong to the store it is used with. */
typedef struct kapsul_extern {
    kapsul_externkind kind;
    union {
        kapsul_func *func;
        kapsul_table *table;
        kapsul_memory *memory;
        kapsul_global *global;
    } of;
} kapsul_extern;

/* Host functions. The callee reads args (already type-checked, one per parameter) and writes
 * every result with its kind set (the results arrive with their kinds preset). It returns
 * KAPSUL_OK, or fills err (never NULL here) and returns its status: KAPSUL_ERR_TRAP with a trap
 * kind (KAPSUL_TRAP_NONE becomes KAPSUL_TRAP_HOST), or KAPSUL_ERR_EXIT with exit_code. The guest's
 * execution unwinds and the call that entered wasm returns that status and error. A result of the
 * wrong kind is a KAPSUL_TRAP_HOST trap. A host function may call back into wasm in the same
 * store (kapsul_func_call with kapsul_caller_store); it must not free that store. */
typedef struct kapsul_caller kapsul_caller;
typedef kapsul_status (*kapsul_host_fn)(void *env, kapsul_caller *caller, const kapsul_val *args,
                                        kapsul_val *results, kapsul_error *err);

/* For host functions, valid during the call only: the calling instance's memory 0 (NULL if it
 * has none, or for a call the host made directly), and the store the call runs in. */
KAPSUL_API kapsul_memory *kapsul_caller_memory(kapsul_caller *caller);
KAPSUL_API kapsul_store *kapsul_caller_store(kapsul_caller *caller);

/* A host function of type params -> results in the store. The kinds are copied; env is passed
 * to fn on every call and never freed by kapsul. params (results) may be NULL when nparams
 * (nresults) is 0.
 *   KAPSUL_ERR_ARG  also: fn is NULL, a kind is not a kapsul_valkind, more than 1000 params or
 *                   results */
KAPSUL_API kapsul_status kapsul_func_new_host(kapsul_store *store, const kapsul_valkind *params,
                                              uint32_t nparams, const kapsul_valkind *results,
                                              uint32_t nresults, kapsul_host_fn fn, void *env,
                                              kapsul_func **out, kapsul_error *err);
/* The function's type. kapsul_func_param/_result give 0 (no kind) for i out of range. */
KAPSUL_API uint32_t kapsul_func_param_count(const kapsul_func *func);
KAPSUL_API uint32_t kapsul_func_result_count(const kapsul_func *func);
KAPSUL_API kapsul_valkind kapsul_func_param(const kapsul_func *func, uint32_t i);
KAPSUL_API kapsul_valkind kapsul_func_result(const kapsul_func *func, uint32_t i);

/* Call a function of this store (a wasm export or a host function) with the store's fuel and
 * deadline. args must match its parameters in number and kind; results must have room for at
 * least its result count (nresults may be larger) and is written only on success. args and
 * results may be NULL when their count is 0.
 *   KAPSUL_ERR_ARG   also: wrong argument count or kind, too little room for results
 *   KAPSUL_ERR_TRAP  the code trapped: err->trap says why (KAPSUL_TRAP_FUEL, _TIMEOUT, ... ) and
 *                    err->frames has the wasm backtrace (for a trap a host function raised:
 *                    the wasm frames that called it); the store stays usable
 *   KAPSUL_ERR_EXIT  the guest called WASI proc_exit (err->exit_code)
 *   any status a host function returned (see kapsul_host_fn) */
KAPSUL_API kapsul_status kapsul_func_call(kapsul_store *store, kapsul_func *func, const kapsul_val *args,
                                          uint32_t nargs, kapsul_val *results, uint32_t nresults,
                                          kapsul_error *err);

/* Host-created memories, tables and globals (the spectest module, embedders), owned by the
 * store. Sizes are in 64 KiB pages / elements; max = KAPSUL_NO_MAX: no declared maximum. */
#define KAPSUL_NO_MAX UINT64_MAX
/*   KAPSUL_ERR_ARG    also: min_pages > 65536, or max_pages < min_pages
 *   KAPSUL_ERR_LIMIT  min_pages is above the engine's or the store's max_memory_bytes, or the
 *                     store holds its max_memories already */
KAPSUL_API kapsul_status kapsul_memory_new(kapsul_store *store, uint64_t min_pages, uint64_t max_pages,
                                           kapsul_memory **out, kapsul_error *err);
/*   KAPSUL_ERR_ARG    also: elem is not KAPSUL_FUNCREF or KAPSUL_EXTERNREF, or max < min
 *   KAPSUL_ERR_LIMIT  min is above the implementation's table limit (10,000,000 elements) or the
 *                     store's max_table_elements, or the store holds its max_tables already */
KAPSUL_API kapsul_status kapsul_table_new(kapsul_store *store, kapsul_valkind elem, uint64_t min,
                                          uint64_t max, kapsul_table **out, kapsul_error *err);
/*   KAPSUL_ERR_ARG  also: value.kind is not a kapsul_valkind */
KAPSUL_API kapsul_status kapsul_global_new(kapsul_store *store, kapsul_val value, bool mutable_,
                                           kapsul_global **out, kapsul_error *err);

/* Linear memory access. The data pointer stays valid until the memory grows (by the guest's
 * memory.grow or kapsul_memory_grow) or the store is freed; re-read it after any call into wasm.
 * A NULL memory gives NULL / 0. */
KAPSUL_API uint8_t *kapsul_memory_data(kapsul_memory *memory);
KAPSUL_API size_t kapsul_memory_size(const kapsul_memory *memory); /* bytes */
KAPSUL_API uint64_t kapsul_memory_pages(const kapsul_memory *memory);
/* Grow by delta_pages (0 is allowed) and store the old size in pages in *old_pages (which may be
 * NULL). The new pages are zero.
 *   KAPSUL_ERR_LIMIT  the new size would pass the memory's maximum, the engine's or the store's
 *                     max_memory_bytes; the memory is unchanged
 *   KAPSUL_ERR_NOMEM  the host could not provide the pages; the memory is unchanged */
KAPSUL_API kapsul_status kapsul_memory_grow(kapsul_memory *memory, uint64_t delta_pages, uint64_t *old_pages,
                                            kapsul_error *err);

/* A global's current value; it cannot fail. */
KAPSUL_API kapsul_val kapsul_global_get(const kapsul_global *global);
/*   KAPSUL_ERR_ARG  also: the global is immutable, or value.kind is not its type */
KAPSUL_API kapsul_status kapsul_global_set(kapsul_global *global, kapsul_val value, kapsul_error *err);

/* A table's size in elements (0 for NULL), and one element (a funcref or an externref).
 *   KAPSUL_ERR_NOT_FOUND  index >= the table's size */
KAPSUL_API uint64_t kapsul_table_size(const kapsul_table *table);
KAPSUL_API kapsul_status kapsul_table_get(const kapsul_table *table, uint64_t index, kapsul_val *out,
                                          kapsul_error *err);

/* ---- Linker and instances -------------------------------------------------------------------- */

/* A linker maps (module name, field name) to external values of one store, then instantiates
 * modules against that map. Names are byte strings with explicit lengths (copied). Freeing a
 * linker frees only the map; the objects stay in the store. */
typedef struct kapsul_linker kapsul_linker;

KAPSUL_API kapsul_status kapsul_linker_new(kapsul_store *store, kapsul_linker **out, kapsul_error *err);
KAPSUL_API void kapsul_linker_free(kapsul_linker *linker);
/* Define (or redefine, replacing the old one) one name. module (name) may be NULL when
 * module_len (name_len) is 0.
 *   KAPSUL_ERR_ARG  also: value.kind is not a kapsul_externkind or its object is NULL */
KAPSUL_API kapsul_status kapsul_linker_define(kapsul_linker *linker, const char *module, size_t module_len,
                                              const char *name, size_t name_len, kapsul_extern value,
                                              kapsul_error *err);
/* Define every export of an instance (of the linker's store) under one module name (the WAST
 * "register" command). On failure the exports defined before it stay defined. */
KAPSUL_API kapsul_status kapsul_linker_define_instance(kapsul_linker *linker, const char *module,
                                                       size_t module_len, kapsul_instance *instance,
                                                       kapsul_error *err);
/* Convenience: kapsul_func_new_host in the linker's store, then kapsul_linker_define under
 * NUL-terminated names; statuses as for those two. */
KAPSUL_API kapsul_status kapsul_linker_define_func(kapsul_linker *linker, const char *module,
                                                   const char *name, const kapsul_valkind *params,
                                                   uint32_t nparams, const kapsul_valkind *results,
                                                   uint32_t nresults, kapsul_host_fn fn, void *env,
                                                   kapsul_error *err);

/* Resolve imports, allocate, initialize segments, run the start function; the new instance
 * belongs to the linker's store.
 *   KAPSUL_ERR_ARG         also: the module was loaded by another engine than the store's
 *   KAPSUL_ERR_UNLINKABLE  an import is missing or has the wrong type (nothing was created)
 *   KAPSUL_ERR_LIMIT       a table is above the implementation's or the store's limit, or the
 *                          instance, its memories or tables would pass the store's counts
 *                          (kapsul_store_set_limits); nothing was created
 *   KAPSUL_ERR_TRAP        a segment was out of bounds, a memory is above max_memory_bytes
 *                          (KAPSUL_TRAP_MEMORY_LIMIT), or the start function trapped; per the
 *                          spec, writes done before the failure stay visible in shared imported
 *                          objects
 *   KAPSUL_ERR_EXIT and host statuses  from the start function, as for kapsul_func_call */
KAPSUL_API kapsul_status kapsul_linker_instantiate(kapsul_linker *linker, const kapsul_module *module,
                                                   kapsul_instance **out, kapsul_error *err);

/* Look up an export by name (name_len bytes; name may be NULL when name_len is 0).
 *   KAPSUL_ERR_NOT_FOUND  the instance has no export of that name */
KAPSUL_API kapsul_status kapsul_instance_export(kapsul_instance *instance, const char *name, size_t name_len,
                                                kapsul_extern *out, kapsul_error *err);
/* Convenience lookups by NUL-terminated name: the export if it exists and is a function /
 * memory, else NULL (also for a NULL instance or name). */
KAPSUL_API kapsul_func *kapsul_instance_func(kapsul_instance *instance, const char *name);
KAPSUL_API kapsul_memory *kapsul_instance_memory(kapsul_instance *instance, const char *name);

/* ---- Module templates and the memory pool -------------------------------------------------- */

/* A template makes fresh instances of one module at a small cost, for a host that wants a new
 * sandbox for every request: imports are resolved and type-checked once, the initial contents
 * of memory 0 (its active data segments applied) are computed once into a copy-on-write image,
 * and each instance's memory 0 is a slot of a pool of address-space reservations made once,
 * which the image is mapped over privately. When the store that holds the instance is freed the
 * slot is reset (its pages dropped, so it reads as the image again and nothing the guest wrote
 * survives) and returned to the pool. Tables, globals and element segments are made fresh for
 * every instance, and the start function runs every time, so each instance begins exactly as
 * kapsul_linker_instantiate would begin it.
 *
 * Imports: a template resolves only function imports, each to a host function of this list
 * (wasi_snapshot_preview1 included: kapsul_wasi_template_imports fills them in), or takes every
 * import, of any kind, at each instantiation (imports_per_instance below). */
typedef struct kapsul_template_import {
    const char *module, *name;    /* NUL-terminated; copied */
    const kapsul_valkind *params; /* copied; may be NULL when the count is 0 */
    uint32_t nparams;
    const kapsul_valkind *results;
    uint32_t nresults;
    kapsul_host_fn fn;
    void *env;         /* passed to fn, unless per_instance */
    bool per_instance; /* fn gets the env given to kapsul_template_instantiate (a
                                      WASI context per request, say) instead of env */
} kapsul_template_import;

/* Zero in every field means the default. */
typedef struct kapsul_template_config {
    uint32_t pool_size; /* memory slots, hence live instances at once; 0 = 64
                             (KP_TEMPLATE_POOL_SIZE). Each holds one reservation of 8 GiB of
                             address space (not memory) on 64-bit hosts */
    /* How a returned slot is reset. Its first keep_resident_bytes (0 = 1 MiB,
     * KP_TEMPLATE_KEEP_RESIDENT; SIZE_MAX = none) are rewritten in place -- the image copied
     * back, the rest zeroed -- and stay resident, so the next guest takes no page faults there;
     * the pages past them are dropped (madvise), to be faulted in again when touched. Copying
     * costs about 1 us per 64 KiB of pages any guest of the slot ever wrote (on Linux; of the
     * whole region where the host cannot tell which pages were written); dropping costs a
     * system call and a TLB flush plus a fault per page touched, which is dearer for small
     * memories and cheaper for large ones touched sparsely. Either way the next guest sees the image and zeros.
     * Kept pages stay resident in every slot once used: up to pool_size * keep bytes. */
    size_t keep_resident_bytes;
    /* true: kapsul_template_new resolves no import (imports is ignored); every instance gets
     * its imports, of any kind, from kapsul_template_instantiate_with. For hosts that link a
     * module to objects made per instance: other instances of the same request (a component's
     * core instances share memories, tables and functions), host functions with per-request
     * state. The module may then import memories too; the pooled one is the memory it defines. */
    bool imports_per_instance;
} kapsul_template_config;

typedef struct kapsul_template kapsul_template;

/* Build a template of module with its function imports resolved against imports[0..nimports)
 * (by module and name; extra entries are ignored). The module gains a reference (the caller may
 * free its own). The pool's reservations are made here; config may be NULL for the defaults.
 *   KAPSUL_ERR_ARG         also: the module belongs to another engine, imports is NULL with
 *                          nimports > 0, an entry has a NULL name or fn or a bad value kind
 *   KAPSUL_ERR_UNLINKABLE  an import is missing from the list, has another type, or is not a
 *                          function (templates do not import tables, memories or globals)
 *   KAPSUL_ERR_LIMIT       the module defines more than one memory, or the reservations cannot
 *                          be made (address space limits; the message says which)
 * An active data segment that does not fit the initial memory is not an error here: such a
 * template keeps no image and applies segments at every instantiation, which then traps as
 * kapsul_linker_instantiate does. */
KAPSUL_API kapsul_status kapsul_template_new(kapsul_engine *engine, const kapsul_module *module,
                                             const kapsul_template_import *imports, size_t nimports,
                                             const kapsul_template_config *config, kapsul_template **out,
                                             kapsul_error *err);
/* Free the template and its pool. Every store that instantiated from it must be freed first. */
KAPSUL_API void kapsul_template_free(kapsul_template *tpl);

/* A fresh instance in store (of the template's engine), its memory 0 from the pool; env goes to
 * per_instance imports. The slot returns to the pool when the store is freed, so a host running
 * one request per store uses one slot per request in flight. The store's limits apply
 * (kapsul_store_set_limits).
 *   KAPSUL_ERR_ARG    also: the store belongs to another engine
 *   KAPSUL_ERR_LIMIT  every slot of the pool is in use (never a silent new reservation), or the
 *                     store's counts would be passed; nothing was created
 *   KAPSUL_ERR_TRAP, KAPSUL_ERR_EXIT, host statuses  as for kapsul_linker_instantiate
 * Threads: any number of threads may instantiate from one template at once, each into its own
 * store (the pool's free list is locked for the few instructions of a take or a return). */
KAPSUL_API kapsul_status kapsul_template_instantiate(kapsul_template *tpl, kapsul_store *store, void *env,
                                                     kapsul_instance **out, kapsul_error *err);
/* kapsul_template_instantiate with the module's imports given: imports[i] is module import i
 * (kapsul_import_info order; nimports must be the module's import count), checked as
 * kapsul_linker_instantiate checks them (KAPSUL_ERR_UNLINKABLE names the first that does not
 * fit). The objects must live in store. Any template takes this call; one built with
 * imports_per_instance takes only this one when its module has imports (else KAPSUL_ERR_ARG). */
KAPSUL_API kapsul_status kapsul_template_instantiate_with(kapsul_template *tpl, kapsul_store *store,
                                                          const kapsul_extern *imports, size_t nimports,
                                                          kapsul_instance **out, kapsul_error *err);
/* Slots of the pool not in use right now (for tests and metrics). */
KAPSUL_API uint32_t kapsul_template_pool_free(kapsul_template *tpl);
/* What a template saves per instance, for metrics and messages. */
typedef struct kapsul_template_info {
    uint32_t pool_size;   /* memory slots; 0: the module defines no memory, nothing is pooled */
    bool data_in_image;   /* every active data segment is in the image; false: they are applied
                             at each instantiation (an offset that is not a constant, a segment
                             past the initial memory or for an imported memory) */
    size_t image_bytes;   /* bytes of the copy-on-write image (data up to its last page) */
    size_t initial_bytes; /* the pooled memory's initial size */
} kapsul_template_info;
KAPSUL_API void kapsul_template_describe(const kapsul_template *tpl, kapsul_template_info *out);

/* ---- WASI (wasi_snapshot_preview1) ------------------------------------------------------------ */

/* A WASI context: the capabilities one guest instance receives. It owns a private fd table
 * (guest fd numbers never equal host fd numbers), the preopened directories, the arguments and
 * environment. Nothing of the host is visible unless the config grants it. One context serves one
 * instance at a time, on the thread that uses the instance's store. */
typedef struct kapsul_wasi kapsul_wasi;

/* A directory the guest may use. */
typedef struct kapsul_wasi_dir {
    const char *host_path;  /* directory on the host, opened when the context is created; not NULL */
    const char *guest_path; /* the name the guest sees (fd_prestat_dir_name); NULL = host_path */
    bool read_only;         /* no write, create, truncate, rename, delete beneath it */
} kapsul_wasi_dir;

/* Each list may be NULL when its count is 0. */
typedef struct kapsul_wasi_config {
    const char *const *argv; /* argv[0] is the program name the guest sees */
    size_t argc;
    const char *const *env; /* "NAME=VALUE" strings, passed exactly (nothing is inherited) */
    size_t envc;
    const kapsul_wasi_dir *dirs; /* preopened as guest fds 3, 4, ... in this order */
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
    /* In-memory stdio: no host fd is involved. Bits KAPSUL_WASI_MEM_STDIN/_STDOUT/_STDERR make
     * that guest fd a buffer and the matching *_fd field above is ignored (0, the zeroed
     * default, means "all three are host fds" as before). The guest sees such an fd as a pipe:
     * fd_fdstat_get reports filetype unknown (what WASI gives pipes; not a character device, so
     * wasi-libc does not line-buffer stdout as for a terminal) with no seek/tell rights;
     * fd_filestat_get reports size = bytes not yet read (stdin) or held (stdout/stderr);
     * poll_oneoff finds it ready at once; fd_read at the end of stdin_data returns 0 (EOF). */
    unsigned mem_stdio;
    /* The bytes fd 0 reads when KAPSUL_WASI_MEM_STDIN is set; NULL when stdin_len is 0. Borrowed,
     * not copied: a request body is already in the host's memory, and a copy per request is what
     * this path avoids. They must stay valid and unchanged until kapsul_wasi_free. */
    const uint8_t *stdin_data;
    size_t stdin_len;
    /* Most bytes each in-memory output keeps; 0 = 64 MiB (KP_WASI_DEFAULT_OUTPUT_CAP). A write
     * that would pass it stores what fits (a short write); a write when nothing fits fails with
     * errno FBIG (the "file too large" of RLIMIT_FSIZE), and kapsul_wasi_output then reports
     * KAPSUL_ERR_LIMIT. Failing rather than truncating silently is what a CGI host wants: a cut
     * response must not look like a complete one. */
    size_t output_cap;
    /* Optional, with KAPSUL_WASI_MEM_STDERR: called on the thread running the guest for every
     * complete line the guest writes to fd 2 (line without its '\n', not NUL-terminated, valid
     * during the call only); a line longer than 4 KiB (KP_WASI_MAX_LINE) arrives in pieces and
     * a last line without '\n' arrives at kapsul_wasi_free. stderr is then not kept, so
     * kapsul_wasi_output(wasi, 2, ...) gives 0 bytes and output_cap does not apply. */
    void (*stderr_line)(void *env, const char *line, size_t len);
    void *stderr_env;
    /* Optional: called on the thread running the guest after every WASI call with one
     * strace-style line (NUL-terminated, no '\n', valid during the call only), e.g.
     *   fd_write(1, [iov 0x11040 13], 1, 0x1ffdc) = 0 (*0x1ffdc=13)
     *   path_open(3, 0x1, "in.txt", 0x0, 0x2, 0x0, 0x0, 0x1ffcc) = ENOENT
     * (name, arguments with strings and iovecs read from guest memory, result: 0 with the
     * values the call stored, or the errno's name). NULL: no tracing, no cost. */
    void (*trace)(void *env, const char *line);
    void *trace_env;
} kapsul_wasi_config;

#define KAPSUL_WASI_MEM_STDIN 1u
#define KAPSUL_WASI_MEM_STDOUT 2u
#define KAPSUL_WASI_MEM_STDERR 4u

/* Create a context. The config's strings are copied.
 *   KAPSUL_ERR_IO   a directory cannot be opened, a stdio fd cannot be duplicated, or a listen
 *                   address cannot be bound (the message names it)
 *   KAPSUL_ERR_ARG  also: a list is NULL with a non-zero count, or a listen address is malformed */
KAPSUL_API kapsul_status kapsul_wasi_new(const kapsul_wasi_config *config, kapsul_wasi **out,
                                         kapsul_error *err);
/* Closes every host fd the context still holds. Not while an instance linked with it runs. */
KAPSUL_API void kapsul_wasi_free(kapsul_wasi *wasi);
/* Every wasi_snapshot_preview1 function as template imports with per_instance set: pass a
 * kapsul_wasi as kapsul_template_instantiate's env. *out receives a table of *count entries that
 * the library owns and never frees (built at the first call; any thread may call this). */
KAPSUL_API kapsul_status kapsul_wasi_template_imports(const kapsul_template_import **out, size_t *count,
                                                      kapsul_error *err);

/* What the guest wrote to an in-memory fd 1 or 2 so far: *data (NULL when nothing was written)
 * and *len. The bytes stay owned by the context and valid until the next call into the guest or
 * kapsul_wasi_free; the host may read or copy them (serve parses the WAGI response from them).
 *   KAPSUL_ERR_ARG    also: fd is not 1 or 2, or that fd is not in-memory (mem_stdio)
 *   KAPSUL_ERR_LIMIT  the guest reached output_cap (a write was cut or refused); *data and *len
 *                     are set all the same */
KAPSUL_API kapsul_status kapsul_wasi_output(const kapsul_wasi *wasi, int fd, const uint8_t **data,
                                            size_t *len, kapsul_error *err);

/* Define every wasi_snapshot_preview1 function in the linker (as host functions of its store),
 * bound to this context. The context must outlive every instance linked with it. proc_exit
 * makes the call that entered wasm return KAPSUL_ERR_EXIT with err->exit_code. */
KAPSUL_API kapsul_status kapsul_wasi_define(kapsul_wasi *wasi, kapsul_linker *linker, kapsul_error *err);

#ifdef __cplusplus
}
#endif
#endif /* KAPSUL_H */
