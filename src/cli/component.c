/*
 * component.c -- what `kapsul inspect` and `kapsul validate` do with a component (a binary whose
 * preamble says layer 1): decode and validate it with src/component, then list its WIT-level
 * imports and exports (inspect) or say nothing (validate). Components are not loaded through the
 * public API yet (kapsul.h has no component type), so both use the component model directly.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "component/component.h"

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

kapsul_status kpCli_runComponent(const kpBuf *bytes, kapsul_error *err) {
    kapsul_status st = kpCli_validateComponent(bytes, err);
    if (st != KAPSUL_OK) return st;
    return kpError_set(
        err, KAPSUL_ERR_ARG, 0,
        "this is a component: running components is not supported yet (`kapsul inspect` lists its "
        "WIT imports and exports)");
}
