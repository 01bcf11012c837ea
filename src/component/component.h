/*
 * component.h -- the component model (binary layer 1, version 0x0d): decoder, structural
 * validator and the WIT-level description of a component's imports and exports.
 *
 * A component is a tree: nested core modules and components, instances, aliases, type
 * definitions, canonical definitions, imports and exports. The decoder turns it into a flat model:
 * every type any scope defines (value types, function, component, instance and resource types)
 * is one kpCType in kpComponent.types, named by its position (a "type id"), so a type defined in
 * one scope and aliased into another is the same id in both; component and instance types list
 * their imports and exports in kpCDecls.
 *
 * Contract of kpComponent_decode (accepts any bytes): on success
 *   - every index (type, function, instance, component, core function/table/memory/global/
 *     module/instance) was in range of its index space when it was used, and every alias named an
 *     export of the right sort that exists;
 *   - value types refer to value types, own/borrow to resources, canon lift to a function type,
 *     resource.new/rep to a resource the component defines; no function result holds a borrow;
 *   - every core function's signature is known (kpComponent.sigs), and the core function of a
 *     `canon lift` has exactly the flattened signature of its type; `canon lift` and `canon lower`
 *     have the memory and realloc options their types need, realloc is (i32 i32 i32 i32) -> i32 and
 *     post-return takes the lifted core function's results;
 *   - import and export names are unique in their scope; labels are unique in their type;
 *   - nested core modules are decoded and validated by the module layer;
 *   - every type is at most KP_MAX_COMPONENT_TYPE_DEPTH deep, so walks over types may recurse.
 * Not yet checked (later passes must not assume them): that instantiation arguments match the
 * imports they satisfy (core and component), and subtyping of ascribed export types.
 */
#ifndef KP_COMPONENT_H
#define KP_COMPONENT_H

#include "base/base.h"
#include "module/module.h"

/* Primitive value types: their binary encodings. */
enum {
    kpCP_BOOL = 0x7f,
    kpCP_S8 = 0x7e,
    kpCP_U8 = 0x7d,
    kpCP_S16 = 0x7c,
    kpCP_U16 = 0x7b,
    kpCP_S32 = 0x7a,
    kpCP_U32 = 0x79,
    kpCP_S64 = 0x78,
    kpCP_U64 = 0x77,
    kpCP_F32 = 0x76,
    kpCP_F64 = 0x75,
    kpCP_CHAR = 0x74,
    kpCP_STRING = 0x73
};
static inline bool kpC_isPrim(uint8_t b) { return b >= kpCP_STRING && b <= kpCP_BOOL; }
const char *kpC_primName(uint8_t prim);

/* A value type: a primitive (prim != 0) or a type id (prim == 0). */
typedef struct kpCVal {
    uint8_t prim;
    uint32_t type;
} kpCVal;

typedef enum kpCTypeKind {
    kpCT_PRIM,      /* a primitive defined as a type: val.prim */
    kpCT_RECORD,    /* fields[n] */
    kpCT_VARIANT,   /* fields[n], has_type per case */
    kpCT_LIST,      /* a */
    kpCT_TUPLE,     /* fields[n], unnamed */
    kpCT_FLAGS,     /* fields[n], names only */
    kpCT_ENUM,      /* fields[n], names only */
    kpCT_OPTION,    /* a */
    kpCT_RESULT,    /* has_a: a is ok, has_b: b is err */
    kpCT_OWN,       /* target: the resource's type id */
    kpCT_BORROW,    /* target */
    kpCT_FUNC,      /* fields[0..nparams) params, fields[nparams..n) results (unnamed: one result) */
    kpCT_COMPONENT, /* decls */
    kpCT_INSTANCE,  /* decls */
    kpCT_RESOURCE,  /* a resource this component defines: target = destructor core func + 1, or 0 */
    kpCT_ABSTRACT,  /* a resource imported or exported by name ((sub resource)): name */
    kpCT_NAMED      /* an (eq T) import or export: name, target = T */
} kpCTypeKind;

typedef struct kpCField {
    const char *name; /* in the component's byte copy, not NUL-terminated; NULL when unnamed */
    uint32_t name_len;
    bool has_type;
    kpCVal type;
} kpCField;

