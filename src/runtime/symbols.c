/*
 * symbols.c -- what a trap frame means in source terms: kapsul_frame_locations; and where
 * functions are, for profilers: kapsul_module_func_offset, kapsul_module_code_ranges.
 *
 * A frame is (module, function index, module offset). The names come from the name section, else
 * an export; positions and inlined calls from the module's DWARF (module/debuginfo.c), read the
 * first time a frame of the module is symbolized, never at load. Demangled names are made once
 * and kept with the module, so the strings handed out live as long as it does. A module may be
 * shared by threads: one lock per module serializes symbolization (a cold path).
 */
#include <string.h>

#include "engine/native/native.h"
#include "module/debuginfo.h"
#include "runtime/runtime.h"

struct kpSymbols {
    kpOs_mutex *lock;
    bool dwarf_tried;
    kpDebugInfo *dbg;
    const char **func_names; /* display name per function index, made on demand */
    bool *func_done;
    /* Demangled DWARF names, keyed by the DWARF string they came from. */
    KP_VEC(const char *) keys;
    KP_VEC(char *) vals;
    KP_VEC(char *) owned; /* every string made here */
};

void kpSymbols_free(struct kpSymbols *y) {
    if (!y) return;
    kpDebug_free(y->dbg);
    for (size_t i = 0; i < y->owned.n; i++) kp_free(y->owned.v[i]);
    kpVec_free(&y->owned);
    kpVec_free(&y->keys);
    kpVec_free(&y->vals);
    kp_free(y->func_names);
    kp_free(y->func_done);
    kpOs_mutexFree(y->lock);
    kp_free(y);
}

static struct kpSymbols *symbols_of(kapsul_module *mod) {
    struct kpSymbols *y = __atomic_load_n(&mod->syms, __ATOMIC_ACQUIRE);
    if (y) return y;
    uint32_t nf = kpModule_numFuncs(mod->m);
    y = kp_calloc(1, sizeof *y);
    if (!y) return NULL;
    y->lock = kpOs_mutexNew();
    y->func_names = kp_calloc(nf ? nf : 1, sizeof *y->func_names);
    y->func_done = kp_calloc(nf ? nf : 1, sizeof *y->func_done);
    if (!y->lock || !y->func_names || !y->func_done) {
        kpSymbols_free(y);
        return NULL;
    }
    struct kpSymbols *none = NULL;
    if (!__atomic_compare_exchange_n(&mod->syms, &none, y, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        kpSymbols_free(y); /* another thread won */
        return none;
    }
    return y;
}

/* `name` demangled when it is mangled (kept with the module), else `name` itself. */
static const char *display(struct kpSymbols *y, const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < y->keys.n; i++)
        if (y->keys.v[i] == name) return y->vals.v[i];
    char *d = kpDebug_demangle(name);
    if (!d) return name;
    if (kpVec_grow(&y->owned) != 0 || kpVec_grow(&y->keys) != 0 || kpVec_grow(&y->vals) != 0) {
        kp_free(d);
        return name;
    }
    y->owned.v[y->owned.n++] = d;
    y->keys.v[y->keys.n++] = name;
    y->vals.v[y->vals.n++] = d;
    return d;
}

/* The name section's name of function f, else the name of an export of it, demangled. */
static const char *func_name(struct kpSymbols *y, const kpModule *m, uint32_t f) {
    if (y->func_done[f]) return y->func_names[f];
    const char *name = f < m->nfunc_names ? m->func_names[f] : NULL;
    if (name) name = display(y, name);
    for (uint32_t i = 0; !name && i < m->nexports; i++) {
        const kpExport *e = &m->exports[i];
        if (e->kind != kpExtern_FUNC || e->index != f) continue;
        char *s = kp_malloc(e->name_len + 1);
        if (!s || kpVec_grow(&y->owned) != 0) {
            kp_free(s);
            return NULL;
        }
        memcpy(s, e->name, e->name_len);
        s[e->name_len] = 0;
        y->owned.v[y->owned.n++] = s;
        name = s;
    }
    y->func_done[f] = true;
    y->func_names[f] = name;
    return name;
}

size_t kapsul_frame_locations(const kapsul_frame *frame, kapsul_location *out, size_t max) {
    if (!frame || !frame->module || (!out && max)) return 0;
    kapsul_module *mod = (kapsul_module *)frame->module; /* only its symbol cache changes */
    const kpModule *m = mod->m;
    struct kpSymbols *y = symbols_of(mod);
    if (!y || frame->func_index >= kpModule_numFuncs(m)) return 0;
    kpOs_mutexLock(y->lock);
    const char *fname = func_name(y, m, frame->func_index);
    if (!y->dwarf_tried) {
        y->dwarf_tried = true;
        y->dbg = kpDebug_open(m);
    }
    size_t n = 0;
    if (y->dbg && frame->offset > m->code_start) {
        kpDebugLoc locs[64];
        n = kpDebug_locate(y->dbg, frame->offset - m->code_start, locs, 64);
        for (size_t i = 0; i < n && i < max && i < 64; i++) {
            out[i] =
                (kapsul_location){ display(y, locs[i].function), locs[i].file, locs[i].line, locs[i].column };
            /* The function itself: the name section's full (often mangled) name beats DW_AT_name. */
            if (i + 1 == n && fname) out[i].function = fname;
        }
        if (n > 64) n = 64;
    }
    if (n == 0) {
        if (max) out[0] = (kapsul_location){ fname, NULL, 0, 0 };
        n = 1;
    }
    kpOs_mutexUnlock(y->lock);
    return n;
}

uint32_t kapsul_module_func_offset(const kapsul_module *module, uint32_t func_index) {
    const kpModule *m = module ? module->m : NULL;
    if (!m || func_index < m->nfunc_imports || func_index >= kpModule_numFuncs(m)) return 0;
    return (uint32_t)m->funcs[func_index - m->nfunc_imports].body.start;
}

size_t kapsul_module_code_ranges(const kapsul_module *module, kapsul_code_range *out, size_t max) {
    size_t n = 0;
    const kpNativeSym *sym = module && module->native ? kpNativeCode_symbols(module->native, &n) : NULL;
    for (size_t i = 0; i < n && i < max && out; i++)
        out[i] = (kapsul_code_range){ sym[i].func, sym[i].entry, sym[i].start, sym[i].size };
    return n;
}
