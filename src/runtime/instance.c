/*
 * instance.c -- instantiation as the 2.0 spec orders it: check the imports, allocate functions,
 * tables, memories and globals, evaluate element segments, then apply active element segments
 * and data segments in order (a failure traps, and what was written before stays written), drop
 * declarative segments, and run the start function.
 */
#include "runtime/runtime.h"
#include "module/opcodes.h"
#include "engine/native/bridge.h"

/* ---- Constant expressions ---- */

/* Evaluate a validated constant expression. Globals referenced are the instance's (imports are
 * already in place; validation allows nothing else). */
static kapsul_status eval_const(kapsul_instance *inst, kpRange r, uint64_t out[2]) {
    const kpModule *m = inst->module->m;
    kpReader rd;
    kpRead_init(&rd, m->bytes, m->bytes + r.start, m->bytes + r.start + r.len);
    uint64_t stack[8][2];
    int sp = 0;
    for (;;) {
        kpInstr in;
        if (!kpDecode_instr(&rd, &in)) return KAPSUL_ERR_MALFORMED;
        if (in.op == kpOp_END) break;
        if (sp >= 8) return KAPSUL_ERR_LIMIT;
        stack[sp][1] = 0;
        switch (in.op) {
        case kpOp_I32_CONST:
        case kpOp_F32_CONST: stack[sp++][0] = (uint32_t)in.bits; break;
        case kpOp_I64_CONST:
        case kpOp_F64_CONST: stack[sp++][0] = in.bits; break;
        case kpOp_REF_NULL: stack[sp++][0] = 0; break;
        case kpOp_REF_FUNC: stack[sp++][0] = (uint64_t)(uintptr_t)inst->core.funcs[in.a]; break;
        case kpOp_GLOBAL_GET: memcpy(stack[sp++], inst->core.globals[in.a]->bits, 16); break;
        /* extended-const (validated only when that proposal is enabled) */
        case kpOp_I32_ADD:
        case kpOp_I32_SUB:
        case kpOp_I32_MUL:
        case kpOp_I64_ADD:
        case kpOp_I64_SUB:
        case kpOp_I64_MUL: {
            if (sp < 2) return KAPSUL_ERR_MALFORMED;
            uint64_t a = stack[sp - 2][0], b = stack[sp - 1][0], v;
            if (in.op == kpOp_I32_ADD || in.op == kpOp_I64_ADD) v = a + b;
            else if (in.op == kpOp_I32_SUB || in.op == kpOp_I64_SUB) v = a - b;
            else v = a * b;
            if (in.op <= kpOp_I32_MUL && in.op >= kpOp_I32_ADD) v = (uint32_t)v;
            sp--;
            stack[sp - 1][0] = v;
            break;
        }
        default:
            if (in.bytes && kpOp_info[in.op].imm == kpImm_V128) {
                memcpy(stack[sp++], in.bytes, 16);
                break;
            }
            return KAPSUL_ERR_MALFORMED;
        }
    }
    if (sp < 1) return KAPSUL_ERR_MALFORMED;
    memcpy(out, stack[sp - 1], 16);
    return KAPSUL_OK;
}

/* ---- Import checks ---- */

static bool limits_match(uint64_t have_min, uint64_t have_max, const kpLimits *want) {
    if (have_min < want->min) return false;
    if (!want->has_max) return true;
    return have_max != KAPSUL_NO_MAX && have_max <= want->max;
}

/* ---- Descriptions for link errors: "func (param i32) (result i32)", "memory 1 2", ... ---- */

static size_t put_types(char *b, size_t cap, size_t k, const char *what, const kpValType *t, uint32_t n) {
    if (n == 0 || k >= cap) return k;
    k += (size_t)snprintf(b + k, cap - k, " (%s", what);
    for (uint32_t i = 0; i < n && k < cap; i++)
        k += (size_t)snprintf(b + k, cap - k, " %s", kp_valtype_name(t[i]));
    if (k < cap) k += (size_t)snprintf(b + k, cap - k, ")");
    return k;
}

static void describe_functype(const kpFuncType *ft, char *b, size_t cap) {
    size_t k = (size_t)snprintf(b, cap, "func");
    k = put_types(b, cap, k, "param", kpFuncType_params(ft), ft->nparams);
    put_types(b, cap, k, "result", kpFuncType_results(ft), ft->nresults);
}

