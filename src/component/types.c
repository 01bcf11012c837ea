/*
 * types.c -- component type definitions: value types (primitives, records, variants, lists,
 * tuples, flags, enums, options, results, own/borrow handles), function types, component and
 * instance types with their declarations, resource types, core function and module types, and
 * the externdesc of imports and exports.
 *
 * Every new type records its depth (1 + the deepest type it names) and whether it holds a borrow
 * anywhere, so the depth limit and the "no borrow in a result" rule cost O(1) per definition and
 * later walks over a type may recurse without a bound of their own.
 */
#include "component/cint.h"

const char *kpC_primName(uint8_t prim) {
    static const char *const names[] = { "string", "char", "f64", "f32", "u64", "s64", "u32",
                                         "s32",    "u16",  "s16", "u8",  "s8",  "bool" };
    return kpC_isPrim(prim) ? names[prim - kpCP_STRING] : "unknown";
}

const kpCType *kpComponent_resolve(const kpComponent *c, uint32_t type) {
    const kpCType *t = &c->types.v[type];
    while (t->kind == kpCT_NAMED) t = &c->types.v[t->target];
    return t;
}

kapsul_status kpCDec_newType(kpCDec *d, const kpCType *t, size_t at, uint32_t *id) {
    kpComponent *c = d->c;
    if (t->depth > KP_MAX_COMPONENT_TYPE_DEPTH) {
        kp_free(t->fields);
        return kpCDec_fail(d, KAPSUL_ERR_LIMIT, at, "type nested too deeply (limit %u)",
                           KP_MAX_COMPONENT_TYPE_DEPTH);
    }
    if (c->types.n >= (size_t)KP_MAX_COMPONENT_ITEMS) {
        kp_free(t->fields);
        return kpCDec_fail(d, KAPSUL_ERR_LIMIT, at, "too many types (limit %u)", KP_MAX_COMPONENT_ITEMS);
    }
    if (kpVec_grow(&c->types) != 0) {
        kp_free(t->fields);
        return kpCDec_nomem(d);
    }
    c->types.v[c->types.n] = *t;
    kpCabi_layout(c, &c->types.v[c->types.n]);
    *id = (uint32_t)c->types.n++;
    return KAPSUL_OK;
}

kapsul_status kpCDec_namedType(kpCDec *d, const char *name, uint32_t len, uint32_t target, size_t at,
                               uint32_t *id) {
    const kpCType *tt = &d->c->types.v[target];
    kpCType t = { .kind = kpCT_NAMED,
                  .target = target,
                  .name = name,
                  .name_len = len,
                  .depth = tt->depth,
                  .has_borrow = tt->has_borrow };
    return kpCDec_newType(d, &t, at, id);
}

static bool is_valtype_kind(uint8_t k) { return k <= kpCT_BORROW; }
static bool is_resource_kind(uint8_t k) { return k == kpCT_RESOURCE || k == kpCT_ABSTRACT; }

/* Fold a component type into its parent's depth and borrow flag. */
static void note(kpCDec *d, kpCType *parent, kpCVal v) {
    if (v.prim) return;
    const kpCType *t = &d->c->types.v[v.type];
    if (t->depth + 1 > parent->depth) parent->depth = (uint8_t)(t->depth + 1 > 255 ? 255 : t->depth + 1);
    parent->has_borrow |= t->has_borrow;
}

/* valtype ::= primvaltype | typeidx (an s33 >= 0, so it cannot be mistaken for a primitive) */
static kapsul_status valtype(kpCDec *d, kpReader *r, kpCScope *sc, kpCVal *v) {
    size_t at = kpRead_offset(r);
    if (kpRead_eof(r)) return kpCDec_readerFail(d, (kpRead_fail(r, "unexpected end"), r));
    if (kpC_isPrim(*r->p)) {
        *v = (kpCVal){ .prim = *r->p++ };
        return KAPSUL_OK;
    }
    int64_t i;
    if (!kpRead_s33(r, &i)) return kpCDec_readerFail(d, r);
    if (i < 0) return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "malformed value type");
    if ((uint64_t)i >= sc->sp[kpCS_TYPE].n)
        return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "unknown type %lld", (long long)i);
    uint32_t id = sc->sp[kpCS_TYPE].v[i];
    if (!is_valtype_kind(kpComponent_resolve(d->c, id)->kind))
        return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "type %lld is not a value type", (long long)i);
    *v = (kpCVal){ .type = id };
    return KAPSUL_OK;
}

