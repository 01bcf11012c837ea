/*
 * instantiate.c -- preparing a component (decode, compile its core modules) and instantiating it:
 * each component body's program (kpCProgram, recorded by the decoder) replayed in a frame of
 * run-time index spaces.
 *
 * The decoder proved every index in range and every alias's sort; what it could not know (which
 * host instance an import resolves to, whether that instance has an export of that name and sort,
 * whether a function value has the type its user declares) is checked here, when the value is
 * used. Work is bounded: component instances by KP_MAX_COMPONENT_INSTANCES, core instances by
 * KP_MAX_COMPONENT_CORE_INSTANCES, replayed definitions and name comparisons by
 * KP_MAX_COMPONENT_WORK.
 */
#include <stdio.h>

#include "cinstance/ci.h"
#include "config.h"

/* ---- Preparing ----------------------------------------------------------------------------------- */

kapsul_status kpCPre_new(kapsul_engine *engine, const uint8_t *bytes, size_t len, kpCPre **out,
                         kapsul_error *err) {
    return kpCPre_newWith(engine, bytes, len, NULL, NULL, out, err);
}

kapsul_status kpCPre_newWith(kapsul_engine *engine, const uint8_t *bytes, size_t len, kpCModuleFn load,
                             void *load_env, kpCPre **out, kapsul_error *err) {
    *out = NULL;
    kpCPre *pre = kp_calloc(1, sizeof *pre);
    if (!pre) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    pre->engine = engine;
    kapsul_status st = kpComponent_decode(bytes, len, &pre->c, err);
    if (st != KAPSUL_OK) goto fail;
    if (!(pre->modules = kp_calloc(pre->c->modules.n + 1, sizeof *pre->modules))) {
        st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < pre->c->modules.n; i++) {
        const kpCModule *m = &pre->c->modules.v[i];
        st = load ? load(load_env, engine, pre->c->bytes + m->offset, m->size, &pre->modules[i], err)
                  : kapsul_module_new(engine, pre->c->bytes + m->offset, m->size, &pre->modules[i], err);
        if (st != KAPSUL_OK) {
            if (err) {
                char msg[sizeof err->message];
                memcpy(msg, err->message, sizeof msg);
                msg[200] = '\0';
                snprintf(err->message, sizeof err->message, "core module %zu: %.200s", i, msg);
                err->offset += m->offset;
            }
            goto fail;
        }
    }
    *out = pre;
    return KAPSUL_OK;
fail:
    kpCPre_free(pre);
    return st;
}

const kpComponent *kpCPre_component(const kpCPre *pre) { return pre->c; }

void kpCPre_free(kpCPre *pre) {
    if (!pre) return;
    if (pre->modules)
        for (size_t i = 0; i < pre->c->modules.n; i++) kapsul_module_free(pre->modules[i]);
    kp_free(pre->modules);
    kpComponent_free(pre->c);
    kp_free(pre);
}

/* ---- Instance memory ----------------------------------------------------------------------------- */

void *kpCI_alloc(kpCInstance *ci, size_t size) {
    kpCBlock *b = kp_calloc(1, sizeof *b + size);
    if (!b) return NULL;
    b->next = ci->blocks;
    ci->blocks = b;
    return b->data;
}

static kapsul_status nomem(kapsul_error *err) {
    return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
}

const char *kpCI_shape(kpCInstance *ci, uint32_t type) {
    kpBuf b = { 0 };
    char *s = NULL;
    if (kpCShape_func(ci->c, type, &b, 4096) == 0 && (s = kpCI_alloc(ci, b.len + 1)))
        memcpy(s, b.data, b.len);
    kpBuf_free(&b);
    return s;
}

const char *kpCFunc_shape(kpCInstance *ci, kpCFunc *f) {
    if (!f->shape) f->shape = kpCI_shape(ci, f->type);
    return f->shape;
}

/* ---- Host instances ------------------------------------------------------------------------------ */

kapsul_status kpCHost_instance(kpCInstance *ci, const char *name, kpCInst **out, kapsul_error *err) {
    kpCInst *hi = kpCI_alloc(ci, sizeof *hi);
    if (!hi) return nomem(err);
    hi->name = name;
    hi->next_host = ci->hosts;
    ci->hosts = hi;
    *out = hi;
    return KAPSUL_OK;
}