static void describe_limits(char *b, size_t cap, const char *kind, uint64_t min, bool has_max, uint64_t max,
                            const char *tail) {
    if (has_max)
        snprintf(b, cap, "%s %llu %llu%s", kind, (unsigned long long)min, (unsigned long long)max, tail);
    else snprintf(b, cap, "%s %llu%s", kind, (unsigned long long)min, tail);
}

void kpInstance_describeImport(const kapsul_module *mod, const kpImport *im, char *b, size_t cap) {
    switch (im->kind) {
    case kpExtern_FUNC: describe_functype(&mod->m->types[im->desc.func_type], b, cap); return;
    case kpExtern_TABLE:
        describe_limits(b, cap, "table", im->desc.table.limits.min, im->desc.table.limits.has_max,
                        im->desc.table.limits.max,
                        im->desc.table.elem == kpT_FUNCREF ? " funcref" : " externref");
        return;
    case kpExtern_MEMORY:
        describe_limits(b, cap, "memory", im->desc.memory.limits.min, im->desc.memory.limits.has_max,
                        im->desc.memory.limits.max, "");
        return;
    case kpExtern_GLOBAL:
        snprintf(b, cap, "global %s%s", im->desc.global.mut ? "mut " : "",
                 kp_valtype_name(im->desc.global.type));
        return;
    }
    snprintf(b, cap, "?");
}

static void describe_extern(const kapsul_extern *ex, char *b, size_t cap) {
    switch ((kpExternKind)ex->kind) {
    case kpExtern_FUNC:
        if (ex->of.func) describe_functype(ex->of.func->type, b, cap);
        else snprintf(b, cap, "func");
        return;
    case kpExtern_TABLE:
        if (ex->of.table)
            describe_limits(b, cap, "table", ex->of.table->size, ex->of.table->max != KAPSUL_NO_MAX,
                            ex->of.table->max, ex->of.table->elem == kpT_FUNCREF ? " funcref" : " externref");
        else snprintf(b, cap, "table");
        return;
    case kpExtern_MEMORY:
        if (ex->of.memory)
            describe_limits(b, cap, "memory", ex->of.memory->size / KP_PAGE_SIZE,
                            ex->of.memory->type_max != KAPSUL_NO_MAX, ex->of.memory->type_max, "");
        else snprintf(b, cap, "memory");
        return;
    case kpExtern_GLOBAL:
        if (ex->of.global)
            snprintf(b, cap, "global %s%s", ex->of.global->mut ? "mut " : "",
                     kp_valtype_name(ex->of.global->type));
        else snprintf(b, cap, "global");
        return;
    }
    snprintf(b, cap, "?");
}

static kapsul_status check_import(const kapsul_module *mod, const kpImport *im, const kapsul_extern *ex,
                                  kapsul_error *err) {
    bool ok = (kpExternKind)ex->kind == im->kind;
    if (ok) {
        switch (im->kind) {
        case kpExtern_FUNC:
            ok = ex->of.func && ex->of.func->type_id == mod->type_ids[im->desc.func_type];
            break;
        case kpExtern_TABLE:
            ok = ex->of.table && ex->of.table->elem == im->desc.table.elem &&
                 limits_match(ex->of.table->size, ex->of.table->max, &im->desc.table.limits);
            break;
        case kpExtern_MEMORY:
            ok = ex->of.memory && limits_match(ex->of.memory->size / KP_PAGE_SIZE, ex->of.memory->type_max,
                                               &im->desc.memory.limits);
            break;
        case kpExtern_GLOBAL:
            ok = ex->of.global && ex->of.global->type == im->desc.global.type &&
                 ex->of.global->mut == im->desc.global.mut;
            break;
        }
    }
    if (ok) return KAPSUL_OK;
    char want[96], got[96];
    kpInstance_describeImport(mod, im, want, sizeof want);
    describe_extern(ex, got, sizeof got);
    return kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0,
                       "incompatible import type for \"%.*s\" \"%.*s\": expected %s, got %s",
                       (int)im->module_len, im->module, (int)im->name_len, im->name, want, got);
}

/* ---- Allocation ---- */