typedef struct kpCType {
    uint8_t kind;      /* kpCTypeKind */
    uint8_t depth;     /* 1 + the deepest type it refers to (<= KP_MAX_COMPONENT_TYPE_DEPTH) */
    bool has_borrow;   /* holds a borrow handle somewhere */
    bool has_ptr;      /* holds a string or list (lifting or lowering it needs a memory) */
    bool has_a, has_b; /* RESULT */
    kpCVal a, b;       /* LIST, OPTION: a; RESULT: a ok, b err; PRIM: a.prim */
    uint32_t n, nparams;
    kpCField *fields;
    uint32_t target;  /* OWN, BORROW, NAMED: a type id; RESOURCE: destructor + 1 */
    uint32_t decls;   /* COMPONENT, INSTANCE: index in kpComponent.decls */
    uint32_t program; /* COMPONENT: 1 + its index in kpComponent.programs for a component body (one
                         with definitions); 0 for a component type */
    const char *name; /* ABSTRACT, NAMED */
    uint32_t name_len;
    /* Value types: the canonical ABI layout, computed once when the type is defined (cabi.c):
     * size in memory (saturated at UINT32_MAX), alignment, and the number of flattened core
     * values (saturated at 255). */
    uint32_t size;
    uint8_t align, nflat;
} kpCType;

/* Sorts: what an import, export or alias names. */
typedef enum kpCSort {
    kpCS_CORE_FUNC,
    kpCS_CORE_TABLE,
    kpCS_CORE_MEMORY,
    kpCS_CORE_GLOBAL,
    kpCS_CORE_TYPE,
    kpCS_CORE_MODULE,
    kpCS_CORE_INSTANCE,
    kpCS_FUNC,
    kpCS_VALUE,
    kpCS_TYPE,
    kpCS_COMPONENT,
    kpCS_INSTANCE,
    kpCS_COUNT
} kpCSort;
const char *kpC_sortName(kpCSort s);

/* What an import or export provides: for FUNC, COMPONENT, INSTANCE and TYPE a type id (TYPE: the
 * NAMED or ABSTRACT entry the declaration introduced); VALUE: val; CORE_MODULE: an index into
 * kpComponent.cexports (the module type's exports). */
typedef struct kpCExtern {
    uint8_t sort; /* kpCSort */
    uint32_t type;
    kpCVal val;
} kpCExtern;

typedef struct kpCDecl {
    const char *name;
    uint32_t name_len;
    kpCExtern ext;
} kpCDecl;

/* The imports and exports of a component or instance type, with a hash of the export names. */
typedef struct kpCDecls {
    KP_VEC(kpCDecl) imports;
    KP_VEC(kpCDecl) exports;
    uint32_t *hash; /* open addressing over exports: index + 1, 0 empty; hcap entries */
    uint32_t hcap;
} kpCDecls;

/* The exports of a core module or core instance: name and core sort. */
typedef struct kpCCoreExport {
    const char *name;
    uint32_t name_len;
    uint8_t sort;
    uint32_t sig; /* CORE_FUNC: the function's signature in kpComponent.sigs */
} kpCCoreExport;

/* A core function signature: np parameter then nr result types (core encodings, kpT_I32...). */
typedef struct kpCSig {
    uint32_t np, nr;
    uint8_t *t;
} kpCSig;
typedef struct kpCCoreExports {
    KP_VEC(kpCCoreExport) e;
    uint32_t *hash; /* open addressing over e: index + 1, 0 empty; hcap entries */
    uint32_t hcap;
    const kpModule *module; /* a module defined in the component: its model (for its imports) */
} kpCCoreExports;

/* A nested core module: its model (decoded and validated) and where its bytes are. */
typedef struct kpCModule {
    kpModule *module;
    size_t offset, size;
} kpCModule;

/* What instantiation needs: every component body's definitions in order, one op per entry the
 * body adds to an index space (plus start), with operands as indices into the body's own index
 * spaces as they were when the op was read. Instantiation replays them (src/cinstance). */
typedef enum kpCOpKind {
    kpCOP_DEF,               /* a type or core type definition: type = what the space holds */
    kpCOP_IMPORT,            /* name, sort, type = the imported type id */
    kpCOP_CORE_MODULE,       /* a = index in kpComponent.modules */
    kpCOP_CORE_INSTANTIATE,  /* a = core module index; args (name, core instance index) */
    kpCOP_CORE_BUNDLE,       /* args (name, core sort, index); type = the cexports list */
    kpCOP_ALIAS_EXPORT,      /* a = instance index, name */
    kpCOP_ALIAS_CORE_EXPORT, /* a = core instance index, name */
    kpCOP_ALIAS_OUTER,       /* a = count of scopes out, b = index there */
    kpCOP_COMPONENT,         /* type = the nested component's type id */
    kpCOP_INSTANTIATE,       /* a = component index; args (name, sort, index) */
    kpCOP_BUNDLE,            /* args (name, sort, index); type = the instance type id */
    kpCOP_LIFT,              /* a = core func index, type = func type id, canonical options */
    kpCOP_LOWER,             /* a = func index, type = func type id, b = core signature, options */
    kpCOP_RESOURCE_NEW,      /* a = type index, type = the resource's type id */
    kpCOP_RESOURCE_DROP,
    kpCOP_RESOURCE_REP,
    kpCOP_EXPORT, /* name, a = the index exported, type = the export's type */
    kpCOP_START   /* a = func index (no arguments or results: values are refused) */
} kpCOpKind;