/* <T>? ::= 0x00 | 0x01 T */
static kapsul_status opt_valtype(kpCDec *d, kpReader *r, kpCScope *sc, bool *has, kpCVal *v) {
    size_t at = kpRead_offset(r);
    uint8_t b;
    if (!kpRead_u8(r, &b)) return kpCDec_readerFail(d, r);
    if (b > 0x01) return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "malformed optional value type 0x%02x", b);
    *has = b == 0x01;
    *v = (kpCVal){ 0 };
    return *has ? valtype(d, r, sc, v) : KAPSUL_OK;
}

/* The n items of a record, variant, tuple, flags or enum (what: which), into t->fields. */
typedef enum items_kind {
    ITEMS_LABELED, /* label valtype */
    ITEMS_CASES,   /* label valtype? 0x00 */
    ITEMS_TYPES,   /* valtype */
    ITEMS_LABELS   /* label */
} items_kind;

static kapsul_status items(kpCDec *d, kpReader *r, kpCScope *sc, kpCType *t, items_kind kind,
                           const char *what, size_t at) {
    uint32_t n;
    kapsul_status st;
    if ((st = kpCDec_count(d, r, 1, what, &n)) != KAPSUL_OK) return st;
    if (n == 0) return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "%s must not be empty", what);
    t->fields = kp_calloc(n, sizeof *t->fields);
    if (!t->fields) return kpCDec_nomem(d);
    t->n = n;
    for (uint32_t i = 0; i < n; i++) {
        kpCField *f = &t->fields[i];
        if (kind != ITEMS_TYPES && (st = kpCDec_name(d, r, &f->name, &f->name_len)) != KAPSUL_OK) return st;
        if (kind == ITEMS_LABELED || kind == ITEMS_TYPES) {
            f->has_type = true;
            if ((st = valtype(d, r, sc, &f->type)) != KAPSUL_OK) return st;
        } else if (kind == ITEMS_CASES) {
            if ((st = opt_valtype(d, r, sc, &f->has_type, &f->type)) != KAPSUL_OK) return st;
            size_t zat = kpRead_offset(r);
            uint8_t z;
            if (!kpRead_u8(r, &z)) return kpCDec_readerFail(d, r);
            if (z != 0x00)
                return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, zat,
                                   "variant case refinements are not supported");
        }
        if (f->has_type) note(d, t, f->type);
    }
    if (kind == ITEMS_LABELS && t->kind == kpCT_FLAGS && n > 32)
        return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "flags with more than 32 labels");
    if (kind != ITEMS_TYPES) return kpCDec_unique(d, t->fields, sizeof *t->fields, n, true, what, at);
    return KAPSUL_OK;
}

/* own/borrow typeidx: the type must be a resource. */
static kapsul_status handle(kpCDec *d, kpReader *r, kpCScope *sc, kpCType *t) {
    size_t at = kpRead_offset(r);
    uint32_t id;
    kapsul_status st = kpCDec_index(d, r, sc, kpCS_TYPE, &id);
    if (st != KAPSUL_OK) return st;
    if (!is_resource_kind(kpComponent_resolve(d->c, id)->kind))
        return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "handle to a type that is not a resource");
    t->target = id;
    t->has_borrow = t->kind == kpCT_BORROW;
    return KAPSUL_OK;
}

