/*
 * table.c -- tables (arrays of references); the embedder's kapsul_table_* calls are in
 * runtime/externs.c.
 *
 * A table element is a kapsul_func * (funcref) or the embedder's opaque pointer (externref);
 * NULL is the null reference. Growth is capped at KP_MAX_TABLE_ENTRIES (and the store's limit)
 * whatever the type says, so a guest cannot make the host allocate without bound.
 */
#include "engine/objects.h"

/* A table of min null references; the runtime's store registers and later frees it. */
kapsul_status kpTable_new(kpValType elem, uint64_t min, uint64_t max, uint64_t limit, kapsul_table **out) {
    if (limit > KP_MAX_TABLE_ENTRIES) limit = KP_MAX_TABLE_ENTRIES;
    if (min > limit) return KAPSUL_ERR_LIMIT;
    kapsul_table *t = kp_calloc(1, sizeof *t);
    if (!t) goto nomem;
    t->elem = elem;
    t->size = (uint32_t)min;
    t->max = max;
    t->limit = max < limit ? max : limit;
    t->elems = kp_calloc(min ? (size_t)min : 1, sizeof *t->elems);
    if (!t->elems) goto nomem;
    *out = t;
    return KAPSUL_OK;
nomem:
    kp_free(t);
    return KAPSUL_ERR_NOMEM;
}

/* Growth reallocates the element array; the interpreter reloads t->elems on every access. */
int64_t kpTable_grow(kapsul_table *t, uint64_t delta, void *init) {
    uint64_t old = t->size, max = t->limit;
    if (delta > max || old + delta > max) return -1;
    if (delta == 0) return (int64_t)old;
    void **e = kp_realloc(t->elems, (size_t)(old + delta) * sizeof *e);
    if (!e) return -1;
    for (uint64_t i = old; i < old + delta; i++) e[i] = init;
    t->elems = e;
    t->size = (uint32_t)(old + delta);
    return (int64_t)old;
}

void kpTable_free(kapsul_table *t) {
    if (!t) return;
    kp_free(t->elems);
    kp_free(t);
}
