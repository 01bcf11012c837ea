/*
 * component.c -- what `kapsul inspect` and `kapsul validate` do with a component (a binary whose
 * preamble says layer 1): decode and validate it with src/component, then list its WIT-level
 * imports and exports (inspect) or say nothing (validate). Components are not loaded through the
 * public API yet (kapsul.h has no component type), so both use the component model directly.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "component/component.h"
#include "wasip2/wasip2.h"

bool kpCli_isComponent(const kpBuf *bytes) { return kpComponent_isAnyVersion(bytes->data, bytes->len); }

kapsul_status kpCli_validateComponent(const kpBuf *bytes, kapsul_error *err) {
    kpComponent *c = NULL;
    kapsul_status st = kpComponent_decode(bytes->data, bytes->len, &c, err);
    kpComponent_free(c);
    return st;
}

/* The listing: a summary line, the nested core modules, then one line per WIT-level import and
 * export (component/wit.c). */
kapsul_status kpCli_inspectComponent(const char *path, const kpBuf *bytes, kapsul_error *err) {
    kpComponent *c = NULL;
    kapsul_status st = kpComponent_decode(bytes->data, bytes->len, &c, err);
    if (st != KAPSUL_OK) return st;
    kpBuf wit = { 0 };
    if (kpWit_describe(c, &wit) != 0) {
        kpBuf_free(&wit);
        kpComponent_free(c);
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    }
    printf("%s: component (layer 1, version 0x0d), %zu bytes, %u components, %zu core modules\n\n", path,
           c->size, c->ncomponents, c->modules.n);
    for (size_t i = 0; i < c->modules.n; i++) {
        const kpCModule *m = &c->modules.v[i];
        printf("core module %zu: offset 0x%zx, %zu bytes, %u imports, %u exports, %u functions\n", i,
               m->offset, m->size, m->module->nimports, m->module->nexports, kpModule_numFuncs(m->module));
    }
    printf("\n");
    fwrite(wit.data, 1, wit.len, stdout);
    kpBuf_free(&wit);
    kpComponent_free(c);
    return KAPSUL_OK;
}

/* Print the values of a call's results in WAVE syntax, one per line. */
static int print_results(const kpComponent *c, const kpCType *ft, const kpCValue *res) {
    kpBuf out = { 0 };
    int rc = 0;
    for (uint32_t i = ft->nparams; rc == 0 && i < ft->n; i++) {
        rc |= kpWave_print(c, ft->fields[i].type, &res[i - ft->nparams], &out);
        rc |= kpBuf_byte(&out, '\n');
    }
    if (rc == 0) fwrite(out.data, 1, out.len, stdout);
    kpBuf_free(&out);
    return rc;
}

/* The exit status of a call that ended with st: a trap prints its message and backtrace (134),
 * an exit its code, anything else its message (1). */
static int status_of(const char *file, kapsul_status st, const kapsul_error *err) {
    if (st == KAPSUL_OK) return KP_EXIT_OK;
    if (st == KAPSUL_ERR_EXIT) return err->exit_code;
    if (st == KAPSUL_ERR_TRAP) {
        fprintf(stderr, "kapsul run: %s: trap (%s): %s\n", file, kapsul_trap_name(err->trap),
                err->message[0] ? err->message : kapsul_trap_message(err->trap));
        kpCli_printBacktrace(stderr, err);
        return 134;
    }
    fprintf(stderr, "kapsul run: %s: %s: %s\n", file, kapsul_status_name(st), err->message);
    return KP_EXIT_FAIL;
}

/* --tier native: a core module of the component as its .kwasm, from the cache or compiled now. */
static kapsul_status native_module(void *env, kapsul_engine *engine, const uint8_t *bytes, size_t len,
                                   kapsul_module **out, kapsul_error *err) {
    kpBuf kw;
    kapsul_status st = kpCli_nativeArtifact(env, bytes, len, &kw, err);
    if (st != KAPSUL_OK) return st;
    st = kapsul_module_new(engine, kw.data, kw.len, out, err);
    kpBuf_free(&kw);
    return st;
}

