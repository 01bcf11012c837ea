/*
 * ci.h -- what the files of src/cinstance share: the run-time values of the component model's
 * index spaces and the objects behind them. Not for use outside src/cinstance.
 */
#ifndef KP_CINSTANCE_CI_H
#define KP_CINSTANCE_CI_H

#include "cinstance/cinstance.h"

/* A value in a run-time index space. Core funcs, tables, memories and globals are kapsul externs
 * of the instance's store; a core instance is a kpCCore, a core module an index into kpCPre's
 * modules; types hold the resource type at run time (NULL for a type that is not a resource). */
typedef struct kpCVal_ {
    uint8_t sort; /* kpCSort */
    union {
        kapsul_extern ext;
        struct kpCCore *core;
        struct {
            uint32_t module, list; /* kpComponent.modules and its export list */
        } mod;
        kpCFunc *func;
        kpCInst *inst;
        kpCRes *res;
        struct kpCComp *comp;
    };
} kpCVal_;

/* A core instance: a real one or a bundle of exports; vals run parallel to the decoded export
 * list (kpComponent.cexports[list]), so a name is found through the decoder's hash. */
typedef struct kpCCore {
    uint32_t list;
    kapsul_extern *vals;
} kpCCore;

/* A component value: its type (and program) and the frame it was defined in (outer aliases). */
typedef struct kpCComp {
    uint32_t type;
    kpCFrame *parent;
} kpCComp;

/* A named export of a host instance: a function (fn, env, shape) or a resource type. */
typedef struct kpCHostExport {
    const char *name;
    uint8_t sort; /* kpCS_FUNC or kpCS_TYPE */
    kpCRes *res;
    kpCHostFn fn;
    void *env;
    const char *shape;
} kpCHostExport;

/* An instance: made by a component (decls: its type's export list, vals parallel to it) or by the
 * host (exports by name). */
struct kpCInst {
    const char *name; /* host instances: for messages */
    const kpCDecls *decls;
    kpCVal_ *vals;
    KP_VEC(kpCHostExport) host;
    /* A stand-in host instance (fuzzing): every function any import names is fn, every type a
     * resource without destructor. */
    kpCHostFn any_fn;
    void *any_env;
    kpCInst *next_host; /* host instances of a kpCInstance, for freeing their lists */
};

enum {
    KP_CFUNC_HOST,
    KP_CFUNC_LIFT
};

/* Canonical options of a lift or lower, resolved to store objects. */
typedef struct kpCOpts {
    kapsul_memory *mem;
    kapsul_func *realloc, *post;
    uint8_t enc;
} kpCOpts;

struct kpCFunc {
    uint8_t kind;
    uint32_t type;     /* the function type id (kpComponent) */
    const char *shape; /* computed once (kpCFunc_shape), owned by the instance's arena */
    /* HOST */
    kpCHostFn fn;
    void *env;
    const char *host_shape; /* what the host implements (NULL: any, a stand-in) */
    const char *host_name;  /* "IFACE: NAME" parts for messages */
    const char *host_iface;
    /* LIFT: the core function, the options, the frame whose handle table it uses */
    kapsul_func *core;
    kpCOpts opts;
    kpCFrame *frame;
};

struct kpCRes {
    const char *name;
    uint32_t uid;     /* identity of its handles in this instance (kpCI_resourceUid); 0: none yet */
    kpCFrame *impl;   /* the component instance that defines it (NULL: the host's) */
    kpCHostDtor dtor; /* host resources */
    void *env;
    kapsul_func *guest_dtor; /* resources a component defines: its destructor, or NULL */
};

/* The environment of a core function made by canon lower or a resource built-in. */
typedef struct kpCLower {
    kpCInstance *ci;
    kpCFrame *frame;
    kpCFunc *func;     /* LOWER */
    const kpCType *ft; /* LOWER: the function type as the lowering component sees it */
    kpCOpts opts;      /* LOWER */
    uint32_t np;       /* LOWER: core parameters (with the return pointer when results spill) */
    bool spill;        /* LOWER: results through a return pointer (the last core parameter) */
    uint32_t restype;  /* resource built-ins: the resource type id */
    kpCRes *res;       /* RESOURCE_DROP: the resource at run time (destructor) */
} kpCLower;