kapsul_status kpCHost_resource(kpCInstance *ci, const char *name, kpCHostDtor dtor, void *env, kpCRes **out,
                               kapsul_error *err) {
    kpCRes *r = kpCI_alloc(ci, sizeof *r);
    if (!r) return nomem(err);
    *r = (kpCRes){ .name = name, .dtor = dtor, .env = env };
    *out = r;
    return KAPSUL_OK;
}

static kapsul_status host_add(kpCInst *hi, const kpCHostExport *e, kapsul_error *err) {
    if (kpVec_grow(&hi->host) != 0) return nomem(err);
    hi->host.v[hi->host.n++] = *e;
    return KAPSUL_OK;
}

/* Host functions become kpCFuncs when a component aliases them (with the alias's type), and are
 * checked against the host's shape when they are lowered. */
kapsul_status kpCHost_func(kpCInst *hi, const char *name, const char *shape, kpCHostFn fn, void *env,
                           kapsul_error *err) {
    kpCHostExport e = { .name = name, .sort = kpCS_FUNC, .fn = fn, .env = env, .shape = shape };
    return host_add(hi, &e, err);
}

kapsul_status kpCHost_type(kpCInst *hi, const char *name, kpCRes *res, kapsul_error *err) {
    kpCHostExport e = { .name = name, .sort = kpCS_TYPE, .res = res };
    return host_add(hi, &e, err);
}

kapsul_status kpCHost_any(kpCInstance *ci, const char *name, kpCHostFn fn, void *env, kpCInst **out,
                          kapsul_error *err) {
    kapsul_status st = kpCHost_instance(ci, name, out, err);
    if (st == KAPSUL_OK) (*out)->any_fn = fn, (*out)->any_env = env;
    return st;
}

/* ---- Frames and lookups -------------------------------------------------------------------------- */

static kapsul_status limit(kapsul_error *err, const char *what, unsigned max) {
    return kpError_set(err, KAPSUL_ERR_LIMIT, 0, "component instantiation: too many %s (limit %u)", what,
                       max);
}

static kapsul_status work(kpCInstance *ci, uint64_t n, kapsul_error *err) {
    ci->work += n;
    if (ci->work > KP_MAX_COMPONENT_WORK)
        return limit(err, "definitions and name lookups", KP_MAX_COMPONENT_WORK);
    return KAPSUL_OK;
}

static kapsul_status push(kpCFrame *fr, uint8_t sort, kpCVal_ v, kapsul_error *err) {
    if (sort >= kpCS_COUNT) return KAPSUL_OK;
    if (kpVec_grow(&fr->sp[sort]) != 0) return nomem(err);
    v.sort = sort;
    fr->sp[sort].v[fr->sp[sort].n++] = v;
    return KAPSUL_OK;
}

/* An index the decoder checked against the space as it was; the spaces grow in the same order, so
 * it is in range here too (checked again all the same: a broken invariant must not be UB). */
static kpCVal_ *at(kpCFrame *fr, uint8_t sort, uint32_t i) {
    return sort < kpCS_COUNT && i < fr->sp[sort].n ? &fr->sp[sort].v[i] : NULL;
}

static kapsul_status internal(kapsul_error *err, const char *what) {
    return kpError_set(err, KAPSUL_ERR_INVALID, 0, "component instantiation: %s", what);
}

