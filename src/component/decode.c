/*
 * decode.c -- the component decoder: sections, index spaces, instances, aliases, canonical
 * definitions, imports and exports (type definitions are in types.c).
 *
 * Decoding and structural validation are one pass: the component model builds its index spaces
 * incrementally (every index refers to something defined before it), so each use is checked when
 * it is read, against the scope's index spaces as they are at that point. A scope is a component,
 * a component type or an instance type; outer aliases look into enclosing scopes. Counts are
 * checked against the remaining bytes before anything is allocated for them, then against the
 * limits of config.h, as the module decoder does; nesting costs one C frame per level and stops at
 * KP_MAX_COMPONENT_NESTING.
 */
#include "component/cint.h"

static const uint8_t preamble[8] = { 0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00 };

bool kpComponent_is(const uint8_t *bytes, size_t len) { return len >= 8 && memcmp(bytes, preamble, 8) == 0; }

bool kpComponent_isAnyVersion(const uint8_t *bytes, size_t len) {
    return len >= 8 && memcmp(bytes, preamble, 4) == 0 && bytes[6] == 0x01 && bytes[7] == 0x00;
}

const char *kpC_sortName(kpCSort s) {
    static const char *const names[kpCS_COUNT] = {
        "core func",     "core table", "core memory", "core global", "core type", "core module",
        "core instance", "func",       "value",       "type",        "component", "instance",
    };
    return (unsigned)s < kpCS_COUNT ? names[s] : "unknown";
}

/* ---- Errors ------------------------------------------------------------------------------------ */

kapsul_status kpCDec_readerFail(kpCDec *d, const kpReader *r) {
    return kpError_set(d->err, KAPSUL_ERR_MALFORMED, r->error_pos, "%s",
                       r->error ? r->error : "unexpected end");
}

kapsul_status kpCDec_fail(kpCDec *d, kapsul_status code, size_t offset, const char *fmt, ...) {
    if (d->err) {
        kpError_clear(d->err);
        d->err->code = code;
        d->err->offset = offset;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err->message, sizeof d->err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

kapsul_status kpCDec_nomem(kpCDec *d) { return kpError_set(d->err, KAPSUL_ERR_NOMEM, 0, "out of memory"); }

bool kpCDec_countFits(kpReader *r, uint32_t count, size_t min_bytes) {
    if ((uint64_t)count * min_bytes <= (size_t)(r->end - r->p)) return true;
    return kpRead_fail(r, "unexpected end");
}

/* A vector length: it must fit the bytes left (min_bytes per item) and the item limit. */
kapsul_status kpCDec_count(kpCDec *d, kpReader *r, size_t min_bytes, const char *what, uint32_t *n) {
    size_t at = kpRead_offset(r);
    if (!kpRead_u32(r, n) || !kpCDec_countFits(r, *n, min_bytes)) return kpCDec_readerFail(d, r);
    if (*n > KP_MAX_COMPONENT_ITEMS)
        return kpCDec_fail(d, KAPSUL_ERR_LIMIT, at, "too many %s (%u, limit %u)", what, *n,
                           KP_MAX_COMPONENT_ITEMS);
    return KAPSUL_OK;
}

/* ---- Index spaces ------------------------------------------------------------------------------ */

kapsul_status kpCDec_arg(kpCDec *d, const char *name, uint32_t len, kpCSort sort, uint32_t index) {
    kpComponent *c = d->c;
    if (kpVec_grow(&c->args) != 0) return kpCDec_nomem(d);
    if (d->op.nargs == 0) d->op.args = (uint32_t)c->args.n;
    c->args.v[c->args.n++] = (kpCOpArg){ name, len, (uint8_t)sort, index };
    d->op.nargs++;
    return KAPSUL_OK;
}

/* The pending op goes to the scope's program (component scopes only); a push nobody described is
 * a definition whose value is the payload. The pending op is reset either way. */
kapsul_status kpCDec_record(kpCDec *d, kpCScope *sc, uint8_t sort, uint32_t payload) {
    kpCOp op = d->op;
    d->op = (kpCOp){ 0 };
    if (sc->kind != kpCScope_COMPONENT) return KAPSUL_OK;
    kpCProgram *pr = &d->c->programs.v[sc->program];
    if (kpVec_grow(&pr->ops) != 0) return kpCDec_nomem(d);
    op.sort = sort;
    if (op.kind == kpCOP_DEF) op.type = payload;
    pr->ops.v[pr->ops.n++] = op;
    return KAPSUL_OK;
}

kapsul_status kpCDec_push(kpCDec *d, kpCScope *sc, kpCSort sort, uint32_t payload, size_t at) {
    kapsul_status st = kpCDec_record(d, sc, (uint8_t)sort, payload);
    if (st != KAPSUL_OK) return st;
    if (sc->sp[sort].n >= KP_MAX_COMPONENT_ITEMS)
        return kpCDec_fail(d, KAPSUL_ERR_LIMIT, at, "too many %ss (limit %u)", kpC_sortName(sort),
                           KP_MAX_COMPONENT_ITEMS);
    if (kpVec_grow(&sc->sp[sort]) != 0) return kpCDec_nomem(d);
    sc->sp[sort].v[sc->sp[sort].n++] = payload;
    return KAPSUL_OK;
}

/* Read an index into sort's space of sc; *payload gets what the space holds there. */
kapsul_status kpCDec_index(kpCDec *d, kpReader *r, kpCScope *sc, kpCSort sort, uint32_t *payload) {
    size_t at = kpRead_offset(r);
    uint32_t i;
    if (!kpRead_u32(r, &i)) return kpCDec_readerFail(d, r);
    if (i >= sc->sp[sort].n)
        return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "unknown %s %u: %zu defined", kpC_sortName(sort), i,
                           sc->sp[sort].n);
    *payload = sc->sp[sort].v[i];
    d->last = i;
    return KAPSUL_OK;
}

/* sort ::= 0x00 core:sort | 0x01 func | 0x02 value | 0x03 type | 0x04 component | 0x05 instance */
kapsul_status kpCDec_sort(kpCDec *d, kpReader *r, kpCSort *out) {
    size_t at = kpRead_offset(r);
    uint8_t b;
    if (!kpRead_u8(r, &b)) return kpCDec_readerFail(d, r);
    if (b == 0x00) return kpCDec_coreSort(d, r, out);
    if (b >= 0x01 && b <= 0x05) {
        static const kpCSort map[] = { 0, kpCS_FUNC, kpCS_VALUE, kpCS_TYPE, kpCS_COMPONENT, kpCS_INSTANCE };
        *out = map[b];
        return KAPSUL_OK;
    }
    return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "malformed sort 0x%02x", b);
}