/* functype ::= 0x40 vec(label valtype) (0x00 valtype | 0x01 vec(label valtype)) */
static kapsul_status functype(kpCDec *d, kpReader *r, kpCScope *sc, kpCType *t, size_t at) {
    uint32_t np, nr;
    kapsul_status st;
    if ((st = kpCDec_count(d, r, 2, "parameters", &np)) != KAPSUL_OK) return st;
    /* Read params into a growing array: the results' count comes after them. */
    kpCField *params = kp_calloc(np ? np : 1, sizeof *params);
    if (!params) return kpCDec_nomem(d);
    t->fields = params;
    for (uint32_t i = 0; i < np; i++) {
        params[i].has_type = true;
        if ((st = kpCDec_name(d, r, &params[i].name, &params[i].name_len)) != KAPSUL_OK) return st;
        if ((st = valtype(d, r, sc, &params[i].type)) != KAPSUL_OK) return st;
        note(d, t, params[i].type);
    }
    t->n = t->nparams = np;
    if ((st = kpCDec_unique(d, params, sizeof *params, np, true, "parameter", at)) != KAPSUL_OK) return st;
    size_t rat = kpRead_offset(r);
    uint8_t b;
    if (!kpRead_u8(r, &b)) return kpCDec_readerFail(d, r);
    if (b == 0x00) nr = 1;
    else if (b == 0x01) {
        if ((st = kpCDec_count(d, r, 2, "results", &nr)) != KAPSUL_OK) return st;
    } else return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, rat, "malformed result list 0x%02x", b);
    kpCField *all = kp_realloc(params, ((size_t)np + nr + 1) * sizeof *all);
    if (!all) return kpCDec_nomem(d);
    t->fields = all;
    bool borrow_in_params = t->has_borrow;
    t->has_borrow = false;
    for (uint32_t i = 0; i < nr; i++) {
        kpCField *f = &all[np + i];
        *f = (kpCField){ .has_type = true };
        if (b == 0x01 && (st = kpCDec_name(d, r, &f->name, &f->name_len)) != KAPSUL_OK) return st;
        if ((st = valtype(d, r, sc, &f->type)) != KAPSUL_OK) return st;
        t->n++;
        note(d, t, f->type);
    }
    if (t->has_borrow)
        return kpCDec_fail(d, KAPSUL_ERR_INVALID, rat, "function result holds a borrow handle");
    t->has_borrow = borrow_in_params;
    return kpCDec_unique(d, all + np, sizeof *all, nr, true, "result", rat);
}

/* ---- Core types -------------------------------------------------------------------------------- */

/* vec(core valtype), appended to buf (at most cap entries kept; more is a limit error). */
static kapsul_status core_valtypes(kpCDec *d, kpReader *r, uint8_t *buf, uint32_t *n, uint32_t cap) {
    uint32_t count;
    kapsul_status st;
    size_t cat = kpRead_offset(r);
    if ((st = kpCDec_count(d, r, 1, "core value types", &count)) != KAPSUL_OK) return st;
    if (count > cap - *n) return kpCDec_fail(d, KAPSUL_ERR_LIMIT, cat, "too many parameters or results");
    for (uint32_t i = 0; i < count; i++) {
        size_t at = kpRead_offset(r);
        uint8_t b;
        if (!kpRead_u8(r, &b)) return kpCDec_readerFail(d, r);
        if (!kp_is_valtype(b)) return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "malformed value type");
        buf[(*n)++] = b;
    }
    return KAPSUL_OK;
}

static kapsul_status core_limits(kpCDec *d, kpReader *r) {
    size_t at = kpRead_offset(r);
    uint8_t flags;
    uint64_t v64;
    uint32_t v32;
    if (!kpRead_u8(r, &flags)) return kpCDec_readerFail(d, r);
    if (flags > 0x07) return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "malformed limits flags");
    for (int i = 0; i < 1 + (flags & 1); i++) {
        bool ok = (flags & 4) ? kpRead_u64(r, &v64) : kpRead_u32(r, &v32);
        if (!ok) return kpCDec_readerFail(d, r);
    }
    return KAPSUL_OK;
}