typedef struct kpCOpArg {
    const char *name;
    uint32_t name_len;
    uint8_t sort; /* kpCSort */
    uint32_t index;
} kpCOpArg;

typedef struct kpCOp {
    uint8_t kind; /* kpCOpKind */
    uint8_t sort; /* the index space it adds to; kpCS_COUNT for none (start) */
    uint8_t enc;  /* LIFT, LOWER: 0 UTF-8, 1 UTF-16, 2 latin1+UTF-16 (kpCStringEncoding) */
    bool has_memory, has_realloc, has_post;
    uint32_t a, b, type;
    uint32_t memory, realloc, post; /* core memory and core func indices of the options */
    const char *name;
    uint32_t name_len;
    uint32_t args, nargs; /* kpComponent.args[args .. args + nargs) */
} kpCOp;

typedef struct kpCProgram {
    KP_VEC(kpCOp) ops;
} kpCProgram;

typedef struct kpComponent {
    uint8_t *bytes; /* private copy of the whole binary; names point into it */
    size_t size;
    KP_VEC(kpCType) types;
    KP_VEC(kpCDecls) decls;
    KP_VEC(kpCCoreExports) cexports;
    KP_VEC(kpCModule) modules;
    KP_VEC(kpCSig) sigs;
    KP_VEC(kpCProgram) programs;
    KP_VEC(kpCOpArg) args;
    uint32_t root;        /* type id of the outermost component's kpCT_COMPONENT */
    uint32_t ncomponents; /* components in the tree, the outermost included */
} kpComponent;

/* True if the bytes start with the component preamble (\0asm, version 0x0d, layer 1). */
bool kpComponent_is(const uint8_t *bytes, size_t len);
/* True if the bytes start with \0asm and a layer-1 field (any version), so a caller can say "a
 * component of an unsupported version" rather than "unknown binary version". */
bool kpComponent_isAnyVersion(const uint8_t *bytes, size_t len);

/* Decode and structurally validate a component (the bytes are copied). Errors:
 * KAPSUL_ERR_MALFORMED (bad encoding), KAPSUL_ERR_INVALID (an index out of range, a wrong sort or
 * type kind, a duplicate name), KAPSUL_ERR_LIMIT, KAPSUL_ERR_NOMEM, each with the byte offset. */
kapsul_status kpComponent_decode(const uint8_t *bytes, size_t len, kpComponent **out, kapsul_error *err);
void kpComponent_free(kpComponent *c);

/* Follow NAMED entries to the definition. */
const kpCType *kpComponent_resolve(const kpComponent *c, uint32_t type);
/* The entry of a core export list with this name, or NULL. */
const kpCCoreExport *kpCCoreExports_find(const kpCCoreExports *l, const char *name, uint32_t len);
/* The export of a component or instance type with this name, or NULL. */
const kpCDecl *kpCDecls_find(const kpCDecls *d, const char *name, uint32_t len);

/* names.c: an interface name `ns:pkg/iface[@major.minor.patch[-pre][+build]]`. iface covers
 * `ns:pkg/iface`; suffix is the prerelease/build part ("" when none). */
typedef struct kpCName {
    const char *iface;
    uint32_t iface_len;
    bool has_version;
    uint32_t major, minor, patch;
    const char *suffix;
    uint32_t suffix_len;
} kpCName;
/* False for a plain name (`run`, `greet`) or a malformed interface name. */
bool kpCName_parse(const char *s, uint32_t len, kpCName *out);
/* Whether an implementation of one satisfies an import of the other (symmetric): same interface,
 * same semver compatibility bucket (major >= 1: major; 0.minor with minor >= 1; 0.0.patch exactly;
 * with a prerelease or build suffix, the exact version). */
bool kpCName_compatible(const kpCName *a, const kpCName *b);

/* wit.c: the component's imports and exports at the level of WIT, one line per function or type
 * of each imported or exported instance (`import wasi:cli/environment@0.2.3: get-environment:
 * func() -> list<tuple<string, string>>`), appended to out. Returns 0, or -1 when out of memory. */
int kpWit_describe(const kpComponent *c, kpBuf *out);

/* shape.c: the shape of a function type, what the canonical ABI makes of it with the names of
 * fields and cases left out (`(borrow<output-stream>,list<u8>)->result<_,variant{own<error>,_}>`),
 * appended to out. Two function types with the same shape are lifted and lowered alike, so a host
 * implementation written for one may be linked to the other. Returns 0, or -1 when out of memory
 * or the shape is longer than max bytes. */
int kpCShape_func(const kpComponent *c, uint32_t func_type, kpBuf *out, size_t max);

#endif /* KP_COMPONENT_H */