static kapsul_status alloc_arrays(kapsul_instance *inst, const kpModule *m) {
    uint32_t nf = kpModule_numFuncs(m), nt = kpModule_numTables(m), nm = kpModule_numMemories(m),
             ng = kpModule_numGlobals(m);
    inst->core.funcs = kp_calloc(nf ? nf : 1, sizeof *inst->core.funcs);
    inst->core.tables = kp_calloc(nt ? nt : 1, sizeof *inst->core.tables);
    inst->core.mems = kp_calloc(nm ? nm : 1, sizeof *inst->core.mems);
    inst->core.globals = kp_calloc(ng ? ng : 1, sizeof *inst->core.globals);
    inst->core.elems = kp_calloc(m->nelems ? m->nelems : 1, sizeof *inst->core.elems);
    inst->core.elem_len = kp_calloc(m->nelems ? m->nelems : 1, sizeof *inst->core.elem_len);
    inst->core.data_len = kp_calloc(m->ndatas ? m->ndatas : 1, sizeof *inst->core.data_len);
    if (!inst->core.funcs || !inst->core.tables || !inst->core.mems || !inst->core.globals ||
        !inst->core.elems || !inst->core.elem_len || !inst->core.data_len)
        return KAPSUL_ERR_NOMEM;
    return KAPSUL_OK;
}

static kapsul_status define_all(kapsul_store *s, kapsul_instance *inst, kapsul_memory *mem0,
                                kapsul_error *err) {
    kapsul_module *mod = inst->module;
    const kpModule *m = mod->m;
    kapsul_status st;
    /* One block for the defined functions: a module of 12,669 functions (a JavaScript engine)
     * spent half its instantiation in as many allocations. They live as long as the store, as
     * the instance does; a template's instance uses its pool slot's block (700 KB there: a fresh
     * allocation of that size is page faults every time). */
    if (m->nfuncs && !inst->defined && !(inst->defined = kp_calloc(m->nfuncs, sizeof *inst->defined)))
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    for (uint32_t i = 0; i < m->nfuncs; i++) {
        kapsul_func *f = &inst->defined[i];
        uint32_t idx = m->nfunc_imports + i;
        *f = (kapsul_func){ .type = mod->canon[m->funcs[i].type],
                            .type_id = mod->type_ids[m->funcs[i].type],
                            .inst = &inst->core,
                            .code = &mod->codes[i],
                            .index = idx };
        inst->core.funcs[idx] = f;
    }
    for (uint32_t i = 0; i < m->ntables; i++) {
        const kpTableType *t = &m->tables[i];
        st = kpStore_addTable(s, t->elem, t->limits.min, t->limits.has_max ? t->limits.max : KAPSUL_NO_MAX,
                              &inst->core.tables[m->ntable_imports + i]);
        if (st != KAPSUL_OK)
            return kpError_set(err, st, 0, "cannot allocate a table of %llu elements",
                               (unsigned long long)t->limits.min);
    }
    for (uint32_t i = 0; i < m->nmemories; i++) {
        const kpMemType *t = &m->memories[i];
        if (i == 0 && mem0) { /* a template's pooled memory */
            inst->core.mems[m->nmem_imports] = mem0;
            continue;
        }
        st = kpMemory_create(&s->exec, t->limits.min, t->limits.has_max ? t->limits.max : KAPSUL_NO_MAX,
                             &inst->core.mems[m->nmem_imports + i], err);
        if (st != KAPSUL_OK) return st;
    }
    if (kpModule_numMemories(m) > 0) inst->core.mem0 = inst->core.mems[0];
    for (uint32_t i = 0; i < m->nglobals; i++) {
        kapsul_global *g;
        if ((st = kpStore_addGlobal(s, m->globals[i].type.type, m->globals[i].type.mut, &g)) != KAPSUL_OK)
            return kpError_set(err, st, 0, "out of memory");
        if ((st = eval_const(inst, m->globals[i].init, g->bits)) != KAPSUL_OK)
            return kpError_set(err, st, 0, "bad constant expression");
        inst->core.globals[m->nglobal_imports + i] = g;
    }
    return KAPSUL_OK;
}