/* core:importdesc of a module type's import or export; function types must be in mt's space. */
static kapsul_status core_importdesc(kpCDec *d, kpReader *r, kpCScope *mt, kpCSort *sort, uint32_t *sig) {
    size_t at = kpRead_offset(r);
    uint8_t b, x;
    uint32_t payload;
    kapsul_status st;
    *sig = 0;
    if (!kpRead_u8(r, &b)) return kpCDec_readerFail(d, r);
    switch (b) {
    case 0x00:
        if ((st = kpCDec_index(d, r, mt, kpCS_CORE_TYPE, &payload)) != KAPSUL_OK) return st;
        if (!(payload & KP_CSIG_TAG))
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "core function of a module type");
        *sig = payload & ~KP_CSIG_TAG;
        break;
    case 0x01:
        if (!kpRead_u8(r, &x)) return kpCDec_readerFail(d, r);
        if (x != kpT_FUNCREF && x != kpT_EXTERNREF)
            return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at + 1, "malformed reference type");
        if ((st = core_limits(d, r)) != KAPSUL_OK) return st;
        break;
    case 0x02:
        if ((st = core_limits(d, r)) != KAPSUL_OK) return st;
        break;
    case 0x03:
        if (!kpRead_u8(r, &x)) return kpCDec_readerFail(d, r);
        if (!kp_is_valtype(x)) return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at + 1, "malformed value type");
        if (!kpRead_u8(r, &x)) return kpCDec_readerFail(d, r);
        if (x > 1) return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at + 2, "malformed mutability");
        break;
    default: return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "malformed import kind 0x%02x", b);
    }
    *sort = (kpCSort)(kpCS_CORE_FUNC + b);
    return KAPSUL_OK;
}

/* A core function type's params and results; *payload gets KP_CSIG_TAG | its signature. */
static kapsul_status core_functype(kpCDec *d, kpReader *r, uint32_t *payload) {
    uint8_t buf[KP_MAX_PARAMS + KP_MAX_RESULTS];
    uint32_t np = 0, n = 0, sig;
    kapsul_status st = core_valtypes(d, r, buf, &np, KP_MAX_PARAMS);
    n = np;
    if (st == KAPSUL_OK) st = core_valtypes(d, r, buf, &n, KP_MAX_PARAMS + KP_MAX_RESULTS);
    if (st == KAPSUL_OK) st = kpCDec_newSig(d, np, n - np, buf, &sig);
    *payload = KP_CSIG_TAG | sig;
    return st;
}

/* core:moduletype ::= 0x50 vec(moduledecl); its exports become a core export list. */
static kapsul_status core_moduletype(kpCDec *d, kpReader *r, kpCScope *sc, uint32_t *list) {
    kpCScope mt = { .parent = sc, .kind = kpCScope_MODULE_TYPE };
    uint32_t n;
    kapsul_status st = kpCDec_newCoreExports(d, list);
    if (st == KAPSUL_OK) st = kpCDec_count(d, r, 2, "module type declarations", &n);
    for (uint32_t i = 0; st == KAPSUL_OK && i < n; i++) {
        size_t at = kpRead_offset(r);
        uint8_t b, x;
        const char *name;
        uint32_t len, ct, idx;
        kpCSort sort;
        if (!kpRead_u8(r, &b)) {
            st = kpCDec_readerFail(d, r);
            break;
        }
        switch (b) {
        case 0x00: /* import: module name, name, importdesc */
            if ((st = kpCDec_name(d, r, &name, &len)) == KAPSUL_OK &&
                (st = kpCDec_name(d, r, &name, &len)) == KAPSUL_OK)
                st = core_importdesc(d, r, &mt, &sort, &idx);
            break;
        case 0x01: /* a core function type (module types do not nest) */
            if (!kpRead_u8(r, &x)) st = kpCDec_readerFail(d, r);
            else if (x != 0x60)
                st = kpCDec_fail(d, KAPSUL_ERR_INVALID, at + 1, "only function types in a module type");
            else if ((st = core_functype(d, r, &idx)) == KAPSUL_OK)
                st = kpCDec_push(d, &mt, kpCS_CORE_TYPE, idx, at);
            break;
        case 0x02: /* alias: core type, outer ct idx */
            if (!kpRead_u8(r, &x) || !kpRead_u8(r, &b)) {
                st = kpCDec_readerFail(d, r);
                break;
            }
            if (x != 0x10 || b != 0x01) {
                st = kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "a module type may only alias outer core types");
                break;
            }
            if (!kpRead_u32(r, &ct) || !kpRead_u32(r, &idx)) {
                st = kpCDec_readerFail(d, r);
                break;
            }
            if (ct != 1 || idx >= sc->sp[kpCS_CORE_TYPE].n || !(sc->sp[kpCS_CORE_TYPE].v[idx] & KP_CSIG_TAG))
                st = kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "bad outer core type alias %u %u", ct, idx);
            else st = kpCDec_push(d, &mt, kpCS_CORE_TYPE, sc->sp[kpCS_CORE_TYPE].v[idx], at);
            break;
        case 0x03: /* export: name, importdesc */
            if ((st = kpCDec_name(d, r, &name, &len)) == KAPSUL_OK &&
                (st = core_importdesc(d, r, &mt, &sort, &idx)) == KAPSUL_OK)
                st = kpCDec_addCoreExport(d, *list, name, len, sort, idx);
            break;
        default: st = kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "malformed module type declaration 0x%02x", b);
        }
    }
    for (int s = 0; s < kpCS_COUNT; s++) kpVec_free(&mt.sp[s]);
    if (st == KAPSUL_OK) st = kpCDec_finishCoreExports(d, *list, kpRead_offset(r));
    return st;
}

