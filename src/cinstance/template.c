/*
 * template.c -- component templates: kpCInstance_new's instances at a per-request cost.
 *
 * What a component instance costs, measured on the pinned CLI components: most of it is memory,
 * not the component graph. Each core module that defines a memory gets it mapped fresh, its data
 * segments copied in (page faults on every page they touch), and at the end unmapped (a TLB
 * shootdown and page-table teardown); a componentize-js guest copies a wizer snapshot of several
 * MiB. The component graph itself (imports resolved, canon lower trampolines, aliases, handle
 * tables) is small, and it is exactly what differs per instance: the trampolines' environments
 * point into the instance's frames, the host instances are the resolver's of this request. So a
 * template keeps the graph replayed per instance (instantiate.c, unchanged) and replaces only the
 * core instantiation: each core module has a module template (runtime/template.c) that takes its
 * imports per instance (imports_per_instance), so memories, tables, globals and functions of
 * sibling core instances link exactly as through a linker, while the module's own memory comes
 * from a pool slot mapped copy-on-write over an image of its data segments.
 *
 * Fallbacks are per core module and per core instance, never per component: a module whose
 * template cannot be made is linked per instance (the reason is kept for kpCTemplate_describe);
 * a module whose pool is in use to the last slot is linked for that one core instance (counted).
 *
 * Thread safety: after kpCTemplate_new everything here is read-only except the statistics
 * (atomic counters); the module templates lock only their free lists.
 */
#include <stdarg.h>
#include <stdio.h>

#include "cinstance/ci.h"
#include "config.h"

/* One core module: its template, or why it has none. */
typedef struct kpCTplModule {
    kapsul_template *tpl;
    char *why; /* NULL when tpl is set */
} kpCTplModule;

struct kpCTemplate {
    kpCPre *pre;
    kpCTplModule *mods; /* parallel to pre->modules */
    uint64_t instances, core_pooled, core_linked, pool_empty;
};

static kapsul_status nomem(kapsul_error *err) {
    return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
}

/* A module template with its imports taken per instance; a refusal other than out-of-memory
 * leaves the module to the linker, with the refusal's message as the reason. Only the first
 * KP_CTEMPLATE_MAX_POOLED modules that define a memory get one: each holds pool_size address-space
 * reservations of 8 GiB, and a component may bring hundreds of core modules. Unless the caller
 * says otherwise, a returned slot is reset by copying its whole initial memory (up to
 * KP_CTEMPLATE_KEEP_RESIDENT_MAX): a wizer-initialized guest writes pages all over its image,
 * and each of them would be a copy-on-write fault in the next instance. */
static kapsul_status module_template(kpCTemplate *t, size_t i, const kapsul_template_config *config,
                                     uint32_t *pooled, kapsul_error *err) {
    kapsul_template_config cfg = config ? *config : (kapsul_template_config){ 0 };
    cfg.imports_per_instance = true;
    const kpModule *m = t->pre->c->modules.v[i].module;
    if (m->nmemories && ++*pooled > KP_CTEMPLATE_MAX_POOLED) {
        static const char why[] = "more core modules define a memory than a template pools "
                                  "(KP_CTEMPLATE_MAX_POOLED)";
        return (t->mods[i].why = kp_strndup(why, sizeof why - 1)) ? KAPSUL_OK : nomem(err);
    }
    if (!cfg.keep_resident_bytes && m->nmemories == 1) {
        uint64_t init = m->memories[0].limits.min * KP_PAGE_SIZE;
        cfg.keep_resident_bytes = init > KP_CTEMPLATE_KEEP_RESIDENT_MAX ? KP_CTEMPLATE_KEEP_RESIDENT_MAX
                                  : init < KP_TEMPLATE_KEEP_RESIDENT    ? KP_TEMPLATE_KEEP_RESIDENT
                                                                        : (size_t)init;
    }
    kapsul_error e;
    kapsul_status st =
        kapsul_template_new(t->pre->engine, t->pre->modules[i], NULL, 0, &cfg, &t->mods[i].tpl, &e);
    if (st == KAPSUL_ERR_NOMEM) return nomem(err);
    if (st != KAPSUL_OK && !(t->mods[i].why = kp_strndup(e.message, strlen(e.message)))) return nomem(err);
    return KAPSUL_OK;
}

kapsul_status kpCTemplate_new(kpCPre *pre, const kapsul_template_config *config, kpCTemplate **out,
                              kapsul_error *err) {
    *out = NULL;
    if (err) kpError_clear(err);
    kpCTemplate *t = kp_calloc(1, sizeof *t);
    if (!t) return nomem(err);
    t->pre = pre;
    kapsul_status st = KAPSUL_OK;
    uint32_t pooled = 0;
    if (!(t->mods = kp_calloc(pre->c->modules.n + 1, sizeof *t->mods))) st = nomem(err);
    for (size_t i = 0; st == KAPSUL_OK && i < pre->c->modules.n; i++)
        st = module_template(t, i, config, &pooled, err);
    if (st != KAPSUL_OK) {
        kpCTemplate_free(t);
        return st;
    }
    *out = t;
    return KAPSUL_OK;
}

