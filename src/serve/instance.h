/*
 * instance.h -- run one request in a fresh guest instance: the one place where serve turns a
 * prepared component and a request's environment, argv and body into the guest's output.
 *
 * Contract:
 *   - A kpInstance_component is prepared once (module loaded and validated in a shared engine) and
 *     then used by any number of threads at once; kpInstance_run never shares anything mutable
 *     between two runs. Every run gets a new store, linker, WASI context and instance, which are
 *     gone when it returns: no state survives from one request to the next.
 *   - The guest sees exactly what the input grants: argv, env, the body on stdin, the component's
 *     read-only directories. Nothing of the host process (its environment, its fds) is visible.
 *   - Limits are per run: timeout_ns (a deadline on the store and on blocking WASI calls), fuel,
 *     and the engine's max_memory_bytes. kpInstance_interrupt stops a run from another thread.
 *   - It talks to the runtime only through kapsul.h. A module that imports only WASI functions
 *     becomes a template (kapsul_template_new): each run takes a copy-on-write memory slot from
 *     its pool and uses in-memory stdio. Any other module is linked per run, with memory files as
 *     stdio, and fails at instantiation as kapsul_linker_instantiate says.
 *   - Templates are made at a component's first run, not when it is prepared, and live in a
 *     kpInstance_cache shared by the components of a process: at most max_live of them, the least
 *     recently used one without a run in flight freed to make room (its module stays loaded, and
 *     the template is made again at its next run). A template holds pool_size reservations of
 *     address space, an in-memory file and the pages its slots keep resident, so an application
 *     of 10,000 components could not hold one each (docs/RATIONALE.md, "Templates on demand").
 */
#ifndef KP_SERVE_INSTANCE_H
#define KP_SERVE_INSTANCE_H

#include <stdatomic.h>

#include "base/base.h"
#include "os/os.h"
#include "wasip2/wasip2.h"

typedef struct kpInstance_component kpInstance_component;

/* The templates of a process's components. kpInstance_cacheInit before the first run;
 * kpInstance_cacheFree after the last (the components free their own templates). */
typedef struct kpInstance_cache {
    kpOs_mutex *lock;
    kpInstance_component *newest, *oldest; /* components holding a template, by last use */
    size_t live, max_live;
    uint32_t pool_size;   /* slots per template: the most runs one component has at once */
    uint64_t made, freed; /* templates made and evicted (kapsul-serve's /metrics) */
} kpInstance_cache;

struct kpInstance_component {
    kapsul_engine *engine; /* borrowed; shared by every component of the process */
    kapsul_module *module; /* owned; NULL for a component (cpre) */
    /* A wasi:http/incoming-handler component instead of a module (owned), the name of the
     * handler instance it exports (wasi:http/incoming-handler@0.2.x) and the
     * allowed_outbound_hosts entries its outgoing requests must match (borrowed). */
    kpCPre *cpre;
    kpCTemplate *ctpl; /* owned; made at the first run (guarded by cache->lock), NULL without one */
    bool no_ctemplate; /* kpCTemplate_new failed: every run instantiates with kpCInstance_new */
    char http_export[64];
    const char *const *outbound;
    size_t noutbound;
    kpInstance_cache *cache;      /* borrowed; set before the first run */
    KP_VEC(kapsul_wasi_dir) dirs; /* owned strings; preopened read-only or as given */
    uint64_t timeout_ns, fuel;    /* per run; 0 = none */
    /* Guarded by cache->lock. tpl: owned; NULL before the first run, after an eviction, or when
     * the module cannot be a template. no_template: it cannot (imports beyond WASI's functions,
     * two memories, or no address space for the pool when it was tried), so every run links a
     * plain instance from then on. users: runs using tpl now (an evicted template has none).
     * newer/older: the cache's list while tpl is set. */
    kapsul_template *tpl;
    bool no_template;
    uint32_t users;
    kpInstance_component *newer, *older;
};

/* A cache of at most max_live templates (at least 1) of pool_size slots each. */
kapsul_status kpInstance_cacheInit(kpInstance_cache *cache, size_t max_live, uint32_t pool_size,
                                   kapsul_error *err);
void kpInstance_cacheFree(kpInstance_cache *cache);
/* A consistent reading of live, made and freed (for /metrics). */
void kpInstance_cacheStats(kpInstance_cache *cache, uint64_t *live, uint64_t *made, uint64_t *freed);

/* A run's handle for other threads: kpInstance_interrupt may be called at any time, before, during
 * or after the run (then it does nothing but leave `interrupted` set). */
