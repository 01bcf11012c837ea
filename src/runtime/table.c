/*
 * table.c -- tables (arrays of references) and globals.
 *
 * A table element is a kapsul_func * (funcref) or the embedder's opaque pointer (externref);
 * NULL is the null reference. Growth is capped at KP_MAX_TABLE_ENTRIES whatever the type says,
 * so a guest cannot make the host allocate without bound.
 */
#include "runtime/runtime.h"

kapsul_status kpTable_create(kapsul_store *s, kpValType elem, uint64_t min, uint64_t max,
                             kapsul_table **out) {
    if (min > KP_MAX_TABLE_ENTRIES) return KAPSUL_ERR_LIMIT;
    kapsul_table *t = NULL;
    if (kpVec_grow(&s->tables) != 0 || !(t = kp_calloc(1, sizeof *t))) goto nomem;
    t->elem = elem;
    t->size = (uint32_t)min;
    t->max = max;
    t->elems = kp_calloc(min ? (size_t)min : 1, sizeof *t->elems);
    if (!t->elems) goto nomem;
    s->tables.v[s->tables.n++] = t;
    *out = t;
    return KAPSUL_OK;
nomem:
    kp_free(t);
    return KAPSUL_ERR_NOMEM;
}

int64_t kpTable_grow(kapsul_table *t, uint64_t delta, void *init) {
    uint64_t old = t->size, max = t->max < KP_MAX_TABLE_ENTRIES ? t->max : KP_MAX_TABLE_ENTRIES;
    if (delta > max || old + delta > max) return -1;
    if (delta == 0) return (int64_t)old;
    void **e = kp_realloc(t->elems, (size_t)(old + delta) * sizeof *e);
    if (!e) return -1;
    for (uint64_t i = old; i < old + delta; i++) e[i] = init;
    t->elems = e;
    t->size = (uint32_t)(old + delta);
    return (int64_t)old;
}

kapsul_status kpGlobal_create(kapsul_store *s, kpValType type, bool mut, kapsul_global **out) {
    kapsul_global *g;
    if (kpVec_grow(&s->globals) != 0 || !(g = kp_calloc(1, sizeof *g))) return KAPSUL_ERR_NOMEM;
    g->type = type;
    g->mut = mut;
    s->globals.v[s->globals.n++] = g;
    *out = g;
    return KAPSUL_OK;
}

/* ---- Public API ---- */

kapsul_status kapsul_table_new(kapsul_store *s, kapsul_valkind elem, uint64_t min, uint64_t max,
                               kapsul_table **out) {
    if (!s || !out || (elem != KAPSUL_FUNCREF && elem != KAPSUL_EXTERNREF) ||
        (max != KAPSUL_NO_MAX && max < min))
        return KAPSUL_ERR_ARG;
    return kpTable_create(s, (kpValType)elem, min, max, out);
}

uint64_t kapsul_table_size(const kapsul_table *t) { return t ? t->size : 0; }

kapsul_status kapsul_table_get(const kapsul_table *t, uint64_t index, kapsul_val *out) {
    if (!t || !out) return KAPSUL_ERR_ARG;
    if (index >= t->size) return KAPSUL_ERR_NOT_FOUND;
    out->kind = (kapsul_valkind)t->elem;
    if (t->elem == kpT_FUNCREF) out->of.funcref = t->elems[index];
    else out->of.externref = t->elems[index];
    return KAPSUL_OK;
}

kapsul_status kapsul_global_new(kapsul_store *s, kapsul_val value, bool mutable_, kapsul_global **out) {
    if (!s || !out) return KAPSUL_ERR_ARG;
    switch (value.kind) {
    case KAPSUL_I32: case KAPSUL_I64: case KAPSUL_F32: case KAPSUL_F64: case KAPSUL_V128:
    case KAPSUL_FUNCREF: case KAPSUL_EXTERNREF:
        break;
    default:
        return KAPSUL_ERR_ARG;
    }
    kapsul_status st = kpGlobal_create(s, (kpValType)value.kind, mutable_, out);
    if (st == KAPSUL_OK) kpVal_toSlots(&value, (*out)->bits);
    return st;
}

kapsul_val kapsul_global_get(const kapsul_global *g) {
    return kpVal_fromSlots(g->type, g->bits);
}

kapsul_status kapsul_global_set(kapsul_global *g, kapsul_val value) {
    if (!g || !g->mut || (kpValType)value.kind != g->type) return KAPSUL_ERR_ARG;
    kpVal_toSlots(&value, g->bits);
    return KAPSUL_OK;
}
