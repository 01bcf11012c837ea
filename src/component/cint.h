/*
 * cint.h -- what the component decoder's files share: the decoding state, scopes and the helpers
 * that read indices, names and type definitions. Not for use outside src/component.
 */
#ifndef KP_COMPONENT_CINT_H
#define KP_COMPONENT_CINT_H

#include <stdio.h>

#include "component/cabi.h"
#include "component/component.h"

typedef enum kpCScopeKind {
    kpCScope_COMPONENT,
    kpCScope_COMPONENT_TYPE,
    kpCScope_INSTANCE_TYPE,
    kpCScope_MODULE_TYPE
} kpCScopeKind;

/* A scope's index spaces, one vector per sort. What an entry holds: FUNC, TYPE, COMPONENT,
 * INSTANCE a type id; CORE_MODULE and CORE_INSTANCE an index into kpComponent.cexports; CORE_TYPE
 * a cexports index for a module type or KP_CSIG_TAG | a kpComponent.sigs index for a function
 * type; CORE_FUNC a sigs index; others 0. */
#define KP_CSIG_TAG 0x80000000u
typedef struct kpCScope {
    struct kpCScope *parent;
    uint8_t kind; /* kpCScopeKind */
    KP_VEC(uint32_t) sp[kpCS_COUNT];
    uint32_t decls;   /* this scope's imports and exports in kpComponent.decls */
    uint32_t program; /* COMPONENT: its definitions in kpComponent.programs */
} kpCScope;

typedef struct kpCDec {
    kpComponent *c;
    kapsul_error *err;
    uint32_t nesting; /* components and component/instance/module types being decoded */
    uint32_t last;    /* the index kpCDec_index read last */
    kpCOp op;         /* what the next push into a component scope records (kpCDec_push) */
} kpCDec;

kapsul_status kpCDec_readerFail(kpCDec *d, const kpReader *r);
kapsul_status kpCDec_fail(kpCDec *d, kapsul_status code, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
kapsul_status kpCDec_nomem(kpCDec *d);
bool kpCDec_countFits(kpReader *r, uint32_t count, size_t min_bytes);
kapsul_status kpCDec_count(kpCDec *d, kpReader *r, size_t min_bytes, const char *what, uint32_t *n);
/* Append an argument to kpComponent.args (for the pending op). */
kapsul_status kpCDec_arg(kpCDec *d, const char *name, uint32_t len, kpCSort sort, uint32_t index);
/* Record the pending op in a component scope without adding to an index space (start). */
kapsul_status kpCDec_record(kpCDec *d, kpCScope *sc, uint8_t sort, uint32_t payload);
kapsul_status kpCDec_push(kpCDec *d, kpCScope *sc, kpCSort sort, uint32_t payload, size_t at);
kapsul_status kpCDec_index(kpCDec *d, kpReader *r, kpCScope *sc, kpCSort sort, uint32_t *payload);
kapsul_status kpCDec_sort(kpCDec *d, kpReader *r, kpCSort *out);
kapsul_status kpCDec_coreSort(kpCDec *d, kpReader *r, kpCSort *out);
kapsul_status kpCDec_name(kpCDec *d, kpReader *r, const char **name, uint32_t *len);
kapsul_status kpCDec_externName(kpCDec *d, kpReader *r, const char **name, uint32_t *len);
/* Reject a duplicate among n elements that each begin with { const char *name; uint32_t len }. */
kapsul_status kpCDec_unique(kpCDec *d, const void *base, size_t stride, uint32_t n, bool fold,
                            const char *what, size_t at);
kapsul_status kpCDec_newDecls(kpCDec *d, uint32_t *out);
kapsul_status kpCDec_addDecl(kpCDec *d, uint32_t decls, bool import, const char *name, uint32_t len,
                             const kpCExtern *ext);
kapsul_status kpCDec_finishDecls(kpCDec *d, uint32_t decls, size_t at);
kapsul_status kpCDec_newCoreExports(kpCDec *d, uint32_t *out);
kapsul_status kpCDec_addCoreExport(kpCDec *d, uint32_t list, const char *name, uint32_t len, kpCSort sort,
                                   uint32_t sig);
/* A new core signature (types: np params then nr results, copied). */
kapsul_status kpCDec_finishCoreExports(kpCDec *d, uint32_t list, size_t at);
kapsul_status kpCDec_newSig(kpCDec *d, uint32_t np, uint32_t nr, const uint8_t *types, uint32_t *out);
kapsul_status kpCDec_alias(kpCDec *d, kpReader *r, kpCScope *sc);

/* types.c */
kapsul_status kpCDec_newType(kpCDec *d, const kpCType *t, size_t at, uint32_t *id);
/* A NAMED entry for `name` = target (an (eq T) import/export or an exported type). */
kapsul_status kpCDec_namedType(kpCDec *d, const char *name, uint32_t len, uint32_t target, size_t at,
                               uint32_t *id);
/* externdesc, for an import or export called name; a type bound makes a new NAMED or ABSTRACT. */
kapsul_status kpCDec_externDesc(kpCDec *d, kpReader *r, kpCScope *sc, const char *name, uint32_t len,
                                kpCExtern *ext);
kapsul_status kpCDec_typeItem(kpCDec *d, kpReader *r, kpCScope *sc);
kapsul_status kpCDec_coreTypeItem(kpCDec *d, kpReader *r, kpCScope *sc);

#endif /* KP_COMPONENT_CINT_H */