/* A decoded resource type id and the resource it names at run time (kpCFrame.res, kpCInstance.res). */
typedef struct kpCResBind {
    uint32_t type;
    kpCRes *res;
} kpCResBind;

struct kpCFrame {
    kpCFrame *parent;       /* where its component was defined */
    KP_VEC(kpCResBind) res; /* the resource types its definitions, imports and aliases bound */
    KP_VEC(kpCVal_) sp[kpCS_COUNT];
    KP_VEC(kpCVal_) exports; /* parallel to its component type's export list */
    kpCHandles handles;
    bool entered;   /* one of its lifted functions is running (no re-entry) */
    kpCFrame *next; /* all frames of an instance, for freeing */
};

struct kpCPre {
    kapsul_engine *engine;
    kpComponent *c;
    kapsul_module **modules; /* parallel to c->modules */
};

/* A block of memory the instance owns until it is freed. */
typedef struct kpCBlock {
    struct kpCBlock *next;
    max_align_t data[];
} kpCBlock;

struct kpCInstance {
    kpCPre *pre;
    kpCTemplate *tpl; /* made from a template (kpCTemplate_instantiate), or NULL */
    const kpComponent *c;
    kapsul_store *store;
    kpCFrame *frames;
    kpCFrame *root;
    kpCBlock *blocks;
    kpCInst *hosts;
    uint32_t ninstances, ncore; /* component and core instances made, against the limits */
    uint64_t work;              /* ops run and names looked up, against KP_MAX_COMPONENT_WORK */
    void (*trace)(void *env, const char *line);
    void *trace_env;
    KP_VEC(kpCResBind) res; /* every frame's bindings, the latest first found (see kpCI_resourceId) */
    uint32_t nuids;
};

/* Zeroed memory owned by ci (freed with it); NULL when out of memory. */
void *kpCI_alloc(kpCInstance *ci, size_t size);
/* The shape of a function value (computed on first use); NULL when out of memory or too long. */
const char *kpCFunc_shape(kpCInstance *ci, kpCFunc *f);
/* The shape of function type id `type`, allocated from ci. */
const char *kpCI_shape(kpCInstance *ci, uint32_t type);

/* template.c: instantiate core module `module` of ci's component with imports[i] for its import
 * i (kpModule order): from the module's template when ci was made from a template that has one,
 * else through a linker. Statuses as kapsul_linker_instantiate's. */
kapsul_status kpCTemplate_core(kpCInstance *ci, uint32_t module, const kapsul_extern *imports,
                               kapsul_instance **out, kapsul_error *err);
/* instantiate.c: kpCInstance_new, from tpl when it is not NULL. */
kapsul_status kpCI_instantiate(kpCPre *pre, kpCTemplate *tpl, kapsul_store *store, kpCResolveFn resolve,
                               void *resolve_env, kpCInstance **out, kapsul_error *err);

/* canon.c: the core functions of canon lower and the resource built-ins, made in ci's store. */
kapsul_status kpCCanon_lower(kpCInstance *ci, kpCFrame *fr, const kpCOp *op, kpCFunc *func,
                             const kpCOpts *opts, kapsul_extern *out, kapsul_error *err);
kapsul_status kpCCanon_resource(kpCInstance *ci, kpCFrame *fr, const kpCOp *op, kpCRes *res,
                                kapsul_extern *out, kapsul_error *err);
/* Resource identity at run time. A resource type definition, import or export alias binds its
 * decoded type id to a kpCRes in its frame (kpCI_bindResource); handles are keyed by the
 * resource's uid, so the types an outer component and the inner one it instantiated with it
 * (two decoded ids) name one resource. kpCI_resourceId: the uid for decoded id `type` as frame
 * fr sees it (its own bindings, then its parents', then any frame's of the instance, then the
 * decoded id itself, which no uid equals); *impl: fr defines the resource. */
kapsul_status kpCI_bindResource(kpCInstance *ci, kpCFrame *fr, uint32_t type, kpCRes *res, kapsul_error *err);
uint32_t kpCI_resourceId(kpCInstance *ci, kpCFrame *fr, uint32_t type, bool *impl);
uint32_t kpCI_resourceUid(kpCInstance *ci, kpCRes *res);

/* A canonical ABI trap as a kapsul error. */
kapsul_status kpCCanon_trap(kapsul_error *err, kpCabiTrap t, const char *where);

#endif /* KP_CINSTANCE_CI_H */
