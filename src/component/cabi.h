/*
 * cabi.h -- the canonical ABI: component values to and from a guest's linear memory and core
 * values (lift and lower), for every value type, with the traps the ABI prescribes for every bad
 * value a guest can produce; and the per-instance resource handle tables.
 *
 * The ABI works on a memory given as base pointer and size plus a realloc callback, not on a
 * runtime object, so it sits in the component layer and is tested on hand-built memories; the
 * instantiation layer connects it to kapsul_memory and to the guest's cabi_realloc.
 *
 * Host-side values (kpCValue) are interpreted by their type; strings are always UTF-8 on the host
 * side whatever the guest's string encoding. Values lifted from a guest are allocated from a
 * kpCArena that the caller frees in one call, with a total of at most KP_MAX_CABI_HOST_BYTES so a
 * guest cannot make the host allocate more than that for one call.
 */
#ifndef KP_COMPONENT_CABI_H
#define KP_COMPONENT_CABI_H

#include "component/component.h"

typedef struct kpCValue {
    union {
        bool b;
        uint64_t u; /* u8..u64 */
        int64_t s;  /* s8..s64 */
        float f32;
        double f64;
        uint32_t c;     /* char: a Unicode scalar value */
        uint32_t flags; /* flags: bit i = label i */
        uint32_t rep;   /* own/borrow: the resource's representation (host side) */
        struct {
            const char *p; /* UTF-8, not NUL-terminated */
            uint32_t len;
        } str;
        struct {
            struct kpCValue *v;
            uint32_t n;
        } agg; /* list, record, tuple */
        struct {
            uint32_t disc;            /* case; enum index; option 0 none 1 some; result 0 ok 1 error */
            struct kpCValue *payload; /* NULL when the case has no payload */
        } var;
    };
} kpCValue;

/* Traps of lifting and lowering; KP_CABI_OK is 0. */
typedef enum kpCabiTrap {
    KP_CABI_OK = 0,
    KP_CABI_OUT_OF_BOUNDS, /* a pointer or pointer + length outside the memory */
    KP_CABI_MISALIGNED,    /* a pointer not aligned for its type */
    KP_CABI_BAD_DISCRIMINANT,
    KP_CABI_BAD_CHAR,   /* a surrogate or a value above 0x10FFFF */
    KP_CABI_BAD_STRING, /* invalid UTF-8 or UTF-16, or a string too long */
    KP_CABI_BAD_HANDLE, /* no such handle, wrong resource type, not owned, or still lent */
    KP_CABI_REALLOC,    /* realloc trapped or returned a misaligned / out-of-bounds pointer */
    KP_CABI_LIMIT,      /* more than KP_MAX_CABI_HOST_BYTES of host values for one call */
    KP_CABI_NOMEM
} kpCabiTrap;
const char *kpCabi_trapMessage(kpCabiTrap t);

/* A bump allocator for host-side values, freed at once. */
typedef struct kpCArena {
    struct kpCArenaChunk *chunks;
    size_t used; /* bytes handed out, for the limit */
} kpCArena;
void *kpCArena_alloc(kpCArena *a, size_t size);
void kpCArena_free(kpCArena *a);

/* One resource handle table (per component instance). Handle 0 is never valid. */
typedef struct kpCHandle {
    uint32_t rep;
    uint32_t type; /* the resource's type id */
    uint32_t lent; /* borrows of an own handle currently lent out */
    uint32_t next; /* free list link */
    bool own, used;
} kpCHandle;
typedef struct kpCHandles {
    KP_VEC(kpCHandle) v; /* v[0] unused */
    uint32_t free_head;  /* 0: none */
} kpCHandles;
kpCabiTrap kpCHandles_add(kpCHandles *h, uint32_t type, uint32_t rep, bool own, uint32_t *index);
/* Lift a handle: own removes it from the table (it must be owned and not lent); borrow returns
 * the representation of an own or borrow handle of that type. */
kpCabiTrap kpCHandles_lift(kpCHandles *h, uint32_t type, uint32_t index, bool own, uint32_t *rep);
/* resource.drop: *own_rep gets the representation when an owned resource went away (its
 * destructor must run), else UINT32_MAX. */
kpCabiTrap kpCHandles_drop(kpCHandles *h, uint32_t type, uint32_t index, uint32_t *own_rep);
kpCabiTrap kpCHandles_rep(kpCHandles *h, uint32_t type, uint32_t index, uint32_t *rep);
void kpCHandles_free(kpCHandles *h);
/* End a borrow lent for a call that returned: remove handle index if it is still the borrow of
 * (type, rep) it was made as. */
bool kpCHandles_endBorrow(kpCHandles *h, uint32_t type, uint32_t index, uint32_t rep);

typedef enum kpCStringEncoding {
    KP_CABI_UTF8,
    KP_CABI_UTF16,
    KP_CABI_LATIN1_UTF16
} kpCStringEncoding;

/* The context of one lift or lower: the guest's memory (base and size, updated by realloc when the
 * memory grows), its realloc, the string encoding, the handle table and the arena. */
