/*
 * instance.c -- one request, one fresh instance (see instance.h).
 *
 * The fast path is a module template: a pooled copy-on-write memory and in-memory stdio (the body
 * borrowed as stdin, stdout and stderr captured), so a run makes no system call of its own. A
 * module the template cannot take (imports beyond WASI's functions) is linked per run instead,
 * with three memory files (kpOs_memFile) as stdio: the body is written to the first, the other two
 * are read back after the run. A regular file never blocks, so no thread pumps a pipe.
 */
#include "serve/instance.h"

static uint64_t elapsed_ns(uint64_t since) { return kpOs_monotonicNs() - since; }

/* The name of the root component's wasi:http/incoming-handler@0.2.x instance export, if any. */
static bool http_handler_export(const kpComponent *k, char *name, size_t cap) {
    const kpCType *root = kpComponent_resolve(k, k->root);
    const kpCDecls *d = &k->decls.v[root->decls];
    for (size_t i = 0; i < d->exports.n; i++) {
        const kpCDecl *e = &d->exports.v[i];
        kpCName n;
        if (e->ext.sort != kpCS_INSTANCE || !kpCName_parse(e->name, e->name_len, &n) || !n.has_version ||
            n.major != 0 || n.minor != 2 || n.iface_len != 26 ||
            memcmp(n.iface, "wasi:http/incoming-handler", 26))
            continue;
        if (e->name_len >= cap) return false;
        memcpy(name, e->name, e->name_len);
        name[e->name_len] = 0;
        return true;
    }
    return false;
}

kapsul_status kpInstance_prepare(kpInstance_component *c, kapsul_engine *engine, const uint8_t *bytes,
                                 size_t len, kapsul_error *err) {
    return kpInstance_prepareWith(c, engine, bytes, len, NULL, NULL, err);
}

kapsul_status kpInstance_prepareWith(kpInstance_component *c, kapsul_engine *engine, const uint8_t *bytes,
                                     size_t len, kpCModuleFn load, void *load_env, kapsul_error *err) {
    memset(c, 0, sizeof *c);
    c->engine = engine;
    if (!kpComponent_isAnyVersion(bytes, len)) return kapsul_module_new(engine, bytes, len, &c->module, err);
    kapsul_status st = kpCPre_newWith(engine, bytes, len, load, load_env, &c->cpre, err);
    if (st != KAPSUL_OK) return st;
    if (!http_handler_export(kpCPre_component(c->cpre), c->http_export, sizeof c->http_export)) {
        kpCPre_free(c->cpre);
        c->cpre = NULL;
        return kpError_set(err, KAPSUL_ERR_UNLINKABLE, 0,
                           "the component exports no wasi:http/incoming-handler@0.2.x (serve runs HTTP "
                           "handler components; `kapsul run` runs wasi:cli/run ones)");
    }
    return KAPSUL_OK;
}

/* ---- The template cache ---------------------------------------------------------------------- */

kapsul_status kpInstance_cacheInit(kpInstance_cache *cache, size_t max_live, uint32_t pool_size,
                                   kapsul_error *err) {
    memset(cache, 0, sizeof *cache);
    cache->max_live = max_live ? max_live : 1;
    cache->pool_size = pool_size ? pool_size : 1;
    cache->lock = kpOs_mutexNew();
    return cache->lock ? KAPSUL_OK : kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
}

void kpInstance_cacheFree(kpInstance_cache *cache) {
    kpOs_mutexFree(cache->lock);
    cache->lock = NULL;
}

void kpInstance_cacheStats(kpInstance_cache *cache, uint64_t *live, uint64_t *made, uint64_t *freed) {
    kpOs_mutexLock(cache->lock);
    *live = cache->live;
    *made = cache->made;
    *freed = cache->freed;
    kpOs_mutexUnlock(cache->lock);
}

static void list_unlink(kpInstance_cache *k, kpInstance_component *c) {
    if (c->newer) c->newer->older = c->older;
    else k->newest = c->older;
    if (c->older) c->older->newer = c->newer;
    else k->oldest = c->newer;
    c->newer = c->older = NULL;
}

static void list_push(kpInstance_cache *k, kpInstance_component *c) {
    c->newer = NULL;
    c->older = k->newest;
    if (k->newest) k->newest->newer = c;
    else k->oldest = c;
    k->newest = c;
}

/* Free the oldest unused templates until the cache is within max_live (runs in flight keep
 * theirs: then it stays over until they end and the next template is made). */
