/*
 * wit.c -- a component's imports and exports described in WIT's terms, for `kapsul inspect`.
 *
 * One line per function or type that an imported or exported instance provides, and one per
 * imported or exported function or type of the component itself:
 *     import wasi:cli/environment@0.2.3: get-environment: func() -> list<tuple<string, string>>
 *     import wasi:io/streams@0.2.3: input-stream: resource
 *     export wasi:cli/run@0.2.3: run: func() -> result
 * A type that has a name where it is used (an import or export of a type) prints as that name;
 * an anonymous one prints its structure. `own<R>` prints as R, as in WIT. Recursion over types is
 * bounded by KP_MAX_COMPONENT_TYPE_DEPTH (the decoder's contract).
 */
#include "component/cint.h"

static int puts_(kpBuf *o, const char *s) { return kpBuf_push(o, s, strlen(s)); }
static int putn(kpBuf *o, const char *s, uint32_t n) { return kpBuf_push(o, s, n); }

static int print_def(const kpComponent *c, kpBuf *o, const kpCType *t);

/* A value type where it is used: its name if it has one, else its structure. */
static int print_val(const kpComponent *c, kpBuf *o, kpCVal v) {
    if (v.prim) return puts_(o, kpC_primName(v.prim));
    const kpCType *t = &c->types.v[v.type];
    if (t->kind == kpCT_NAMED || t->kind == kpCT_ABSTRACT) return putn(o, t->name, t->name_len);
    if (t->kind == kpCT_OWN) return print_val(c, o, (kpCVal){ .type = t->target });
    return print_def(c, o, t);
}

/* "name: T" or "T" items separated by ", " (cases: "name(T)" or "name"). */
static int print_fields(const kpComponent *c, kpBuf *o, const kpCField *f, uint32_t n, bool cases) {
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        if (i) rc |= puts_(o, ", ");
        if (f[i].name) rc |= putn(o, f[i].name, f[i].name_len);
        if (!f[i].has_type) continue;
        if (cases) rc |= puts_(o, "(");
        else if (f[i].name) rc |= puts_(o, ": ");
        rc |= print_val(c, o, f[i].type);
        if (cases) rc |= puts_(o, ")");
    }
    return rc;
}

static int print_func(const kpComponent *c, kpBuf *o, const kpCType *t) {
    int rc = puts_(o, "func(");
    rc |= print_fields(c, o, t->fields, t->nparams, false);
    rc |= puts_(o, ")");
    uint32_t nr = t->n - t->nparams;
    const kpCField *res = t->fields + t->nparams;
    if (nr == 0) return rc;
    rc |= puts_(o, " -> ");
    if (nr == 1 && !res[0].name) return rc | print_val(c, o, res[0].type);
    rc |= puts_(o, "(");
    rc |= print_fields(c, o, res, nr, false);
    return rc | puts_(o, ")");
}

static int print_def(const kpComponent *c, kpBuf *o, const kpCType *t) {
    int rc = 0;
    switch ((kpCTypeKind)t->kind) {
    case kpCT_PRIM: return puts_(o, kpC_primName(t->a.prim));
    case kpCT_RECORD:
    case kpCT_VARIANT:
    case kpCT_FLAGS:
    case kpCT_ENUM:
        rc |= puts_(o, t->kind == kpCT_RECORD    ? "record { "
                       : t->kind == kpCT_VARIANT ? "variant { "
                       : t->kind == kpCT_FLAGS   ? "flags { "
                                                 : "enum { ");
        rc |= print_fields(c, o, t->fields, t->n, t->kind == kpCT_VARIANT);
        return rc | puts_(o, " }");
    case kpCT_LIST:
    case kpCT_OPTION:
        rc |= puts_(o, t->kind == kpCT_LIST ? "list<" : "option<");
        rc |= print_val(c, o, t->a);
        return rc | puts_(o, ">");
    case kpCT_TUPLE:
        rc |= puts_(o, "tuple<");
        rc |= print_fields(c, o, t->fields, t->n, false);
        return rc | puts_(o, ">");
    case kpCT_RESULT:
        rc |= puts_(o, "result");
        if (!t->has_a && !t->has_b) return rc;
        rc |= puts_(o, "<");
        rc |= t->has_a ? print_val(c, o, t->a) : puts_(o, "_");
        if (t->has_b) {
            rc |= puts_(o, ", ");
            rc |= print_val(c, o, t->b);
        }
        return rc | puts_(o, ">");
    case kpCT_OWN:
    case kpCT_BORROW:
        rc |= puts_(o, t->kind == kpCT_OWN ? "own<" : "borrow<");
        rc |= print_val(c, o, (kpCVal){ .type = t->target });
        return rc | puts_(o, ">");
    case kpCT_FUNC: return print_func(c, o, t);
    case kpCT_COMPONENT: return puts_(o, "component");
    case kpCT_INSTANCE: return puts_(o, "instance");
    case kpCT_RESOURCE:
    case kpCT_ABSTRACT: return puts_(o, "resource");
    case kpCT_NAMED: return print_def(c, o, kpComponent_resolve(c, t->target));
    }
    return 0;
}

/* What one import or export provides, after "NAME: ". A type exported as another named type
 * prints "type = OTHER". */
static int print_extern(const kpComponent *c, kpBuf *o, const kpCExtern *e) {
    switch ((kpCSort)e->sort) {
    case kpCS_FUNC:
    case kpCS_COMPONENT: return print_def(c, o, &c->types.v[e->type]);
    case kpCS_INSTANCE: return puts_(o, "instance");
    case kpCS_VALUE: return puts_(o, "value ") | print_val(c, o, e->val);
    case kpCS_TYPE: {
        const kpCType *t = &c->types.v[e->type];
        if (t->kind == kpCT_NAMED) {
            const kpCType *u = &c->types.v[t->target];
            if (u->kind == kpCT_NAMED || u->kind == kpCT_ABSTRACT)
                return puts_(o, "type = ") | putn(o, u->name, u->name_len);
            return print_def(c, o, kpComponent_resolve(c, t->target));
        }
        return print_def(c, o, t);
    }
    default: return puts_(o, kpC_sortName((kpCSort)e->sort));
    }
}

static int describe(const kpComponent *c, kpBuf *o, const char *dir, const kpCDecl *d, size_t n) {
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (d[i].ext.sort == kpCS_INSTANCE) {
            const kpCDecls *inner = &c->decls.v[c->types.v[d[i].ext.type].decls];
            if (inner->exports.n == 0) {
                rc |= puts_(o, dir) | putn(o, d[i].name, d[i].name_len) | puts_(o, ": instance\n");
                continue;
            }
            for (size_t k = 0; rc == 0 && k < inner->exports.n; k++) {
                const kpCDecl *e = &inner->exports.v[k];
                rc |= puts_(o, dir) | putn(o, d[i].name, d[i].name_len) | puts_(o, ": ");
                rc |= putn(o, e->name, e->name_len) | puts_(o, ": ") | print_extern(c, o, &e->ext) |
                      puts_(o, "\n");
            }
            continue;
        }
        rc |= puts_(o, dir) | putn(o, d[i].name, d[i].name_len) | puts_(o, ": ");
        rc |= print_extern(c, o, &d[i].ext) | puts_(o, "\n");
    }
    return rc;
}

int kpWit_describe(const kpComponent *c, kpBuf *out) {
    const kpCDecls *root = &c->decls.v[c->types.v[c->root].decls];
    int rc = describe(c, out, "import ", root->imports.v, root->imports.n);
    rc |= describe(c, out, "export ", root->exports.v, root->exports.n);
    return rc ? -1 : 0;
}