/* core:sort ::= 0x00 func | 0x01 table | 0x02 memory | 0x03 global | 0x10 type | 0x11 module |
 * 0x12 instance */
kapsul_status kpCDec_coreSort(kpCDec *d, kpReader *r, kpCSort *out) {
    size_t at = kpRead_offset(r);
    uint8_t b;
    if (!kpRead_u8(r, &b)) return kpCDec_readerFail(d, r);
    if (b <= 0x03) *out = (kpCSort)(kpCS_CORE_FUNC + b);
    else if (b >= 0x10 && b <= 0x12) *out = (kpCSort)(kpCS_CORE_TYPE + (b - 0x10));
    else return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "malformed core sort 0x%02x", b);
    return KAPSUL_OK;
}

/* ---- Names ------------------------------------------------------------------------------------- */

kapsul_status kpCDec_name(kpCDec *d, kpReader *r, const char **name, uint32_t *len) {
    if (!kpRead_name(r, name, len)) return kpCDec_readerFail(d, r);
    return KAPSUL_OK;
}

/* importname' / exportname' ::= 0x00 name | 0x01 name (0x01: the older "interface" form). */
kapsul_status kpCDec_externName(kpCDec *d, kpReader *r, const char **name, uint32_t *len) {
    size_t at = kpRead_offset(r);
    uint8_t b;
    if (!kpRead_u8(r, &b)) return kpCDec_readerFail(d, r);
    if (b > 0x01)
        return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "malformed import or export name prefix 0x%02x", b);
    kapsul_status st = kpCDec_name(d, r, name, len);
    if (st == KAPSUL_OK && *len == 0)
        return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "empty import or export name");
    /* No form of the name grammar (labels, interface names, URLs, hashes) has a control
     * character; the full grammar is not checked yet. */
    for (uint32_t i = 0; st == KAPSUL_OK && i < *len; i++)
        if ((unsigned char)(*name)[i] < 0x20 || (*name)[i] == 0x7f)
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "import or export name with a control character");
    return st;
}

static uint32_t name_hash(const char *s, uint32_t len, bool fold) {
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (fold && c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        h = (h ^ c) * 16777619u;
    }
    return h;
}

static bool name_eq(const char *a, uint32_t alen, const char *b, uint32_t blen, bool fold) {
    if (alen != blen) return false;
    if (!fold) return memcmp(a, b, alen) == 0;
    for (uint32_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z') y = (unsigned char)(y + 32);
        if (x != y) return false;
    }
    return true;
}

/* The name of element i of an array whose elements begin with { const char *name; uint32_t len }. */
typedef struct named {
    const char *name;
    uint32_t name_len;
} named;
static const named *named_at(const void *base, size_t stride, uint32_t i) {
    return (const named *)((const uint8_t *)base + (size_t)i * stride);
}

/* Build an open-addressing table of the n names (index + 1 per slot); *dup gets the index of the
 * first name equal to an earlier one (ASCII case folded when fold), or UINT32_MAX. */
static int build_hash(const void *base, size_t stride, uint32_t n, bool fold, uint32_t **table, uint32_t *cap,
                      uint32_t *dup) {
    *dup = UINT32_MAX;
    uint32_t c = 8;
    while (c < 2u * n) c <<= 1;
    uint32_t *t = kp_calloc(c, sizeof *t);
    if (!t) return -1;
    for (uint32_t i = 0; i < n; i++) {
        const named *e = named_at(base, stride, i);
        if (!e->name) continue;
        uint32_t h = name_hash(e->name, e->name_len, fold) & (c - 1);
        for (; t[h]; h = (h + 1) & (c - 1)) {
            const named *o = named_at(base, stride, t[h] - 1);
            if (name_eq(o->name, o->name_len, e->name, e->name_len, fold) && *dup == UINT32_MAX) *dup = i;
        }
        t[h] = i + 1;
    }
    *table = t;
    *cap = c;
    return 0;
}

kapsul_status kpCDec_unique(kpCDec *d, const void *base, size_t stride, uint32_t n, bool fold,
                            const char *what, size_t at) {
    if (n < 2) return KAPSUL_OK;
    uint32_t *t, cap, dup;
    if (build_hash(base, stride, n, fold, &t, &cap, &dup) != 0) return kpCDec_nomem(d);
    kp_free(t);
    if (dup == UINT32_MAX) return KAPSUL_OK;
    const named *e = named_at(base, stride, dup);
    return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "duplicate %s name \"%.*s\"", what, (int)e->name_len,
                       e->name);
}

/* Check a finished scope's names and index its exports by name. */
kapsul_status kpCDec_finishDecls(kpCDec *d, uint32_t decls, size_t at) {
    kpCDecls *ds = &d->c->decls.v[decls];
    kapsul_status st =
        kpCDec_unique(d, ds->imports.v, sizeof(kpCDecl), (uint32_t)ds->imports.n, false, "import", at);
    if (st != KAPSUL_OK) return st;
    uint32_t dup;
    if (build_hash(ds->exports.v, sizeof(kpCDecl), (uint32_t)ds->exports.n, false, &ds->hash, &ds->hcap,
                   &dup) != 0)
        return kpCDec_nomem(d);
    if (dup != UINT32_MAX) {
        const kpCDecl *e = &ds->exports.v[dup];
        return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "duplicate export name \"%.*s\"", (int)e->name_len,
                           e->name);
    }
    return KAPSUL_OK;
}

const kpCDecl *kpCDecls_find(const kpCDecls *ds, const char *name, uint32_t len) {
    if (!ds->hash) return NULL;
    for (uint32_t h = name_hash(name, len, false) & (ds->hcap - 1); ds->hash[h];
         h = (h + 1) & (ds->hcap - 1)) {
        const kpCDecl *e = &ds->exports.v[ds->hash[h] - 1];
        if (name_eq(e->name, e->name_len, name, len, false)) return e;
    }
    return NULL;
}

kapsul_status kpCDec_newDecls(kpCDec *d, uint32_t *out) {
    if (kpVec_grow(&d->c->decls) != 0) return kpCDec_nomem(d);
    d->c->decls.v[d->c->decls.n] = (kpCDecls){ 0 };
    *out = (uint32_t)d->c->decls.n++;
    return KAPSUL_OK;
}

kapsul_status kpCDec_addDecl(kpCDec *d, uint32_t decls, bool import, const char *name, uint32_t len,
                             const kpCExtern *ext) {
    kpCDecls *ds = &d->c->decls.v[decls];
    if (import) {
        if (kpVec_grow(&ds->imports) != 0) return kpCDec_nomem(d);
        ds->imports.v[ds->imports.n++] = (kpCDecl){ name, len, *ext };
    } else {
        if (kpVec_grow(&ds->exports) != 0) return kpCDec_nomem(d);
        ds->exports.v[ds->exports.n++] = (kpCDecl){ name, len, *ext };
    }
    return KAPSUL_OK;
}

