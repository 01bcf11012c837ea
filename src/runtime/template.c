/*
 * template.c -- module templates: fresh instances of one module per request at a small cost.
 *
 * What kapsul_linker_instantiate does per call and a template does once: look up every import by
 * name and check its type; compute memory 0's initial contents (its active data segments applied
 * to the initial pages) into an image, held in an in-memory file; reserve the address space of
 * pool_size memories. Per instance what is left: one kapsul_func per import (a pointer pair),
 * the instance's own functions, tables, globals and element segments (small, and made fresh so
 * nothing is shared), and a slot of the pool whose first pages map the image privately: the
 * guest's writes go to copies of its own, the image never changes. When the store is freed the
 * slot is reset: its first keep_resident_bytes are rewritten in place (image copied back, zeros
 * after; only the pages that are private copies, where the host can tell) and stay resident, the
 * pages after them are dropped (kpOs_discard: copies vanish, the
 * mapping reads as the image again, pages past the image read as zero), pages the guest grew are
 * made inaccessible again, and the slot goes back to the free list; no mmap or munmap of a
 * reservation per request. Why both ways: see keep_resident_bytes in kapsul.h.
 *
 * Hosts without the in-memory file (memfd) or the page-dropping call still get the pool: the
 * image is copied into the slot at each take, and a slot whose pages cannot be dropped gives its
 * reservation back (and takes a new one next time) rather than hand old contents to a new guest.
 *
 * The free list is a singly linked list under one mutex held for a pointer swap: serve's
 * workers instantiate from one template at once. Everything else of a template is read-only
 * after kapsul_template_new.
 */
#include "runtime/runtime.h"
#include "module/opcodes.h"

/* One memory of the pool. mem is the object lent to a store; mem.pool points back here. */
typedef struct kpSlot {
    kapsul_template *tpl;
    kapsul_memory mem;
    struct kpSlot *next;  /* free list */
    bool ready;           /* reserved, holding the image and the zero initial pages */
    kapsul_func *defined; /* the instance's defined functions (kpInstance_newWith), made once */
} kpSlot;

/* A module import resolved to a host function. */
typedef struct kpTplImport {
    const kpFuncType *type;
    uint32_t type_id;
    kapsul_host_fn fn;
    void *env;
    bool per_instance;
} kpTplImport;

struct kapsul_template {
    kapsul_engine *engine;
    kapsul_module *module;        /* a reference of its own */
    kpTplImport *imports;         /* one per module import (all functions) */
    bool imports_given;           /* imports come with each instantiation (config) */
    bool has_mem;                 /* the module defines one memory (the pooled one) */
    uint32_t mem_index;           /* its index: after the imported memories */
    uint64_t min_pages, type_max; /* memory 0's type */
    size_t init_bytes;            /* min_pages * page size */
    size_t span;                  /* address space per slot */
    bool guard;                   /* slots are guard reservations (else bounds-checked) */
    bool data_done;               /* the image holds every active data segment */
    size_t image_len;             /* bytes of the image (page multiple, <= init_bytes) */
    kpOs_fd image_fd;             /* the in-memory file holding the image, or KP_OS_NO_FD */
    uint8_t *image;               /* the image's bytes (copied back on reset, or when there is
                                      no file to map) */
    uint8_t *pages;               /* per OS page of the image: 1 if a data segment writes it */
    size_t keep;                  /* bytes at the start reset by copying (page multiple) */
    kpOs_mutex *lock;             /* guards free and nfree */
    kpSlot *slots, *free;
    uint32_t nslots, nfree;
};

/* ---- Building ---- */

static bool valid_kind(kapsul_valkind k) {
    switch (k) {
    case KAPSUL_I32:
    case KAPSUL_I64:
    case KAPSUL_F32:
    case KAPSUL_F64:
    case KAPSUL_V128:
    case KAPSUL_FUNCREF:
    case KAPSUL_EXTERNREF: return true;
    }
    return false;
}

