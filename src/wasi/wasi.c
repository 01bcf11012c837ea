/*
 * wasi.c -- the WASI context (kapsul_wasi_new/free), the binding of every function listed in
 * funcs.def to a linker, and the helpers every handler shares (guest stores, errno mapping).
 */
#include "wasi/wasi.h"

/* Provided by sock.c: bind and listen on "ADDR:PORT", returning the host fd. */
kapsul_status kpWasiSock_listen(const char *addr, kpOs_fd *out, kapsul_error *err);

bool kpWasi_put32(kpWasiCall *c, uint32_t ptr, uint32_t v) {
    uint8_t *p = kpWasi_mem(c, ptr, 4);
    if (!p) return false;
    kp_st32(p, v);
    return true;
}

bool kpWasi_put64(kpWasiCall *c, uint32_t ptr, uint64_t v) {
    uint8_t *p = kpWasi_mem(c, ptr, 8);
    if (!p) return false;
    kp_st64(p, v);
    return true;
}

/* The OS layer's errors carry POSIX's names, and so do WASI's: the mapping is by name, generated
 * from the one list in os/errors.def. */
uint16_t kpWasi_errno(kpOs_err e) {
    switch (e) {
    case KP_OS_OK: return KP_WE_SUCCESS;
#define KP_OS_ERR(name, message) \
    case KP_OS_E##name:          \
        return KP_WE_##name;
#include "os/errors.def"
#undef KP_OS_ERR
    case KP_OS_ENOTCAPABLE: return KP_WE_NOTCAPABLE;
    }
    return KP_WE_IO;
}

/* ---- Binding to the linker ------------------------------------------------------------------- */

/* Every WASI import runs through here: fetch the caller's memory once (so a handler sees a
 * consistent base and size), run the handler, and turn its errno into the i32 result. A handler
 * that ends the guest (proc_exit) sets c.status and the error, which the runtime propagates. */
static kapsul_status dispatch(kpWasiHandler handler, bool has_result, void *env, kapsul_caller *caller,
                              const kapsul_val *args, kapsul_val *results, kapsul_error *err) {
    kpWasiCall c = { .w = env, .mem = NULL, .memlen = 0, .a = args, .err = err, .status = KAPSUL_OK };
    kapsul_memory *m = kapsul_caller_memory(caller);
    if (m) {
        c.mem = kapsul_memory_data(m);
        c.memlen = kapsul_memory_size(m);
    }
    uint16_t e = handler(&c);
    if (c.status != KAPSUL_OK) return c.status;
    if (has_result) {
        results[0].kind = KAPSUL_I32;
        results[0].of.i32 = e;
    }
    return KAPSUL_OK;
}

#define KP_WASI_FN(name, params, results, handler)                                              \
    static kapsul_status tramp_##name(void *env, kapsul_caller *caller, const kapsul_val *args, \
                                      kapsul_val *res, kapsul_error *err) {                     \
        return dispatch(handler, (results)[0] != 0, env, caller, args, res, err);               \
    }
#include "wasi/funcs.def"
#undef KP_WASI_FN

static const struct {
    const char *name, *params, *results;
    kapsul_host_fn fn;
} kp_wasi_table[] = {
#define KP_WASI_FN(name, params, results, handler) { #name, params, results, tramp_##name },
#include "wasi/funcs.def"
#undef KP_WASI_FN
};

kapsul_status kapsul_wasi_define(kapsul_wasi *wasi, kapsul_linker *linker, kapsul_error *err) {
    kpError_clear(err);
    if (!wasi || !linker)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_wasi_define: wasi or linker is NULL");
    for (size_t i = 0; i < sizeof kp_wasi_table / sizeof kp_wasi_table[0]; i++) {
        kapsul_valkind params[16], results[1];
        uint32_t np = 0, nr = 0;
        for (const char *p = kp_wasi_table[i].params; *p; p++)
            params[np++] = *p == 'I' ? KAPSUL_I64 : KAPSUL_I32;
        if (kp_wasi_table[i].results[0]) results[nr++] = KAPSUL_I32;
        kapsul_status st = kapsul_linker_define_func(linker, "wasi_snapshot_preview1", kp_wasi_table[i].name,
                                                     params, np, results, nr, kp_wasi_table[i].fn, wasi, err);
        if (st != KAPSUL_OK) return st;
    }
    return KAPSUL_OK;
}