void kpCTemplate_free(kpCTemplate *t) {
    if (!t) return;
    if (t->mods)
        for (size_t i = 0; i < t->pre->c->modules.n; i++) {
            kapsul_template_free(t->mods[i].tpl);
            kp_free(t->mods[i].why);
        }
    kp_free(t->mods);
    kp_free(t);
}

kapsul_status kpCTemplate_instantiate(kpCTemplate *t, kapsul_store *store, kpCResolveFn resolve,
                                      void *resolve_env, kpCInstance **out, kapsul_error *err) {
    kapsul_status st = kpCI_instantiate(t->pre, t, store, resolve, resolve_env, out, err);
    if (st == KAPSUL_OK) __atomic_add_fetch(&t->instances, 1, __ATOMIC_RELAXED);
    return st;
}

/* The slow path, and kpCInstance_new's only one: every import defined under its names. */
static kapsul_status link(kpCInstance *ci, uint32_t module, const kapsul_extern *imports,
                          kapsul_instance **out, kapsul_error *err) {
    const kpModule *m = ci->c->modules.v[module].module;
    kapsul_linker *lk = NULL;
    kapsul_status st = kapsul_linker_new(ci->store, &lk, err);
    for (uint32_t i = 0; st == KAPSUL_OK && i < m->nimports; i++) {
        const kpImport *im = &m->imports[i];
        st = kapsul_linker_define(lk, im->module, im->module_len, im->name, im->name_len, imports[i], err);
    }
    if (st == KAPSUL_OK) st = kapsul_linker_instantiate(lk, ci->pre->modules[module], out, err);
    kapsul_linker_free(lk);
    return st;
}

/* KAPSUL_ERR_LIMIT from a module template before it made anything: its pool is empty, or the
 * store's counts are passed. The linker then succeeds (an empty pool: counted) or reports the
 * store's limit. */
kapsul_status kpCTemplate_core(kpCInstance *ci, uint32_t module, const kapsul_extern *imports,
                               kapsul_instance **out, kapsul_error *err) {
    kpCTemplate *t = ci->tpl;
    kapsul_template *mt = t ? t->mods[module].tpl : NULL;
    if (!mt) {
        kapsul_status st = link(ci, module, imports, out, err);
        if (t && st == KAPSUL_OK) __atomic_add_fetch(&t->core_linked, 1, __ATOMIC_RELAXED);
        return st;
    }
    uint32_t n = kapsul_module_import_count(ci->pre->modules[module]);
    kapsul_status st = kapsul_template_instantiate_with(mt, ci->store, imports, n, out, err);
    if (st == KAPSUL_OK) {
        __atomic_add_fetch(&t->core_pooled, 1, __ATOMIC_RELAXED);
        return st;
    }
    if (st != KAPSUL_ERR_LIMIT || *out) return st;
    if ((st = link(ci, module, imports, out, err)) == KAPSUL_OK) {
        __atomic_add_fetch(&t->core_linked, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&t->pool_empty, 1, __ATOMIC_RELAXED);
    }
    return st;
}

void kpCTemplate_stats(const kpCTemplate *t, kpCTemplateStats *out) {
    *out = (kpCTemplateStats){ .instances = __atomic_load_n(&t->instances, __ATOMIC_RELAXED),
                               .core_pooled = __atomic_load_n(&t->core_pooled, __ATOMIC_RELAXED),
                               .core_linked = __atomic_load_n(&t->core_linked, __ATOMIC_RELAXED),
                               .pool_empty = __atomic_load_n(&t->pool_empty, __ATOMIC_RELAXED) };
}

static size_t put(char *buf, size_t cap, size_t k, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t put(char *buf, size_t cap, size_t k, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(k < cap ? buf + k : NULL, k < cap ? cap - k : 0, fmt, ap);
    va_end(ap);
    return k + (n > 0 ? (size_t)n : 0);
}

size_t kpCTemplate_describe(const kpCTemplate *t, char *buf, size_t cap) {
    size_t k = 0;
    if (cap) buf[0] = '\0';
    for (size_t i = 0; i < t->pre->c->modules.n; i++) {
        const kpCTplModule *m = &t->mods[i];
        k = put(buf, cap, k, "core module %zu: ", i);
        if (!m->tpl) {
            k = put(buf, cap, k, "linked per instance: %s\n", m->why);
            continue;
        }
        kapsul_template_info in;
        kapsul_template_describe(m->tpl, &in);
        if (!in.pool_size) k = put(buf, cap, k, "template: no memory of its own");
        else
            k = put(buf, cap, k, "template: %u slots, %zu pages, image %.1f KiB copy-on-write", in.pool_size,
                    in.initial_bytes / 65536, (double)in.image_bytes / 1024);
        k = put(buf, cap, k, "%s\n", in.data_in_image ? "" : ", data segments applied per instance");
    }
    return k;
}