static const kapsul_template_import *find_import(const kpImport *im, const kapsul_template_import *v,
                                                 size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strlen(v[i].module) == im->module_len && strlen(v[i].name) == im->name_len &&
            memcmp(v[i].module, im->module, im->module_len) == 0 &&
            memcmp(v[i].name, im->name, im->name_len) == 0)
            return &v[i];
    return NULL;
}

/* Resolve every module import once: a function of the list with the same canonical type. */
static kapsul_status resolve_imports(kapsul_template *t, const kapsul_template_import *v, size_t n,
                                     kapsul_error *err) {
    const kpModule *m = t->module->m;
    t->imports = kp_calloc(m->nimports ? m->nimports : 1, sizeof *t->imports);
    if (!t->imports) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    for (uint32_t i = 0; i < m->nimports; i++) {
        const kpImport *im = &m->imports[i];
        const kapsul_template_import *e = im->kind == kpExtern_FUNC ? find_import(im, v, n) : NULL;
        if (!e)
            return kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0, "%s import \"%.*s\" \"%.*s\"",
                               im->kind == kpExtern_FUNC ? "unknown"
                                                         : "a template cannot resolve the non-function",
                               (int)im->module_len, im->module, (int)im->name_len, im->name);
        uint8_t types[KP_MAX_PARAMS + KP_MAX_RESULTS];
        for (uint32_t k = 0; k < e->nparams + e->nresults; k++)
            types[k] = (uint8_t)(k < e->nparams ? e->params[k] : e->results[k - e->nparams]);
        kpFuncType ft = { e->nparams, e->nresults, types };
        kpTplImport *r = &t->imports[i];
        if (kpEngine_internType(t->engine, &ft, &r->type_id, &r->type) != KAPSUL_OK)
            return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        if (r->type_id != t->module->type_ids[im->desc.func_type])
            return kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0,
                               "incompatible import type for \"%.*s\" \"%.*s\"", (int)im->module_len,
                               im->module, (int)im->name_len, im->name);
        r->fn = e->fn;
        r->env = e->env;
        r->per_instance = e->per_instance;
    }
    return KAPSUL_OK;
}

/* Every entry well-formed before anything is resolved, so a bad list is KAPSUL_ERR_ARG. */
static bool imports_ok(const kapsul_template_import *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const kapsul_template_import *e = &v[i];
        if (!e->module || !e->name || !e->fn || (!e->params && e->nparams) || (!e->results && e->nresults) ||
            e->nparams > KP_MAX_PARAMS || e->nresults > KP_MAX_RESULTS)
            return false;
        for (uint32_t k = 0; k < e->nparams + e->nresults; k++)
            if (!valid_kind(k < e->nparams ? e->params[k] : e->results[k - e->nparams])) return false;
    }
    return true;
}

/* An offset the template can apply without an instance: a lone i32.const. */
static bool const_offset(const kpModule *m, kpRange r, uint64_t *out) {
    kpReader rd;
    kpInstr in;
    kpRead_init(&rd, m->bytes, m->bytes + r.start, m->bytes + r.start + r.len);
    if (!kpDecode_instr(&rd, &in) || in.op != kpOp_I32_CONST) return false;
    *out = (uint32_t)in.bits;
    return kpDecode_instr(&rd, &in) && in.op == kpOp_END;
}

/* Apply the active data segments to a zeroed copy of the initial pages; keep the pages up to the
 * last byte written as the image (in a memfd when the host has one, where only the pages a
 * segment writes take memory). A segment the template cannot place (an offset that is not
 * constant, another memory, out of bounds) or an image past KP_TEMPLATE_MAX_IMAGE leaves
 * data_done false: instances then apply the segments themselves, with the spec's traps. */