static void evict(kpInstance_cache *k) {
    for (kpInstance_component *c = k->oldest, *newer; c && k->live > k->max_live; c = newer) {
        newer = c->newer;
        if (c->users) continue;
        list_unlink(k, c);
        kapsul_template_free(c->tpl);
        c->tpl = NULL;
        k->live--;
        k->freed++;
    }
}

/* The component's template for one run (made now if it has none), or NULL for the per-run
 * linking path; KAPSUL_ERR_NOMEM in *st when the host is out of memory. Pair with give_back. */
static kapsul_template *take_template(kpInstance_component *c, kapsul_status *st, kapsul_error *err) {
    kpInstance_cache *k = c->cache;
    *st = KAPSUL_OK;
    if (!k) return NULL;
    kpOs_mutexLock(k->lock);
    if (!c->tpl && !c->no_template) {
        const kapsul_template_import *imports;
        size_t nimports;
        kapsul_template_config cfg = { .pool_size = k->pool_size };
        kapsul_status s = kapsul_wasi_template_imports(&imports, &nimports, err);
        /* UNLINKABLE (imports beyond WASI) or LIMIT (two memories, no address space) leave the
         * per-run linking path, which reports the same problem per request. */
        if (s == KAPSUL_OK)
            s = kapsul_template_new(c->engine, c->module, imports, nimports, &cfg, &c->tpl, NULL);
        if (s == KAPSUL_ERR_NOMEM) *st = kpError_set(err, s, 0, "out of memory");
        else if (s != KAPSUL_OK) c->no_template = true;
        else {
            list_push(k, c);
            k->live++;
            k->made++;
            evict(k);
        }
    } else if (c->tpl && k->newest != c) {
        list_unlink(k, c);
        list_push(k, c);
    }
    kapsul_template *t = c->tpl;
    if (t) c->users++;
    kpOs_mutexUnlock(k->lock);
    return t;
}

static void give_back(kpInstance_component *c, kapsul_template *t) {
    if (!t) return;
    kpOs_mutexLock(c->cache->lock);
    c->users--;
    kpOs_mutexUnlock(c->cache->lock);
}

kapsul_status kpInstance_addDir(kpInstance_component *c, const char *host, const char *guest, bool read_only,
                                kapsul_error *err) {
    char *h = kp_strndup(host, strlen(host));
    char *g = kp_strndup(guest, strlen(guest));
    if (!h || !g || kpVec_grow(&c->dirs) != 0) {
        kp_free(h);
        kp_free(g);
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    }
    c->dirs.v[c->dirs.n++] = (kapsul_wasi_dir){ .host_path = h, .guest_path = g, .read_only = read_only };
    return KAPSUL_OK;
}

void kpInstance_release(kpInstance_component *c) {
    for (size_t i = 0; i < c->dirs.n; i++) {
        kp_free((char *)c->dirs.v[i].host_path);
        kp_free((char *)c->dirs.v[i].guest_path);
    }
    kpVec_free(&c->dirs);
    kapsul_template_free(c->tpl); /* no run is in flight any more */
    c->tpl = NULL;
    kapsul_module_free(c->module);
    c->module = NULL;
    kpCTemplate_free(c->ctpl); /* every store of its instances is gone */
    c->ctpl = NULL;
    kpCPre_free(c->cpre);
    c->cpre = NULL;
}

kapsul_status kpInstance_guardInit(kpInstance_guard *g, kapsul_error *err) {
    g->store = NULL;
    atomic_init(&g->interrupted, false);
    g->lock = kpOs_mutexNew();
    return g->lock ? KAPSUL_OK : kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
}

void kpInstance_guardFree(kpInstance_guard *g) {
    kpOs_mutexFree(g->lock);
    g->lock = NULL;
}

/* The flag is set first, under the lock, so a run that has not yet published its store sees it
 * when it does (attach) and never starts the guest. */
void kpInstance_interrupt(kpInstance_guard *g) {
    kpOs_mutexLock(g->lock);
    atomic_store(&g->interrupted, true);
    if (g->store) kapsul_store_interrupt(g->store);
    kpOs_mutexUnlock(g->lock);
}

static bool attach(kpInstance_guard *g, kapsul_store *store) {
    if (!g) return true;
    kpOs_mutexLock(g->lock);
    bool go = !atomic_load(&g->interrupted);
    if (go) g->store = store;
    kpOs_mutexUnlock(g->lock);
    return go;
}

static void detach(kpInstance_guard *g) {
    if (!g) return;
    kpOs_mutexLock(g->lock);
    g->store = NULL;
    kpOs_mutexUnlock(g->lock);
}

