/*
 * linker.c -- (module, name) -> external value, and instantiation against that map.
 *
 * A plain array searched linearly: linkers hold tens of names (WASI, spectest, a few registered
 * instances), and lookups happen once per import at instantiation, never while code runs.
 */
#include "runtime/runtime.h"

typedef struct kpLinkEntry {
    char *module;
    size_t module_len;
    char *name;
    size_t name_len;
    kapsul_extern value;
} kpLinkEntry;

struct kapsul_linker {
    kapsul_store *store;
    KP_VEC(kpLinkEntry) entries;
};

kapsul_status kapsul_linker_new(kapsul_store *store, kapsul_linker **out, kapsul_error *err) {
    kpError_clear(err);
    if (out) *out = NULL;
    if (!store || !out) return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_linker_new: store or out is NULL");
    kapsul_linker *l = kp_calloc(1, sizeof *l);
    if (!l) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    l->store = store;
    *out = l;
    return KAPSUL_OK;
}

void kapsul_linker_free(kapsul_linker *l) {
    if (!l) return;
    for (size_t i = 0; i < l->entries.n; i++) {
        kp_free(l->entries.v[i].module);
        kp_free(l->entries.v[i].name);
    }
    kpVec_free(&l->entries);
    kp_free(l);
}

static kpLinkEntry *find(kapsul_linker *l, const char *module, size_t module_len, const char *name,
                         size_t name_len) {
    for (size_t i = 0; i < l->entries.n; i++) {
        kpLinkEntry *e = &l->entries.v[i];
        if (e->module_len == module_len && e->name_len == name_len &&
            memcmp(e->module, module, module_len) == 0 && memcmp(e->name, name, name_len) == 0)
            return e;
    }
    return NULL;
}

/* An extern must name an object of its kind; which store it belongs to cannot be checked here
 * (the header makes that the caller's promise). */
static bool extern_ok(const kapsul_extern *v) {
    switch (v->kind) {
    case KAPSUL_EXTERN_FUNC: return v->of.func != NULL;
    case KAPSUL_EXTERN_TABLE: return v->of.table != NULL;
    case KAPSUL_EXTERN_MEMORY: return v->of.memory != NULL;
    case KAPSUL_EXTERN_GLOBAL: return v->of.global != NULL;
    }
    return false;
}

kapsul_status kapsul_linker_define(kapsul_linker *l, const char *module, size_t module_len, const char *name,
                                   size_t name_len, kapsul_extern value, kapsul_error *err) {
    kpError_clear(err);
    if (!l || (!module && module_len) || (!name && name_len))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_linker_define: linker or a name is NULL");
    if (!extern_ok(&value))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "\"%.*s\" \"%.*s\": bad kind or NULL object",
                           (int)module_len, module ? module : "", (int)name_len, name ? name : "");
    kpLinkEntry *e = find(l, module ? module : "", module_len, name ? name : "", name_len);
    if (e) {
        e->value = value;
        return KAPSUL_OK;
    }
    if (kpVec_grow(&l->entries) != 0) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    kpLinkEntry n = { kp_strndup(module ? module : "", module_len), module_len,
                      kp_strndup(name ? name : "", name_len), name_len, value };
    if (!n.module || !n.name) {
        kp_free(n.module);
        kp_free(n.name);
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    }
    l->entries.v[l->entries.n++] = n;
    return KAPSUL_OK;
}

kapsul_status kapsul_linker_define_instance(kapsul_linker *l, const char *module, size_t module_len,
                                            kapsul_instance *inst, kapsul_error *err) {
    kpError_clear(err);
    if (!l || !inst || (!module && module_len))
        return kpError_set(err, KAPSUL_ERR_ARG, 0,
                           "kapsul_linker_define_instance: linker, module or instance is NULL");
    const kpModule *m = inst->module->m;
    for (uint32_t i = 0; i < m->nexports; i++) {
        kapsul_extern ex;
        kapsul_status st = kapsul_instance_export(inst, m->exports[i].name, m->exports[i].name_len, &ex, err);
        if (st != KAPSUL_OK) return st;
        st = kapsul_linker_define(l, module, module_len, m->exports[i].name, m->exports[i].name_len, ex, err);
        if (st != KAPSUL_OK) return st;
    }
    return KAPSUL_OK;
}

kapsul_status kapsul_linker_define_func(kapsul_linker *l, const char *module, const char *name,
                                        const kapsul_valkind *params, uint32_t nparams,
                                        const kapsul_valkind *results, uint32_t nresults, kapsul_host_fn fn,
                                        void *env, kapsul_error *err) {
    kpError_clear(err);
    if (!l || !module || !name)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_linker_define_func: linker or a name is NULL");
    kapsul_func *f;
    kapsul_status st = kapsul_func_new_host(l->store, params, nparams, results, nresults, fn, env, &f, err);
    if (st != KAPSUL_OK) return st;
    kapsul_extern ex = { .kind = KAPSUL_EXTERN_FUNC, .of.func = f };
    return kapsul_linker_define(l, module, strlen(module), name, strlen(name), ex, err);
}

kapsul_status kapsul_linker_instantiate(kapsul_linker *l, const kapsul_module *module, kapsul_instance **out,
                                        kapsul_error *err) {
    kpError_clear(err);
    if (out) *out = NULL;
    if (!l || !module || !out)
        return kpError_set(err, KAPSUL_ERR_ARG, 0,
                           "kapsul_linker_instantiate: linker, module or out is NULL");
    /* Function type ids are the engine's: a module of another engine would link by wrong ids. */
    if (module->engine != l->store->engine)
        return kpError_set(err, KAPSUL_ERR_ARG, 0,
                           "the module was loaded by another engine than the store's");
    const kpModule *m = module->m;
    kapsul_extern *imports = kp_calloc(m->nimports ? m->nimports : 1, sizeof *imports);
    if (!imports) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    kapsul_status st = KAPSUL_OK;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const kpImport *im = &m->imports[i];
        kpLinkEntry *e = find(l, im->module, im->module_len, im->name, im->name_len);
        if (!e) {
            char want[96];
            kpInstance_describeImport(module, im, want, sizeof want);
            st = kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0, "unknown import \"%.*s\" \"%.*s\" (%s)",
                             (int)im->module_len, im->module, (int)im->name_len, im->name, want);
            goto fail;
        }
        imports[i] = e->value;
    }
    /* The module handle is const to the caller; instances only take a reference on it. */
    st = kpInstance_new(l->store, (kapsul_module *)module, imports, out, err);
fail:
    kp_free(imports);
    return st;
}