int kpCli_runComponent(kapsul_engine *engine, const kpBuf *bytes, const kpCliComponentRun *run,
                       kapsul_error *err) {
    kpCPre *pre = NULL;
    kapsul_store *store = NULL;
    kpP2 *host = NULL;
    kpCInstance *ci = NULL;
    kpCArena arena = { 0 };
    int rc = KP_EXIT_FAIL;
    bool native = run->tier && run->tier->native;
    kapsul_status st = kpCPre_newWith(engine, bytes->data, bytes->len, native ? native_module : NULL,
                                      (void *)run->tier, &pre, err);
    if (st != KAPSUL_OK) {
        kpCli_printError(stderr, run->file, err);
        rc = kpCli_exitFor(st);
        goto done;
    }
    if ((st = kapsul_store_new(engine, &store, err)) != KAPSUL_OK ||
        (st = kpP2_new(run->wasi, &host, err)) != KAPSUL_OK)
        goto report;
    kpP2_setNet(host, run->net);
    if (run->fuel) kapsul_store_set_fuel(store, run->fuel);
    if (run->deadline) kapsul_store_set_deadline(store, run->deadline);
    if ((st = kpCInstance_new(pre, store, kpP2_resolve, host, &ci, err)) != KAPSUL_OK) goto report;
    if (run->trace) kpCInstance_setTrace(ci, run->trace, run->trace_env);
    /* --invoke 'name(args)' (component/wave_parse.c): NAME is an exported function, or
     * INSTANCE#FUNC for a function of an exported instance; a function without parameters may be
     * named without parentheses. */
    char name[256] = "wasi:cli/run@0.2.0", func[256] = "run";
    bool member = !run->invoke;
    if (run->invoke) {
        const char *nm = run->invoke;
        size_t n = strlen(nm);
        if (strchr(run->invoke, '(') && kpWave_callName(run->invoke, n, &nm, &n, err) != KAPSUL_OK) {
            fprintf(stderr, "kapsul run: %s: --invoke: %s\n", run->file, err->message);
            rc = KP_EXIT_USAGE;
            goto done;
        }
        const char *hash = memchr(nm, '#', n);
        if (hash) snprintf(func, sizeof func, "%.*s", (int)(n - (size_t)(hash - nm) - 1), hash + 1);
        snprintf(name, sizeof name, "%.*s", (int)(hash ? (size_t)(hash - nm) : n), nm);
        member = hash != NULL;
    }
    kpCFunc *f = kpCInstance_func(ci, name, member ? func : NULL);
    if (!f) {
        if (run->invoke)
            fprintf(stderr, "kapsul run: %s: no exported function '%s%s%s'\n", run->file, name,
                    member ? "#" : "", member ? func : "");
        else
            fprintf(stderr,
                    "kapsul run: %s: the component exports no wasi:cli/run@0.2.x instance (use --invoke)\n",
                    run->file);
        goto done;
    }
    const kpComponent *c = kpCInstance_component(ci);
    const kpCType *ft = kpComponent_resolve(c, kpCFunc_type(f));
    kpCValue *params = NULL;
    if (run->invoke && (strchr(run->invoke, '(') || ft->nparams)) {
        st = kpWave_parseArgs(c, ft, run->invoke, strlen(run->invoke), &arena, &params, err);
        if (st != KAPSUL_OK) {
            fprintf(stderr, "kapsul run: %s: --invoke: %s\n", run->file, err->message);
            rc = st == KAPSUL_ERR_NOMEM ? KP_EXIT_FAIL : KP_EXIT_USAGE;
            goto done;
        }
    }
    kpCValue *res = kpCArena_alloc(&arena, (ft->n + 1) * sizeof *res);
    if (!res) goto nomem;
    st = kpCFunc_call(ci, f, params, res, &arena, err);
    if (st != KAPSUL_OK) goto report;
    if (run->invoke) {
        rc = print_results(c, ft, res) == 0 ? KP_EXIT_OK : KP_EXIT_FAIL;
    } else { /* run: func() -> result: an error is exit status 1, as wasmtime reports it */
        rc = ft->n == 1 && res[0].var.disc != 0 ? KP_EXIT_FAIL : KP_EXIT_OK;
    }
    goto done;
nomem:
    st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
report:
    rc = status_of(run->file, st, err);
done:
    fflush(stdout);
    kpCArena_free(&arena);
    kpCInstance_free(ci);
    kpP2_free(host);
    if (store) kapsul_store_free(store);
    kpCPre_free(pre);
    return rc;
}