static bool name_is(const char *a, uint32_t alen, const char *b, uint32_t blen) {
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* An instance's export by name. A host function becomes a kpCFunc of the type the importer gives
 * it (decl_type), checked against the host's shape when it is lowered; a type the host does not
 * export is fine unless the importer declares it a resource. */
static kapsul_status inst_export(kpCInstance *ci, kpCInst *in, const kpCOp *op, kpCVal_ *out,
                                 kapsul_error *err) {
    const char *name = op->name;
    uint32_t len = op->name_len;
    if (in->decls) {
        const kpCDecl *d = kpCDecls_find(in->decls, name, len);
        if (!d) goto missing;
        *out = in->vals[d - in->decls->exports.v];
        return KAPSUL_OK;
    }
    kapsul_status st = work(ci, in->host.n, err);
    if (st != KAPSUL_OK) return st;
    kpCHostExport any = { .sort = kpCS_FUNC, .fn = in->any_fn, .env = in->any_env };
    const kpCHostExport *e = NULL;
    for (size_t i = 0; i < in->host.n && !e; i++)
        if (name_is(in->host.v[i].name, (uint32_t)strlen(in->host.v[i].name), name, len)) e = &in->host.v[i];
    bool resource = op->sort == kpCS_TYPE && kpComponent_resolve(ci->c, op->type)->kind == kpCT_ABSTRACT;
    if (!e && in->any_fn) {
        if (op->sort == kpCS_FUNC) {
            e = &any;
            goto func;
        }
        if (op->sort == kpCS_TYPE) {
            kpCRes *r = NULL;
            if (resource && (st = kpCHost_resource(ci, "stand-in", NULL, NULL, &r, err)) != KAPSUL_OK)
                return st;
            *out = (kpCVal_){ .sort = kpCS_TYPE, .res = r };
            return KAPSUL_OK;
        }
    }
    if (!e && op->sort == kpCS_TYPE && !resource) {
        *out = (kpCVal_){ .sort = kpCS_TYPE, .res = NULL };
        return KAPSUL_OK;
    }
    if (!e) goto missing;
    if (e->sort == kpCS_TYPE) {
        *out = (kpCVal_){ .sort = kpCS_TYPE, .res = e->res };
        return KAPSUL_OK;
    }
func:;
    kpCFunc *f = kpCI_alloc(ci, sizeof *f);
    if (!f) return nomem(err);
    *f = (kpCFunc){ .kind = KP_CFUNC_HOST,
                    .type = op->type,
                    .fn = e->fn,
                    .env = e->env,
                    .host_shape = e->shape,
                    .host_name = e->name,
                    .host_iface = in->name };
    *out = (kpCVal_){ .sort = kpCS_FUNC, .func = f };
    return KAPSUL_OK;
missing:
    return kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0, "%s%s has no %s \"%.*s\"", in->name ? "import " : "",
                       in->name ? in->name : "instance", kpC_sortName((kpCSort)op->sort), (int)len, name);
}

static kpCFrame *frame_new(kpCInstance *ci, kpCFrame *parent, kapsul_error *err) {
    if (ci->ninstances >= KP_MAX_COMPONENT_INSTANCES) {
        limit(err, "component instances", KP_MAX_COMPONENT_INSTANCES);
        return NULL;
    }
    kpCFrame *fr = kp_calloc(1, sizeof *fr);
    if (!fr) {
        nomem(err);
        return NULL;
    }
    ci->ninstances++;
    fr->parent = parent;
    fr->next = ci->frames;
    ci->frames = fr;
    return fr;
}

static void frame_free(kpCFrame *fr) {
    for (int s = 0; s < kpCS_COUNT; s++) kpVec_free(&fr->sp[s]);
    kpVec_free(&fr->res);
    kpVec_free(&fr->exports);
    kpCHandles_free(&fr->handles);
    kp_free(fr);
}

/* ---- Resource identity ---------------------------------------------------------------------------- */

uint32_t kpCI_resourceUid(kpCInstance *ci, kpCRes *res) {
    /* above every decoded id, so an unbound type never shares a bound one's handles */
    if (!res->uid) res->uid = (uint32_t)ci->c->types.n + ++ci->nuids;
    return res->uid;
}

kapsul_status kpCI_bindResource(kpCInstance *ci, kpCFrame *fr, uint32_t type, kpCRes *res,
                                kapsul_error *err) {
    if (kpVec_grow(&fr->res) != 0 || kpVec_grow(&ci->res) != 0) return nomem(err);
    kpCI_resourceUid(ci, res);
    fr->res.v[fr->res.n++] = (kpCResBind){ type, res };
    ci->res.v[ci->res.n++] = (kpCResBind){ type, res };
    return KAPSUL_OK;
}

static kpCRes *bound(const kpCResBind *b, size_t n, uint32_t type) {
    for (size_t i = n; i-- > 0;)
        if (b[i].type == type) return b[i].res;
    return NULL;
}

uint32_t kpCI_resourceId(kpCInstance *ci, kpCFrame *fr, uint32_t type, bool *impl) {
    kpCRes *r = NULL;
    for (kpCFrame *f = fr; f && !r; f = f->parent) r = bound(f->res.v, f->res.n, type);
    if (!r) r = bound(ci->res.v, ci->res.n, type);
    *impl = r && r->impl && r->impl == fr;
    return r ? r->uid : type;
}

/* ---- Definitions --------------------------------------------------------------------------------- */

/* The arguments of a nested instantiation, or (args == NULL) the host's resolver for the
 * outermost component. */
