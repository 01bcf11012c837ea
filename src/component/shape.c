/*
 * shape.c -- the shape of a function type: its parameters and results as the canonical ABI sees
 * them, without the names of fields, cases and labels (those change nothing in lifting and
 * lowering), but with the number of cases, labels and fields and the name of each resource.
 *
 * A host implements an interface function for one shape (src/wasip2 writes them beside each
 * function); linking a guest's import to it compares the two strings, so a guest that declares
 * `get-random-bytes: func(len: string)` is refused at instantiation instead of handing the host
 * a value of another type. Printing stops once the text passes max bytes, so a type of
 * exponential size (a pair of pairs of pairs ...) costs at most max bytes of work.
 */
#include "component/cint.h"

typedef struct shape {
    kpBuf *o;
    size_t end; /* out->len must stay below this */
    int rc;
} shape;

static void put(shape *s, const char *t) {
    if (s->rc == 0 && (kpBuf_push(s->o, t, strlen(t)) != 0 || s->o->len > s->end)) s->rc = -1;
}

static void put_u32(shape *s, uint32_t n) {
    char b[16];
    snprintf(b, sizeof b, "%u", n);
    put(s, b);
}

static void val(shape *s, const kpComponent *c, kpCVal v);

static void fields(shape *s, const kpComponent *c, const kpCField *f, uint32_t n, bool cases) {
    for (uint32_t i = 0; i < n && s->rc == 0; i++) {
        if (i) put(s, ",");
        if (f[i].has_type) val(s, c, f[i].type);
        else if (cases) put(s, "_");
    }
}

static void val(shape *s, const kpComponent *c, kpCVal v) {
    if (s->rc) return;
    if (v.prim) {
        put(s, kpC_primName(v.prim));
        return;
    }
    const kpCType *t = kpComponent_resolve(c, v.type);
    switch ((kpCTypeKind)t->kind) {
    case kpCT_PRIM: put(s, kpC_primName(t->a.prim)); break;
    case kpCT_RECORD: put(s, "record{"), fields(s, c, t->fields, t->n, false), put(s, "}"); break;
    case kpCT_TUPLE: put(s, "tuple<"), fields(s, c, t->fields, t->n, false), put(s, ">"); break;
    case kpCT_VARIANT: put(s, "variant{"), fields(s, c, t->fields, t->n, true), put(s, "}"); break;
    case kpCT_LIST: put(s, "list<"), val(s, c, t->a), put(s, ">"); break;
    case kpCT_OPTION: put(s, "option<"), val(s, c, t->a), put(s, ">"); break;
    case kpCT_RESULT:
        put(s, "result<");
        if (t->has_a) val(s, c, t->a);
        else put(s, "_");
        put(s, ",");
        if (t->has_b) val(s, c, t->b);
        else put(s, "_");
        put(s, ">");
        break;
    case kpCT_FLAGS: put(s, "flags"), put_u32(s, t->n); break;
    case kpCT_ENUM: put(s, "enum"), put_u32(s, t->n); break;
    case kpCT_OWN:
    case kpCT_BORROW: {
        const kpCType *r = kpComponent_resolve(c, t->target);
        put(s, t->kind == kpCT_OWN ? "own<" : "borrow<");
        if (r->kind == kpCT_ABSTRACT && s->rc == 0 && kpBuf_push(s->o, r->name, r->name_len) != 0) s->rc = -1;
        put(s, ">");
        break;
    }
    default: put(s, "?"); break;
    }
}

int kpCShape_func(const kpComponent *c, uint32_t func_type, kpBuf *out, size_t max) {
    shape s = { out, out->len + max, 0 };
    const kpCType *t = kpComponent_resolve(c, func_type);
    if (t->kind != kpCT_FUNC) return -1;
    put(&s, "(");
    fields(&s, c, t->fields, t->nparams, false);
    put(&s, ")->");
    uint32_t nr = t->n - t->nparams;
    if (nr == 0) put(&s, "_");
    else if (nr == 1 && !t->fields[t->nparams].name) val(&s, c, t->fields[t->nparams].type);
    else put(&s, "("), fields(&s, c, t->fields + t->nparams, nr, false), put(&s, ")");
    return s.rc;
}
