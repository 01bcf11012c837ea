/*
 * server.h -- `kapsul serve` and `kapsul up`: an application (routes -> WAGI components) behind the
 * HTTP front. Each request is routed (serve/route.h), turned into a WAGI environment, argv and
 * stdin (serve/wagi.h), run in a fresh instance (serve/instance.h), and the guest's stdout becomes
 * the response; one JSON log line per request (serve/log.h).
 *
 * Status codes the server itself chooses: 404 no route, 400 a request a guest cannot be given
 * (a path decoding to NUL), 431 too many headers for the environment, 500 a guest that trapped,
 * exited non-zero, ran out of fuel or wrote no valid response, 502 an unparsable Status line,
 * KP_SERVE_TIMEOUT_STATUS (504) a guest past --timeout, 503 a request cancelled by the drain.
 *
 * Built into kapsul_http (it calls the HTTP front), so only the kapsul-serve executable has it.
 */
#ifndef KP_SERVE_SERVER_H
#define KP_SERVE_SERVER_H

#include <pthread.h>
#include <stdatomic.h>

#include "app/manifest.h"
#include "serve/http.h"
#include "serve/instance.h"
#include "serve/log.h"
#include "serve/otlp.h"
#include "serve/route.h"

/* A trigger: the route's index in kpServe_app.bindings says which component runs and how. */
typedef struct kpServe_binding {
    size_t component;
    const char *argv_tmpl;  /* borrowed; WAGI argv template */
    const char *entrypoint; /* borrowed; NULL = "_start" */
} kpServe_binding;

typedef struct kpServe_component {
    char *id; /* owned */
    kpInstance_component run;
    const kpManifestEnv *env; /* borrowed */
    size_t nenv;
} kpServe_component;

typedef struct kpServe_active kpServe_active;

/* Counters for --metrics, one set per component and one (the last) for requests no component
 * answered (404, health). Updated with relaxed atomics by the workers, read by the metrics
 * handler; a scrape may see a request counted in one series and not yet in another. */
#define KP_SERVE_BUCKETS 12
typedef struct kpServe_stats {
    atomic_ullong status[500];               /* by status - 100 */
    atomic_ullong buckets[KP_SERVE_BUCKETS]; /* duration <= kpServe_bucketUs[i] */
    atomic_ullong count, sum_us;
} kpServe_stats;

typedef struct kpServe_app {
    kapsul_engine *engine;             /* borrowed */
    kpLog *log;                        /* borrowed */
    const char *name, *version, *base; /* borrowed */
    kpRouter router;
    KP_VEC(kpServe_binding) bindings;
    KP_VEC(kpServe_component) components; /* fixed once kpServe_start runs (the cache links them) */
    kpInstance_cache cache;               /* their templates (serve/instance.h) */
    bool cache_ready;
    size_t max_templates; /* live templates; 0 = KP_SERVE_MAX_TEMPLATES (set before kpServe_start) */
    char *staging;        /* a temporary directory of mounted files, removed at free */
    /* Requests whose guest runs, checked for cancellation by the monitor thread. */
    pthread_mutex_t active_lock;
    kpServe_active *active;
    pthread_t monitor;
    bool monitor_started;
    atomic_bool stopping;
    kpServe_stats *stats;   /* components.n + 1, made by kpServe_start */
    atomic_ullong live;     /* instances running now */
    kpHttp_server *metrics; /* the --metrics listener, or NULL */
    kpOtlp *otlp;           /* borrowed: the span exporter, or NULL */
    bool trace_wasi;        /* log every WASI call of every request (set before kpServe_start) */
    bool spin_headers;      /* wasi:http requests carry Spin's spin-* headers (kapsul up) */
} kpServe_app;

/* Per-run limits every component gets, and how its bytes are loaded. */
typedef struct kpServe_limits {
    uint64_t timeout_ns, fuel;
    /* When set, each component's module bytes pass through this before kapsul_module_new, once
     * at start-up: kapsul-serve's --tier native compiles them to .kwasm here (the serve layer
     * cannot call the CLI's compiler driver itself). out is freed by the caller. */
    kapsul_status (*convert)(void *ctx, const uint8_t *bytes, size_t len, kpBuf *out, kapsul_error *err);
    void *convert_ctx;
    /* kpServe_single: where a wasi:http component's outgoing requests may go (allowed_outbound_hosts
     * syntax; borrowed). kapsul up takes each component's from its manifest. */
    const char *const *outbound;
    size_t noutbound;
} kpServe_limits;

/* `kapsul serve`: one module on every path ("/..."); env and dirs as `kapsul run` takes them. */
kapsul_status kpServe_single(kpServe_app *app, kapsul_engine *engine, kpLog *log, const char *name,
                             const uint8_t *bytes, size_t len, const kpManifestEnv *env, size_t nenv,
                             const kapsul_wasi_dir *dirs, size_t ndirs, const kpServe_limits *lim,
                             kapsul_error *err);
/* `kapsul up`: the manifest's triggers. A trigger with Spin's default executor must name a
 * wasi:http component (served by kpInstance_runHttp, with Spin's spin-* request headers and the
 * component's allowed_outbound_hosts), one with the WAGI executor a module; otherwise an error
 * names the trigger's position (err->line/column). Each
 * component's files are copied into a private read-only tree, its directories mounted read-only.
 * m must outlive the app. */
kapsul_status kpServe_fromManifest(kpServe_app *app, kapsul_engine *engine, kpLog *log, const kpManifest *m,
                                   const kpServe_limits *lim, kapsul_error *err);
/* Start the monitor thread, the HTTP front and, when metrics is not NULL, a second listener that
 * answers every path with Prometheus text: kapsul_requests_total{component,status},
 * kapsul_request_duration_seconds (histogram, per component), kapsul_instances_live. */
kapsul_status kpServe_start(kpServe_app *app, const kpHttp_config *cfg, const kpHttp_config *metrics,
                            kpHttp_server **out, kapsul_error *err);
uint16_t kpServe_metricsPort(const kpServe_app *app);
/* Drain and stop the front (kpHttp_stop), then the monitor. */
kapsul_status kpServe_stop(kpServe_app *app, kpHttp_server *server, kapsul_error *err);
void kpServe_free(kpServe_app *app);

#endif /* KP_SERVE_SERVER_H */
