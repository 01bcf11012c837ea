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
#include "serve/route.h"

/* A trigger: the route's index in kpServe_app.bindings says which component runs and how. */
typedef struct kpServe_binding {
    size_t component;
    const char *argv_tmpl;           /* borrowed; WAGI argv template */
    const char *entrypoint;          /* borrowed; NULL = "_start" */
} kpServe_binding;

typedef struct kpServe_component {
    char *id;                        /* owned */
    kpInstance_component run;
    const kpManifestEnv *env;        /* borrowed */
    size_t nenv;
} kpServe_component;

typedef struct kpServe_active kpServe_active;

typedef struct kpServe_app {
    kapsul_engine *engine;           /* borrowed */
    kpLog *log;                      /* borrowed */
    const char *name, *version, *base;   /* borrowed */
    kpRouter router;
    KP_VEC(kpServe_binding) bindings;
    KP_VEC(kpServe_component) components;
    char *staging;                   /* a temporary directory of mounted files, removed at free */
    /* Requests whose guest runs, checked for cancellation by the monitor thread. */
    pthread_mutex_t active_lock;
    kpServe_active *active;
    pthread_t monitor;
    bool monitor_started;
    atomic_bool stopping;
} kpServe_app;

/* Per-run limits every component gets. */
typedef struct kpServe_limits {
    uint64_t timeout_ns, fuel;
} kpServe_limits;

/* `kapsul serve`: one module on every path ("/..."); env and dirs as `kapsul run` takes them. */
kapsul_status kpServe_single(kpServe_app *app, kapsul_engine *engine, kpLog *log, const char *name,
                             const uint8_t *bytes, size_t len, const kpManifestEnv *env, size_t nenv,
                             const kapsul_wasi_dir *dirs, size_t ndirs, const kpServe_limits *lim,
                             kapsul_error *err);
/* `kapsul up`: the manifest's triggers. Components with Spin's default executor are refused (the
 * component model is not supported yet), naming the trigger's position (err->line/column). Each
 * component's files are copied into a private read-only tree, its directories mounted read-only.
 * m must outlive the app. */
kapsul_status kpServe_fromManifest(kpServe_app *app, kapsul_engine *engine, kpLog *log, const kpManifest *m,
                                   const kpServe_limits *lim, kapsul_error *err);
/* Start the monitor thread and the HTTP front. */
kapsul_status kpServe_start(kpServe_app *app, const kpHttp_config *cfg, kpHttp_server **out, kapsul_error *err);
/* Drain and stop the front (kpHttp_stop), then the monitor. */
kapsul_status kpServe_stop(kpServe_app *app, kpHttp_server *server, kapsul_error *err);
void kpServe_free(kpServe_app *app);

#endif /* KP_SERVE_SERVER_H */