typedef struct inputs {
    const kpCOpArg *args;
    uint32_t nargs;
    kpCFrame *from; /* where the arguments' indices point */
    bool nested;
    kpCResolveFn resolve;
    void *env;
} inputs;

static kapsul_status op_import(kpCInstance *ci, kpCFrame *fr, const kpCOp *op, const inputs *in, kpCVal_ *v,
                               kapsul_error *err) {
    kapsul_status st;
    if (!in->nested) {
        if (op->sort != kpCS_INSTANCE)
            return kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0,
                               "import \"%.*s\": only instances can be imported from the host (this is a %s)",
                               (int)op->name_len, op->name, kpC_sortName((kpCSort)op->sort));
        kpCInst *hi = NULL;
        if (!in->resolve)
            return kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0, "import \"%.*s\": no host", (int)op->name_len,
                               op->name);
        st = in->resolve(in->env, ci, op->name, op->name_len, &hi, err);
        if (st == KAPSUL_ERR_NOT_FOUND)
            return kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0,
                               "import \"%.*s\": the host has no such interface", (int)op->name_len,
                               op->name);
        if (st != KAPSUL_OK) return st;
        v->inst = hi;
        return KAPSUL_OK;
    }
    if ((st = work(ci, in->nargs, err)) != KAPSUL_OK) return st;
    for (uint32_t i = 0; i < in->nargs; i++) {
        const kpCOpArg *a = &in->args[i];
        if (!name_is(a->name, a->name_len, op->name, op->name_len)) continue;
        kpCVal_ *x = at(in->from, a->sort, a->index);
        if (!x) return internal(err, "bad instantiation argument");
        if (a->sort != op->sort)
            return kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0,
                               "instantiation argument \"%.*s\" is a %s, not a %s", (int)a->name_len, a->name,
                               kpC_sortName((kpCSort)a->sort), kpC_sortName((kpCSort)op->sort));
        *v = *x;
        return KAPSUL_OK;
    }
    return kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0, "missing instantiation argument \"%.*s\"",
                       (int)op->name_len, op->name);
    (void)fr;
}

/* The imports of a core instantiation are found by name in the argument instances (in import
 * order) and handed to kpCTemplate_core, which links them or instantiates the module's template. */
static kapsul_status op_core_instantiate(kpCInstance *ci, kpCFrame *fr, const kpCOp *op, kpCVal_ *v,
                                         kapsul_error *err) {
    const kpComponent *c = ci->c;
    kpCVal_ *mv = at(fr, kpCS_CORE_MODULE, op->a);
    if (!mv) return internal(err, "bad core module index");
    if (mv->mod.module >= c->modules.n) return internal(err, "bad core module");
    if (ci->ncore >= KP_MAX_COMPONENT_CORE_INSTANCES)
        return limit(err, "core instances", KP_MAX_COMPONENT_CORE_INSTANCES);
    ci->ncore++;
    const kpModule *m = c->modules.v[mv->mod.module].module;
    kapsul_instance *inst = NULL;
    kapsul_extern small[64], *imports = small;
    kapsul_status st = work(ci, (uint64_t)m->nimports * (op->nargs + 1), err);
    if (st == KAPSUL_OK && m->nimports > 64 && !(imports = kp_calloc(m->nimports, sizeof *imports)))
        st = nomem(err);
    for (uint32_t i = 0; st == KAPSUL_OK && i < m->nimports; i++) {
        const kpImport *im = &m->imports[i];
        const kpCOpArg *a = NULL;
        for (uint32_t j = 0; j < op->nargs && !a; j++) {
            const kpCOpArg *x = &c->args.v[op->args + j];
            if (name_is(x->name, x->name_len, im->module, im->module_len)) a = x;
        }
        kpCVal_ *iv = a ? at(fr, kpCS_CORE_INSTANCE, a->index) : NULL;
        const kpCCoreExport *e =
            iv ? kpCCoreExports_find(&c->cexports.v[iv->core->list], im->name, im->name_len) : NULL;
        if (!e) {
            st = kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0,
                             "core module %u: import \"%.*s\" \"%.*s\" not provided", mv->mod.module,
                             (int)im->module_len, im->module, (int)im->name_len, im->name);
            break;
        }
        imports[i] = iv->core->vals[e - c->cexports.v[iv->core->list].e.v];
    }
    if (st == KAPSUL_OK) st = kpCTemplate_core(ci, mv->mod.module, imports, &inst, err);
    if (imports != small) kp_free(imports);
    if (st != KAPSUL_OK) return st;
    const kpCCoreExports *l = &c->cexports.v[mv->mod.list];
    kpCCore *core = kpCI_alloc(ci, sizeof *core);
    if (!core || !(core->vals = kpCI_alloc(ci, (l->e.n + 1) * sizeof *core->vals))) return nomem(err);
    core->list = mv->mod.list;
    for (size_t i = 0; st == KAPSUL_OK && i < l->e.n; i++)
        st = kapsul_instance_export(inst, l->e.v[i].name, l->e.v[i].name_len, &core->vals[i], err);
    v->core = core;
    return st;
}