typedef struct kpCabiCx {
    const kpComponent *c;
    uint8_t *mem;
    uint64_t mem_size;
    /* cabi_realloc(old_ptr, old_size, align, new_size): returns 0 with *out, or a trap; it must
     * refresh mem and mem_size. NULL when the function has no realloc option. */
    int (*realloc)(struct kpCabiCx *cx, uint32_t old_ptr, uint32_t old_size, uint32_t align, uint32_t size,
                   uint32_t *out);
    void *ctx;
    kpCStringEncoding enc;
    kpCHandles *handles;
    /* Optional: a resource type's identity at run time for a decoded type id. Handles are keyed
     * by it, so one resource passed between component instances of a composition (an outer
     * component's type given to an inner one's type import: two decoded ids) is one type. *impl
     * says the handles' component instance defines the resource (a borrow lowered into it is the
     * rep itself, not a handle). NULL: the decoded id, never the implementer. */
    uint32_t (*resource_id)(void *env, uint32_t type, bool *impl);
    void *resource_env;
    kpCArena *arena;
    /* Optional: the borrow handles lowered into handles are recorded here as (index, resource
     * type, rep) triples (grown with kp_realloc; the caller frees), so a call's borrows can be
     * ended when it returns. */
    bool track_borrows;
    uint32_t *borrows;
    uint32_t nborrows, borrows_cap;
} kpCabiCx;

/* Core value types of flattened signatures: the core encodings (kpT_I32, ...). */
#define KP_CABI_MAX_FLAT_PARAMS 16
#define KP_CABI_MAX_FLAT_RESULTS 1

/* Fill t's size, align and nflat from the types it refers to (called once per new type). */
void kpCabi_layout(const kpComponent *c, kpCType *t);
uint32_t kpCabi_size(const kpComponent *c, kpCVal t);
uint32_t kpCabi_align(const kpComponent *c, kpCVal t);
/* The flattened core types of t into out[0..max) (out may be NULL); returns how many there are
 * (possibly more than max, then out holds the first max). */
uint32_t kpCabi_flatten(const kpComponent *c, kpCVal t, uint8_t *out, uint32_t max);

/* The core signature of function type ft as `canon lift` (lower = false) or `canon lower` sees it:
 * flattened parameters (one i32 pointer beyond KP_CABI_MAX_FLAT_PARAMS), flattened results (one
 * i32 pointer beyond KP_CABI_MAX_FLAT_RESULTS; for lower a trailing i32 parameter instead).
 * params needs KP_CABI_MAX_FLAT_PARAMS + 1 entries, results KP_CABI_MAX_FLAT_RESULTS + 1. */
void kpCabi_coreSig(const kpComponent *c, const kpCType *ft, bool lower, uint8_t *params, uint32_t *np,
                    uint8_t *results, uint32_t *nr);

/* Values in memory at ptr. */
kpCabiTrap kpCabi_load(kpCabiCx *cx, kpCVal t, uint32_t ptr, kpCValue *out);
kpCabiTrap kpCabi_store(kpCabiCx *cx, kpCVal t, uint32_t ptr, const kpCValue *v);

/* Functions, as a guest's core code sees them. Core values are uint64_t slots holding i32/i64
 * zero-extended and f32/f64 bit patterns.
 * kpCabi_liftParams: the core arguments of a call through `canon lower` into the component-level
 *   parameters of ft (flat, or through one pointer beyond KP_CABI_MAX_FLAT_PARAMS); *params gets an
 *   arena array of ft->nparams values.
 * kpCabi_lowerResults: the results into core results: flat (at most KP_CABI_MAX_FLAT_RESULTS), or
 *   stored at retptr (the caller's last core argument).
 * kpCabi_lowerParams / kpCabi_liftResults: the other direction, for calling an export made with
 *   `canon lift` (beyond the flat limits the arguments go to memory from realloc, the results come
 *   back through a pointer). */
kpCabiTrap kpCabi_liftParams(kpCabiCx *cx, const kpCType *ft, const uint64_t *core, uint32_t ncore,
                             kpCValue **params);
kpCabiTrap kpCabi_lowerResults(kpCabiCx *cx, const kpCType *ft, const kpCValue *results, uint64_t *core,
                               uint32_t *ncore, uint32_t retptr);
kpCabiTrap kpCabi_lowerParams(kpCabiCx *cx, const kpCType *ft, const kpCValue *params, uint64_t *core,
                              uint32_t *ncore);
kpCabiTrap kpCabi_liftResults(kpCabiCx *cx, const kpCType *ft, const uint64_t *core, uint32_t ncore,
                              kpCValue **results);

/* wave.c: a value of type t in WAVE syntax (`{x: 1, y: [2, 3]}`, `some("a")`, `ok`), appended to
 * out. Returns 0, or non-zero when out of memory. */
int kpWave_print(const kpComponent *c, kpCVal t, const kpCValue *v, kpBuf *out);
/* true, false, inf, nan, some, none, ok, err: a case of such a name is written `%ok`. */
bool kpWave_isKeyword(const char *name, size_t n);

/* wave_parse.c: WAVE text (s, len; not NUL-terminated) as a value of type t, allocated from arena.
 * Errors are KAPSUL_ERR_ARG with the line and column (err->line, err->column and the message). */
kapsul_status kpWave_parse(const kpComponent *c, kpCVal t, const char *s, size_t len, kpCArena *arena,
                           kpCValue *out, kapsul_error *err);
/* A call `name(arg, ...)` as `--invoke` takes it: the function name (everything before the '(',
 * e.g. `greet` or `ns:pkg/iface#greet`), then the arguments for function type ft (kpCT_FUNC) into
 * an arena array of ft->nparams values; trailing option arguments may be left out (none). */
kapsul_status kpWave_callName(const char *s, size_t len, const char **name, size_t *name_len,
                              kapsul_error *err);
kapsul_status kpWave_parseArgs(const kpComponent *c, const kpCType *ft, const char *s, size_t len,
                               kpCArena *arena, kpCValue **params, kapsul_error *err);

#endif /* KP_COMPONENT_CABI_H */
