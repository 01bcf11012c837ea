/*
 * module.c -- small helpers over the module model: value types, function-type equality, the
 * index spaces (imports first, then definitions), freeing, and the "name" custom section.
 */
#include "module/module.h"

const char *kp_valtype_name(kpValType t) {
    switch (t) {
    case kpT_I32: return "i32";
    case kpT_I64: return "i64";
    case kpT_F32: return "f32";
    case kpT_F64: return "f64";
    case kpT_V128: return "v128";
    case kpT_FUNCREF: return "funcref";
    case kpT_EXTERNREF: return "externref";
    default: return "unknown";
    }
}

bool kpModule_typeEqual(const kpFuncType *a, const kpFuncType *b) {
    if (a->nparams != b->nparams || a->nresults != b->nresults) return false;
    size_t n = (size_t)a->nparams + a->nresults;
    return n == 0 || memcmp(a->types, b->types, n) == 0;
}

/* The index spaces put imports first. The decoder records where the k-th import of each kind
 * sits in imports[] (import_pos), so lowering may call these per instruction. */
static const kpImport *nth_import(const kpModule *m, kpExternKind kind, uint32_t k) {
    return &m->imports[m->import_pos[kind][k]];
}

uint32_t kpModule_funcTypeIndex(const kpModule *m, uint32_t f) {
    if (f >= m->nfunc_imports) return m->funcs[f - m->nfunc_imports].type;
    return nth_import(m, kpExtern_FUNC, f)->desc.func_type;
}

const kpFuncType *kpModule_funcType(const kpModule *m, uint32_t f) {
    return &m->types[kpModule_funcTypeIndex(m, f)];
}

kpTableType kpModule_tableType(const kpModule *m, uint32_t t) {
    if (t >= m->ntable_imports) return m->tables[t - m->ntable_imports];
    return nth_import(m, kpExtern_TABLE, t)->desc.table;
}

kpMemType kpModule_memType(const kpModule *m, uint32_t i) {
    if (i >= m->nmem_imports) return m->memories[i - m->nmem_imports];
    return nth_import(m, kpExtern_MEMORY, i)->desc.memory;
}

kpGlobalType kpModule_globalType(const kpModule *m, uint32_t g) {
    if (g >= m->nglobal_imports) return m->globals[g - m->nglobal_imports].type;
    return nth_import(m, kpExtern_GLOBAL, g)->desc.global;
}

void kpModule_free(kpModule *m) {
    if (!m) return;
    kp_free(m->type_pool);
    kp_free(m->types);
    kp_free(m->imports);
    if (m->funcs)
        for (uint32_t i = 0; i < m->nfuncs; i++) kp_free(m->funcs[i].local_runs);
    kp_free(m->funcs);
    kp_free(m->tables);
    kp_free(m->memories);
    kp_free(m->globals);
    kp_free(m->exports);
    if (m->elems)
        for (uint32_t i = 0; i < m->nelems; i++) {
            kp_free(m->elems[i].funcs);
            kp_free(m->elems[i].exprs);
        }
    kp_free(m->elems);
    kp_free(m->datas);
    kp_free(m->customs);
    if (m->func_names)
        for (uint32_t i = 0; i < m->nfunc_names; i++) kp_free(m->func_names[i]);
    kp_free(m->func_names);
    kp_free(m->func_declared);
    for (int k = 0; k < 4; k++) kp_free(m->import_pos[k]);
    kp_free(m->bytes);
    kp_free(m);
}

/* The function-names subsection (id 1): vec(funcidx name). Returns 1 if well-formed, 0 if not,
 * -1 when out of memory. Names for indices outside the function space are skipped; a later
 * duplicate replaces an earlier one (engines differ here, and nothing depends on it). */
static int read_func_names(kpReader *r, char **names, uint32_t nnames) {
    uint32_t count;
    if (!kpRead_u32(r, &count)) return 0;
    if (count > (size_t)(r->end - r->p) / 2) return 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t idx, len;
        const char *s;
        if (!kpRead_u32(r, &idx) || !kpRead_name(r, &s, &len)) return 0;
        if (idx >= nnames) continue;
        char *copy = kp_strndup(s, len);
        if (!copy) return -1;
        kp_free(names[idx]);
        names[idx] = copy;
    }
    return r->p == r->end ? 1 : 0;
}

/* Walk the subsections; only function names are kept. Anything malformed drops all names. */
kapsul_status kpModule_readNames(kpModule *m, const kpCustom *c) {
    uint32_t nnames = kpModule_numFuncs(m);
    char **names = kp_calloc(nnames ? nnames : 1, sizeof *names);
    if (!names) return KAPSUL_ERR_NOMEM;
    kpReader r;
    kpRead_init(&r, m->bytes, m->bytes + c->bytes.start, m->bytes + c->bytes.start + c->bytes.len);
    int ok = 1;
    bool seen_funcs = false;
    int last_id = -1;
    while (ok == 1 && !kpRead_eof(&r)) {
        uint8_t id;
        uint32_t size;
        const uint8_t *body;
        if (!kpRead_u8(&r, &id) || !kpRead_u32(&r, &size) || !kpRead_bytes(&r, size, &body)) {
            ok = 0;
            break;
        }
        if ((int)id <= last_id) {
            ok = 0;
            break;
        } /* subsections are ordered and unique */
        last_id = id;
        if (id != 1) continue;
        kpReader sub;
        kpRead_init(&sub, m->bytes, body, body + size);
        ok = read_func_names(&sub, names, nnames);
        seen_funcs = true;
    }
    if (ok == 1 && seen_funcs) {
        m->func_names = names;
        m->nfunc_names = nnames;
        return KAPSUL_OK;
    }
    for (uint32_t i = 0; i < nnames; i++) kp_free(names[i]);
    kp_free(names);
    return ok < 0 ? KAPSUL_ERR_NOMEM : KAPSUL_OK;
}