/* ---- Core modules and core instances ----------------------------------------------------------- */

kapsul_status kpCDec_newCoreExports(kpCDec *d, uint32_t *out) {
    if (kpVec_grow(&d->c->cexports) != 0) return kpCDec_nomem(d);
    d->c->cexports.v[d->c->cexports.n] = (kpCCoreExports){ 0 };
    *out = (uint32_t)d->c->cexports.n++;
    return KAPSUL_OK;
}

kapsul_status kpCDec_addCoreExport(kpCDec *d, uint32_t list, const char *name, uint32_t len, kpCSort sort,
                                   uint32_t sig) {
    kpCCoreExports *l = &d->c->cexports.v[list];
    if (kpVec_grow(&l->e) != 0) return kpCDec_nomem(d);
    l->e.v[l->e.n++] = (kpCCoreExport){ name, len, (uint8_t)sort, sig };
    return KAPSUL_OK;
}

/* Index a finished core export list by name; names must be unique. */
kapsul_status kpCDec_finishCoreExports(kpCDec *d, uint32_t list, size_t at) {
    kpCCoreExports *l = &d->c->cexports.v[list];
    uint32_t dup;
    if (build_hash(l->e.v, sizeof(kpCCoreExport), (uint32_t)l->e.n, false, &l->hash, &l->hcap, &dup) != 0)
        return kpCDec_nomem(d);
    if (dup == UINT32_MAX) return KAPSUL_OK;
    return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "duplicate core export name \"%.*s\"",
                       (int)l->e.v[dup].name_len, l->e.v[dup].name);
}

kapsul_status kpCDec_newSig(kpCDec *d, uint32_t np, uint32_t nr, const uint8_t *types, uint32_t *out) {
    kpComponent *c = d->c;
    if (c->sigs.n >= (size_t)KP_MAX_COMPONENT_ITEMS)
        return kpCDec_fail(d, KAPSUL_ERR_LIMIT, 0, "too many core functions (limit %u)",
                           KP_MAX_COMPONENT_ITEMS);
    uint8_t *t = kp_malloc((size_t)np + nr + 1);
    if (!t || kpVec_grow(&c->sigs) != 0) {
        kp_free(t);
        return kpCDec_nomem(d);
    }
    memcpy(t, types, (size_t)np + nr);
    c->sigs.v[c->sigs.n] = (kpCSig){ np, nr, t };
    *out = (uint32_t)c->sigs.n++;
    return KAPSUL_OK;
}

static bool sig_is(const kpCSig *s, uint32_t np, const uint8_t *params, uint32_t nr, const uint8_t *results) {
    return s->np == np && s->nr == nr && memcmp(s->t, params, np) == 0 && memcmp(s->t + np, results, nr) == 0;
}

/* section_1: one core module, decoded and validated by the module layer. Its exports become a
 * core export list; its model is kept for instantiation. */
static kapsul_status core_module(kpCDec *d, kpCScope *sc, const uint8_t *p, size_t len) {
    size_t at = (size_t)(p - d->c->bytes);
    if (kpVec_grow(&d->c->modules) != 0) return kpCDec_nomem(d);
    kpModule *m = NULL;
    kapsul_status st = kpDecode_module(p, len, &m, d->err);
    if (st == KAPSUL_OK) st = kpValidate_module(m, d->err);
    if (st != KAPSUL_OK) {
        kpModule_free(m);
        if (d->err) {
            char msg[sizeof d->err->message];
            memcpy(msg, d->err->message, sizeof msg);
            msg[200] = '\0'; /* room for the prefix */
            snprintf(d->err->message, sizeof d->err->message, "core module at 0x%zx: %.200s", at, msg);
            d->err->offset += at;
        }
        return st;
    }
    d->c->modules.v[d->c->modules.n++] = (kpCModule){ m, at, len };
    uint32_t list;
    if ((st = kpCDec_newCoreExports(d, &list)) != KAPSUL_OK) return st;
    d->c->cexports.v[list].module = m;
    for (uint32_t i = 0; i < m->nexports; i++) {
        const kpExport *e = &m->exports[i];
        uint32_t sig = 0;
        if (e->kind == kpExtern_FUNC) {
            const kpFuncType *ft = kpModule_funcType(m, e->index);
            if ((st = kpCDec_newSig(d, ft->nparams, ft->nresults, ft->types, &sig)) != KAPSUL_OK) return st;
        }
        st = kpCDec_addCoreExport(d, list, e->name, e->name_len, (kpCSort)(kpCS_CORE_FUNC + e->kind), sig);
        if (st != KAPSUL_OK) return st;
    }
    if ((st = kpCDec_finishCoreExports(d, list, at)) != KAPSUL_OK) return st;
    d->op = (kpCOp){ .kind = kpCOP_CORE_MODULE, .a = (uint32_t)d->c->modules.n - 1, .type = list };
    return kpCDec_push(d, sc, kpCS_CORE_MODULE, list, at);
}

const kpCCoreExport *kpCCoreExports_find(const kpCCoreExports *l, const char *name, uint32_t len) {
    if (!l->hash) return NULL;
    for (uint32_t h = name_hash(name, len, false) & (l->hcap - 1); l->hash[h]; h = (h + 1) & (l->hcap - 1)) {
        const kpCCoreExport *e = &l->e.v[l->hash[h] - 1];
        if (name_eq(e->name, e->name_len, name, len, false)) return e;
    }
    return NULL;
}

/* One core instantiation argument: the name and the instance's export list. */
typedef struct carg {
    const char *name;
    uint32_t name_len;
    uint32_t list;
} carg;

/* A defined module's imports against the instantiation arguments: every import's module name
 * must be an argument whose instance exports the field with the same sort, and a function with
 * the same signature. (Tables, memories and globals are type-checked when the runtime links.) */