/* Evaluate every element segment's items to references, for table.init and active segments. */
static kapsul_status eval_elems(kapsul_instance *inst, kapsul_error *err) {
    const kpModule *m = inst->module->m;
    for (uint32_t i = 0; i < m->nelems; i++) {
        const kpElem *el = &m->elems[i];
        inst->core.elems[i] = kp_calloc(el->count ? el->count : 1, sizeof(void *));
        if (!inst->core.elems[i]) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        for (uint32_t k = 0; k < el->count; k++) {
            if (el->funcs) {
                inst->core.elems[i][k] = inst->core.funcs[el->funcs[k]];
            } else {
                uint64_t v[2];
                kapsul_status st = eval_const(inst, el->exprs[k], v);
                if (st != KAPSUL_OK) return kpError_set(err, st, 0, "bad element expression");
                inst->core.elems[i][k] = (void *)(uintptr_t)v[0];
            }
        }
        inst->core.elem_len[i] = el->mode == kpSeg_DECLARATIVE ? 0 : el->count;
    }
    for (uint32_t i = 0; i < m->ndatas; i++) inst->core.data_len[i] = m->datas[i].bytes.len;
    return KAPSUL_OK;
}

static kapsul_status seg_trap(kapsul_error *err, kapsul_trap t) {
    kpError_set(err, KAPSUL_ERR_TRAP, 0, "%s", kapsul_trap_message(t));
    if (err) err->trap = t;
    return KAPSUL_ERR_TRAP;
}

/* Active segments, elements first, then data, each bounds-checked as a whole before writing. */
static kapsul_status apply_segments(kapsul_instance *inst, bool data_done, kapsul_error *err) {
    const kpModule *m = inst->module->m;
    uint64_t off[2];
    for (uint32_t i = 0; i < m->nelems; i++) {
        const kpElem *el = &m->elems[i];
        if (el->mode != kpSeg_ACTIVE) continue;
        if (eval_const(inst, el->offset, off) != KAPSUL_OK) return seg_trap(err, KAPSUL_TRAP_TABLE_OOB);
        kapsul_table *t = inst->core.tables[el->table];
        uint64_t d = (uint32_t)off[0];
        if (d + el->count > t->size) return seg_trap(err, KAPSUL_TRAP_TABLE_OOB);
        if (el->count) memcpy(t->elems + d, inst->core.elems[i], (size_t)el->count * sizeof(void *));
        inst->core.elem_len[i] = 0;
    }
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const kpData *da = &m->datas[i];
        if (da->mode != kpSeg_ACTIVE) continue;
        if (data_done) { /* the template's image holds it */
            inst->core.data_len[i] = 0;
            continue;
        }
        if (eval_const(inst, da->offset, off) != KAPSUL_OK) return seg_trap(err, KAPSUL_TRAP_MEMORY_OOB);
        kapsul_memory *mem = inst->core.mems[da->memory];
        uint64_t d = (uint32_t)off[0];
        if (d + da->bytes.len > mem->size) return seg_trap(err, KAPSUL_TRAP_MEMORY_OOB);
        if (da->bytes.len) memcpy(mem->base + d, m->bytes + da->bytes.start, da->bytes.len);
        inst->core.data_len[i] = 0;
    }
    return KAPSUL_OK;
}

/* imports[i] corresponds to module import i. */
kapsul_status kpInstance_new(kapsul_store *s, kapsul_module *mod, const kapsul_extern *imports,
                             kapsul_instance **out, kapsul_error *err) {
    return kpInstance_newWith(s, mod, imports, NULL, false, NULL, out, err);
}

