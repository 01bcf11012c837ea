/*
 * api.c -- the public API around modules, functions, calls and exports: decode + validate +
 * lower at load time, host functions, calls from the host (the slots <-> values bridge and the
 * interpreter are engine/host.c and engine/interp.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include "engine/native/bridge.h"
#include "runtime/runtime.h"

/* ---- Modules ---- */

void kpModule_release(kapsul_module *mod) {
    if (!mod || __atomic_sub_fetch(&mod->refs, 1, __ATOMIC_ACQ_REL) > 0) return;
    if (mod->codes && mod->m)
        for (uint32_t i = 0; i < mod->m->nfuncs; i++) kpCode_free(&mod->codes[i]);
    kp_free(mod->codes);
    kp_free(mod->func_types);
    kp_free(mod->type_ids);
    kp_free(mod->canon);
    kpNativeCode_free(mod->native);
    if (mod->m) kpModule_free(mod->m);
    kp_free(mod);
}

/* Per-module tables lowering and instantiation use: type index of every function, and the
 * canonical engine id of every type. */
static kapsul_status index_module(kapsul_module *mod) {
    const kpModule *m = mod->m;
    uint32_t nf = kpModule_numFuncs(m);
    mod->func_types = kp_calloc(nf ? nf : 1, sizeof *mod->func_types);
    mod->type_ids = kp_calloc(m->ntypes ? m->ntypes : 1, sizeof *mod->type_ids);
    mod->canon = kp_calloc(m->ntypes ? m->ntypes : 1, sizeof *mod->canon);
    if (!mod->func_types || !mod->type_ids || !mod->canon) return KAPSUL_ERR_NOMEM;
    uint32_t k = 0;
    for (uint32_t i = 0; i < m->nimports; i++)
        if (m->imports[i].kind == kpExtern_FUNC) mod->func_types[k++] = m->imports[i].desc.func_type;
    for (uint32_t i = 0; i < m->nfuncs; i++) mod->func_types[k++] = m->funcs[i].type;
    for (uint32_t i = 0; i < m->ntypes; i++) {
        kapsul_status st = kpEngine_internType(mod->engine, &m->types[i], &mod->type_ids[i], &mod->canon[i]);
        if (st != KAPSUL_OK) return st;
    }
    return KAPSUL_OK;
}

kapsul_status kapsul_module_new(kapsul_engine *engine, const uint8_t *bytes, size_t len,
                                kapsul_module **out, kapsul_error *err) {
    kpError_clear(err);
    if (!engine || (!bytes && len) || !out) return kpError_set(err, KAPSUL_ERR_ARG, 0, "bad argument");
    *out = NULL;
    kapsul_status st;
    kapsul_module *mod = kp_calloc(1, sizeof *mod);
    if (!mod) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    mod->engine = engine;
    mod->refs = 1;
    /* A compiled artifact: checked whole, then its module goes the usual way. */
    kpArtifact art;
    bool native = bytes && kpArtifact_isKwasm(bytes, len);
    if (native) {
        if ((st = kpArtifact_read(bytes, len, &art, err)) != KAPSUL_OK) goto fail;
        bytes = art.wasm;
        len = art.wasm_size;
    }
    if ((st = kpDecode_module(bytes ? bytes : (const uint8_t *)"", len, &mod->m, err)) != KAPSUL_OK) goto fail;
    if ((st = kpValidate_module(mod->m, err)) != KAPSUL_OK) goto fail;
    if ((st = index_module(mod)) != KAPSUL_OK) {
        kpError_set(err, st, 0, "out of memory");
        goto fail;
    }
    mod->codes = kp_calloc(mod->m->nfuncs ? mod->m->nfuncs : 1, sizeof *mod->codes);
    if (!mod->codes) {
        st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        goto fail;
    }
    kpLowerCtx cx = {mod->m, mod->func_types, mod->type_ids};
    for (uint32_t i = 0; i < mod->m->nfuncs; i++) {
        if ((st = kpLower_function(&cx, i, &mod->codes[i], err)) != KAPSUL_OK) goto fail;
        kpInterp_thread(&mod->codes[i]);
    }
    if (native) {
        if (art.nfuncs != kpModule_numFuncs(mod->m)) {
            st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "artifact does not match its module");
            goto fail;
        }
        if ((st = kpNativeCode_load(art.object, art.object_size, art.nfuncs, &mod->native, err)) != KAPSUL_OK) goto fail;
        kpNativeCode_setGuard(mod->native, strstr(art.flags, "bounds-checks") == NULL);
    }
    if (getenv("KAPSUL_DUMP_IR"))
        for (uint32_t i = 0; i < mod->m->nfuncs; i++) {
            fprintf(stderr, "== func[%u]\n", mod->m->nimports + i);
            kpCode_dump(&mod->codes[i], stderr);
        }
    *out = mod;
    return KAPSUL_OK;