/* core:type ::= 0x60 functype | 0x50 moduletype */
kapsul_status kpCDec_coreTypeItem(kpCDec *d, kpReader *r, kpCScope *sc) {
    size_t at = kpRead_offset(r);
    uint8_t b;
    uint32_t list;
    kapsul_status st;
    if (!kpRead_u8(r, &b)) return kpCDec_readerFail(d, r);
    if (b == 0x60) {
        if ((st = core_functype(d, r, &list)) != KAPSUL_OK) return st;
        return kpCDec_push(d, sc, kpCS_CORE_TYPE, list, at);
    }
    if (b != 0x50) return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "malformed core type 0x%02x", b);
    if (sc->kind == kpCScope_MODULE_TYPE) return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "nested module type");
    if (d->nesting >= KP_MAX_COMPONENT_NESTING)
        return kpCDec_fail(d, KAPSUL_ERR_LIMIT, at, "types nested too deeply (limit %u)",
                           KP_MAX_COMPONENT_NESTING);
    d->nesting++;
    st = core_moduletype(d, r, sc, &list);
    d->nesting--;
    if (st != KAPSUL_OK) return st;
    return kpCDec_push(d, sc, kpCS_CORE_TYPE, list, at);
}

/* ---- Imports and exports ----------------------------------------------------------------------- */

kapsul_status kpCDec_externDesc(kpCDec *d, kpReader *r, kpCScope *sc, const char *name, uint32_t len,
                                kpCExtern *ext) {
    size_t at = kpRead_offset(r);
    uint8_t b, x;
    uint32_t id;
    kapsul_status st;
    *ext = (kpCExtern){ 0 };
    if (!kpRead_u8(r, &b)) return kpCDec_readerFail(d, r);
    switch (b) {
    case 0x00:
        if (!kpRead_u8(r, &x)) return kpCDec_readerFail(d, r);
        if (x != 0x11) return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at + 1, "malformed core extern 0x%02x", x);
        if ((st = kpCDec_index(d, r, sc, kpCS_CORE_TYPE, &id)) != KAPSUL_OK) return st;
        if (id & KP_CSIG_TAG)
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "core module with a function type");
        *ext = (kpCExtern){ .sort = kpCS_CORE_MODULE, .type = id };
        return KAPSUL_OK;
    case 0x01:
    case 0x04:
    case 0x05: {
        static const uint8_t want[] = { [1] = kpCT_FUNC, [4] = kpCT_COMPONENT, [5] = kpCT_INSTANCE };
        static const uint8_t sort[] = { [1] = kpCS_FUNC, [4] = kpCS_COMPONENT, [5] = kpCS_INSTANCE };
        if ((st = kpCDec_index(d, r, sc, kpCS_TYPE, &id)) != KAPSUL_OK) return st;
        const kpCType *t = kpComponent_resolve(d->c, id);
        if (t->kind != want[b])
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "%s import or export needs a %s type",
                               kpC_sortName(sort[b]), kpC_sortName(sort[b]));
        *ext = (kpCExtern){ .sort = sort[b], .type = (uint32_t)(t - d->c->types.v) };
        return KAPSUL_OK;
    }
    case 0x02:
        if (!kpRead_u8(r, &x)) return kpCDec_readerFail(d, r);
        ext->sort = kpCS_VALUE;
        if (x == 0x00) return kpCDec_index(d, r, sc, kpCS_VALUE, &id);
        if (x == 0x01) return valtype(d, r, sc, &ext->val);
        return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at + 1, "malformed value bound");
    case 0x03:
        if (!kpRead_u8(r, &x)) return kpCDec_readerFail(d, r);
        ext->sort = kpCS_TYPE;
        if (x == 0x00) {
            if ((st = kpCDec_index(d, r, sc, kpCS_TYPE, &id)) != KAPSUL_OK) return st;
            return kpCDec_namedType(d, name, len, id, at, &ext->type);
        }
        if (x == 0x01) {
            kpCType t = { .kind = kpCT_ABSTRACT, .name = name, .name_len = len, .depth = 1 };
            return kpCDec_newType(d, &t, at, &ext->type);
        }
        return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at + 1, "malformed type bound");
    default: return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "malformed extern kind 0x%02x", b);
    }
}