static kapsul_status check_core_args(kpCDec *d, const kpModule *m, const carg *args, uint32_t n, size_t at) {
    uint32_t *t = NULL, cap, dup;
    if (build_hash(args, sizeof *args, n, false, &t, &cap, &dup) != 0) return kpCDec_nomem(d);
    kapsul_status st = KAPSUL_OK;
    if (dup != UINT32_MAX)
        st = kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "duplicate instantiation argument \"%.*s\"",
                         (int)args[dup].name_len, args[dup].name);
    for (uint32_t i = 0; st == KAPSUL_OK && i < m->nimports; i++) {
        const kpImport *im = &m->imports[i];
        const carg *a = NULL;
        for (uint32_t h = name_hash(im->module, im->module_len, false) & (cap - 1); t[h];
             h = (h + 1) & (cap - 1))
            if (name_eq(args[t[h] - 1].name, args[t[h] - 1].name_len, im->module, im->module_len, false)) {
                a = &args[t[h] - 1];
                break;
            }
        if (!a) {
            st = kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "missing instantiation argument \"%.*s\"",
                             (int)im->module_len, im->module);
            break;
        }
        const kpCCoreExport *e = kpCCoreExports_find(&d->c->cexports.v[a->list], im->name, im->name_len);
        if (!e || e->sort != kpCS_CORE_FUNC + im->kind) {
            st = kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "instantiation argument \"%.*s\" has no %s \"%.*s\"",
                             (int)im->module_len, im->module,
                             kpC_sortName((kpCSort)(kpCS_CORE_FUNC + im->kind)), (int)im->name_len, im->name);
            break;
        }
        if (im->kind == kpExtern_FUNC) {
            const kpFuncType *ft = &m->types[im->desc.func_type];
            if (!sig_is(&d->c->sigs.v[e->sig], ft->nparams, ft->types, ft->nresults, ft->types + ft->nparams))
                st = kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "type mismatch for import \"%.*s\" \"%.*s\"",
                                 (int)im->module_len, im->module, (int)im->name_len, im->name);
        }
    }
    kp_free(t);
    return st;
}

/* core:instance ::= 0x00 moduleidx vec(name 0x12 instanceidx) | 0x01 vec(name core:sortidx) */
static kapsul_status core_instance(kpCDec *d, kpReader *r, kpCScope *sc) {
    size_t at = kpRead_offset(r);
    uint8_t b;
    uint32_t list, n;
    kapsul_status st;
    if (!kpRead_u8(r, &b)) return kpCDec_readerFail(d, r);
    if (b == 0x00) {
        uint32_t module;
        if ((st = kpCDec_index(d, r, sc, kpCS_CORE_MODULE, &module)) != KAPSUL_OK) return st;
        d->op = (kpCOp){ .kind = kpCOP_CORE_INSTANTIATE, .a = d->last };
        if ((st = kpCDec_count(d, r, 3, "instantiation arguments", &n)) != KAPSUL_OK) return st;
        carg *args = kp_calloc(n ? n : 1, sizeof *args);
        if (!args) return kpCDec_nomem(d);
        for (uint32_t i = 0; st == KAPSUL_OK && i < n; i++) {
            uint8_t kind;
            if ((st = kpCDec_name(d, r, &args[i].name, &args[i].name_len)) != KAPSUL_OK) break;
            size_t kat = kpRead_offset(r);
            if (!kpRead_u8(r, &kind)) st = kpCDec_readerFail(d, r);
            else if (kind != 0x12)
                st = kpCDec_fail(d, KAPSUL_ERR_MALFORMED, kat,
                                 "core instantiation argument must be an instance");
            else st = kpCDec_index(d, r, sc, kpCS_CORE_INSTANCE, &args[i].list);
            if (st == KAPSUL_OK)
                st = kpCDec_arg(d, args[i].name, args[i].name_len, kpCS_CORE_INSTANCE, d->last);
        }
        const kpModule *m = d->c->cexports.v[module].module;
        if (st == KAPSUL_OK && m) st = check_core_args(d, m, args, n, at);
        kp_free(args);
        if (st != KAPSUL_OK) return st;
        return kpCDec_push(d, sc, kpCS_CORE_INSTANCE, module, at);
    }
    if (b != 0x01) return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "malformed core instance 0x%02x", b);
    if ((st = kpCDec_newCoreExports(d, &list)) != KAPSUL_OK) return st;
    d->op = (kpCOp){ .kind = kpCOP_CORE_BUNDLE, .type = list };
    if ((st = kpCDec_count(d, r, 3, "core instance exports", &n)) != KAPSUL_OK) return st;
    for (uint32_t i = 0; i < n; i++) {
        const char *name;
        uint32_t len, payload;
        kpCSort sort;
        if ((st = kpCDec_name(d, r, &name, &len)) != KAPSUL_OK) return st;
        if ((st = kpCDec_coreSort(d, r, &sort)) != KAPSUL_OK) return st;
        if ((st = kpCDec_index(d, r, sc, sort, &payload)) != KAPSUL_OK) return st;
        if ((st = kpCDec_arg(d, name, len, sort, d->last)) != KAPSUL_OK) return st;
        if ((st = kpCDec_addCoreExport(d, list, name, len, sort, payload)) != KAPSUL_OK) return st;
    }
    if ((st = kpCDec_finishCoreExports(d, list, at)) != KAPSUL_OK) return st;
    return kpCDec_push(d, sc, kpCS_CORE_INSTANCE, list, at);
}

/* ---- Aliases ----------------------------------------------------------------------------------- */

/* alias ::= sort (0x00 instanceidx name | 0x01 core:instanceidx name | 0x02 ct idx). The new
 * index holds what the target holds: export aliases of types reuse the exported type's id, so a
 * resource keeps its identity however it is reached. */