static kapsul_status build_image(kapsul_template *t, kapsul_error *err) {
    const kpModule *m = t->module->m;
    size_t end = 0, page = kpOs_pageSize();
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const kpData *d = &m->datas[i];
        uint64_t off;
        if (d->mode != kpSeg_ACTIVE) continue;
        if (d->memory != t->mem_index || !const_offset(m, d->offset, &off) ||
            off + d->bytes.len > t->init_bytes)
            return KAPSUL_OK;
        if (d->bytes.len && off + d->bytes.len > end) end = (size_t)(off + d->bytes.len);
    }
    size_t len = (end + page - 1) / page * page;
    if (len > t->init_bytes) len = t->init_bytes;
    if (len > KP_TEMPLATE_MAX_IMAGE) return KAPSUL_OK; /* a data segment far into the memory */
    t->data_done = true;
    t->image_len = len;
    if (!len) return KAPSUL_OK;
    /* (calloc'd: pages no segment writes are never touched, here or in the file) */
    if (!(t->image = kp_calloc(len, 1)) || !(t->pages = kp_calloc(len / page, 1)))
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const kpData *d = &m->datas[i];
        uint64_t off;
        if (d->mode != kpSeg_ACTIVE || !d->bytes.len || !const_offset(m, d->offset, &off)) continue;
        memcpy(t->image + off, m->bytes + d->bytes.start, d->bytes.len);
        memset(t->pages + off / page, 1, (off + d->bytes.len - 1) / page - off / page + 1);
    }
    kpOs_imageCreate(t->image, len, t->pages, &t->image_fd); /* without it, slots copy the image */
    return KAPSUL_OK;
}

/* The pool: pool_size reservations, all free. In the bounds-checked mode a slot is a mapping of
 * the memory's maximum size (as engine/memory.c makes them). */
static kapsul_status make_pool(kapsul_template *t, uint32_t n, kapsul_error *err) {
    const kapsul_config *cfg = &t->engine->config;
    t->guard = kpMemory_guardMode(cfg);
    uint64_t cap = cfg->max_memory_bytes / KP_PAGE_SIZE;
    uint64_t max = t->type_max < cap ? t->type_max : cap;
    t->span = t->guard ? (size_t)KP_MEM_RESERVE : (size_t)(max ? max * KP_PAGE_SIZE : kpOs_pageSize());
    t->slots = kp_calloc(n, sizeof *t->slots);
    if (!t->slots) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    t->nslots = n;
    for (uint32_t i = n; i-- > 0;) {
        kpSlot *s = &t->slots[i];
        s->tpl = t;
        s->mem.pool = s;
        s->mem.base = sizeof(void *) == 8 ? kpOs_reserve(t->span) : NULL;
        if (!s->mem.base)
            return kpError_set(err, KAPSUL_ERR_LIMIT, 0,
                               "cannot reserve %zu bytes of address space for slot %u of %u", t->span,
                               (unsigned)i, (unsigned)n);
        s->next = t->free;
        t->free = s;
    }
    t->nfree = n;
    return KAPSUL_OK;
}