/* Read back at most cap bytes of a memory file the guest wrote. */
static kapsul_status read_back(kpOs_fd fd, size_t cap, kpBuf *out, kapsul_error *err) {
    uint64_t off = 0;
    for (;;) {
        if (kpBuf_reserve(out, 65536) != 0) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        size_t want = out->cap - out->len, done = 0;
        if (off + want > cap) want = cap - (size_t)off;
        if (want == 0) return KAPSUL_OK;
        kpOs_iov iov = { out->data + out->len, want };
        kpOs_err oe = kpOs_pread(fd, &iov, 1, off, &done);
        if (oe != KP_OS_OK) return kpError_set(err, KAPSUL_ERR_IO, 0, "guest output: %s", kpOs_strerror(oe));
        if (done == 0) return KAPSUL_OK;
        out->len += done;
        off += done;
    }
}

/* The body as the guest's stdin, at position 0. */
static kapsul_status write_stdin(kpOs_fd fd, const uint8_t *p, size_t n, kapsul_error *err) {
    uint64_t off = 0;
    while (off < n) {
        kpOs_iov iov = { (void *)(p + off), n - (size_t)off };
        size_t done = 0;
        kpOs_err oe = kpOs_pwrite(fd, &iov, 1, off, &done);
        if (oe != KP_OS_OK || done == 0)
            return kpError_set(err, KAPSUL_ERR_IO, 0, "request body: %s", kpOs_strerror(oe));
        off += done;
    }
    return KAPSUL_OK;
}

/* The template path's stdout and stderr, copied out of the WASI context before it is freed; both
 * capped as the memory files are (stdout by the context's output_cap, stderr here). */
static kapsul_status take_output(const kapsul_wasi *wasi, kpInstance_output *out, kapsul_error *err) {
    for (int fd = 1; fd <= 2; fd++) {
        const uint8_t *data = NULL;
        size_t len = 0;
        kapsul_error e;
        kapsul_status st = kapsul_wasi_output(wasi, fd, &data, &len, &e);
        if (st != KAPSUL_OK && st != KAPSUL_ERR_LIMIT) return kpError_set(err, st, 0, "%s", e.message);
        if (fd == 2 && len > KP_SERVE_MAX_STDERR) len = KP_SERVE_MAX_STDERR;
        kpBuf *b = fd == 1 ? &out->out : &out->err;
        if (len && kpBuf_push(b, data, len) != 0)
            return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    }
    return KAPSUL_OK;
}

/* How a call into the guest ended, in the output's terms. */
static void classify(kapsul_status st, const kapsul_error *e, kpInstance_output *out) {
    if (st == KAPSUL_OK) {
        out->end = KP_INSTANCE_EXITED;
        out->exit_code = 0;
        return;
    }
    out->error = *e;
    if (st == KAPSUL_ERR_EXIT) {
        out->end = KP_INSTANCE_EXITED;
        out->exit_code = e->exit_code;
    } else if (st == KAPSUL_ERR_TRAP && e->trap == KAPSUL_TRAP_FUEL) {
        out->end = KP_INSTANCE_FUEL;
    } else if (st == KAPSUL_ERR_TRAP && e->trap == KAPSUL_TRAP_TIMEOUT) {
        out->end = KP_INSTANCE_TIMEOUT;
    } else if (st == KAPSUL_ERR_TRAP) {
        out->end = KP_INSTANCE_TRAPPED;
    } else {
        out->end = KP_INSTANCE_FAILED;
    }
}

/* Store, WASI context, linker and instance for this run only; then the entry point. The deadline
 * covers instantiation too (a start function can loop). */