/* ---- Component and instance types ------------------------------------------------------------- */

/* One declaration of a component type (with imports) or an instance type. */
static kapsul_status decl(kpCDec *d, kpReader *r, kpCScope *sc) {
    size_t at = kpRead_offset(r);
    uint8_t b;
    const char *name;
    uint32_t len;
    kpCExtern ext;
    kapsul_status st;
    if (!kpRead_u8(r, &b)) return kpCDec_readerFail(d, r);
    switch (b) {
    case 0x00: return kpCDec_coreTypeItem(d, r, sc);
    case 0x01: return kpCDec_typeItem(d, r, sc);
    case 0x02: return kpCDec_alias(d, r, sc);
    case 0x03:
    case 0x04:
        if (b == 0x03 && sc->kind != kpCScope_COMPONENT_TYPE)
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "import declaration in an instance type");
        if ((st = kpCDec_externName(d, r, &name, &len)) != KAPSUL_OK) return st;
        if ((st = kpCDec_externDesc(d, r, sc, name, len, &ext)) != KAPSUL_OK) return st;
        if ((st = kpCDec_addDecl(d, sc->decls, b == 0x03, name, len, &ext)) != KAPSUL_OK) return st;
        return kpCDec_push(d, sc, (kpCSort)ext.sort, ext.type, at);
    default: return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "malformed declaration 0x%02x", b);
    }
}

/* componenttype ::= 0x41 vec(componentdecl), instancetype ::= 0x42 vec(instancedecl), each with
 * index spaces of its own and outer aliases into the enclosing scopes. */
static kapsul_status scope_type(kpCDec *d, kpReader *r, kpCScope *sc, kpCType *t, size_t at) {
    if (d->nesting >= KP_MAX_COMPONENT_NESTING)
        return kpCDec_fail(d, KAPSUL_ERR_LIMIT, at, "types nested too deeply (limit %u)",
                           KP_MAX_COMPONENT_NESTING);
    kpCScope inner = { .parent = sc,
                       .kind = t->kind == kpCT_COMPONENT ? kpCScope_COMPONENT_TYPE : kpCScope_INSTANCE_TYPE };
    uint32_t n;
    kapsul_status st = kpCDec_newDecls(d, &inner.decls);
    if (st == KAPSUL_OK) st = kpCDec_count(d, r, 1, "declarations", &n);
    d->nesting++;
    for (uint32_t i = 0; st == KAPSUL_OK && i < n; i++) st = decl(d, r, &inner);
    d->nesting--;
    if (st == KAPSUL_OK) st = kpCDec_finishDecls(d, inner.decls, at);
    t->decls = inner.decls;
    for (int s = 0; s < kpCS_COUNT; s++) kpVec_free(&inner.sp[s]);
    return st;
}