kapsul_status kpCDec_alias(kpCDec *d, kpReader *r, kpCScope *sc) {
    size_t at = kpRead_offset(r);
    kpCSort sort;
    uint8_t target;
    kapsul_status st;
    if ((st = kpCDec_sort(d, r, &sort)) != KAPSUL_OK) return st;
    if (!kpRead_u8(r, &target)) return kpCDec_readerFail(d, r);
    if (target == 0x00) {
        uint32_t inst, len;
        const char *name;
        if ((st = kpCDec_index(d, r, sc, kpCS_INSTANCE, &inst)) != KAPSUL_OK) return st;
        uint32_t idx = d->last;
        if ((st = kpCDec_name(d, r, &name, &len)) != KAPSUL_OK) return st;
        const kpCDecl *e = kpCDecls_find(&d->c->decls.v[d->c->types.v[inst].decls], name, len);
        if (!e)
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "instance has no export \"%.*s\"", (int)len, name);
        if (e->ext.sort != sort)
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "export \"%.*s\" is a %s, not a %s", (int)len, name,
                               kpC_sortName(e->ext.sort), kpC_sortName(sort));
        d->op = (kpCOp){
            .kind = kpCOP_ALIAS_EXPORT, .a = idx, .name = name, .name_len = len, .type = e->ext.type
        };
        return kpCDec_push(d, sc, sort, e->ext.type, at);
    }
    if (target == 0x01) {
        uint32_t inst, len;
        const char *name;
        if (sort > kpCS_CORE_INSTANCE)
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "core export alias of a %s", kpC_sortName(sort));
        if ((st = kpCDec_index(d, r, sc, kpCS_CORE_INSTANCE, &inst)) != KAPSUL_OK) return st;
        uint32_t idx = d->last;
        if ((st = kpCDec_name(d, r, &name, &len)) != KAPSUL_OK) return st;
        const kpCCoreExport *e = kpCCoreExports_find(&d->c->cexports.v[inst], name, len);
        if (!e)
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "core instance has no export \"%.*s\"", (int)len,
                               name);
        if (e->sort != sort)
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "core export \"%.*s\" is a %s, not a %s", (int)len,
                               name, kpC_sortName(e->sort), kpC_sortName(sort));
        d->op = (kpCOp){ .kind = kpCOP_ALIAS_CORE_EXPORT, .a = idx, .name = name, .name_len = len };
        return kpCDec_push(d, sc, sort, sort == kpCS_CORE_FUNC ? e->sig : 0, at);
    }
    if (target == 0x02) {
        uint32_t ct, idx;
        if (!kpRead_u32(r, &ct) || !kpRead_u32(r, &idx)) return kpCDec_readerFail(d, r);
        if (sort != kpCS_TYPE && sort != kpCS_CORE_TYPE && sort != kpCS_CORE_MODULE && sort != kpCS_COMPONENT)
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "outer alias of a %s", kpC_sortName(sort));
        kpCScope *o = sc;
        for (uint32_t i = 0; i < ct && o; i++) o = o->parent;
        if (!o)
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "outer alias count %u beyond the outermost scope",
                               ct);
        if (idx >= o->sp[sort].n)
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "unknown outer %s %u", kpC_sortName(sort), idx);
        uint32_t payload = o->sp[sort].v[idx];
        if (sort == kpCS_TYPE && d->c->types.v[payload].kind == kpCT_RESOURCE && ct > 0)
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "outer alias of a resource type");
        d->op = (kpCOp){ .kind = kpCOP_ALIAS_OUTER, .a = ct, .b = idx };
        return kpCDec_push(d, sc, sort, payload, at);
    }
    return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "malformed alias target 0x%02x", target);
}

/* ---- Instances --------------------------------------------------------------------------------- */

/* instance ::= 0x00 componentidx vec(name sortidx) | 0x01 vec(exportname' sortidx). An
 * instantiated component's instance type shares the component type's export list. */
static kapsul_status instance(kpCDec *d, kpReader *r, kpCScope *sc) {
    size_t at = kpRead_offset(r);
    uint8_t b;
    uint32_t n, id, decls;
    kapsul_status st;
    if (!kpRead_u8(r, &b)) return kpCDec_readerFail(d, r);
    if (b == 0x00) {
        uint32_t comp;
        if ((st = kpCDec_index(d, r, sc, kpCS_COMPONENT, &comp)) != KAPSUL_OK) return st;
        kpCOp op = { .kind = kpCOP_INSTANTIATE, .a = d->last };
        d->op = op;
        if ((st = kpCDec_count(d, r, 3, "instantiation arguments", &n)) != KAPSUL_OK) return st;
        for (uint32_t i = 0; i < n; i++) {
            const char *name;
            uint32_t len, payload;
            kpCSort sort;
            if ((st = kpCDec_name(d, r, &name, &len)) != KAPSUL_OK) return st;
            if ((st = kpCDec_sort(d, r, &sort)) != KAPSUL_OK) return st;
            if ((st = kpCDec_index(d, r, sc, sort, &payload)) != KAPSUL_OK) return st;
            if ((st = kpCDec_arg(d, name, len, sort, d->last)) != KAPSUL_OK) return st;
        }
        op = d->op;
        kpCType t = { .kind = kpCT_INSTANCE, .decls = d->c->types.v[comp].decls, .depth = 1 };
        if ((st = kpCDec_newType(d, &t, at, &id)) != KAPSUL_OK) return st;
        d->op = op;
        return kpCDec_push(d, sc, kpCS_INSTANCE, id, at);
    }
    if (b != 0x01) return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "malformed instance 0x%02x", b);
    if ((st = kpCDec_newDecls(d, &decls)) != KAPSUL_OK) return st;
    d->op = (kpCOp){ .kind = kpCOP_BUNDLE };
    if ((st = kpCDec_count(d, r, 4, "instance exports", &n)) != KAPSUL_OK) return st;
    for (uint32_t i = 0; i < n; i++) {
        const char *name;
        uint32_t len;
        kpCSort sort;
        kpCExtern ext = { 0 };
        if ((st = kpCDec_externName(d, r, &name, &len)) != KAPSUL_OK) return st;
        if ((st = kpCDec_sort(d, r, &sort)) != KAPSUL_OK) return st;
        if (sort < kpCS_FUNC && sort != kpCS_CORE_MODULE)
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "an instance cannot export a %s",
                               kpC_sortName(sort));
        ext.sort = (uint8_t)sort;
        if ((st = kpCDec_index(d, r, sc, sort, &ext.type)) != KAPSUL_OK) return st;
        if ((st = kpCDec_arg(d, name, len, sort, d->last)) != KAPSUL_OK) return st;
        if (sort == kpCS_TYPE && (st = kpCDec_namedType(d, name, len, ext.type, at, &ext.type)) != KAPSUL_OK)
            return st;
        if ((st = kpCDec_addDecl(d, decls, false, name, len, &ext)) != KAPSUL_OK) return st;
    }
    if ((st = kpCDec_finishDecls(d, decls, at)) != KAPSUL_OK) return st;
    kpCOp op = d->op;
    kpCType t = { .kind = kpCT_INSTANCE, .decls = decls, .depth = 1 };
    if ((st = kpCDec_newType(d, &t, at, &id)) != KAPSUL_OK) return st;
    d->op = op;
    d->op.type = id;
    return kpCDec_push(d, sc, kpCS_INSTANCE, id, at);
}

/* ---- Canonical definitions --------------------------------------------------------------------- */

/* The options of one canon lift or lower. */
typedef struct copts {
    bool memory, has_realloc, has_post;
    uint32_t realloc, post;               /* signatures */
    uint32_t memory_i, realloc_i, post_i; /* indices */
    uint8_t enc;
} copts;