fail:
    kpModule_release(mod);
    return st;
}

void kapsul_module_free(kapsul_module *module) { kpModule_release(module); }

uint32_t kapsul_module_import_count(const kapsul_module *module) { return module->m->nimports; }

void kapsul_module_import(const kapsul_module *module, uint32_t i, kapsul_import_info *out) {
    memset(out, 0, sizeof *out);
    if (i >= module->m->nimports) return;
    const kpImport *im = &module->m->imports[i];
    out->module = im->module;
    out->module_len = im->module_len;
    out->name = im->name;
    out->name_len = im->name_len;
    out->kind = (kapsul_externkind)im->kind;
}

uint32_t kapsul_module_export_count(const kapsul_module *module) { return module->m->nexports; }

void kapsul_module_export(const kapsul_module *module, uint32_t i, kapsul_export_info *out) {
    memset(out, 0, sizeof *out);
    if (i >= module->m->nexports) return;
    const kpExport *ex = &module->m->exports[i];
    out->name = ex->name;
    out->name_len = ex->name_len;
    out->kind = (kapsul_externkind)ex->kind;
    out->index = ex->index;
}

static uint32_t slot_count(const kpValType *t, uint32_t n) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) k += kp_slot_width(t[i]);
    return k;
}

/* ---- Host functions ---- */

/* The caller (engine/objects.h) carries the store and the calling instance. */
kapsul_memory *kapsul_caller_memory(kapsul_caller *caller) {
    return caller && caller->inst ? caller->inst->core.mem0 : NULL;
}
kapsul_store *kapsul_caller_store(kapsul_caller *caller) { return caller ? caller->store : NULL; }

static bool valid_kind(kapsul_valkind k) {
    return k == KAPSUL_I32 || k == KAPSUL_I64 || k == KAPSUL_F32 || k == KAPSUL_F64 || k == KAPSUL_V128 ||
           k == KAPSUL_FUNCREF || k == KAPSUL_EXTERNREF;
}

kapsul_status kapsul_func_new_host(kapsul_store *store, const kapsul_valkind *params, uint32_t nparams,
                                   const kapsul_valkind *results, uint32_t nresults, kapsul_host_fn fn,
                                   void *env, kapsul_func **out, kapsul_error *err) {
    kpError_clear(err);
    if (out) *out = NULL;
    if (!store || !fn || !out || (!params && nparams) || (!results && nresults))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_func_new_host: a required argument is NULL");
    if (nparams > KP_MAX_PARAMS || nresults > KP_MAX_RESULTS)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "%u parameters and %u results: more than %u / %u", nparams,
                           nresults, KP_MAX_PARAMS, KP_MAX_RESULTS);
    uint8_t types[KP_MAX_PARAMS + KP_MAX_RESULTS];
    for (uint32_t i = 0; i < nparams + nresults; i++) {
        kapsul_valkind k = i < nparams ? params[i] : results[i - nparams];
        if (!valid_kind(k)) return kpError_set(err, KAPSUL_ERR_ARG, 0, "bad value kind 0x%x", (unsigned)k);
        types[i] = (uint8_t)k;
    }
    kpFuncType ft = {nparams, nresults, types};
    kapsul_func *f;
    if (kpStore_addFunc(store, &f) != KAPSUL_OK ||
        kpEngine_internType(store->engine, &ft, &f->type_id, &f->type) != KAPSUL_OK)
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    f->host = fn;
    f->env = env;
    f->index = 0;
    *out = f;
    return KAPSUL_OK;
}

uint32_t kapsul_func_param_count(const kapsul_func *f) { return f->type->nparams; }
uint32_t kapsul_func_result_count(const kapsul_func *f) { return f->type->nresults; }
/* Out-of-range indices give 0 (no valid kind) rather than reading past the type. */
kapsul_valkind kapsul_func_param(const kapsul_func *f, uint32_t i) {
    return i < f->type->nparams ? (kapsul_valkind)kpFuncType_params(f->type)[i] : (kapsul_valkind)0;
}
kapsul_valkind kapsul_func_result(const kapsul_func *f, uint32_t i) {
    return i < f->type->nresults ? (kapsul_valkind)kpFuncType_results(f->type)[i] : (kapsul_valkind)0;
}