static kapsul_status op_core_bundle(kpCInstance *ci, kpCFrame *fr, const kpCOp *op, kpCVal_ *v,
                                    kapsul_error *err) {
    const kpComponent *c = ci->c;
    kpCCore *core = kpCI_alloc(ci, sizeof *core);
    if (!core || !(core->vals = kpCI_alloc(ci, ((size_t)op->nargs + 1) * sizeof *core->vals)))
        return nomem(err);
    core->list = op->type;
    if (op->type >= c->cexports.n || c->cexports.v[op->type].e.n != op->nargs)
        return internal(err, "bad bundle");
    for (uint32_t i = 0; i < op->nargs; i++) {
        const kpCOpArg *a = &c->args.v[op->args + i];
        kpCVal_ *x = at(fr, a->sort, a->index);
        if (!x || a->sort > kpCS_CORE_GLOBAL) return internal(err, "bad core export");
        core->vals[i] = x->ext;
    }
    v->core = core;
    return KAPSUL_OK;
}

static kapsul_status op_alias(kpCInstance *ci, kpCFrame *fr, const kpCOp *op, kpCVal_ *v, kapsul_error *err) {
    const kpComponent *c = ci->c;
    if (op->kind == kpCOP_ALIAS_OUTER) {
        kpCFrame *o = fr;
        for (uint32_t i = 0; i < op->a && o; i++) o = o->parent;
        kpCVal_ *x = o ? at(o, op->sort, op->b) : NULL;
        if (!x) return internal(err, "bad outer alias");
        *v = *x;
        return KAPSUL_OK;
    }
    if (op->kind == kpCOP_ALIAS_CORE_EXPORT) {
        kpCVal_ *x = at(fr, kpCS_CORE_INSTANCE, op->a);
        const kpCCoreExport *e =
            x ? kpCCoreExports_find(&c->cexports.v[x->core->list], op->name, op->name_len) : NULL;
        if (!e) return internal(err, "bad core export alias");
        v->ext = x->core->vals[e - c->cexports.v[x->core->list].e.v];
        return KAPSUL_OK;
    }
    kpCVal_ *x = at(fr, kpCS_INSTANCE, op->a);
    if (!x || !x->inst) return internal(err, "bad instance index");
    kapsul_status st = inst_export(ci, x->inst, op, v, err);
    if (st == KAPSUL_OK && v->sort != op->sort)
        return kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0, "export \"%.*s\" is a %s, not a %s",
                           (int)op->name_len, op->name, kpC_sortName((kpCSort)v->sort),
                           kpC_sortName((kpCSort)op->sort));
    return st;
}

static kapsul_status run_program(kpCInstance *ci, kpCFrame *fr, uint32_t comp_type, const inputs *in,
                                 kapsul_error *err);

/* instance ::= instantiate: a new frame for the component, its imports the arguments. */
static kapsul_status op_instantiate(kpCInstance *ci, kpCFrame *fr, const kpCOp *op, kpCVal_ *v,
                                    kapsul_error *err) {
    const kpComponent *c = ci->c;
    kpCVal_ *x = at(fr, kpCS_COMPONENT, op->a);
    if (!x || !x->comp) return internal(err, "bad component index");
    kpCFrame *nf = frame_new(ci, x->comp->parent, err);
    if (!nf) return err ? err->code : KAPSUL_ERR_LIMIT;
    inputs in = {
        .args = op->nargs ? &c->args.v[op->args] : NULL, .nargs = op->nargs, .from = fr, .nested = true
    };
    kapsul_status st = run_program(ci, nf, x->comp->type, &in, err);
    if (st != KAPSUL_OK) return st;
    kpCInst *inst = kpCI_alloc(ci, sizeof *inst);
    if (!inst) return nomem(err);
    inst->decls = &c->decls.v[c->types.v[x->comp->type].decls];
    inst->vals = nf->exports.v;
    if (inst->decls->exports.n != nf->exports.n) return internal(err, "export count");
    v->inst = inst;
    return KAPSUL_OK;
}