/* The template's memory was counted when the template took it, so it is not counted again. */
kapsul_status kpInstance_newWith(kapsul_store *s, kapsul_module *mod, const kapsul_extern *imports,
                                 kapsul_memory *mem0, bool data_done, kapsul_func *defined,
                                 kapsul_instance **out, kapsul_error *err) {
    const kpModule *m = mod->m;
    kapsul_status st;
    for (uint32_t i = 0; i < m->nimports; i++)
        if ((st = check_import(mod, &m->imports[i], &imports[i], err)) != KAPSUL_OK) return st;
    if ((st = kpStore_checkCounts(s, 1, m->nmemories - (mem0 ? 1 : 0), m->ntables, err)) != KAPSUL_OK)
        return st;
    uint64_t tlimit = s->limits.max_table_elements ? s->limits.max_table_elements : KP_MAX_TABLE_ENTRIES;
    for (uint32_t i = 0; i < m->ntables; i++)
        if (m->tables[i].limits.min > tlimit || m->tables[i].limits.min > KP_MAX_TABLE_ENTRIES)
            return kpError_set(err, KAPSUL_ERR_LIMIT, 0, "a table of %llu elements exceeds the table limit",
                               (unsigned long long)m->tables[i].limits.min);
    for (uint32_t i = mem0 ? 1 : 0; i < m->nmemories; i++)
        if (m->memories[i].limits.min > s->exec.mem_limit / KP_PAGE_SIZE) {
            kpError_set(err, KAPSUL_ERR_TRAP, 0, "memory of %llu pages exceeds the memory limit",
                        (unsigned long long)m->memories[i].limits.min);
            if (err) err->trap = KAPSUL_TRAP_MEMORY_LIMIT;
            return KAPSUL_ERR_TRAP;
        }
    if (kpVec_grow(&s->instances) != 0) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    kapsul_instance *inst = kp_calloc(1, sizeof *inst);
    if (!inst) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    inst->store = s;
    inst->module = mod;
    inst->defined = defined;
    inst->lent = defined != NULL;
    inst->core.m = mod->m;
    inst->core.owner = inst;
    inst->core.module = mod;
    __atomic_add_fetch(&mod->refs, 1, __ATOMIC_ACQ_REL);
    /* From here on the store owns the instance: a trap below leaves it (and its writes) alive. */
    s->instances.v[s->instances.n++] = inst;
    if (alloc_arrays(inst, m) != KAPSUL_OK) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    uint32_t kf = 0, kt = 0, km = 0, kg = 0;
    for (uint32_t i = 0; i < m->nimports; i++) {
        switch (m->imports[i].kind) {
        case kpExtern_FUNC: inst->core.funcs[kf++] = imports[i].of.func; break;
        case kpExtern_TABLE: inst->core.tables[kt++] = imports[i].of.table; break;
        case kpExtern_MEMORY: inst->core.mems[km++] = imports[i].of.memory; break;
        case kpExtern_GLOBAL: inst->core.globals[kg++] = imports[i].of.global; break;
        }
    }
    if ((st = define_all(s, inst, mem0, err)) != KAPSUL_OK) return st;
    /* Code compiled for guard regions runs native only over a reserved memory; otherwise this
     * instance runs in the interpreter (the module is lowered for it then, once). */
    bool guarded = !inst->core.mem0 || inst->core.mem0->reserved;
    if (mod->native && (guarded || !kpNativeCode_guard(mod->native)) &&
        (st = kpNative_instantiate(&s->exec, &inst->core, mod->type_ids, mod->native, &inst->core.native,
                                   err)) != KAPSUL_OK)
        return st;
    if (mod->native && !inst->core.native) {
        const kpCode *codes;
        if ((st = kpModule_lowered(mod, &codes, err)) != KAPSUL_OK) return st;
        for (uint32_t i = 0; i < m->nfuncs; i++) inst->core.funcs[m->nfunc_imports + i]->code = &codes[i];
    }
    if ((st = eval_elems(inst, err)) != KAPSUL_OK) return st;
    if ((st = apply_segments(inst, data_done, err)) != KAPSUL_OK) return st;
    if (m->has_start) {
        st = kapsul_func_call(s, inst->core.funcs[m->start], NULL, 0, NULL, 0, err);
        if (st != KAPSUL_OK) return st;
    }
    *out = inst;
    return KAPSUL_OK;
}

void kpInstance_free(kapsul_instance *inst) {
    if (!inst) return;
    if (inst->core.elems && inst->module)
        for (uint32_t i = 0; i < inst->module->m->nelems; i++) kp_free(inst->core.elems[i]);
    kp_free(inst->core.elems);
    kp_free(inst->core.elem_len);
    kp_free(inst->core.data_len);
    kp_free(inst->core.funcs);
    kp_free(inst->core.tables);
    kp_free(inst->core.mems);
    kp_free(inst->core.globals);
    kpNative_free(inst->core.native);
    kpModule_release(inst->module);
    if (!inst->lent) kp_free(inst->defined);
    kp_free(inst);
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
    return kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0, "no export named \"%.*s\"",
                       (int)(name_len > 200 ? 200 : name_len), name);
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
