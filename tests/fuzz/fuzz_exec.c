/*
 * fuzz_exec.c -- libFuzzer target (c): load the input as a module, satisfy every import with a
 * harmless stand-in (host functions returning zeros, fresh memories, tables and globals),
 * instantiate under fuel, then call every exported function with zero-valued arguments, each
 * call with fresh fuel. Memory is capped at 16 MiB through kapsul_config. Every call must come
 * back with a status in range; a trap must name a trap kind. The seed corpus holds valid modules
 * so that mutations stay mostly loadable.
 */
#include <stdlib.h>
#include <string.h>

#include "kapsul.h"
#include "runtime/runtime.h"
#include "stubs.h"

#define FUEL 20000
#define MEMORY_CAP ((size_t)16 << 20)

static kapsul_engine *engine;

static void check_status(kapsul_status st, const kapsul_error *err) {
    if ((int)st < 0 || st > KAPSUL_ERR_EXIT) abort();
    if (st != KAPSUL_OK && (err->code != st || memchr(err->message, 0, sizeof err->message) == NULL)) abort();
    if (st == KAPSUL_ERR_TRAP && (err->trap <= KAPSUL_TRAP_NONE || err->trap >= KAPSUL_TRAP_COUNT)) abort();
}

/* Call one exported function with zeros. */
static void call_export(kapsul_store *s, kapsul_func *f) {
    uint32_t np = kapsul_func_param_count(f), nr = kapsul_func_result_count(f);
    kapsul_val *args = calloc(np + 1, sizeof *args), *res = calloc(nr + 1, sizeof *res);
    if (!args || !res) abort();
    for (uint32_t i = 0; i < np; i++) args[i] = zero_of((kpValType)kapsul_func_param(f, i));
    kapsul_error err;
    memset(&err, 0, sizeof err);
    kapsul_store_set_fuel(s, FUEL);
    kapsul_status st = kapsul_func_call(s, f, args, np, res, nr, &err);
    check_status(st, &err);
    if (st == KAPSUL_OK)
        for (uint32_t i = 0; i < nr; i++)
            if (res[i].kind != kapsul_func_result(f, i)) abort();
    free(args);
    free(res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!engine) {
        kapsul_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.max_memory_bytes = MEMORY_CAP;
        if (kapsul_engine_new(&cfg, &engine, NULL) != KAPSUL_OK) abort();
    }
    kapsul_module *mod = NULL;
    kapsul_error err;
    memset(&err, 0, sizeof err);
    if (kapsul_module_new(engine, data, size, &mod, &err) != KAPSUL_OK) return 0;
    kapsul_store *s = NULL;
    kapsul_store_new(engine, &s, NULL);
    kapsul_linker *l = NULL;
    if (s) kapsul_linker_new(s, &l, NULL);
    if (!l) abort();
    const kpModule *m = mod->m;
    for (uint32_t i = 0; i < m->nimports; i++) define_import(s, l, m, i);
    kapsul_instance *inst = NULL;
    kapsul_store_set_fuel(s, FUEL);
    kapsul_status st = kapsul_linker_instantiate(l, mod, &inst, &err);
    check_status(st, &err);
    if (st == KAPSUL_OK) {
        for (uint32_t i = 0; i < m->nexports; i++) {
            const kpExport *ex = &m->exports[i];
            kapsul_extern ext;
            if (kapsul_instance_export(inst, ex->name, ex->name_len, &ext, NULL) != KAPSUL_OK) abort();
            if (ext.kind != (kapsul_externkind)ex->kind) abort();
            if (ext.kind == KAPSUL_EXTERN_FUNC) call_export(s, ext.of.func);
            else if (ext.kind == KAPSUL_EXTERN_MEMORY) {
                size_t n = kapsul_memory_size(ext.of.memory);
                if (n > MEMORY_CAP) abort();
                if (n) {
                    volatile uint8_t *p = kapsul_memory_data(ext.of.memory);
                    p[0] ^= 1;
                    p[n - 1] ^= 1;
                }
            }
        }
    }
    kapsul_linker_free(l);
    kapsul_store_free(s);
    kapsul_module_free(mod);
    return 0;
}
