/*
 * externs.c -- the embedder's side of memories, tables and globals: creating them in a store
 * and reading or changing them from the host. The objects themselves (growth, reservations)
 * are the engine's: engine/memory.c and engine/table.c.
 */
#include "runtime/runtime.h"

/* ---- Memories ---- */

kapsul_status kapsul_memory_new(kapsul_store *s, uint64_t min_pages, uint64_t max_pages, kapsul_memory **out,
                                kapsul_error *err) {
    kpError_clear(err);
    if (out) *out = NULL;
    if (!s || !out) return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_memory_new: store or out is NULL");
    if (min_pages > KP_MAX_PAGES || (max_pages != KAPSUL_NO_MAX && max_pages < min_pages))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "bad memory limits: min %llu pages, max %llu",
                           (unsigned long long)min_pages, (unsigned long long)max_pages);
    kapsul_status st = kpStore_checkCounts(s, 0, 1, 0, err);
    if (st != KAPSUL_OK) return st;
    st = kpMemory_create(&s->exec, min_pages, max_pages, out, err);
    /* Above the configured limit: for the embedder that is a limit, not a guest trap. */
    if (st == KAPSUL_ERR_TRAP) {
        st = KAPSUL_ERR_LIMIT;
        if (err) {
            err->code = st;
            err->trap = KAPSUL_TRAP_NONE;
        }
    }
    return st;
}

uint8_t *kapsul_memory_data(kapsul_memory *m) { return m ? m->base : NULL; }
size_t kapsul_memory_size(const kapsul_memory *m) { return m ? (size_t)m->size : 0; }
uint64_t kapsul_memory_pages(const kapsul_memory *m) { return m ? m->size / KP_PAGE_SIZE : 0; }

/* The configured limit is already folded into max_pages at creation, so a failure within it is
 * the host's memory or address space running out. */
kapsul_status kapsul_memory_grow(kapsul_memory *m, uint64_t delta_pages, uint64_t *old_pages,
                                 kapsul_error *err) {
    kpError_clear(err);
    if (!m) return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_memory_grow: memory is NULL");
    uint64_t old = m->size / KP_PAGE_SIZE;
    if (delta_pages > m->max_pages - old)
        return kpError_set(
            err, KAPSUL_ERR_LIMIT, 0, "cannot grow a memory of %llu pages by %llu: the maximum is %llu",
            (unsigned long long)old, (unsigned long long)delta_pages, (unsigned long long)m->max_pages);
    if (kpMemory_grow(m, delta_pages, (size_t)KP_MAX_PAGES * KP_PAGE_SIZE) < 0)
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory growing a memory by %llu pages",
                           (unsigned long long)delta_pages);
    if (old_pages) *old_pages = old;
    return KAPSUL_OK;
}

/* ---- Tables ---- */

kapsul_status kapsul_table_new(kapsul_store *s, kapsul_valkind elem, uint64_t min, uint64_t max,
                               kapsul_table **out, kapsul_error *err) {
    kpError_clear(err);
    if (out) *out = NULL;
    if (!s || !out) return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_table_new: store or out is NULL");
    if ((elem != KAPSUL_FUNCREF && elem != KAPSUL_EXTERNREF) || (max != KAPSUL_NO_MAX && max < min))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "bad table type: element 0x%x, min %llu, max %llu",
                           (unsigned)elem, (unsigned long long)min, (unsigned long long)max);
    kapsul_status st = kpStore_addTable(s, (kpValType)elem, min, max, out);
    if (st == KAPSUL_ERR_LIMIT)
        return kpError_set(
            err, st, 0,
            "a table of %llu elements exceeds the table limit, or the store holds its maximum of tables",
            (unsigned long long)min);
    if (st != KAPSUL_OK) return kpError_set(err, st, 0, "out of memory");
    return KAPSUL_OK;
}

uint64_t kapsul_table_size(const kapsul_table *t) { return t ? t->size : 0; }

kapsul_status kapsul_table_get(const kapsul_table *t, uint64_t index, kapsul_val *out, kapsul_error *err) {
    kpError_clear(err);
    if (!t || !out) return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_table_get: table or out is NULL");
    if (index >= t->size)
        return kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0, "index %llu is outside the table (size %u)",
                           (unsigned long long)index, (unsigned)t->size);
    out->kind = (kapsul_valkind)t->elem;
    if (t->elem == kpT_FUNCREF) out->of.funcref = t->elems[index];
    else out->of.externref = t->elems[index];
    return KAPSUL_OK;
}

/* ---- Globals ---- */

kapsul_status kapsul_global_new(kapsul_store *s, kapsul_val value, bool mutable_, kapsul_global **out,
                                kapsul_error *err) {
    kpError_clear(err);
    if (out) *out = NULL;
    if (!s || !out) return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_global_new: store or out is NULL");
    switch (value.kind) {
    case KAPSUL_I32:
    case KAPSUL_I64:
    case KAPSUL_F32:
    case KAPSUL_F64:
    case KAPSUL_V128:
    case KAPSUL_FUNCREF:
    case KAPSUL_EXTERNREF: break;
    default: return kpError_set(err, KAPSUL_ERR_ARG, 0, "bad value kind 0x%x", (unsigned)value.kind);
    }
    if (kpStore_addGlobal(s, (kpValType)value.kind, mutable_, out) != KAPSUL_OK)
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    kpHost_toSlots(&value, (*out)->bits);
    return KAPSUL_OK;
}

kapsul_val kapsul_global_get(const kapsul_global *g) { return kpHost_fromSlots(g->type, g->bits); }

kapsul_status kapsul_global_set(kapsul_global *g, kapsul_val value, kapsul_error *err) {
    kpError_clear(err);
    if (!g) return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_global_set: global is NULL");
    if (!g->mut) return kpError_set(err, KAPSUL_ERR_ARG, 0, "the global is immutable");
    if ((kpValType)value.kind != g->type)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "value of kind 0x%x for a global of type 0x%x",
                           (unsigned)value.kind, (unsigned)g->type);
    kpHost_toSlots(&value, g->bits);
    return KAPSUL_OK;
}