typedef struct kpInstance_guard {
    kpOs_mutex *lock;
    kapsul_store *store; /* set while the guest runs */
    atomic_bool interrupted;
} kpInstance_guard;

typedef struct kpInstance_input {
    const char *const *argv;
    size_t argc;
    const char *const *env;
    size_t envc;
    const uint8_t *stdin_bytes;
    size_t stdin_len;
    const char *entrypoint;  /* the export to call; NULL = "_start" */
    kpInstance_guard *guard; /* may be NULL */
    /* --trace-wasi: called on the running thread with each WASI call's strace-style line
     * (kapsul_wasi_config.trace); NULL: no tracing. */
    void (*trace)(void *env, const char *line);
    void *trace_env;
    /* kpInstance_runHttp: how the guest's outgoing requests leave (NULL: all denied). */
    const kpP2HttpClient *http_client;
} kpInstance_input;

typedef enum kpInstance_end {
    KP_INSTANCE_EXITED = 0,  /* _start returned or proc_exit: exit_code says how */
    KP_INSTANCE_TRAPPED,     /* a trap other than the ones below */
    KP_INSTANCE_TIMEOUT,     /* the deadline passed */
    KP_INSTANCE_INTERRUPTED, /* kpInstance_interrupt */
    KP_INSTANCE_FUEL,        /* the fuel ran out */
    KP_INSTANCE_FAILED       /* could not instantiate (link error, memory limit, host I/O) */
} kpInstance_end;

typedef struct kpInstance_output {
    kpBuf out, err; /* the guest's stdout and stderr, whole */
    kpInstance_end end;
    int exit_code;
    kapsul_error error;      /* for TRAPPED..FAILED: what happened */
    uint64_t instantiate_ns; /* store + WASI + instantiation (with the start function) */
    uint64_t fuel_used;      /* 0 when fuel is not metered */
    uint64_t memory_pages;   /* memory "memory" when the run ended (memories only grow) */
} kpInstance_output;

/* Load (decode and validate) module bytes into a component, or a component's bytes (the
 * component model's binary) when it exports wasi:http/incoming-handler@0.2.x (KAPSUL_ERR_UNLINKABLE
 * for any other component). Errors as for kapsul_module_new and kpCPre_new.
 * A component must not move in memory once it has run (the cache links to it). */
kapsul_status kpInstance_prepare(kpInstance_component *c, kapsul_engine *engine, const uint8_t *bytes,
                                 size_t len, kapsul_error *err);
/* The same, with a component's core modules made by load (kpCPre_newWith: --tier native passes
 * one that compiles each to native code); for a module, load is not used. */
kapsul_status kpInstance_prepareWith(kpInstance_component *c, kapsul_engine *engine, const uint8_t *bytes,
                                     size_t len, kpCModuleFn load, void *load_env, kapsul_error *err);
/* Add a directory (strings copied). */
kapsul_status kpInstance_addDir(kpInstance_component *c, const char *host, const char *guest, bool read_only,
                                kapsul_error *err);
void kpInstance_release(kpInstance_component *c);

kapsul_status kpInstance_guardInit(kpInstance_guard *g, kapsul_error *err);
void kpInstance_guardFree(kpInstance_guard *g);
void kpInstance_interrupt(kpInstance_guard *g);

/* Run one request. Returns KAPSUL_OK whenever the guest ran or failed in a way *out describes
 * (out->end); KAPSUL_ERR_NOMEM / KAPSUL_ERR_IO only when the host itself could not set the run up.
 * Free out with kpInstance_freeOutput in every case. */
kapsul_status kpInstance_run(kpInstance_component *c, const kpInstance_input *in, kpInstance_output *out,
                             kapsul_error *err);
void kpInstance_freeOutput(kpInstance_output *out);

/* Run one request through a wasi:http component (c->cpre): a fresh component instance (its own
 * store, WASI context with in-memory stdio, WASI 0.2 host), its incoming-handler called with req,
 * and what it set on the response outparam in *res (kpP2HttpResponse_free it in every case).
 * Instances come from a component template (kpCTemplate: copy-on-write memories of the core
 * modules, pool_size slots each) made at the first run, or from kpCInstance_new without one. The
 * guest's stdout and stderr are both in out->err. Returns as kpInstance_run does; out->end says
 * how the guest ended (EXITED with exit_code 0: handle returned). The per-request instantiation
 * is here and nowhere else, so a component template can replace it. */
kapsul_status kpInstance_runHttp(kpInstance_component *c, const kpInstance_input *in,
                                 const kpP2HttpRequest *req, kpP2HttpResponse *res, kpInstance_output *out,
                                 kapsul_error *err);

#endif /* KP_SERVE_INSTANCE_H */