kapsul_status kapsul_template_new(kapsul_engine *engine, const kapsul_module *module,
                                  const kapsul_template_import *imports, size_t nimports,
                                  const kapsul_template_config *config, kapsul_template **out,
                                  kapsul_error *err) {
    kpError_clear(err);
    if (out) *out = NULL;
    if (!engine || !module || !out || (!imports && nimports) || !imports_ok(imports, nimports))
        return kpError_set(err, KAPSUL_ERR_ARG, 0,
                           "kapsul_template_new: a NULL argument or a malformed import entry");
    if (module->engine != engine)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "the module was loaded by another engine");
    const kpModule *m = module->m;
    if (m->nmemories > 1)
        return kpError_set(err, KAPSUL_ERR_LIMIT, 0, "a template takes modules with at most one memory");
    kapsul_status st = KAPSUL_ERR_NOMEM;
    kapsul_template *t = kp_calloc(1, sizeof *t);
    if (!t) return kpError_set(err, st, 0, "out of memory");
    t->engine = engine;
    t->module = (kapsul_module *)module;
    __atomic_add_fetch(&t->module->refs, 1, __ATOMIC_ACQ_REL);
    t->image_fd = KP_OS_NO_FD;
    if (!(t->lock = kpOs_mutexNew())) {
        kpError_set(err, st, 0, "out of memory");
        goto fail;
    }
    t->imports_given = config && config->imports_per_instance;
    if (!t->imports_given && (st = resolve_imports(t, imports, nimports, err)) != KAPSUL_OK) goto fail;
    if (m->nmemories == 1) {
        t->mem_index = m->nmem_imports;
        const kpLimits *l = &m->memories[0].limits;
        t->has_mem = true;
        t->min_pages = l->min;
        t->type_max = l->has_max ? l->max : KAPSUL_NO_MAX;
        t->init_bytes = (size_t)(l->min * KP_PAGE_SIZE);
        uint32_t n = config && config->pool_size ? config->pool_size : KP_TEMPLATE_POOL_SIZE;
        size_t keep =
            config && config->keep_resident_bytes ? config->keep_resident_bytes : KP_TEMPLATE_KEEP_RESIDENT;
        if (keep == SIZE_MAX) keep = 0;
        size_t page = kpOs_pageSize();
        keep = keep / page * page;
        t->keep = keep < t->init_bytes ? keep : t->init_bytes;
        if ((st = build_image(t, err)) != KAPSUL_OK || (st = make_pool(t, n, err)) != KAPSUL_OK) goto fail;
    }
    *out = t;
    return KAPSUL_OK;
fail:
    kapsul_template_free(t);
    return st;
}

void kapsul_template_free(kapsul_template *t) {
    if (!t) return;
    for (uint32_t i = 0; i < t->nslots; i++) {
        if (t->slots[i].mem.base) kpOs_release(t->slots[i].mem.base, t->span);
        kp_free(t->slots[i].defined);
    }
    kp_free(t->slots);
    kpOs_close(t->image_fd);
    kp_free(t->image);
    kp_free(t->pages);
    kp_free(t->imports);
    kpOs_mutexFree(t->lock);
    kpModule_release(t->module);
    kp_free(t);
}

uint32_t kapsul_template_pool_free(kapsul_template *t) {
    kpOs_mutexLock(t->lock);
    uint32_t n = t->nfree;
    kpOs_mutexUnlock(t->lock);
    return n;
}

void kapsul_template_describe(const kapsul_template *t, kapsul_template_info *out) {
    const kpModule *m = t->module->m;
    bool active = false;
    for (uint32_t i = 0; i < m->ndatas && !active; i++) active = m->datas[i].mode == kpSeg_ACTIVE;
    *out = (kapsul_template_info){ .pool_size = t->nslots,
                                   .data_in_image = t->data_done || !active,
                                   .image_bytes = t->image_len,
                                   .initial_bytes = t->init_bytes };
}

/* ---- Taking and returning slots ---- */

static void put_back(kapsul_template *t, kpSlot *s) {
    kpOs_mutexLock(t->lock);
    s->next = t->free;
    t->free = s;
    t->nfree++;
    kpOs_mutexUnlock(t->lock);
}

/* A slot's first use, or a use after a reset that could not keep the image: reserve if needed,
 * map (or copy) the image and make the rest of the initial pages accessible. */
static bool prepare(kapsul_template *t, kpSlot *s) {
    if (!s->mem.base && !(s->mem.base = kpOs_reserve(t->span))) return false;
    bool ok;
    if (t->image_fd != KP_OS_NO_FD) {
        ok = kpOs_mapImage(s->mem.base, t->image_len, t->image_fd);
    } else {
        ok = kpOs_commit(s->mem.base, 0, t->image_len);
        for (size_t at = 0, page = kpOs_pageSize(); ok && at < t->image_len; at += page)
            if (t->pages[at / page]) memcpy(s->mem.base + at, t->image + at, page);
    }
    if (!ok || !kpOs_commit(s->mem.base, t->image_len, t->init_bytes)) {
        kpOs_release(s->mem.base, t->span);
        s->mem.base = NULL;
        return false;
    }
    s->ready = true;
    return true;
}