/* opts ::= vec(canonopt); each option at most once, one string encoding. */
static kapsul_status canon_opts(kpCDec *d, kpReader *r, kpCScope *sc, copts *o) {
    static const uint8_t i32x5[5] = { kpT_I32, kpT_I32, kpT_I32, kpT_I32, kpT_I32 };
    uint32_t n, seen = 0, payload;
    kapsul_status st;
    *o = (copts){ 0 };
    if ((st = kpCDec_count(d, r, 1, "canonical options", &n)) != KAPSUL_OK) return st;
    for (uint32_t i = 0; i < n; i++) {
        size_t at = kpRead_offset(r);
        uint8_t b;
        if (!kpRead_u8(r, &b)) return kpCDec_readerFail(d, r);
        unsigned bit = b <= 0x02 ? 0 : b;
        if (b > 0x05)
            return kpCDec_fail(d, b <= 0x0a ? KAPSUL_ERR_INVALID : KAPSUL_ERR_MALFORMED, at,
                               "canonical option 0x%02x (async) is not supported", b);
        if (seen & (1u << bit)) return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "duplicate canonical option");
        seen |= 1u << bit;
        if (b <= 0x02) o->enc = b;
        if (b == 0x03) {
            if ((st = kpCDec_index(d, r, sc, kpCS_CORE_MEMORY, &payload)) != KAPSUL_OK) return st;
            o->memory = true, o->memory_i = d->last;
        }
        if (b == 0x04 || b == 0x05) {
            if ((st = kpCDec_index(d, r, sc, kpCS_CORE_FUNC, &payload)) != KAPSUL_OK) return st;
            if (b == 0x04 && !sig_is(&d->c->sigs.v[payload], 4, i32x5, 1, i32x5))
                return kpCDec_fail(d, KAPSUL_ERR_INVALID, at,
                                   "canonical realloc must be (i32 i32 i32 i32) -> i32");
            if (b == 0x04) o->has_realloc = true, o->realloc = payload, o->realloc_i = d->last;
            else o->has_post = true, o->post = payload, o->post_i = d->last;
        }
    }
    return KAPSUL_OK;
}

/* Whether any of the fields holds a string or list. */
static bool fields_ptr(const kpComponent *c, const kpCField *f, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        if (f[i].type.prim ? f[i].type.prim == kpCP_STRING : kpComponent_resolve(c, f[i].type.type)->has_ptr)
            return true;
    return false;
}

/* canon lift (core function signature `sig`) or canon lower of function type ft: the memory and
 * realloc options the type needs, then for lift the exact flattened signature (and post-return
 * taking its results), for lower the signature the new core function gets (*out). Memory is needed
 * for strings and lists and for values spilled past the flat limits; realloc where the callee
 * side must allocate (lift: parameters, lower: results). */
static kapsul_status canon_check(kpCDec *d, const kpCType *ft, bool lower, const copts *o, uint32_t sig,
                                 size_t at, uint32_t *out) {
    uint8_t p[KP_CABI_MAX_FLAT_PARAMS + 1], res[KP_CABI_MAX_FLAT_RESULTS + 1];
    uint32_t np, nr, nres = ft->n - ft->nparams, pflat = 0, rflat = 0;
    kpCabi_coreSig(d->c, ft, lower, p, &np, res, &nr);
    for (uint32_t i = 0; i < ft->nparams; i++) pflat += kpCabi_flatten(d->c, ft->fields[i].type, NULL, 0);
    for (uint32_t i = ft->nparams; i < ft->n; i++) rflat += kpCabi_flatten(d->c, ft->fields[i].type, NULL, 0);
    bool params_ptr = fields_ptr(d->c, ft->fields, ft->nparams);
    bool results_ptr = fields_ptr(d->c, ft->fields + ft->nparams, nres);
    bool spill = pflat > KP_CABI_MAX_FLAT_PARAMS || rflat > KP_CABI_MAX_FLAT_RESULTS;
    const char *what = lower ? "lower" : "lift";
    if ((params_ptr || results_ptr || spill) && !o->memory)
        return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "canon %s needs a memory option", what);
    if ((lower ? results_ptr : params_ptr || pflat > KP_CABI_MAX_FLAT_PARAMS) && !o->has_realloc)
        return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "canon %s needs a realloc option", what);
    if (lower) {
        if (o->has_post) return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "post-return is only for canon lift");
        uint8_t all[KP_CABI_MAX_FLAT_PARAMS + KP_CABI_MAX_FLAT_RESULTS + 2];
        memcpy(all, p, np), memcpy(all + np, res, nr);
        return kpCDec_newSig(d, np, nr, all, out);
    }
    if (!sig_is(&d->c->sigs.v[sig], np, p, nr, res))
        return kpCDec_fail(d, KAPSUL_ERR_INVALID, at,
                           "canon lift: the core function's type is not the flattened type");
    if (o->has_post && !sig_is(&d->c->sigs.v[o->post], nr, res, 0, res))
        return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "post-return must take the lifted function's results");
    return KAPSUL_OK;
}

/* canon ::= 0x00 0x00 core:funcidx opts typeidx (lift) | 0x01 0x00 funcidx opts (lower) |
 * 0x02 / 0x03 / 0x04 typeidx (resource.new / drop / rep). The async and thread built-ins of
 * newer binaries are refused by name. */