static kapsul_status op_bundle(kpCInstance *ci, kpCFrame *fr, const kpCOp *op, kpCVal_ *v,
                               kapsul_error *err) {
    const kpComponent *c = ci->c;
    kpCInst *inst = kpCI_alloc(ci, sizeof *inst);
    if (!inst || !(inst->vals = kpCI_alloc(ci, ((size_t)op->nargs + 1) * sizeof *inst->vals)))
        return nomem(err);
    inst->decls = &c->decls.v[c->types.v[op->type].decls];
    if (inst->decls->exports.n != op->nargs) return internal(err, "bad instance bundle");
    for (uint32_t i = 0; i < op->nargs; i++) {
        const kpCOpArg *a = &c->args.v[op->args + i];
        kpCVal_ *x = at(fr, a->sort, a->index);
        if (!x) return internal(err, "bad instance export");
        inst->vals[i] = *x;
    }
    v->inst = inst;
    return KAPSUL_OK;
}

/* The canonical options: memory, realloc and post-return as store objects. */
static kapsul_status opts_of(kpCFrame *fr, const kpCOp *op, kpCOpts *o, kapsul_error *err) {
    *o = (kpCOpts){ .enc = op->enc };
    kpCVal_ *x;
    if (op->has_memory) {
        if (!(x = at(fr, kpCS_CORE_MEMORY, op->memory))) return internal(err, "bad memory option");
        o->mem = x->ext.of.memory;
    }
    if (op->has_realloc) {
        if (!(x = at(fr, kpCS_CORE_FUNC, op->realloc))) return internal(err, "bad realloc option");
        o->realloc = x->ext.of.func;
    }
    if (op->has_post) {
        if (!(x = at(fr, kpCS_CORE_FUNC, op->post))) return internal(err, "bad post-return option");
        o->post = x->ext.of.func;
    }
    return KAPSUL_OK;
}

static kapsul_status op_canon(kpCInstance *ci, kpCFrame *fr, const kpCOp *op, kpCVal_ *v, kapsul_error *err) {
    kpCOpts o;
    kapsul_status st;
    kpCVal_ *x;
    switch (op->kind) {
    case kpCOP_LIFT: {
        if ((st = opts_of(fr, op, &o, err)) != KAPSUL_OK) return st;
        if (!(x = at(fr, kpCS_CORE_FUNC, op->a))) return internal(err, "bad core function index");
        kpCFunc *f = kpCI_alloc(ci, sizeof *f);
        if (!f) return nomem(err);
        *f = (kpCFunc){
            .kind = KP_CFUNC_LIFT, .type = op->type, .core = x->ext.of.func, .opts = o, .frame = fr
        };
        v->func = f;
        return KAPSUL_OK;
    }
    case kpCOP_LOWER: {
        if ((st = opts_of(fr, op, &o, err)) != KAPSUL_OK) return st;
        if (!(x = at(fr, kpCS_FUNC, op->a)) || !x->func) return internal(err, "bad function index");
        const char *want = kpCI_shape(ci, op->type);
        const char *have = x->func->host_shape ? x->func->host_shape : kpCFunc_shape(ci, x->func);
        if (!want || !have)
            return kpError_set(err, KAPSUL_ERR_LIMIT, 0, "function type too large to compare");
        if (strcmp(want, have) != 0 && x->func->host_shape && x->func->host_name)
            return kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0,
                               "%.60s: %.60s: the component declares %.50s, the host implements %.50s",
                               x->func->host_iface ? x->func->host_iface : "import", x->func->host_name, want,
                               have);
        if (strcmp(want, have) != 0)
            return kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0,
                               "function type mismatch: %.90s is lowered as %.90s", have, want);
        return kpCCanon_lower(ci, fr, op, x->func, &o, &v->ext, err);
    }
    default: /* resource.new, resource.drop, resource.rep */
        if (!(x = at(fr, kpCS_TYPE, op->a))) return internal(err, "bad resource type index");
        return kpCCanon_resource(ci, fr, op, x->res, &v->ext, err);
    }
}