/* Take a free slot, make it memory 0 of the store under the store's limit, and register it for
 * the fault handler (and for kapsul_store_free, which gives it back). */
static kapsul_status take_slot(kapsul_template *t, kapsul_store *st, kapsul_memory **out, kapsul_error *err) {
    uint64_t cap = st->exec.mem_limit / KP_PAGE_SIZE;
    if (cap > KP_MAX_PAGES) cap = KP_MAX_PAGES;
    uint64_t max = t->type_max < cap ? t->type_max : cap;
    if (t->min_pages > max) {
        kpError_set(err, KAPSUL_ERR_TRAP, 0, "memory of %llu pages exceeds the memory limit",
                    (unsigned long long)t->min_pages);
        if (err) err->trap = KAPSUL_TRAP_MEMORY_LIMIT;
        return KAPSUL_ERR_TRAP;
    }
    if (kpVec_grow(&st->exec.mems) != 0) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    kpOs_mutexLock(t->lock);
    kpSlot *s = t->free;
    if (s) {
        t->free = s->next;
        t->nfree--;
    }
    kpOs_mutexUnlock(t->lock);
    if (!s)
        return kpError_set(err, KAPSUL_ERR_LIMIT, 0, "the template's pool of %u memories is exhausted",
                           (unsigned)t->nslots);
    if (!s->ready && !prepare(t, s)) {
        put_back(t, s);
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory preparing a pooled memory");
    }
    s->mem.size = t->init_bytes;
    s->mem.max_pages = max;
    s->mem.type_max = t->type_max;
    s->mem.mapped = t->span;
    s->mem.reserved = t->guard ? t->span : 0;
    st->exec.mems.v[st->exec.mems.n++] = &s->mem;
    *out = &s->mem;
    return KAPSUL_OK;
}

static bool all_zero(const uint8_t *p, size_t len) {
    uint64_t acc = 0, w;
    for (size_t i = 0; i < len; i += sizeof w) {
        memcpy(&w, p + i, sizeof w);
        acc |= w;
    }
    return acc == 0;
}

/* The kept region back to the image, zeros after it (memory never shrinks, so size >= init_bytes
 * >= keep). Only the pages the guest can have written are rewritten when the host says which
 * (kpOs_privatePages): a page still mapped from the image file, or never touched, reads right
 * already. A page once written stays a private copy, so after the first requests this rewrites
 * the pages the guest ever wrote, not the whole region; a zero page is left as it is. */
static void restore_kept(const kapsul_template *t, uint8_t *base) {
    size_t page = kpOs_pageSize(), img = t->image_len < t->keep ? t->image_len : t->keep;
    uint8_t flags[4096];
    for (size_t at = 0; at < t->keep;) {
        size_t n = (t->keep - at) / page < sizeof flags ? (t->keep - at) / page : sizeof flags;
        bool known = kpOs_privatePages(base + at, n, flags);
        for (size_t i = 0; i < n; i++, at += page) {
            if (known && !flags[i]) continue;
            if (at < img && t->pages[at / page]) memcpy(base + at, t->image + at, page);
            else if (!all_zero(base + at, page)) memset(base + at, 0, page);
        }
    }
}

/* The store is done with the memory: drop every page the guest touched so the next guest sees
 * the image, close what it grew, and return the slot. A slot that cannot be reset gives its
 * reservation back instead: a fresh one is made at its next take. */
void kpTemplate_release(kapsul_memory *mem) {
    kpSlot *s = mem->pool;
    kapsul_template *t = s->tpl;
    size_t size = (size_t)mem->size;
    restore_kept(t, mem->base);
    bool ok = kpOs_discard(mem->base + t->keep, t->init_bytes - t->keep) &&
              kpOs_decommit(mem->base, t->init_bytes, size);
    /* Without the image file, dropped pages past keep read as zero, not as the image. */
    if (!ok || (t->image_fd == KP_OS_NO_FD && t->image_len > t->keep)) s->ready = false;
    if (!ok) {
        kpOs_release(mem->base, t->span);
        mem->base = NULL;
    }
    mem->size = 0;
    put_back(t, s);
}

