/*
 * externs.c -- the embedder's side of memories, tables and globals: creating them in a store
 * and reading or changing them from the host. The objects themselves (growth, reservations)
 * are the engine's: engine/memory.c and engine/table.c.
 */
#include "runtime/runtime.h"

/* ---- Memories ---- */

kapsul_status kapsul_memory_new(kapsul_store *s, uint64_t min_pages, uint64_t max_pages,
                                kapsul_memory **out) {
    if (!s || !out || min_pages > KP_MAX_PAGES || (max_pages != KAPSUL_NO_MAX && max_pages < min_pages))
        return KAPSUL_ERR_ARG;
    kapsul_error err;
    kapsul_status st = kpMemory_create(&s->exec, min_pages, max_pages, out, &err);
    /* Above the configured limit: for the embedder that is a limit, not a guest trap. */
    return st == KAPSUL_ERR_TRAP ? KAPSUL_ERR_LIMIT : st;
}

uint8_t *kapsul_memory_data(kapsul_memory *m) { return m ? m->base : NULL; }
size_t kapsul_memory_size(const kapsul_memory *m) { return m ? (size_t)m->size : 0; }
uint64_t kapsul_memory_pages(const kapsul_memory *m) { return m ? m->size / KP_PAGE_SIZE : 0; }

int64_t kapsul_memory_grow(kapsul_memory *m, uint64_t delta_pages) {
    /* The configured limit is already folded into max_pages at creation. */
    return m ? kpMemory_grow(m, delta_pages, (size_t)KP_MAX_PAGES * KP_PAGE_SIZE) : -1;
}

/* ---- Tables ---- */

kapsul_status kapsul_table_new(kapsul_store *s, kapsul_valkind elem, uint64_t min, uint64_t max,
                               kapsul_table **out) {
    if (!s || !out || (elem != KAPSUL_FUNCREF && elem != KAPSUL_EXTERNREF) ||
        (max != KAPSUL_NO_MAX && max < min))
        return KAPSUL_ERR_ARG;
    return kpStore_addTable(s, (kpValType)elem, min, max, out);
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

/* ---- Globals ---- */

kapsul_status kapsul_global_new(kapsul_store *s, kapsul_val value, bool mutable_, kapsul_global **out) {
    if (!s || !out) return KAPSUL_ERR_ARG;
    switch (value.kind) {
    case KAPSUL_I32: case KAPSUL_I64: case KAPSUL_F32: case KAPSUL_F64: case KAPSUL_V128:
    case KAPSUL_FUNCREF: case KAPSUL_EXTERNREF:
        break;
    default:
        return KAPSUL_ERR_ARG;
    }
    kapsul_status st = kpStore_addGlobal(s, (kpValType)value.kind, mutable_, out);
    if (st == KAPSUL_OK) kpHost_toSlots(&value, (*out)->bits);
    return st;
}

kapsul_val kapsul_global_get(const kapsul_global *g) {
    return kpHost_fromSlots(g->type, g->bits);
}

kapsul_status kapsul_global_set(kapsul_global *g, kapsul_val value) {
    if (!g || !g->mut || (kpValType)value.kind != g->type) return KAPSUL_ERR_ARG;
    kpHost_toSlots(&value, g->bits);
    return KAPSUL_OK;
}