static kapsul_status canon(kpCDec *d, kpReader *r, kpCScope *sc) {
    static const uint8_t i32x2[2] = { kpT_I32, kpT_I32 };
    size_t at = kpRead_offset(r);
    uint8_t b, z;
    uint32_t payload, ft, sig;
    copts o;
    kapsul_status st;
    if (!kpRead_u8(r, &b)) return kpCDec_readerFail(d, r);
    switch (b) {
    case 0x00:
    case 0x01:
        if (!kpRead_u8(r, &z)) return kpCDec_readerFail(d, r);
        if (z != 0x00)
            return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at + 1, "canon lift/lower of a non-function");
        if ((st = kpCDec_index(d, r, sc, b == 0x00 ? kpCS_CORE_FUNC : kpCS_FUNC, &payload)) != KAPSUL_OK)
            return st;
        uint32_t fidx = d->last;
        if ((st = canon_opts(d, r, sc, &o)) != KAPSUL_OK) return st;
        kpCOp op = { .a = fidx,
                     .enc = o.enc,
                     .has_memory = o.memory,
                     .has_realloc = o.has_realloc,
                     .has_post = o.has_post,
                     .memory = o.memory_i,
                     .realloc = o.realloc_i,
                     .post = o.post_i };
        if (b == 0x01) {
            if ((st = canon_check(d, kpComponent_resolve(d->c, payload), true, &o, 0, at, &sig)) != KAPSUL_OK)
                return st;
            op.kind = kpCOP_LOWER, op.type = payload, op.b = sig;
            d->op = op;
            return kpCDec_push(d, sc, kpCS_CORE_FUNC, sig, at);
        }
        size_t tat = kpRead_offset(r);
        if ((st = kpCDec_index(d, r, sc, kpCS_TYPE, &ft)) != KAPSUL_OK) return st;
        if (kpComponent_resolve(d->c, ft)->kind != kpCT_FUNC)
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, tat, "canon lift needs a function type");
        if ((st = canon_check(d, kpComponent_resolve(d->c, ft), false, &o, payload, at, &sig)) != KAPSUL_OK)
            return st;
        op.kind = kpCOP_LIFT, op.type = ft;
        d->op = op;
        return kpCDec_push(d, sc, kpCS_FUNC, ft, at);
    case 0x02:
    case 0x03:
    case 0x04: {
        size_t tat = kpRead_offset(r);
        if ((st = kpCDec_index(d, r, sc, kpCS_TYPE, &payload)) != KAPSUL_OK) return st;
        uint32_t tidx = d->last;
        uint8_t kind = kpComponent_resolve(d->c, payload)->kind;
        if (kind != kpCT_RESOURCE && (b != 0x03 || kind != kpCT_ABSTRACT))
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, tat, "canon resource.%s needs a resource %s",
                               b == 0x02   ? "new"
                               : b == 0x03 ? "drop"
                                           : "rep",
                               b == 0x03 ? "type" : "this component defines");
        /* new: (i32) -> i32, drop: (i32) -> (), rep: (i32) -> i32 */
        if ((st = kpCDec_newSig(d, 1, b == 0x03 ? 0 : 1, i32x2, &sig)) != KAPSUL_OK) return st;
        d->op = (kpCOp){ .kind = (uint8_t)(kpCOP_RESOURCE_NEW + (b - 0x02)),
                         .a = tidx,
                         .type = (uint32_t)(kpComponent_resolve(d->c, payload) - d->c->types.v) };
        return kpCDec_push(d, sc, kpCS_CORE_FUNC, sig, at);
    }
    default:
        return kpCDec_fail(d, KAPSUL_ERR_INVALID, at,
                           "canonical built-in 0x%02x (async, threads) is not supported", b);
    }
}

/* ---- Imports, exports, start ------------------------------------------------------------------- */

static kapsul_status import(kpCDec *d, kpReader *r, kpCScope *sc) {
    size_t at = kpRead_offset(r);
    const char *name;
    uint32_t len;
    kpCExtern ext;
    kapsul_status st;
    if ((st = kpCDec_externName(d, r, &name, &len)) != KAPSUL_OK) return st;
    if ((st = kpCDec_externDesc(d, r, sc, name, len, &ext)) != KAPSUL_OK) return st;
    if ((st = kpCDec_addDecl(d, sc->decls, true, name, len, &ext)) != KAPSUL_OK) return st;
    d->op = (kpCOp){ .kind = kpCOP_IMPORT, .name = name, .name_len = len, .type = ext.type };
    return kpCDec_push(d, sc, (kpCSort)ext.sort, ext.type, at);
}

/* export ::= exportname' sortidx externdesc? -- the export is also a new index, holding the
 * ascribed type when there is one. */
static kapsul_status export(kpCDec *d, kpReader *r, kpCScope *sc) {
    size_t at = kpRead_offset(r);
    const char *name;
    uint32_t len;
    kpCSort sort;
    kpCExtern ext = { 0 };
    uint8_t has;
    kapsul_status st;
    if ((st = kpCDec_externName(d, r, &name, &len)) != KAPSUL_OK) return st;
    if ((st = kpCDec_sort(d, r, &sort)) != KAPSUL_OK) return st;
    if (sort < kpCS_FUNC && sort != kpCS_CORE_MODULE)
        return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "a component cannot export a %s", kpC_sortName(sort));
    ext.sort = (uint8_t)sort;
    if ((st = kpCDec_index(d, r, sc, sort, &ext.type)) != KAPSUL_OK) return st;
    uint32_t idx = d->last;
    size_t dat = kpRead_offset(r);
    if (!kpRead_u8(r, &has)) return kpCDec_readerFail(d, r);
    if (has > 0x01) return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, dat, "malformed optional export type");
    if (has) {
        kpCExtern asc;
        if ((st = kpCDec_externDesc(d, r, sc, name, len, &asc)) != KAPSUL_OK) return st;
        if (asc.sort != sort)
            return kpCDec_fail(d, KAPSUL_ERR_INVALID, dat, "export type is a %s, the export a %s",
                               kpC_sortName(asc.sort), kpC_sortName(sort));
        if (sort != kpCS_TYPE) ext.type = asc.type;
    }
    if (sort == kpCS_TYPE && (st = kpCDec_namedType(d, name, len, ext.type, at, &ext.type)) != KAPSUL_OK)
        return st;
    if ((st = kpCDec_addDecl(d, sc->decls, false, name, len, &ext)) != KAPSUL_OK) return st;
    d->op = (kpCOp){ .kind = kpCOP_EXPORT, .a = idx, .name = name, .name_len = len, .type = ext.type };
    return kpCDec_push(d, sc, sort, ext.type, at);
}

/* start ::= funcidx vec(valueidx) u32 -- values are not supported, so neither arguments nor
 * results can be used, but the encoding is checked. */
static kapsul_status start(kpCDec *d, kpReader *r, kpCScope *sc) {
    uint32_t f, n, results;
    kapsul_status st;
    if ((st = kpCDec_index(d, r, sc, kpCS_FUNC, &f)) != KAPSUL_OK) return st;
    uint32_t fidx = d->last;
    if ((st = kpCDec_count(d, r, 1, "start arguments", &n)) != KAPSUL_OK) return st;
    for (uint32_t i = 0; i < n; i++)
        if ((st = kpCDec_index(d, r, sc, kpCS_VALUE, &f)) != KAPSUL_OK) return st;
    size_t at = kpRead_offset(r);
    if (!kpRead_u32(r, &results)) return kpCDec_readerFail(d, r);
    if (results > 0) return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "component values are not supported");
    if (n > 0) return kpCDec_fail(d, KAPSUL_ERR_INVALID, at, "component values are not supported");
    d->op = (kpCOp){ .kind = kpCOP_START, .a = fidx };
    return kpCDec_record(d, sc, kpCS_COUNT, 0);
}

/* ---- Sections ---------------------------------------------------------------------------------- */

typedef kapsul_status (*item_fn)(kpCDec *d, kpReader *r, kpCScope *sc);

/* A section holding vec(item): every item must end inside it and it must end with the last. */
static kapsul_status vec_section(kpCDec *d, kpReader *r, kpCScope *sc, item_fn fn, const char *what) {
    uint32_t n;
    kapsul_status st;
    if ((st = kpCDec_count(d, r, 1, what, &n)) != KAPSUL_OK) return st;
    for (uint32_t i = 0; i < n; i++)
        if ((st = fn(d, r, sc)) != KAPSUL_OK) return st;
    if (!kpRead_eof(r))
        return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, kpRead_offset(r), "section size mismatch");
    return KAPSUL_OK;
}