/* ---- Instantiation ---- */

/* given: the module's imports for this instance (kapsul_template_instantiate_with), or NULL for
 * the ones resolved at kapsul_template_new, each a fresh kapsul_func over the host function. */
static kapsul_status instantiate(kapsul_template *t, kapsul_store *st, const kapsul_extern *given, void *env,
                                 kapsul_instance **out, kapsul_error *err) {
    const kpModule *m = t->module->m;
    kapsul_status s = kpStore_checkCounts(st, 1, m->nmemories, m->ntables, err);
    if (s != KAPSUL_OK) return s;
    kapsul_extern small[32], *imports = small;
    if (!given && m->nimports > 32 && !(imports = kp_calloc(m->nimports, sizeof *imports)))
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    kapsul_memory *mem0 = NULL;
    if (t->has_mem && (s = take_slot(t, st, &mem0, err)) != KAPSUL_OK) goto fail;
    for (uint32_t i = 0; !given && i < m->nimports; i++) {
        const kpTplImport *r = &t->imports[i];
        kapsul_func *f;
        if ((s = kpStore_addFunc(st, &f)) != KAPSUL_OK) {
            kpError_set(err, s, 0, "out of memory");
            goto fail;
        }
        f->type = r->type;
        f->type_id = r->type_id;
        f->host = r->fn;
        f->env = r->per_instance ? env : r->env;
        imports[i] = (kapsul_extern){ .kind = KAPSUL_EXTERN_FUNC, .of.func = f };
    }
    kapsul_func *defined = NULL;
    if (mem0 && m->nfuncs) {
        kpSlot *slot = mem0->pool;
        if (!slot->defined && !(slot->defined = kp_calloc(m->nfuncs, sizeof *slot->defined))) {
            s = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
            goto fail;
        }
        defined = slot->defined;
    }
    s = kpInstance_newWith(st, t->module, given ? given : imports, mem0, t->data_done, defined, out, err);
fail:
    if (imports != small) kp_free(imports);
    return s;
}

static kapsul_status check_args(kapsul_template *t, kapsul_store *st, kapsul_instance **out, const char *fn,
                                kapsul_error *err) {
    kpError_clear(err);
    if (out) *out = NULL;
    if (!t || !st || !out) return kpError_set(err, KAPSUL_ERR_ARG, 0, "%s: a NULL argument", fn);
    if (st->engine != t->engine)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "the store belongs to another engine than the template");
    return KAPSUL_OK;
}

kapsul_status kapsul_template_instantiate(kapsul_template *t, kapsul_store *st, void *env,
                                          kapsul_instance **out, kapsul_error *err) {
    kapsul_status s = check_args(t, st, out, "kapsul_template_instantiate", err);
    if (s != KAPSUL_OK) return s;
    if (t->imports_given && t->module->m->nimports)
        return kpError_set(err, KAPSUL_ERR_ARG, 0,
                           "the template takes its imports at each instantiation "
                           "(kapsul_template_instantiate_with)");
    return instantiate(t, st, NULL, env, out, err);
}

/* The imports are checked by kpInstance_newWith as kapsul_linker_instantiate checks them. */
kapsul_status kapsul_template_instantiate_with(kapsul_template *t, kapsul_store *st,
                                               const kapsul_extern *imports, size_t nimports,
                                               kapsul_instance **out, kapsul_error *err) {
    kapsul_status s = check_args(t, st, out, "kapsul_template_instantiate_with", err);
    if (s != KAPSUL_OK) return s;
    const kpModule *m = t->module->m;
    if (nimports != m->nimports || (!imports && nimports))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "the module has %u imports, %zu given",
                           (unsigned)m->nimports, nimports);
    static const kapsul_extern none[1];
    return instantiate(t, st, imports ? imports : none, NULL, out, err);
}