static kapsul_status run_guest(const kpInstance_component *c, kapsul_template *tpl,
                               const kpInstance_input *in, const kpOs_fd *fds, kpInstance_output *out,
                               kapsul_error *err) {
    kapsul_store *store = NULL;
    kapsul_linker *linker = NULL;
    kapsul_wasi *wasi = NULL;
    kapsul_instance *inst = NULL;
    kapsul_error e;
    kapsul_status st, rc = KAPSUL_OK;
    uint64_t t0 = kpOs_monotonicNs();
    uint64_t deadline = c->timeout_ns ? t0 + c->timeout_ns : 0;
    kapsul_wasi_config wc = {
        .argv = in->argv,
        .argc = in->argc,
        .env = in->env,
        .envc = in->envc,
        .dirs = c->dirs.v,
        .ndirs = c->dirs.n,
        .stdin_fd = fds ? fds[0] : KP_OS_NO_FD,
        .stdout_fd = fds ? fds[1] : KP_OS_NO_FD,
        .stderr_fd = fds ? fds[2] : KP_OS_NO_FD,
        .deadline_ns = deadline,
        .trace = in->trace,
        .trace_env = in->trace_env,
    };
    if (!fds) { /* the template path: stdio in memory */
        wc.mem_stdio = KAPSUL_WASI_MEM_STDIN | KAPSUL_WASI_MEM_STDOUT | KAPSUL_WASI_MEM_STDERR;
        wc.stdin_data = in->stdin_len ? in->stdin_bytes : NULL;
        wc.stdin_len = in->stdin_len;
        wc.output_cap = KP_SERVE_MAX_STDOUT;
    }
    st = kapsul_wasi_new(&wc, &wasi, &e);
    if (st == KAPSUL_OK) st = kapsul_store_new(c->engine, &store, &e);
    if (st == KAPSUL_OK && fds) st = kapsul_linker_new(store, &linker, &e);
    if (st == KAPSUL_OK && fds) st = kapsul_wasi_define(wasi, linker, &e);
    if (st != KAPSUL_OK) {
        rc = kpError_set(err, st, 0, "%s", e.message);
        goto fail;
    }
    if (c->fuel) kapsul_store_set_fuel(store, c->fuel);
    if (deadline) kapsul_store_set_deadline(store, deadline);
    if (!attach(in->guard, store)) {
        out->end = KP_INSTANCE_INTERRUPTED;
        goto fail;
    }
    st = fds ? kapsul_linker_instantiate(linker, c->module, &inst, &e)
             : kapsul_template_instantiate(tpl, store, wasi, &inst, &e);
    out->instantiate_ns = elapsed_ns(t0);
    if (st == KAPSUL_OK) {
        const char *name = in->entrypoint ? in->entrypoint : "_start";
        kapsul_func *entry = kapsul_instance_func(inst, name);
        if (!entry || kapsul_func_param_count(entry) || kapsul_func_result_count(entry))
            st =
                kpError_set(&e, KAPSUL_ERR_NOT_FOUND, 0, "no export '%s' taking and returning nothing", name);
        else st = kapsul_func_call(store, entry, NULL, 0, NULL, 0, &e);
        classify(st, &e, out);
    } else {
        classify(st, &e, out); /* a start function may trap, loop or exit as _start can */
    }
    detach(in->guard);
    if (out->end == KP_INSTANCE_TIMEOUT && in->guard && atomic_load(&in->guard->interrupted))
        out->end = KP_INSTANCE_INTERRUPTED;
    if (c->fuel) out->fuel_used = c->fuel - kapsul_store_fuel_remaining(store);
    if (inst) out->memory_pages = kapsul_memory_pages(kapsul_instance_memory(inst, "memory"));
    if (!fds) rc = take_output(wasi, out, err);
fail:
    kapsul_linker_free(linker);
    kapsul_store_free(store);
    kapsul_wasi_free(wasi);
    return rc;
}

kapsul_status kpInstance_run(kpInstance_component *c, const kpInstance_input *in, kpInstance_output *out,
                             kapsul_error *err) {
    kpOs_fd fds[3] = { KP_OS_NO_FD, KP_OS_NO_FD, KP_OS_NO_FD };
    static const char *const names[3] = { "kapsul-stdin", "kapsul-stdout", "kapsul-stderr" };
    kapsul_status rc = KAPSUL_OK;
    memset(out, 0, sizeof *out);
    kapsul_template *tpl = take_template(c, &rc, err);
    if (rc != KAPSUL_OK) return rc;
    if (tpl) {
        rc = run_guest(c, tpl, in, NULL, out, err); /* the store is freed before give_back */
        give_back(c, tpl);
        return rc;
    }
    for (int i = 0; i < 3; i++) {
        kpOs_err oe = kpOs_memFile(names[i], &fds[i]);
        if (oe != KP_OS_OK) {
            rc = kpError_set(err, KAPSUL_ERR_IO, 0, "guest stdio: %s", kpOs_strerror(oe));
            goto fail;
        }
    }
    if ((rc = write_stdin(fds[0], in->stdin_bytes, in->stdin_len, err)) != KAPSUL_OK) goto fail;
    if ((rc = run_guest(c, NULL, in, fds, out, err)) != KAPSUL_OK) goto fail;
    if ((rc = read_back(fds[1], KP_SERVE_MAX_STDOUT, &out->out, err)) != KAPSUL_OK) goto fail;
    rc = read_back(fds[2], KP_SERVE_MAX_STDERR, &out->err, err);
fail:
    for (int i = 0; i < 3; i++)
        if (fds[i] != KP_OS_NO_FD) kpOs_close(fds[i]);
    return rc;
}