static void scope_free(kpCScope *sc) {
    for (int s = 0; s < kpCS_COUNT; s++) kpVec_free(&sc->sp[s]);
}

static kapsul_status component_body(kpCDec *d, kpReader *r, kpCScope *parent, uint32_t *out);

static kapsul_status section(kpCDec *d, kpCScope *sc, uint8_t id, kpReader *r) {
    switch (id) {
    case 0: {
        const char *name;
        uint32_t len;
        return kpCDec_name(d, r, &name, &len);
    }
    case 1: return core_module(d, sc, r->p, (size_t)(r->end - r->p));
    case 2: return vec_section(d, r, sc, core_instance, "core instances");
    case 3: return vec_section(d, r, sc, kpCDec_coreTypeItem, "core types");
    case 4: {
        uint32_t id2;
        size_t at = kpRead_offset(r);
        kapsul_status st = component_body(d, r, sc, &id2);
        if (st != KAPSUL_OK) return st;
        d->op = (kpCOp){ .kind = kpCOP_COMPONENT, .type = id2 };
        return kpCDec_push(d, sc, kpCS_COMPONENT, id2, at);
    }
    case 5: return vec_section(d, r, sc, instance, "instances");
    case 6: return vec_section(d, r, sc, kpCDec_alias, "aliases");
    case 7: return vec_section(d, r, sc, kpCDec_typeItem, "types");
    case 8: return vec_section(d, r, sc, canon, "canonical definitions");
    case 9: {
        kapsul_status st = start(d, r, sc);
        if (st == KAPSUL_OK && !kpRead_eof(r))
            return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, kpRead_offset(r), "section size mismatch");
        return st;
    }
    case 10: return vec_section(d, r, sc, import, "imports");
    case 11: return vec_section(d, r, sc, export, "exports");
    case 12:
        return kpCDec_fail(d, KAPSUL_ERR_INVALID, kpRead_offset(r),
                           "component value definitions are not supported");
    default: return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, kpRead_offset(r) - 1, "malformed section id %u", id);
    }
}

/* A component: the preamble, then sections to r->end. *out gets its kpCT_COMPONENT type. */
static kapsul_status component_body(kpCDec *d, kpReader *r, kpCScope *parent, uint32_t *out) {
    size_t at = kpRead_offset(r);
    const uint8_t *pre;
    if (!kpRead_bytes(r, 8, &pre)) return kpCDec_readerFail(d, r);
    if (memcmp(pre, preamble, 4) != 0)
        return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at, "magic header not detected");
    if (memcmp(pre, preamble, 8) != 0)
        return kpCDec_fail(d, KAPSUL_ERR_MALFORMED, at + 4, "not a component of version 0x0d (layer 1)");
    if (d->nesting >= KP_MAX_COMPONENT_NESTING)
        return kpCDec_fail(d, KAPSUL_ERR_LIMIT, at, "components and types nested too deeply (limit %u)",
                           KP_MAX_COMPONENT_NESTING);
    if (++d->c->ncomponents > KP_MAX_COMPONENTS)
        return kpCDec_fail(d, KAPSUL_ERR_LIMIT, at, "too many components (limit %u)", KP_MAX_COMPONENTS);
    kpCScope sc = { .parent = parent, .kind = kpCScope_COMPONENT };
    kapsul_status st = kpCDec_newDecls(d, &sc.decls);
    if (st == KAPSUL_OK) {
        if (kpVec_grow(&d->c->programs) != 0) st = kpCDec_nomem(d);
        else d->c->programs.v[sc.program = (uint32_t)d->c->programs.n++] = (kpCProgram){ 0 };
    }
    d->nesting++;
    while (st == KAPSUL_OK && !kpRead_eof(r)) {
        uint8_t id;
        uint32_t size;
        const uint8_t *payload;
        if (!kpRead_u8(r, &id) || !kpRead_u32(r, &size) || !kpRead_bytes(r, size, &payload)) {
            st = kpCDec_readerFail(d, r);
            break;
        }
        kpReader sr;
        kpRead_init(&sr, d->c->bytes, payload, payload + size);
        st = section(d, &sc, id, &sr);
    }
    d->nesting--;
    if (st == KAPSUL_OK) st = kpCDec_finishDecls(d, sc.decls, kpRead_offset(r));
    if (st == KAPSUL_OK) {
        kpCType t = { .kind = kpCT_COMPONENT, .decls = sc.decls, .program = sc.program + 1, .depth = 1 };
        st = kpCDec_newType(d, &t, at, out);
    }
    scope_free(&sc);
    return st;
}

kapsul_status kpComponent_decode(const uint8_t *bytes, size_t len, kpComponent **out, kapsul_error *err) {
    *out = NULL;
    kpError_clear(err);
    kpComponent *c = kp_calloc(1, sizeof *c);
    if (!c || !(c->bytes = kp_malloc(len ? len : 1))) {
        kp_free(c);
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    }
    memcpy(c->bytes, bytes, len);
    c->size = len;
    kpCDec d = { .c = c, .err = err };
    kpReader r;
    kpRead_init(&r, c->bytes, c->bytes, c->bytes + len);
    kapsul_status st = component_body(&d, &r, NULL, &c->root);
    if (st != KAPSUL_OK) {
        kpComponent_free(c);
        return st;
    }
    *out = c;
    return KAPSUL_OK;
}

void kpComponent_free(kpComponent *c) {
    if (!c) return;
    for (size_t i = 0; i < c->types.n; i++) kp_free(c->types.v[i].fields);
    kpVec_free(&c->types);
    for (size_t i = 0; i < c->decls.n; i++) {
        kpVec_free(&c->decls.v[i].imports);
        kpVec_free(&c->decls.v[i].exports);
        kp_free(c->decls.v[i].hash);
    }
    kpVec_free(&c->decls);
    for (size_t i = 0; i < c->cexports.n; i++) {
        kpVec_free(&c->cexports.v[i].e);
        kp_free(c->cexports.v[i].hash);
    }
    kpVec_free(&c->cexports);
    for (size_t i = 0; i < c->modules.n; i++) kpModule_free(c->modules.v[i].module);
    kpVec_free(&c->modules);
    for (size_t i = 0; i < c->sigs.n; i++) kp_free(c->sigs.v[i].t);
    kpVec_free(&c->sigs);
    for (size_t i = 0; i < c->programs.n; i++) kpVec_free(&c->programs.v[i].ops);
    kpVec_free(&c->programs);
    kpVec_free(&c->args);
    kp_free(c->bytes);
    kp_free(c);
}