/* The table is built once per process from kp_wasi_table; two threads racing to build it both
 * build one, the first to publish wins and the other frees its own, so no lock is needed. */
kapsul_status kapsul_wasi_template_imports(const kapsul_template_import **out, size_t *count,
                                           kapsul_error *err) {
    enum {
        N = sizeof kp_wasi_table / sizeof kp_wasi_table[0]
    };
    typedef struct {
        kapsul_template_import imp[N];
        kapsul_valkind kinds[N][17];
    } table;
    static table *published;
    kpError_clear(err);
    if (!out || !count)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_wasi_template_imports: out or count is NULL");
    table *t = __atomic_load_n(&published, __ATOMIC_ACQUIRE);
    if (!t) {
        table *mine = kp_calloc(1, sizeof *mine);
        if (!mine) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        for (size_t i = 0; i < N; i++) {
            kapsul_valkind *k = mine->kinds[i];
            uint32_t np = 0;
            for (const char *p = kp_wasi_table[i].params; *p; p++)
                k[np++] = *p == 'I' ? KAPSUL_I64 : KAPSUL_I32;
            k[np] = KAPSUL_I32;
            mine->imp[i] = (kapsul_template_import){ .module = "wasi_snapshot_preview1",
                                                     .name = kp_wasi_table[i].name,
                                                     .params = k,
                                                     .nparams = np,
                                                     .results = k + np,
                                                     .nresults = kp_wasi_table[i].results[0] ? 1 : 0,
                                                     .fn = kp_wasi_table[i].fn,
                                                     .per_instance = true };
        }
        t = NULL;
        if (__atomic_compare_exchange_n(&published, &t, mine, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            t = mine;
        else kp_free(mine);
    }
    *out = t->imp;
    *count = N;
    return KAPSUL_OK;
}

/* ---- Context creation ------------------------------------------------------------------------ */

/* Copy a string list and count the bytes the guest's *_sizes_get will report (with NULs). */
static kapsul_status copy_strings(const char *const *src, size_t n, char ***out, size_t *bytes) {
    *out = NULL;
    *bytes = 0;
    if (n == 0) return KAPSUL_OK;
    char **v = kp_calloc(n, sizeof *v);
    if (!v) return KAPSUL_ERR_NOMEM;
    *out = v;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(src[i]);
        v[i] = kp_strndup(src[i], len);
        if (!v[i]) return KAPSUL_ERR_NOMEM;
        *bytes += len + 1;
    }
    return KAPSUL_OK;
}

/* Guest fds 0-2: a dup of the host fd the embedder chose, or a free slot for -1. A terminal
 * gets no seek/tell rights, which is how wasi-libc's isatty recognizes it. */
static kapsul_status add_stdio(kapsul_wasi *w, int slot, int host, kapsul_error *err) {
    w->fds[slot].host = KP_OS_NO_FD;
    if (host < 0) return KAPSUL_OK;
    kpOs_fd fd;
    kpOs_err oe = kpOs_dup(host, &fd);
    if (oe != KP_OS_OK) return kpError_set(err, KAPSUL_ERR_IO, 0, "wasi: fd %d: %s", host, kpOs_strerror(oe));
    uint8_t ft = kpWasiFd_typeOf(fd);
    uint64_t rights = KP_R_FILE;
    if (ft != KP_FT_FILE) rights &= ~(KP_R_FD_SEEK | KP_R_FD_TELL);
    w->fds[slot] = (kpWasiFd){ .host = fd, .filetype = ft, .base = rights, .inh = 0 };
    return KAPSUL_OK;
}

static kapsul_status add_preopen(kapsul_wasi *w, const kapsul_wasi_dir *d, kapsul_error *err) {
    kpOs_fd fd;
    kpOs_err oe = kpOs_openDir(d->host_path, &fd);
    if (oe != KP_OS_OK)
        return kpError_set(err, KAPSUL_ERR_IO, 0, "wasi: cannot open directory %s: %s", d->host_path,
                           kpOs_strerror(oe));
    const char *gname = d->guest_path ? d->guest_path : d->host_path;
    char *name = kp_strndup(gname, strlen(gname));
    if (!name) {
        kpOs_close(fd);
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    }
    uint64_t base = KP_R_DIR, inh = KP_R_DIR | KP_R_FILE;
    if (d->read_only) {
        base &= ~KP_R_MUTATE;
        inh &= ~KP_R_MUTATE;
    }
    uint32_t slot;
    if (kpWasiFd_add(w, fd, KP_FT_DIR, base, inh, d->read_only, &slot) != KP_WE_SUCCESS) {
        kp_free(name);
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    }
    w->fds[slot].preopen = name;
    return KAPSUL_OK;
}

kapsul_status kapsul_wasi_new(const kapsul_wasi_config *config, kapsul_wasi **out, kapsul_error *err) {
    kapsul_status st = KAPSUL_ERR_NOMEM;
    kpError_clear(err);
    if (out) *out = NULL;
    if (!config || !out || (config->argc && !config->argv) || (config->envc && !config->env) ||
        (config->ndirs && !config->dirs) || (config->ntcp_listen && !config->tcp_listen))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "kapsul_wasi_new: config or out is NULL, or a list is");
    kapsul_wasi *w = kp_calloc(1, sizeof *w);
    if (!w) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    w->fds = kp_calloc(3, sizeof *w->fds);
    if (!w->fds) goto fail;
    w->nfds = 3;
    for (int i = 0; i < 3; i++) w->fds[i].host = KP_OS_NO_FD;
    w->deadline = config->deadline_ns;
    w->sigpipe_ignored = -1; /* asked at the first write to a pipe or socket (fs.c) */
    w->argc = config->argc;
    w->envc = config->envc;
    if (copy_strings(config->argv, config->argc, &w->argv, &w->argv_bytes) != KAPSUL_OK ||
        copy_strings(config->env, config->envc, &w->env, &w->env_bytes) != KAPSUL_OK)
        goto fail;
    int hosts[3] = { config->stdin_fd, config->stdout_fd, config->stderr_fd };
    for (int i = 0; i < 3; i++)
        if (!(config->mem_stdio & (1u << i)) && (st = add_stdio(w, i, hosts[i], err)) != KAPSUL_OK) goto fail;
    if ((st = kpWasiMem_setup(w, config)) != KAPSUL_OK) {
        kpError_set(err, st, 0, "kapsul_wasi_new: stdin_data is NULL with a non-zero stdin_len");
        goto fail;
    }
    for (size_t i = 0; i < config->ndirs; i++)
        if ((st = add_preopen(w, &config->dirs[i], err)) != KAPSUL_OK) goto fail;
    for (size_t i = 0; i < config->ntcp_listen; i++) {
        kpOs_fd fd;
        uint32_t slot;
        if ((st = kpWasiSock_listen(config->tcp_listen[i], &fd, err)) != KAPSUL_OK) goto fail;
        if (kpWasiFd_add(w, fd, KP_FT_STREAM, KP_R_SOCK | KP_R_SOCK_ACCEPT, KP_R_SOCK, false, &slot) !=
            KP_WE_SUCCESS) {
            st = KAPSUL_ERR_NOMEM;
            goto fail;
        }
        w->fds[slot].listener = true;
    }
    *out = w;
    return KAPSUL_OK;
fail:
    if (st == KAPSUL_ERR_NOMEM) kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    kapsul_wasi_free(w);
    return st;
}

void kapsul_wasi_free(kapsul_wasi *w) {
    if (!w) return;
    for (uint32_t i = 0; i < w->nfds; i++) kpWasiFd_close(&w->fds[i]);
    kpWasiMem_free(w);
    kp_free(w->fds);
    for (size_t i = 0; w->argv && i < w->argc; i++) kp_free(w->argv[i]);
    for (size_t i = 0; w->env && i < w->envc; i++) kp_free(w->env[i]);
    kp_free(w->argv);
    kp_free(w->env);
    kp_free(w);
}