/* ---- Calls ---- */

kapsul_status kapsul_func_call(kapsul_store *s, kapsul_func *f, const kapsul_val *args, uint32_t nargs,
                               kapsul_val *results, uint32_t nresults, kapsul_error *err) {
    kpError_clear(err);
    if (!s || !f) return kpError_set(err, KAPSUL_ERR_ARG, 0, "bad argument");
    const kpFuncType *t = f->type;
    if (nargs != t->nparams || (nargs && !args))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "expected %u arguments, got %u", t->nparams, nargs);
    if (nresults < t->nresults || (t->nresults && !results))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "room for %u results needed", t->nresults);
    const kpValType *pt = kpFuncType_params(t), *rt = kpFuncType_results(t);
    for (uint32_t i = 0; i < nargs; i++)
        if ((kpValType)args[i].kind != pt[i])
            return kpError_set(err, KAPSUL_ERR_ARG, 0, "argument %u has the wrong type", i);
    if (kpStore_prepareStacks(s) != KAPSUL_OK) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    kpExec *x = &s->exec;
    uint64_t *fp = x->stack_free;
    uint32_t np = slot_count(pt, t->nparams), nr = slot_count(rt, t->nresults);
    uint32_t need = np > nr ? np : nr;
    if ((size_t)(x->stack + x->stack_slots - fp) < need) {
        kpError_set(err, KAPSUL_ERR_TRAP, 0, "%s", kapsul_trap_message(KAPSUL_TRAP_STACK_EXHAUSTED));
        if (err) err->trap = KAPSUL_TRAP_STACK_EXHAUSTED;
        return KAPSUL_ERR_TRAP;
    }
    for (uint32_t i = 0, k = 0; i < nargs; k += kp_slot_width(pt[i]), i++) kpHost_toSlots(&args[i], fp + k);
    /* Host code below may re-enter; reserve our slots. */
    x->stack_free = fp + need;
    kapsul_status st = kpInterp_call(x, f, fp, err);
    x->stack_free = fp;
    if (st != KAPSUL_OK) return st;
    for (uint32_t i = 0, k = 0; i < t->nresults; k += kp_slot_width(rt[i]), i++) results[i] = kpHost_fromSlots(rt[i], fp + k);
    return KAPSUL_OK;
}

/* ---- Exports ---- */

kapsul_status kapsul_instance_export(kapsul_instance *inst, const char *name, size_t name_len,
                                     kapsul_extern *out, kapsul_error *err) {
    kpError_clear(err);
    if (!inst || (!name && name_len) || !out)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_instance_export: instance, name or out is NULL");
    if (!name) name = "";
    const kpModule *m = inst->module->m;
    for (uint32_t i = 0; i < m->nexports; i++) {
        const kpExport *ex = &m->exports[i];
        if (ex->name_len != name_len || memcmp(ex->name, name, name_len) != 0) continue;
        out->kind = (kapsul_externkind)ex->kind;
        switch (ex->kind) {
        case kpExtern_FUNC: out->of.func = inst->core.funcs[ex->index]; break;
        case kpExtern_TABLE: out->of.table = inst->core.tables[ex->index]; break;
        case kpExtern_MEMORY: out->of.memory = inst->core.mems[ex->index]; break;
        case kpExtern_GLOBAL: out->of.global = inst->core.globals[ex->index]; break;
        }
        return KAPSUL_OK;
    }
    return kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0, "no export named \"%.*s\"", (int)(name_len > 200 ? 200 : name_len), name);
}

kapsul_func *kapsul_instance_func(kapsul_instance *inst, const char *name) {
    kapsul_extern e;
    if (!name || kapsul_instance_export(inst, name, strlen(name), &e, NULL) != KAPSUL_OK) return NULL;
    return e.kind == KAPSUL_EXTERN_FUNC ? e.of.func : NULL;
}

kapsul_memory *kapsul_instance_memory(kapsul_instance *inst, const char *name) {
    kapsul_extern e;
    if (!name || kapsul_instance_export(inst, name, strlen(name), &e, NULL) != KAPSUL_OK) return NULL;
    return e.kind == KAPSUL_EXTERN_MEMORY ? e.of.memory : NULL;
}
