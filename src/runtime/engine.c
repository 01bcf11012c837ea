/*
 * engine.c -- the engine: its configuration (defaults filled in once) and the registry of
 * canonical function types that call_indirect and linking compare by id.
 */
#include <string.h>

#include "runtime/runtime.h"

kapsul_status kapsul_engine_new(const kapsul_config *config, kapsul_engine **out, kapsul_error *err) {
    kpError_clear(err);
    if (!out) return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_engine_new: out is NULL");
    *out = NULL;
    kapsul_engine *e = kp_calloc(1, sizeof *e);
    if (!e) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    if (config) e->config = *config;
    if (!e->config.stack_bytes) e->config.stack_bytes = KP_DEFAULT_STACK_BYTES;
    if (!e->config.max_call_depth) e->config.max_call_depth = KP_DEFAULT_CALL_DEPTH;
    if (!e->config.max_memory_bytes || e->config.max_memory_bytes > ((size_t)KP_MAX_PAGES * KP_PAGE_SIZE))
        e->config.max_memory_bytes = (size_t)KP_MAX_PAGES * KP_PAGE_SIZE;
    e->lock = kpOs_mutexNew();
    if (e->config.native_compiler) {
        size_t n = strlen(e->config.native_compiler) + 1;
        if ((e->compiler = kp_malloc(n))) memcpy(e->compiler, e->config.native_compiler, n);
    }
    e->config.native_compiler = e->compiler;
    if (!e->lock || (config && config->native_compiler && !e->compiler)) {
        kpOs_mutexFree(e->lock);
        kp_free(e->compiler);
        kp_free(e);
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    }
    *out = e;
    return KAPSUL_OK;
}

void kapsul_engine_free(kapsul_engine *e) {
    if (!e) return;
    for (uint32_t i = 0; i < e->ntypes; i++) {
        kp_free(e->types[i]->types);
        kp_free(e->types[i]);
    }
    kp_free(e->types);
    kp_free(e->hash);
    kpOs_mutexFree(e->lock);
    kp_free(e->compiler);
    kp_free(e);
}

/* FNV-1a over the shape of a function type. */
static uint32_t type_hash(const kpFuncType *t) {
    uint32_t h = 2166136261u;
    h = (h ^ t->nparams) * 16777619u;
    h = (h ^ t->nresults) * 16777619u;
    for (uint32_t i = 0; i < t->nparams + t->nresults; i++) h = (h ^ t->types[i]) * 16777619u;
    return h;
}

static kapsul_status rehash(kapsul_engine *e) {
    uint32_t cap = e->hash_cap ? e->hash_cap * 2 : 64;
    uint32_t *h = kp_calloc(cap, sizeof *h);
    if (!h) return KAPSUL_ERR_NOMEM;
    for (uint32_t id = 0; id < e->ntypes; id++) {
        uint32_t k = type_hash(e->types[id]) & (cap - 1);
        while (h[k]) k = (k + 1) & (cap - 1);
        h[k] = id + 1;
    }
    kp_free(e->hash);
    e->hash = h;
    e->hash_cap = cap;
    return KAPSUL_OK;
}

static kapsul_status add_type(kapsul_engine *e, const kpFuncType *t, uint32_t *id) {
    if (e->ntypes == e->cap) {
        uint32_t cap = e->cap ? e->cap * 2 : 32;
        kpFuncType **v = kp_realloc(e->types, (size_t)cap * sizeof *v);
        if (!v) return KAPSUL_ERR_NOMEM;
        e->types = v;
        e->cap = cap;
    }
    kpFuncType *c = kp_calloc(1, sizeof *c);
    size_t n = (size_t)t->nparams + t->nresults;
    uint8_t *types = kp_malloc(n ? n : 1);
    if (!c || !types) {
        kp_free(c);
        kp_free(types);
        return KAPSUL_ERR_NOMEM;
    }
    if (n) memcpy(types, t->types, n);
    c->nparams = t->nparams;
    c->nresults = t->nresults;
    c->types = types;
    *id = e->ntypes;
    e->types[e->ntypes++] = c;
    return KAPSUL_OK;
}

/* Types are interned so call_indirect compares two integers, whichever modules the table's
 * functions come from. */
kapsul_status kpEngine_internType(kapsul_engine *e, const kpFuncType *t, uint32_t *id,
                                  const kpFuncType **canon) {
    kapsul_status st = KAPSUL_OK;
    kpOs_mutexLock(e->lock);
    if ((e->ntypes + 1) * 2 > e->hash_cap && (st = rehash(e)) != KAPSUL_OK) goto fail;
    uint32_t k = type_hash(t) & (e->hash_cap - 1);
    for (; e->hash[k]; k = (k + 1) & (e->hash_cap - 1)) {
        if (kpModule_typeEqual(e->types[e->hash[k] - 1], t)) {
            *id = e->hash[k] - 1;
            *canon = e->types[*id];
            goto fail;
        }
    }
    if ((st = add_type(e, t, id)) != KAPSUL_OK) goto fail;
    e->hash[k] = *id + 1;
    *canon = e->types[*id];
fail:
    kpOs_mutexUnlock(e->lock);
    return st;
}

/* ---- Store ---- */
