/*
 * fuzz_cinstance.c -- libFuzzer target: arbitrary bytes instantiated and run as a component
 * (src/cinstance) with the WASI 0.2 host (src/wasip2) on an in-memory sandbox (stdio buffers
 * capped at 64 KiB, no directories), every other import resolved to a stand-in host instance
 * whose functions return zeros of a scalar result type or trap. Every exported function without
 * parameters (of the component and of its exported instances) is then called, under fuel and a
 * memory cap so each input is bounded.
 * Oracles: statuses in range, a NUL-terminated message on failure, a trap kind in range for a
 * trap. ASan/UBSan catch everything else (a lying guest must end in a trap, never in UB).
 * Differential: the same component instantiated again from a component template
 * (src/cinstance/template.c: pooled copy-on-write core memories, a pool of one slot) in a fresh
 * sandbox must end with the same status and message as kpCInstance_new, and its exports are
 * called the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "cinstance/cinstance.h"
#include "wasip2/wasip2.h"

#define FUEL 200000u
#define MEMORY_CAP (16u << 20)

static kapsul_engine *engine;

static void check(kapsul_status st, const kapsul_error *err) {
    if ((unsigned)st > KAPSUL_ERR_EXIT) abort();
    if (st == KAPSUL_OK) return;
    if (err->code != st || !memchr(err->message, 0, sizeof err->message)) abort();
    if (st == KAPSUL_ERR_TRAP && (unsigned)err->trap >= KAPSUL_TRAP_COUNT) abort();
}

/* The stand-in: zeros for a scalar (or handle) result, a trap otherwise. */
static kapsul_status stand_in(void *env, kpCHostCall *call, const kpCValue *params, kpCValue *results,
                              kapsul_error *err) {
    (void)env, (void)params;
    const kpComponent *c = kpCInstance_component(call->ci);
    for (uint32_t i = call->ft->nparams; i < call->ft->n; i++) {
        kpCVal t = call->ft->fields[i].type;
        uint8_t kind = t.prim ? kpCT_PRIM : kpComponent_resolve(c, t.type)->kind;
        bool scalar =
            kind == kpCT_ENUM || kind == kpCT_FLAGS || kind == kpCT_OWN || kind == kpCT_BORROW ||
            (kind == kpCT_PRIM && (t.prim ? t.prim : kpComponent_resolve(c, t.type)->a.prim) != kpCP_STRING);
        if (!scalar) {
            kapsul_status st = kpError_set(err, KAPSUL_ERR_TRAP, 0, "stand-in import");
            err->trap = KAPSUL_TRAP_HOST;
            return st;
        }
        memset(&results[i - call->ft->nparams], 0, sizeof *results);
    }
    return KAPSUL_OK;
}

static kapsul_status resolve(void *env, kpCInstance *ci, const char *name, uint32_t len, kpCInst **out,
                             kapsul_error *err) {
    kapsul_status st = kpP2_resolve(env, ci, name, len, out, err);
    if (st != KAPSUL_ERR_NOT_FOUND) return st;
    return kpCHost_any(ci, "stand-in", stand_in, NULL, out, err);
}

static void call(kpCInstance *ci, kpCFunc *f) {
    if (!f) abort();
    const kpCType *ft = kpComponent_resolve(kpCInstance_component(ci), kpCFunc_type(f));
    if (ft->nparams) return;
    kpCArena arena = { 0 };
    kpCValue *res = kpCArena_alloc(&arena, (ft->n + 1) * sizeof *res);
    kapsul_error err;
    memset(&err, 0, sizeof err);
    if (res) check(kpCFunc_call(ci, f, NULL, res, &arena, &err), &err);
    kpCArena_free(&arena);
}

static void call_exports(kpCInstance *ci) {
    const kpComponent *c = kpCInstance_component(ci);
    const kpCDecls *ds = &c->decls.v[c->types.v[c->root].decls];
    char name[256], fn[256];
    for (size_t i = 0; i < ds->exports.n && i < 64; i++) {
        const kpCDecl *d = &ds->exports.v[i];
        /* (the decoder refuses control characters in names; the check stays, cheap) */
        if (d->name_len >= sizeof name || memchr(d->name, 0, d->name_len)) continue;
        memcpy(name, d->name, d->name_len), name[d->name_len] = 0;
        if (d->ext.sort == kpCS_FUNC) call(ci, kpCInstance_func(ci, name, NULL));
        if (d->ext.sort != kpCS_INSTANCE) continue;
        const kpCDecls *is = &c->decls.v[c->types.v[d->ext.type].decls];
        for (size_t j = 0; j < is->exports.n && j < 64; j++) {
            const kpCDecl *e = &is->exports.v[j];
            if (e->ext.sort != kpCS_FUNC || e->name_len >= sizeof fn || memchr(e->name, 0, e->name_len))
                continue;
            memcpy(fn, e->name, e->name_len), fn[e->name_len] = 0;
            kpCFunc *f = kpCInstance_func(ci, name, fn);
            if (f) call(ci, f); /* NULL: a re-exported host instance */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!engine) {
        kapsul_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.max_memory_bytes = MEMORY_CAP;
        if (kapsul_engine_new(&cfg, &engine, NULL) != KAPSUL_OK) abort();
    }
    kapsul_error err;
    memset(&err, 0, sizeof err);
    kpCPre *pre = NULL;
    kapsul_status st = kpCPre_new(engine, data, size, &pre, &err);
    check(st, &err);
    if (st != KAPSUL_OK) return 0;
    static const char *const argv[] = { "fuzz", "a" };
    static const char *const env[] = { "K=V" };
    kapsul_wasi_config wc = { .argv = argv,
                              .argc = 2,
                              .env = env,
                              .envc = 1,
                              .stdin_fd = -1,
                              .mem_stdio =
                                  KAPSUL_WASI_MEM_STDIN | KAPSUL_WASI_MEM_STDOUT | KAPSUL_WASI_MEM_STDERR,
                              .output_cap = 65536 };
    kapsul_error first;
    kapsul_status first_st = KAPSUL_OK;
    kpCTemplate *tpl = NULL;
    kapsul_template_config tc = { .pool_size = 1 };
    for (int way = 0; way < 2; way++) {
        kapsul_wasi *wasi = NULL;
        kpP2 *host = NULL;
        kapsul_store *store = NULL;
        kpCInstance *ci = NULL;
        memset(&err, 0, sizeof err);
        if (kapsul_wasi_new(&wc, &wasi, NULL) != KAPSUL_OK || kpP2_new(wasi, &host, NULL) != KAPSUL_OK ||
            kapsul_store_new(engine, &store, NULL) != KAPSUL_OK)
            abort();
        kapsul_store_set_fuel(store, FUEL);
        if (way == 0) {
            st = kpCInstance_new(pre, store, resolve, host, &ci, &err);
            first_st = st, first = err;
        } else {
            st = kpCTemplate_instantiate(tpl, store, resolve, host, &ci, &err);
            if (st != first_st || (st != KAPSUL_OK && strcmp(err.message, first.message) != 0)) abort();
        }
        check(st, &err);
        if (st == KAPSUL_OK) call_exports(ci);
        kpCInstance_free(ci);
        kapsul_store_free(store);
        kpP2_free(host);
        kapsul_wasi_free(wasi);
        if (way == 0) {
            st = kpCTemplate_new(pre, &tc, &tpl, &err);
            check(st, &err);
            if (st != KAPSUL_OK) break;
        }
    }
    kpCTemplate_free(tpl);
    kpCPre_free(pre);
    return 0;
}