/* A type definition: a resource gets its identity for this instance (and its destructor). */
static kapsul_status op_def(kpCInstance *ci, kpCFrame *fr, const kpCOp *op, kpCVal_ *v, kapsul_error *err) {
    if (op->sort != kpCS_TYPE || op->type >= ci->c->types.n) return KAPSUL_OK;
    const kpCType *t = &ci->c->types.v[op->type];
    if (t->kind != kpCT_RESOURCE) return KAPSUL_OK;
    kpCRes *r = kpCI_alloc(ci, sizeof *r);
    if (!r) return nomem(err);
    r->name = "resource";
    r->impl = fr;
    if (t->target) {
        kpCVal_ *d = at(fr, kpCS_CORE_FUNC, t->target - 1);
        if (!d) return internal(err, "bad destructor");
        r->guest_dtor = d->ext.of.func;
    }
    v->res = r;
    return KAPSUL_OK;
}

static kapsul_status op_start(kpCInstance *ci, kpCFrame *fr, const kpCOp *op, kapsul_error *err) {
    kpCVal_ *x = at(fr, kpCS_FUNC, op->a);
    if (!x || !x->func) return internal(err, "bad start function");
    const kpCType *ft = kpComponent_resolve(ci->c, x->func->type);
    if (ft->kind != kpCT_FUNC || ft->n != 0)
        return kpError_set(err, KAPSUL_ERR_INVALID, 0, "component start function takes or returns values");
    kpCArena arena = { 0 };
    kapsul_status st = kpCFunc_call(ci, x->func, NULL, NULL, &arena, err);
    kpCArena_free(&arena);
    return st;
}

static kapsul_status run_op(kpCInstance *ci, kpCFrame *fr, const kpCOp *op, const inputs *in,
                            kapsul_error *err) {
    kpCVal_ v = { 0 };
    kapsul_status st = KAPSUL_OK;
    kpCVal_ *x;
    switch ((kpCOpKind)op->kind) {
    case kpCOP_DEF: st = op_def(ci, fr, op, &v, err); break;
    case kpCOP_IMPORT: st = op_import(ci, fr, op, in, &v, err); break;
    case kpCOP_CORE_MODULE:
        if (op->a >= ci->c->modules.n) return internal(err, "bad module");
        v.mod.module = op->a, v.mod.list = op->type;
        break;
    case kpCOP_CORE_INSTANTIATE: st = op_core_instantiate(ci, fr, op, &v, err); break;
    case kpCOP_CORE_BUNDLE: st = op_core_bundle(ci, fr, op, &v, err); break;
    case kpCOP_ALIAS_EXPORT:
    case kpCOP_ALIAS_CORE_EXPORT:
    case kpCOP_ALIAS_OUTER: st = op_alias(ci, fr, op, &v, err); break;
    case kpCOP_COMPONENT: {
        kpCComp *cp = kpCI_alloc(ci, sizeof *cp);
        if (!cp) return nomem(err);
        cp->type = op->type, cp->parent = fr;
        v.comp = cp;
        break;
    }
    case kpCOP_INSTANTIATE: st = op_instantiate(ci, fr, op, &v, err); break;
    case kpCOP_BUNDLE: st = op_bundle(ci, fr, op, &v, err); break;
    case kpCOP_LIFT:
    case kpCOP_LOWER:
    case kpCOP_RESOURCE_NEW:
    case kpCOP_RESOURCE_DROP:
    case kpCOP_RESOURCE_REP: st = op_canon(ci, fr, op, &v, err); break;
    case kpCOP_EXPORT:
        if (!(x = at(fr, op->sort, op->a))) return internal(err, "bad export index");
        v = *x;
        if (kpVec_grow(&fr->exports) != 0) return nomem(err);
        fr->exports.v[fr->exports.n++] = v;
        break;
    case kpCOP_START: return op_start(ci, fr, op, err);
    default: return internal(err, "unknown definition");
    }
    if (st != KAPSUL_OK) return st;
    /* a resource type's definition, import or export alias: op->type is its decoded id (an outer
     * alias copies a value its own frame bound already) */
    if (op->sort == kpCS_TYPE && v.res &&
        (op->kind == kpCOP_DEF || op->kind == kpCOP_IMPORT || op->kind == kpCOP_ALIAS_EXPORT) &&
        (st = kpCI_bindResource(ci, fr, op->type, v.res, err)) != KAPSUL_OK)
        return st;
    return push(fr, op->sort, v, err);
}

