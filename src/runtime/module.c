/*
 * module.c -- modules: decode + validate + lower every function at load time (not for a .kwasm,
 * whose compiled code runs them; see kpModule_lowered), the import and
 * export listings, and the reference count instances hold.
 */
#include <stdio.h>
#include <stdlib.h>

#include "engine/native/bridge.h"
#include "runtime/runtime.h"

/* ---- Modules ---- */

void kpModule_release(kapsul_module *mod) {
    if (!mod || __atomic_sub_fetch(&mod->refs, 1, __ATOMIC_ACQ_REL) > 0) return;
    for (int k = 0; k < 2; k++) {
        kpCode *c = k ? mod->lowered : mod->codes;
        if (c && mod->m)
            for (uint32_t i = 0; i < mod->m->nfuncs; i++) kpCode_free(&c[i]);
        kp_free(c);
    }
    if (mod->lock) kpOs_mutexFree(mod->lock);
    kp_free(mod->func_types);
    kp_free(mod->type_ids);
    kp_free(mod->canon);
    kpNativeCode_free(mod->native);
    kpSymbols_free(mod->syms);
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

/* Lower every defined function for the interpreter into a fresh array. */
static kapsul_status lower_all(kapsul_module *mod, kpCode **out, kapsul_error *err) {
    kpCode *codes = kp_calloc(mod->m->nfuncs ? mod->m->nfuncs : 1, sizeof *codes);
    if (!codes) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    kpLowerCtx cx = { mod->m, mod->func_types, mod->type_ids };
    for (uint32_t i = 0; i < mod->m->nfuncs; i++) {
        kapsul_status st = kpLower_function(&cx, i, &codes[i], err);
        if (st != KAPSUL_OK) {
            for (uint32_t k = 0; k < i; k++) kpCode_free(&codes[k]);
            kp_free(codes);
            return st;
        }
        kpInterp_thread(&codes[i]);
    }
    *out = codes;
    return KAPSUL_OK;
}

kapsul_status kpModule_lowered(kapsul_module *mod, const kpCode **out, kapsul_error *err) {
    if (!mod->native) {
        *out = mod->codes;
        return KAPSUL_OK;
    }
    kapsul_status st = KAPSUL_OK;
    kpOs_mutexLock(mod->lock);
    if (!mod->lowered) st = lower_all(mod, &mod->lowered, err);
    *out = mod->lowered;
    kpOs_mutexUnlock(mod->lock);
    return st;
}

kapsul_status kapsul_module_new(kapsul_engine *engine, const uint8_t *bytes, size_t len, kapsul_module **out,
                                kapsul_error *err) {
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
    kpBuf compiled = { 0 };
    if (engine->config.tier == KAPSUL_TIER_NATIVE && bytes && !kpArtifact_isKwasm(bytes, len)) {
        /* Validate first, so a bad module gets the decoder's error, not the compiler's. */
        kpModule *check = NULL;
        if ((st = kpDecode_module(bytes, len, &check, err)) == KAPSUL_OK) st = kpValidate_module(check, err);
        if (check) kpModule_free(check);
        if (st != KAPSUL_OK ||
            (st = kpRuntime_compileNative(engine, bytes, len, &compiled, err)) != KAPSUL_OK)
            goto fail;
        bytes = compiled.data;
        len = compiled.len;
    }
    bool native = bytes && kpArtifact_isKwasm(bytes, len);
    if (native) {
        if ((st = kpArtifact_read(bytes, len, &art, err)) != KAPSUL_OK) goto fail;
        bytes = art.wasm;
        len = art.wasm_size;
    }
    if ((st = kpDecode_module(bytes ? bytes : (const uint8_t *)"", len, &mod->m, err)) != KAPSUL_OK)
        goto fail;
    if ((st = kpValidate_module(mod->m, err)) != KAPSUL_OK) goto fail;
    if ((st = index_module(mod)) != KAPSUL_OK) {
        kpError_set(err, st, 0, "out of memory");
        goto fail;
    }
    if (native) {
        /* Compiled code runs these functions: stubs for interpreted callers, no lowering. */
        mod->codes = kp_calloc(mod->m->nfuncs ? mod->m->nfuncs : 1, sizeof *mod->codes);
        if (!mod->codes || !(mod->lock = kpOs_mutexNew())) {
            st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
            goto fail;
        }
        for (uint32_t i = 0; i < mod->m->nfuncs; i++) {
            if (kpCode_nativeStub(&mod->m->types[mod->m->funcs[i].type], &mod->codes[i]) != KAPSUL_OK) {
                st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
                goto fail;
            }
            kpInterp_thread(&mod->codes[i]);
        }
    } else if ((st = lower_all(mod, &mod->codes, err)) != KAPSUL_OK) {
        goto fail;
    }
    if (native) {
        if (art.nfuncs != kpModule_numFuncs(mod->m)) {
            st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "artifact does not match its module");
            goto fail;
        }
        if ((st = kpNativeCode_load(art.object, art.object_size, art.nfuncs, &mod->native, err)) != KAPSUL_OK)
            goto fail;
        kpNativeCode_setGuard(mod->native, strstr(art.flags, "bounds-checks") == NULL);
    }
    kpBuf_free(&compiled);
    *out = mod;
    return KAPSUL_OK;
fail:
    kpBuf_free(&compiled);
    kpModule_release(mod);
    return st;
}

/* The code every defined function was lowered to, for `kapsul inspect --ir` (engine debugging);
 * function indices count imports first, as everywhere else. */
void kpModule_dumpIr(const kapsul_module *mod, FILE *f) {
    for (uint32_t i = 0; i < mod->m->nfuncs; i++) {
        fprintf(f, "== func[%u]\n", mod->m->nimports + i);
        kpCode_dump(&mod->codes[i], f);
    }
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