/* type ::= defvaltype | functype | componenttype | instancetype | resourcetype */
kapsul_status kpCDec_typeItem(kpCDec *d, kpReader *r, kpCScope *sc) {
    size_t at = kpRead_offset(r);
    uint8_t b;
    uint32_t id;
    kpCType t = { .depth = 1 };
    kapsul_status st = KAPSUL_OK;
    if (!kpRead_u8(r, &b)) return kpCDec_readerFail(d, r);
    if (kpC_isPrim(b)) {
        t.kind = kpCT_PRIM;
        t.a.prim = b;
    } else {
        switch (b) {
        case 0x72: t.kind = kpCT_RECORD, st = items(d, r, sc, &t, ITEMS_LABELED, "record field", at); break;
        case 0x71: t.kind = kpCT_VARIANT, st = items(d, r, sc, &t, ITEMS_CASES, "variant case", at); break;
        case 0x70:
            t.kind = kpCT_LIST;
            if ((st = valtype(d, r, sc, &t.a)) == KAPSUL_OK) note(d, &t, t.a);
            break;
        case 0x6f: t.kind = kpCT_TUPLE, st = items(d, r, sc, &t, ITEMS_TYPES, "tuple", at); break;
        case 0x6e: t.kind = kpCT_FLAGS, st = items(d, r, sc, &t, ITEMS_LABELS, "flag", at); break;
        case 0x6d: t.kind = kpCT_ENUM, st = items(d, r, sc, &t, ITEMS_LABELS, "enum case", at); break;
        case 0x6b:
            t.kind = kpCT_OPTION;
            if ((st = valtype(d, r, sc, &t.a)) == KAPSUL_OK) note(d, &t, t.a);
            break;
        case 0x6a:
            t.kind = kpCT_RESULT;
            st = opt_valtype(d, r, sc, &t.has_a, &t.a);
            if (st == KAPSUL_OK) st = opt_valtype(d, r, sc, &t.has_b, &t.b);
            if (st == KAPSUL_OK && t.has_a) note(d, &t, t.a);
            if (st == KAPSUL_OK && t.has_b) note(d, &t, t.b);
            break;
        case 0x69: t.kind = kpCT_OWN, st = handle(d, r, sc, &t); break;
        case 0x68: t.kind = kpCT_BORROW, st = handle(d, r, sc, &t); break;
        case 0x40: t.kind = kpCT_FUNC, st = functype(d, r, sc, &t, at); break;
        case 0x41: t.kind = kpCT_COMPONENT, st = scope_type(d, r, sc, &t, at); break;
        case 0x42: t.kind = kpCT_INSTANCE, st = scope_type(d, r, sc, &t, at); break;
        case 0x3f: {
            uint8_t rep, has;
            uint32_t dtor = 0;
            t.kind = kpCT_RESOURCE;
            if (sc->kind != kpCScope_COMPONENT)
                return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "resource type defined inside a type");
            if (!kpRead_u8(r, &rep) || !kpRead_u8(r, &has)) return kpCDec_readerFail(d, r);
            if (rep != 0x7f)
                return kpCDec_fail(d, KAPSUL_ERR_INVALID, at + 1, "resource representation must be i32");
            if (has > 1) return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at + 2, "malformed resource destructor");
            if (has) {
                size_t dat = kpRead_offset(r);
                if (!kpRead_u32(r, &dtor)) return kpCDec_readerFail(d, r);
                if (dtor >= sc->sp[kpCS_CORE_FUNC].n)
                    return kpCDec_fail(d, KAPSUL_ERR_INVALID, dat, "unknown core func %u", dtor);
                t.target = dtor + 1;
            }
            break;
        }
        case 0x67:
        case 0x66:
        case 0x65:
        case 0x64:
        case 0x3e:
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, at,
                               "type 0x%02x (fixed-length lists, async) is not supported", b);
        default: return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "malformed type 0x%02x", b);
        }
    }
    if (st != KAPSUL_OK) {
        kp_free(t.fields);
        return st;
    }
    if ((st = kpCDec_newType(d, &t, at, &id)) != KAPSUL_OK) return st;
    return kpCDec_push(d, sc, kpCS_TYPE, id, at);
}