static kapsul_status run_program(kpCInstance *ci, kpCFrame *fr, uint32_t comp_type, const inputs *in,
                                 kapsul_error *err) {
    const kpComponent *c = ci->c;
    if (comp_type >= c->types.n || c->types.v[comp_type].kind != kpCT_COMPONENT ||
        c->types.v[comp_type].program == 0 || c->types.v[comp_type].program > c->programs.n)
        return kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0,
                           "component instantiation: an imported component type "
                           "cannot be instantiated");
    const kpCProgram *p = &c->programs.v[c->types.v[comp_type].program - 1];
    kapsul_status st = work(ci, p->ops.n, err);
    for (size_t i = 0; st == KAPSUL_OK && i < p->ops.n; i++) st = run_op(ci, fr, &p->ops.v[i], in, err);
    return st;
}

/* ---- Instances ----------------------------------------------------------------------------------- */

kapsul_status kpCInstance_new(kpCPre *pre, kapsul_store *store, kpCResolveFn resolve, void *resolve_env,
                              kpCInstance **out, kapsul_error *err) {
    return kpCI_instantiate(pre, NULL, store, resolve, resolve_env, out, err);
}

kapsul_status kpCI_instantiate(kpCPre *pre, kpCTemplate *tpl, kapsul_store *store, kpCResolveFn resolve,
                               void *resolve_env, kpCInstance **out, kapsul_error *err) {
    *out = NULL;
    if (err) kpError_clear(err);
    kpCInstance *ci = kp_calloc(1, sizeof *ci);
    if (!ci) return nomem(err);
    ci->pre = pre, ci->tpl = tpl, ci->c = pre->c, ci->store = store;
    kapsul_status st = KAPSUL_ERR_NOMEM;
    if ((ci->root = frame_new(ci, NULL, err))) {
        inputs in = { .resolve = resolve, .env = resolve_env };
        st = run_program(ci, ci->root, pre->c->root, &in, err);
    }
    if (st != KAPSUL_OK) {
        kpCInstance_free(ci);
        return st;
    }
    *out = ci;
    return KAPSUL_OK;
}

void kpCInstance_free(kpCInstance *ci) {
    if (!ci) return;
    for (kpCFrame *f = ci->frames, *n; f; f = n) {
        n = f->next;
        frame_free(f);
    }
    for (kpCInst *h = ci->hosts; h; h = h->next_host) kpVec_free(&h->host);
    kpVec_free(&ci->res);
    for (kpCBlock *b = ci->blocks, *n; b; b = n) {
        n = b->next;
        kp_free(b);
    }
    kp_free(ci);
}

kapsul_store *kpCInstance_store(const kpCInstance *ci) { return ci->store; }
const kpComponent *kpCInstance_component(const kpCInstance *ci) { return ci->c; }
uint32_t kpCFunc_type(const kpCFunc *f) { return f->type; }

/* An export of the outermost component by name, or by a semver-compatible interface name. */
static const kpCVal_ *root_export(kpCInstance *ci, const char *name) {
    const kpCDecls *ds = &ci->c->decls.v[ci->c->types.v[ci->c->root].decls];
    uint32_t len = (uint32_t)strlen(name);
    const kpCDecl *d = kpCDecls_find(ds, name, len);
    kpCName want, have;
    if (!d && kpCName_parse(name, len, &want))
        for (size_t i = 0; i < ds->exports.n && !d; i++)
            if (kpCName_parse(ds->exports.v[i].name, ds->exports.v[i].name_len, &have) &&
                kpCName_compatible(&want, &have))
                d = &ds->exports.v[i];
    if (!d || (size_t)(d - ds->exports.v) >= ci->root->exports.n) return NULL;
    return &ci->root->exports.v[d - ds->exports.v];
}

kpCFunc *kpCInstance_func(kpCInstance *ci, const char *name, const char *func) {
    const kpCVal_ *v = root_export(ci, name);
    if (!v) return NULL;
    if (!func) return v->sort == kpCS_FUNC ? v->func : NULL;
    if (v->sort != kpCS_INSTANCE || !v->inst) return NULL;
    kpCOp op = { .sort = kpCS_FUNC, .name = func, .name_len = (uint32_t)strlen(func) };
    kpCVal_ out;
    kapsul_error e;
    if (!v->inst->decls) return NULL; /* a re-exported host instance: not callable from here */
    if (inst_export(ci, v->inst, &op, &out, &e) != KAPSUL_OK || out.sort != kpCS_FUNC) return NULL;
    return out.func;
}