void kpInstance_freeOutput(kpInstance_output *out) {
    kpBuf_free(&out->out);
    kpBuf_free(&out->err);
}

/* ---- wasi:http components --------------------------------------------------------------------- */

/* The component's template (made at its first run, with a slot per worker), or NULL: then each
 * run instantiates from scratch. Component templates are not in the cache's LRU: an application
 * has few wasi:http components, and each keeps its template for the process's life. */
static kpCTemplate *component_template(kpInstance_component *c) {
    if (!c->cache) return NULL;
    kpOs_mutexLock(c->cache->lock);
    if (!c->ctpl && !c->no_ctemplate) {
        kapsul_template_config cfg = { .pool_size = c->cache->pool_size };
        if (kpCTemplate_new(c->cpre, &cfg, &c->ctpl, NULL) != KAPSUL_OK) c->no_ctemplate = true;
    }
    kpCTemplate *t = c->ctpl;
    kpOs_mutexUnlock(c->cache->lock);
    return t;
}

kapsul_status kpInstance_runHttp(kpInstance_component *c, const kpInstance_input *in,
                                 const kpP2HttpRequest *req, kpP2HttpResponse *res, kpInstance_output *out,
                                 kapsul_error *err) {
    kapsul_store *store = NULL;
    kapsul_wasi *wasi = NULL;
    kpP2 *host = NULL;
    kpCInstance *ci = NULL;
    kapsul_error e;
    kapsul_status st, rc = KAPSUL_OK;
    memset(out, 0, sizeof *out);
    memset(res, 0, sizeof *res);
    res->error = -1;
    uint64_t t0 = kpOs_monotonicNs();
    uint64_t deadline = c->timeout_ns ? t0 + c->timeout_ns : 0;
    kapsul_wasi_config wc = {
        .env = in->env,
        .envc = in->envc,
        .dirs = c->dirs.v,
        .ndirs = c->dirs.n,
        .mem_stdio = KAPSUL_WASI_MEM_STDIN | KAPSUL_WASI_MEM_STDOUT | KAPSUL_WASI_MEM_STDERR,
        .output_cap = KP_SERVE_MAX_STDERR,
        .deadline_ns = deadline,
    };
    st = kapsul_wasi_new(&wc, &wasi, &e);
    if (st == KAPSUL_OK) st = kapsul_store_new(c->engine, &store, &e);
    if (st == KAPSUL_OK) st = kpP2_new(wasi, &host, &e);
    if (st != KAPSUL_OK) {
        rc = kpError_set(err, st, 0, "%s", e.message);
        goto done;
    }
    if (in->http_client) kpP2_setHttpClient(host, in->http_client);
    if (c->fuel) kapsul_store_set_fuel(store, c->fuel);
    if (deadline) kapsul_store_set_deadline(store, deadline);
    if (!attach(in->guard, store)) {
        out->end = KP_INSTANCE_INTERRUPTED;
        goto done;
    }
    kpCTemplate *tpl = component_template(c);
    st = tpl ? kpCTemplate_instantiate(tpl, store, kpP2_resolve, host, &ci, &e)
             : kpCInstance_new(c->cpre, store, kpP2_resolve, host, &ci, &e);
    out->instantiate_ns = elapsed_ns(t0);
    if (st == KAPSUL_OK) {
        if (in->trace) kpCInstance_setTrace(ci, in->trace, in->trace_env);
        kpCFunc *handle = kpCInstance_func(ci, c->http_export, "handle");
        st = handle ? kpP2_httpHandle(host, ci, handle, req, res, &e)
                    : kpError_set(&e, KAPSUL_ERR_NOT_FOUND, 0, "%s exports no function 'handle'",
                                  c->http_export);
    }
    classify(st, &e, out);
    detach(in->guard);
    if (out->end == KP_INSTANCE_TIMEOUT && in->guard && atomic_load(&in->guard->interrupted))
        out->end = KP_INSTANCE_INTERRUPTED;
    if (c->fuel) out->fuel_used = c->fuel - kapsul_store_fuel_remaining(store);
    rc = take_output(wasi, out, err);
    /* stdout is logged with stderr: a handler's response goes through wasi:http, not stdout */
    if (rc == KAPSUL_OK && out->out.len) {
        if (kpBuf_push(&out->err, out->out.data, out->out.len) != 0)
            rc = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        out->out.len = 0;
    }
done:
    kpCInstance_free(ci);
    kpP2_free(host);
    if (store) kapsul_store_free(store);
    kapsul_wasi_free(wasi);
    return rc;
}
