/*
 * store.c -- the store: owner of run-time objects; its kpExec holds the value and frame stacks,
 * fuel, deadline and interrupt word the interpreter uses.
 */
#include "runtime/runtime.h"

kapsul_status kapsul_store_new(kapsul_engine *engine, kapsul_store **out, kapsul_error *err) {
    kpError_clear(err);
    if (out) *out = NULL;
    if (!engine || !out)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_store_new: engine or out is NULL");
    kapsul_store *s = kp_calloc(1, sizeof *s);
    if (!s) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    s->engine = engine;
    s->exec.config = &engine->config;
    s->exec.mem_limit = engine->config.max_memory_bytes;
    s->exec.store = s;
    *out = s;
    return KAPSUL_OK;
}

void kapsul_store_free(kapsul_store *s) {
    if (!s) return;
    for (size_t i = 0; i < s->instances.n; i++) kpInstance_free(s->instances.v[i]);
    for (size_t i = 0; i < s->funcs.n; i++) kp_free(s->funcs.v[i]);
    for (size_t i = 0; i < s->exec.mems.n; i++) {
        if (s->exec.mems.v[i]->pool) kpTemplate_release(s->exec.mems.v[i]);
        else kpMemory_free(s->exec.mems.v[i]);
    }
    for (size_t i = 0; i < s->tables.n; i++) kpTable_free(s->tables.v[i]);
    for (size_t i = 0; i < s->globals.n; i++) kp_free(s->globals.v[i]);
    kpVec_free(&s->instances);
    kpVec_free(&s->funcs);
    kpVec_free(&s->exec.mems);
    kpVec_free(&s->tables);
    kpVec_free(&s->globals);
    kp_free(s->exec.stack);
    kp_free(s->exec.frames);
    kp_free(s->exec.native_frames);
    kp_free(s);
}

kapsul_status kpStore_addFunc(kapsul_store *s, kapsul_func **out) {
    if (kpVec_grow(&s->funcs) != 0) return KAPSUL_ERR_NOMEM;
    kapsul_func *f = kp_calloc(1, sizeof *f);
    if (!f) return KAPSUL_ERR_NOMEM;
    s->funcs.v[s->funcs.n++] = f;
    *out = f;
    return KAPSUL_OK;
}

kapsul_status kpStore_addTable(kapsul_store *s, kpValType elem, uint64_t min, uint64_t max,
                               kapsul_table **out) {
    if (s->limits.max_tables && s->tables.n >= s->limits.max_tables) return KAPSUL_ERR_LIMIT;
    if (kpVec_grow(&s->tables) != 0) return KAPSUL_ERR_NOMEM;
    uint64_t limit = s->limits.max_table_elements ? s->limits.max_table_elements : KP_MAX_TABLE_ENTRIES;
    kapsul_status st = kpTable_new(elem, min, max, limit, out);
    if (st == KAPSUL_OK) s->tables.v[s->tables.n++] = *out;
    return st;
}

kapsul_status kpStore_addGlobal(kapsul_store *s, kpValType type, bool mut, kapsul_global **out) {
    kapsul_global *g;
    if (kpVec_grow(&s->globals) != 0 || !(g = kp_calloc(1, sizeof *g))) return KAPSUL_ERR_NOMEM;
    g->type = type;
    g->mut = mut;
    s->globals.v[s->globals.n++] = g;
    *out = g;
    return KAPSUL_OK;
}

/* Counts are checked before an instance creates anything, so a refused instantiation leaves the
 * store as it was. */
kapsul_status kpStore_checkCounts(const kapsul_store *s, uint32_t ninst, uint32_t nmem, uint32_t ntab,
                                  kapsul_error *err) {
    const kapsul_limits *l = &s->limits;
    const char *what = NULL;
    uint32_t max = 0;
    if (l->max_instances && s->instances.n + ninst > l->max_instances)
        what = "instances", max = l->max_instances;
    else if (l->max_memories && s->exec.mems.n + nmem > l->max_memories)
        what = "memories", max = l->max_memories;
    else if (l->max_tables && s->tables.n + ntab > l->max_tables) what = "tables", max = l->max_tables;
    if (!what) return KAPSUL_OK;
    return kpError_set(err, KAPSUL_ERR_LIMIT, 0, "the store's limit of %u %s would be passed", (unsigned)max,
                       what);
}

/* The store's memory limit only ever lowers the engine's: exec.mem_limit is what memories read. */
kapsul_status kapsul_store_set_limits(kapsul_store *s, const kapsul_limits *limits, kapsul_error *err) {
    kpError_clear(err);
    if (!s || !limits)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_store_set_limits: store or limits is NULL");
    s->limits = *limits;
    size_t engine_limit = s->engine->config.max_memory_bytes;
    s->exec.mem_limit = limits->max_memory_bytes && limits->max_memory_bytes < engine_limit
                            ? limits->max_memory_bytes
                            : engine_limit;
    return KAPSUL_OK;
}

void kapsul_store_limits(const kapsul_store *s, kapsul_limits *out) { *out = s->limits; }

/* The stacks are allocated on the first call, so a store that only holds objects costs none. */
kapsul_status kpStore_prepareStacks(kapsul_store *s) {
    kpExec *x = &s->exec;
    if (x->stack) return KAPSUL_OK;
    size_t slots = s->engine->config.stack_bytes / 8;
    if (slots < 64) slots = 64;
    x->stack = kp_malloc(slots * 8);
    x->frames = kp_malloc((size_t)s->engine->config.max_call_depth * sizeof *x->frames);
    if (!x->stack || !x->frames) {
        kp_free(x->stack);
        kp_free(x->frames);
        x->stack = NULL;
        x->frames = NULL;
        return KAPSUL_ERR_NOMEM;
    }
    x->stack_slots = slots;
    x->stack_free = x->stack;
    x->max_frames = s->engine->config.max_call_depth;
    return KAPSUL_OK;
}

void kapsul_store_set_fuel(kapsul_store *s, uint64_t fuel) {
    s->exec.fuel = fuel > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)fuel;
    if (fuel) __atomic_fetch_or(&s->exec.interrupt, KP_INTR_FUEL, __ATOMIC_SEQ_CST);
    else __atomic_fetch_and(&s->exec.interrupt, ~KP_INTR_FUEL, __ATOMIC_SEQ_CST);
}

uint64_t kapsul_store_fuel_remaining(const kapsul_store *s) {
    const kpExec *x = &s->exec;
    return (__atomic_load_n(&x->interrupt, __ATOMIC_RELAXED) & KP_INTR_FUEL) && x->fuel > 0
               ? (uint64_t)x->fuel
               : 0;
}

void kapsul_store_set_deadline(kapsul_store *s, uint64_t deadline_ns) {
    s->exec.deadline = deadline_ns;
    __atomic_fetch_and(&s->exec.interrupt, ~KP_INTR_DEADLINE, __ATOMIC_SEQ_CST);
}

void kapsul_store_interrupt(kapsul_store *s) {
    __atomic_fetch_or(&s->exec.interrupt, KP_INTR_USER, __ATOMIC_SEQ_CST);
}

size_t kapsul_store_sample(const kapsul_store *s, kapsul_frame *out, size_t max) {
    return s && out ? kpExec_sample(&s->exec, out, max) : 0;
}
