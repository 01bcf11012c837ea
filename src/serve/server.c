/*
 * server.c -- the request path of `kapsul serve` / `kapsul up` (see server.h).
 *
 * A request runs on one of the HTTP front's worker threads from start to end: route, WAGI
 * environment, a fresh instance, the response, the log line. The only shared mutable state is the
 * list of running requests, which a monitor thread walks every KP_SERVE_CANCEL_POLL_MS to interrupt
 * guests whose client left or whose drain ran out (kpHttp_cancelled): a guest in a loop never
 * polls anything itself.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "serve/outbound.h"
#include "serve/server.h"
#include "serve/wagi.h"

struct kpServe_active {
    kpInstance_guard guard;
    const kpHttp_response *res;
    kpServe_active *prev, *next;
};

/* ---- Metrics ------------------------------------------------------------------------------- */

static const uint64_t bucket_us[KP_SERVE_BUCKETS] = { 500,   1000,   2500,   5000,   10000,   25000,
                                                      50000, 100000, 250000, 500000, 1000000, 5000000 };

static void count_request(kpServe_app *app, size_t component, int status, uint64_t us) {
    if (!app->stats) return;
    kpServe_stats *st = &app->stats[component];
    if (status >= 100 && status < 600)
        atomic_fetch_add_explicit(&st->status[status - 100], 1, memory_order_relaxed);
    for (int i = 0; i < KP_SERVE_BUCKETS; i++)
        if (us <= bucket_us[i]) atomic_fetch_add_explicit(&st->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->sum_us, us, memory_order_relaxed);
}

static void metric_line(kpBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void metric_line(kpBuf *b, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0) kpBuf_push(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* Prometheus text format 0.0.4. Component ids are Spin kebab-case or a file name given on the
 * command line; quotes and backslashes are escaped anyway. */
static void metrics_component(kpBuf *b, const kpServe_stats *st, const char *id) {
    char name[200];
    size_t k = 0;
    for (const char *p = id; *p && k + 2 < sizeof name; p++) {
        if (*p == '"' || *p == '\\') name[k++] = '\\';
        name[k++] = *p == '\n' ? ' ' : *p;
    }
    name[k] = 0;
    for (int s = 0; s < 500; s++) {
        uint64_t n = atomic_load_explicit(&st->status[s], memory_order_relaxed);
        if (n)
            metric_line(b, "kapsul_requests_total{component=\"%s\",status=\"%d\"} %llu\n", name, s + 100,
                        (unsigned long long)n);
    }
    for (int i = 0; i < KP_SERVE_BUCKETS; i++)
        metric_line(b, "kapsul_request_duration_seconds_bucket{component=\"%s\",le=\"%g\"} %llu\n", name,
                    (double)bucket_us[i] / 1e6, (unsigned long long)atomic_load(&st->buckets[i]));
    unsigned long long count = atomic_load(&st->count);
    metric_line(b, "kapsul_request_duration_seconds_bucket{component=\"%s\",le=\"+Inf\"} %llu\n", name,
                count);
    metric_line(b, "kapsul_request_duration_seconds_sum{component=\"%s\"} %.6f\n", name,
                (double)atomic_load(&st->sum_us) / 1e6);
    metric_line(b, "kapsul_request_duration_seconds_count{component=\"%s\"} %llu\n", name, count);
}

static int metrics_handle(void *ctx, const kpHttp_request *req, kpHttp_response *res) {
    kpServe_app *app = ctx;
    kpBuf b = { 0 };
    (void)req;
    metric_line(&b, "# HELP kapsul_requests_total Requests answered, by component and status.\n"
                    "# TYPE kapsul_requests_total counter\n");
    metric_line(&b, "# HELP kapsul_request_duration_seconds Time from routing to response.\n"
                    "# TYPE kapsul_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= app->components.n; i++)
        metrics_component(&b, &app->stats[i], i < app->components.n ? app->components.v[i].id : "");
    metric_line(
        &b,
        "# HELP kapsul_instances_live Guest instances running now.\n# TYPE kapsul_instances_live gauge\n"
        "kapsul_instances_live %llu\n",
        (unsigned long long)atomic_load(&app->live));
    uint64_t live = 0, made = 0, freed = 0;
    if (app->cache_ready) kpInstance_cacheStats(&app->cache, &live, &made, &freed);
    metric_line(&b,
                "# HELP kapsul_templates_live Components with a ready template (at most --max-templates).\n"
                "# TYPE kapsul_templates_live gauge\nkapsul_templates_live %llu\n",
                (unsigned long long)live);
    metric_line(&b,
                "# HELP kapsul_templates_made_total Templates made (first requests and rebuilds).\n"
                "# TYPE kapsul_templates_made_total counter\nkapsul_templates_made_total %llu\n",
                (unsigned long long)made);
    metric_line(&b,
                "# HELP kapsul_templates_evicted_total Templates freed to stay within --max-templates.\n"
                "# TYPE kapsul_templates_evicted_total counter\nkapsul_templates_evicted_total %llu\n",
                (unsigned long long)freed);
    kpHttp_addHeader(res, "content-type", 12, "text/plain; version=0.0.4", 25);
    int rc = kpHttp_write(res, b.data, b.len) == KAPSUL_OK ? 0 : -1;
    kpBuf_free(&b);
    return rc;
}

/* ---- Cancellation monitor ------------------------------------------------------------------- */

static void *monitor_main(void *p) {
    kpServe_app *app = p;
    while (!atomic_load(&app->stopping)) {
        kpOs_sleepNs(KP_SERVE_CANCEL_POLL_MS * 1000000ull);
        pthread_mutex_lock(&app->active_lock);
        for (kpServe_active *a = app->active; a; a = a->next)
            if (!atomic_load(&a->guard.interrupted) && kpHttp_cancelled(a->res))
                kpInstance_interrupt(&a->guard);
        pthread_mutex_unlock(&app->active_lock);
    }
    return NULL;
}

static void active_add(kpServe_app *app, kpServe_active *a) {
    pthread_mutex_lock(&app->active_lock);
    a->prev = NULL;
    a->next = app->active;
    if (app->active) app->active->prev = a;
    app->active = a;
    pthread_mutex_unlock(&app->active_lock);
}

static void active_remove(kpServe_app *app, kpServe_active *a) {
    pthread_mutex_lock(&app->active_lock);
    if (a->prev) a->prev->next = a->next;
    else app->active = a->next;
    if (a->next) a->next->prev = a->prev;
    pthread_mutex_unlock(&app->active_lock);
}

/* ---- Responses ------------------------------------------------------------------------------ */

typedef struct reply {
    int status;
    uint64_t bytes;
    const char *outcome;
    char outcome_buf[320];
} reply;

static int plain(kpHttp_response *res, reply *r, int status, const char *text) {
    r->status = status;
    r->bytes = strlen(text);
    kpHttp_setStatus(res, status);
    kpHttp_addHeader(res, "content-type", 12, "text/plain; charset=utf-8", 25);
    return kpHttp_write(res, text, strlen(text)) == KAPSUL_OK ? 0 : -1;
}

/* The guest's output as the response, or the error response kpWagi_parseOutput made. */
static int from_guest(kpHttp_response *res, reply *r, const kpInstance_output *o) {
    kpWagiResponse w;
    kapsul_error e;
    bool trapped = o->end != KP_INSTANCE_EXITED;
    kapsul_status st = kpWagi_parseOutput(o->out.data, o->out.len, o->exit_code, trapped, &w, &e);
    if (st == KAPSUL_ERR_NOMEM) return plain(res, r, 500, "Internal Server Error\n");
    if (st != KAPSUL_OK && !trapped && o->exit_code == 0) {
        snprintf(r->outcome_buf, sizeof r->outcome_buf, "bad output: %s", e.message);
        r->outcome = r->outcome_buf;
    }
    int rc = 0;
    r->status = w.status;
    if (kpHttp_setStatus(res, w.status) != KAPSUL_OK) rc = -1;
    for (size_t i = 0; i < w.headers.n && rc == 0; i++) {
        const kpWagiOutHeader *h = &w.headers.v[i];
        /* wagi.c dropped framing headers and refused unsafe values; what the front still refuses
         * (a name it considers its own) is left out rather than failing the response. */
        kpHttp_addHeader(res, h->name, strlen(h->name), h->value, strlen(h->value));
    }
    if (rc == 0 && w.body_len && kpHttp_write(res, w.body, w.body_len) != KAPSUL_OK) rc = -1;
    r->bytes = w.body_len;
    kpWagi_freeResponse(&w);
    return rc;
}

/* What the log says about how the guest ended. */
static void describe_end(const kpInstance_output *o, reply *r) {
    switch (o->end) {
    case KP_INSTANCE_EXITED:
        if (o->exit_code == 0) r->outcome = "ok";
        else
            snprintf(r->outcome_buf, sizeof r->outcome_buf, "exit %d", o->exit_code),
                r->outcome = r->outcome_buf;
        return;
    case KP_INSTANCE_TIMEOUT: r->outcome = "timeout"; return;
    case KP_INSTANCE_INTERRUPTED: r->outcome = "cancelled"; return;
    case KP_INSTANCE_FUEL: r->outcome = "fuel exhausted"; return;
    case KP_INSTANCE_TRAPPED: {
        /* "trap: unreachable at 0x1a3 func[5] depth (c.c:12:17) <- ...": the innermost frames, as
         * kapsul run prints them (docs/DEBUGGING.md), as many as fit. */
        size_t n = (size_t)snprintf(r->outcome_buf, sizeof r->outcome_buf, "trap: %s",
                                    kapsul_trap_name(o->error.trap));
        if (o->error.trap == KAPSUL_TRAP_HOST && o->error.message[0]) /* the host says why */
            n += (size_t)snprintf(r->outcome_buf + n, sizeof r->outcome_buf - n, " (%.160s)",
                                  o->error.message);
        if (n >= sizeof r->outcome_buf) n = sizeof r->outcome_buf - 1;
        for (int i = 0; i < o->error.nframes && i < 3 && n < sizeof r->outcome_buf; i++) {
            const kapsul_frame *f = &o->error.frames[i];
            kapsul_location loc[8];
            size_t k = kapsul_frame_locations(f, loc, 8);
            const char *name = k && k <= 8 && loc[k - 1].function ? loc[k - 1].function : f->name;
            n += (size_t)snprintf(r->outcome_buf + n, sizeof r->outcome_buf - n, "%s0x%x func[%u] %s",
                                  i ? " <- " : " at ", (unsigned)f->offset, (unsigned)f->func_index, name);
            if (k && loc[0].file && n < sizeof r->outcome_buf)
                n += (size_t)snprintf(r->outcome_buf + n, sizeof r->outcome_buf - n, " (%s:%u:%u)",
                                      loc[0].file, (unsigned)loc[0].line, (unsigned)loc[0].column);
        }
        r->outcome = r->outcome_buf;
        return;
    }
    case KP_INSTANCE_FAILED:
        snprintf(r->outcome_buf, sizeof r->outcome_buf, "failed: %s", o->error.message);
        r->outcome = r->outcome_buf;
        return;
    }
}

/* ---- One WAGI request ------------------------------------------------------------------------ */

static const char *protocol_of(int version) {
    return version == 0x200 ? "HTTP/2.0" : version == 0x100 ? "HTTP/1.0" : "HTTP/1.1";
}

/* --trace-wasi: each call of a request's guest becomes a log line with the request's ids. */
typedef struct wasi_tracer {
    kpLog *log;
    const kpTrace *trace;
    const char *component;
} wasi_tracer;

static void trace_call(void *env, const char *line) {
    const wasi_tracer *t = env;
    kpLog_wasiCall(t->log, t->trace, t->component, line);
}

/* Run the guest under a guard the monitor can interrupt, then answer from its output. */
static int run_component(kpServe_app *app, const kpServe_binding *b, const kpStrVec *env,
                         const kpStrVec *argv, const kpHttp_request *req, kpHttp_response *res, reply *r,
                         kpLogRequest *lr) {
    kpServe_component *c = &app->components.v[b->component];
    kpServe_active a;
    kpInstance_output o;
    kapsul_error e;
    int rc;
    if (kpInstance_guardInit(&a.guard, &e) != KAPSUL_OK) return plain(res, r, 500, "Internal Server Error\n");
    a.res = res;
    active_add(app, &a);
    kpInstance_input in = {
        .argv = (const char *const *)argv->v,
        .argc = argv->n,
        .env = (const char *const *)env->v,
        .envc = env->n,
        .stdin_bytes = req->body,
        .stdin_len = req->body_len,
        .entrypoint = b->entrypoint,
        .guard = &a.guard,
    };
    wasi_tracer tracer = { app->log, lr->trace, c->id };
    if (app->trace_wasi) in.trace = trace_call, in.trace_env = &tracer;
    atomic_fetch_add(&app->live, 1);
    kapsul_status st = kpInstance_run(&c->run, &in, &o, &e);
    atomic_fetch_sub(&app->live, 1);
    active_remove(app, &a);
    kpInstance_guardFree(&a.guard);
    lr->instantiate_us = o.instantiate_ns / 1000;
    lr->fuel_used = o.fuel_used;
    lr->fuel_metered = c->run.fuel != 0;
    lr->memory_pages = o.memory_pages;
    kpLog_guestStderr(app->log, lr->trace, c->id, o.err.data, o.err.len);
    if (st != KAPSUL_OK) {
        snprintf(r->outcome_buf, sizeof r->outcome_buf, "host: %s", e.message);
        r->outcome = r->outcome_buf;
        rc = plain(res, r, 500, "Internal Server Error\n");
    } else {
        describe_end(&o, r);
        if (o.end == KP_INSTANCE_TIMEOUT)
            rc = plain(res, r, KP_SERVE_TIMEOUT_STATUS,
                       "Gateway Timeout: the handler ran past its time limit\n");
        else if (o.end == KP_INSTANCE_INTERRUPTED)
            rc = plain(res, r, 503, "Service Unavailable: the request was cancelled\n");
        else rc = from_guest(res, r, &o);
    }
    kpInstance_freeOutput(&o);
    return rc;
}

static int wagi_request(kpServe_app *app, const kpRouteMatch *m, const kpHttp_request *req,
                        kpHttp_response *res, reply *r, kpLogRequest *lr) {
    const kpServe_binding *b = &app->bindings.v[m->route->index];
    const kpServe_component *c = &app->components.v[b->component];
    kpStrVec env = { 0 }, argv = { 0 };
    kapsul_error e;
    int rc;
    kpWagiHeader *hs = kp_calloc(req->nheaders + 1, sizeof *hs);
    size_t nh = 0;
    bool has_host = false;
    if (!hs) return plain(res, r, 500, "Internal Server Error\n");
    for (size_t i = 0; i < req->nheaders; i++, nh++) {
        hs[nh] = (kpWagiHeader){ req->headers[i].name, req->headers[i].name_len, req->headers[i].value,
                                 req->headers[i].value_len };
        has_host |= req->headers[i].name_len == 4 && memcmp(req->headers[i].name, "host", 4) == 0;
    }
    /* h2o keeps Host (HTTP/1) and :authority (HTTP/2) apart from the headers; WAGI wants it as the
     * Host header (HTTP_HOST, SERVER_NAME, X_FULL_URL). */
    if (!has_host && req->authority_len)
        hs[nh++] = (kpWagiHeader){ "host", 4, req->authority, req->authority_len };
    kpWagiRequest rq = {
        .method = req->method,
        .path = req->path,
        .path_len = req->path_len,
        .query = req->query,
        .query_len = req->query_len,
        .headers = hs,
        .nheaders = nh,
        .content_length = req->body_len,
        .client_addr = req->client_addr,
        .client_port = req->client_port,
        .server_host = req->local_addr,
        .server_port = req->local_port,
        .scheme = req->scheme,
        .protocol = protocol_of(req->version),
        .match = m,
        .base = app->base,
        .env = c->env,
        .nenv = c->nenv,
    };
    kapsul_status st = kpWagi_buildEnv(&rq, &env, &e);
    if (st == KAPSUL_OK) st = kpWagi_buildArgv(b->argv_tmpl, &rq, &argv, &e);
    if (st == KAPSUL_ERR_ARG) {
        r->outcome = "bad request for WAGI";
        rc = plain(res, r, 400, "Bad Request\n");
    } else if (st == KAPSUL_ERR_LIMIT) {
        r->outcome = "request headers too large for WAGI";
        rc = plain(res, r, 431, "Request Header Fields Too Large\n");
    } else if (st != KAPSUL_OK) {
        rc = plain(res, r, 500, "Internal Server Error\n");
    } else {
        rc = run_component(app, b, &env, &argv, req, res, r, lr);
    }
    kpWagi_freeStrings(&env);
    kpWagi_freeStrings(&argv);
    kp_free(hs);
    return rc;
}

/* ---- One wasi:http request -------------------------------------------------------------------- */

typedef KP_VEC(kpP2HttpHeader) header_vec;

/* A header of the request the guest sees; false when out of memory. */
static bool add_header(header_vec *hs, const char *name, const char *value, size_t n) {
    if (kpVec_grow(hs) != 0) return false;
    hs->v[hs->n++] = (kpP2HttpHeader){ name, strlen(name), (const uint8_t *)value, n };
    return true;
}

/* Spin's request headers for its HTTP executor (spin-full-url, spin-path-info, ...), which the
 * Spin SDKs read; printed into text (one buffer, offsets resolved once it stops moving). */
static bool spin_headers(const kpServe_app *app, const kpRouteMatch *m, const kpHttp_request *req,
                         kpBuf *text, header_vec *hs) {
    char client[80];
    snprintf(client, sizeof client, "%s:%u", req->client_addr, (unsigned)req->client_port);
    const char *names[] = { "spin-full-url",   "spin-path-info",           "spin-matched-route",
                            "spin-base-path",  "spin-raw-component-route", "spin-component-route",
                            "spin-client-addr" };
    size_t off[8];
    size_t k = 0;
    off[k++] = text->len;
    kpBuf_push(text, req->scheme, strlen(req->scheme));
    kpBuf_push(text, "://", 3);
    kpBuf_push(text, req->authority, req->authority_len);
    kpBuf_push(text, req->path, req->path_len);
    if (req->query_len) kpBuf_byte(text, '?'), kpBuf_push(text, req->query, req->query_len);
    off[k++] = text->len;
    kpBuf_push(text, m->path_info, m->path_info_len);
    off[k++] = text->len;
    kpBuf_push(text, m->route->raw_route, strlen(m->route->raw_route));
    off[k++] = text->len;
    kpBuf_push(text, app->base, strlen(app->base));
    off[k++] = text->len;
    kpBuf_push(text, m->route->raw_route, strlen(m->route->raw_route));
    off[k++] = text->len;
    kpBuf_push(text, m->script_name, m->script_name_len);
    off[k++] = text->len;
    kpBuf_push(text, client, strlen(client));
    off[k] = text->len;
    if (kpBuf_byte(text, 0) != 0) return false;
    for (size_t i = 0; i < k; i++)
        if (!add_header(hs, names[i], (const char *)text->data + off[i], off[i + 1] - off[i])) return false;
    return true;
}

/* The guest's answer as the response: its status, its headers (framing ones are the front's and
 * are left out), its body. */
static int from_handler(kpHttp_response *res, reply *r, const kpP2HttpResponse *a) {
    if (!a->set) {
        r->outcome = "the handler never set a response (response-outparam.set)";
        return plain(res, r, 500, "Internal Server Error\n");
    }
    if (a->error >= 0) {
        snprintf(r->outcome_buf, sizeof r->outcome_buf, "handler error: %s%s%s", kpP2Http_errorName(a->error),
                 a->detail[0] ? ": " : "", a->detail);
        r->outcome = r->outcome_buf;
        return plain(res, r, 500, "Internal Server Error\n");
    }
    if (kpHttp_setStatus(res, a->status) != KAPSUL_OK) {
        snprintf(r->outcome_buf, sizeof r->outcome_buf, "handler set status %u, which the server cannot send",
                 (unsigned)a->status);
        r->outcome = r->outcome_buf;
        return plain(res, r, 500, "Internal Server Error\n");
    }
    r->status = a->status;
    for (size_t i = 0; i < a->headers.n; i++) {
        const kpP2HttpField *h = &a->headers.v[i];
        kpHttp_addHeader(res, h->name, h->name_len, (const char *)h->value, h->value_len);
    }
    r->bytes = a->body.len;
    return a->body.len && kpHttp_write(res, a->body.data, a->body.len) != KAPSUL_OK ? -1 : 0;
}

/* The path with its query, as wasi:http's path-with-query. */
static char *path_with_query(const kpHttp_request *req, size_t *len) {
    *len = req->path_len + (req->query_len ? 1 + req->query_len : 0);
    char *p = kp_malloc(*len + 1);
    if (!p) return NULL;
    memcpy(p, req->path, req->path_len);
    if (req->query_len) p[req->path_len] = '?', memcpy(p + req->path_len + 1, req->query, req->query_len);
    p[*len] = 0;
    return p;
}

/* The component's environment as K=V strings for its WASI context. */
static bool env_strings(const kpServe_component *c, kpStrVec *out) {
    for (size_t i = 0; i < c->nenv; i++) {
        size_t kn = strlen(c->env[i].name), vn = strlen(c->env[i].value);
        char *kv = kp_malloc(kn + vn + 2);
        if (!kv || kpVec_grow(out) != 0) {
            kp_free(kv);
            return false;
        }
        memcpy(kv, c->env[i].name, kn);
        kv[kn] = '=';
        memcpy(kv + kn + 1, c->env[i].value, vn + 1);
        out->v[out->n++] = kv;
    }
    return true;
}

static int http_request(kpServe_app *app, const kpRouteMatch *m, const kpHttp_request *req,
                        kpHttp_response *res, reply *r, kpLogRequest *lr) {
    const kpServe_binding *b = &app->bindings.v[m->route->index];
    kpServe_component *c = &app->components.v[b->component];
    header_vec hs = { 0 };
    kpBuf text = { 0 };
    kpStrVec env = { 0 };
    kpP2HttpResponse answer = { 0 };
    kpInstance_output o = { 0 };
    kpServe_active a;
    kapsul_error e;
    size_t plen;
    int rc;
    char *pq = path_with_query(req, &plen);
    bool ok = pq && env_strings(c, &env);
    for (size_t i = 0; ok && i < req->nheaders; i++) {
        const kpHttp_header *h = &req->headers[i];
        ok = kpVec_grow(&hs) == 0;
        if (ok)
            hs.v[hs.n++] = (kpP2HttpHeader){ h->name, h->name_len, (const uint8_t *)h->value, h->value_len };
    }
    if (ok && app->spin_headers) ok = spin_headers(app, m, req, &text, &hs);
    if (!ok || kpInstance_guardInit(&a.guard, &e) != KAPSUL_OK) {
        rc = plain(res, r, 500, "Internal Server Error\n");
        goto done;
    }
    kpP2HttpRequest rq = {
        .method = req->method,
        .method_len = req->method_len,
        .scheme = req->scheme,
        .authority = req->authority,
        .authority_len = req->authority_len,
        .path_with_query = pq,
        .path_len = plen,
        .headers = hs.v,
        .nheaders = hs.n,
        .body = req->body,
        .body_len = req->body_len,
    };
    kpServe_outbound ob = { app->log, lr->trace, c->id, c->run.outbound, c->run.noutbound };
    kpP2HttpClient client;
    kpServe_client(&ob, &client);
    kpInstance_input in = {
        .env = (const char *const *)env.v,
        .envc = env.n,
        .guard = &a.guard,
        .http_client = &client,
    };
    wasi_tracer tracer = { app->log, lr->trace, c->id };
    if (app->trace_wasi) in.trace = trace_call, in.trace_env = &tracer;
    a.res = res;
    active_add(app, &a);
    atomic_fetch_add(&app->live, 1);
    kapsul_status st = kpInstance_runHttp(&c->run, &in, &rq, &answer, &o, &e);
    atomic_fetch_sub(&app->live, 1);
    active_remove(app, &a);
    kpInstance_guardFree(&a.guard);
    lr->instantiate_us = o.instantiate_ns / 1000;
    lr->fuel_used = o.fuel_used;
    lr->fuel_metered = c->run.fuel != 0;
    kpLog_guestStderr(app->log, lr->trace, c->id, o.err.data, o.err.len);
    if (st != KAPSUL_OK) {
        snprintf(r->outcome_buf, sizeof r->outcome_buf, "host: %s", e.message);
        r->outcome = r->outcome_buf;
        rc = plain(res, r, 500, "Internal Server Error\n");
    } else if (o.end == KP_INSTANCE_TIMEOUT) {
        describe_end(&o, r);
        rc = plain(res, r, KP_SERVE_TIMEOUT_STATUS, "Gateway Timeout: the handler ran past its time limit\n");
    } else if (o.end == KP_INSTANCE_INTERRUPTED) {
        describe_end(&o, r);
        rc = plain(res, r, 503, "Service Unavailable: the request was cancelled\n");
    } else if (o.end != KP_INSTANCE_EXITED || o.exit_code != 0) {
        describe_end(&o, r); /* a trap, an exit or a failed instantiation: nothing it set counts */
        rc = plain(res, r, 500, "Internal Server Error\n");
    } else {
        rc = from_handler(res, r, &answer);
    }
done:
    kpInstance_freeOutput(&o);
    kpP2HttpResponse_free(&answer);
    kpWagi_freeStrings(&env);
    kpBuf_free(&text);
    kpVec_free(&hs);
    kp_free(pq);
    return rc;
}

/* /.well-known/spin/info: the application's name and version as JSON (both come from the
 * manifest, so they are escaped). */
static int info(const kpServe_app *app, kpHttp_response *res, reply *r) {
    kpBuf b = { 0 };
    char runtime[64];
    snprintf(runtime, sizeof runtime, "kapsul %s", kapsul_version());
    kpBuf_push(&b, "{\"name\":", 8);
    kpLog_jsonString(&b, app->name, strlen(app->name));
    kpBuf_push(&b, ",\"version\":", 11);
    kpLog_jsonString(&b, app->version, strlen(app->version));
    kpBuf_push(&b, ",\"runtime\":", 11);
    kpLog_jsonString(&b, runtime, strlen(runtime));
    int rc = kpBuf_push(&b, "}\n", 2) == 0 ? 0 : -1;
    if (rc == 0) {
        r->status = 200;
        r->bytes = b.len;
        kpHttp_setStatus(res, 200);
        kpHttp_addHeader(res, "content-type", 12, "application/json", 16);
        rc = kpHttp_write(res, b.data, b.len) == KAPSUL_OK ? 0 : -1;
    }
    kpBuf_free(&b);
    return rc;
}

/* The front's handler: trace context, route, answer, log. Always builds its own response, so the
 * front's bare 500 is only for a response that could not be built at all. */
static int handle(void *ctx, const kpHttp_request *req, kpHttp_response *res) {
    kpServe_app *app = ctx;
    uint64_t t0 = kpOs_monotonicNs();
    kpTrace trace;
    const char *tp = NULL;
    size_t tp_len = 0;
    for (size_t i = 0; i < req->nheaders; i++)
        if (req->headers[i].name_len == 11 && memcmp(req->headers[i].name, "traceparent", 11) == 0)
            tp = req->headers[i].value, tp_len = req->headers[i].value_len;
    kpTrace_begin(&trace, tp, tp_len);
    char tpv[56];
    kpTrace_format(&trace, tpv);
    kpHttp_addHeader(res, "traceparent", 11, tpv, strlen(tpv));

    reply r = { .status = 200, .outcome = "ok" };
    kpLogRequest lr = { .trace = &trace, .method = req->method, .path = req->path };
    kpRouteMatch m;
    kpRoute_match(&app->router, req->path, req->path_len, &m);
    size_t component = app->components.n; /* the "no component" series */
    int rc;
    if (m.result == KP_ROUTE_HEALTH) {
        rc = plain(res, &r, 200, "OK");
    } else if (m.result == KP_ROUTE_INFO) {
        rc = info(app, res, &r);
    } else if (m.result == KP_ROUTE_NOT_FOUND) {
        r.outcome = "no route";
        rc = plain(res, &r, 404, "Not Found\n");
    } else {
        component = app->bindings.v[m.route->index].component;
        lr.component = app->components.v[component].id;
        lr.route = m.route->raw_route;
        rc = app->components.v[component].run.cpre ? http_request(app, &m, req, res, &r, &lr)
                                                   : wagi_request(app, &m, req, res, &r, &lr);
    }
    if (rc != 0) r.status = 500, r.outcome = "response could not be built";
    lr.status = r.status;
    lr.bytes = rc == 0 ? r.bytes : 0;
    lr.outcome = r.outcome;
    lr.duration_us = (kpOs_monotonicNs() - t0) / 1000;
    kpLog_request(app->log, &lr);
    count_request(app, component, r.status, lr.duration_us);
    if (app->otlp) {
        uint64_t end = 0;
        kpOs_clockNow(KP_OS_CLOCK_REALTIME, &end);
        kpOtlp_span(app->otlp, &lr, end - lr.duration_us * 1000, end);
    }
    return rc;
}

/* ---- Building the application ------------------------------------------------------------------ */

/* --tier native for a component: each core module converted (compiled, or found in the cache) and
 * loaded from its .kwasm. env: the kpServe_limits. */
static kapsul_status native_core(void *env, kapsul_engine *engine, const uint8_t *bytes, size_t len,
                                 kapsul_module **out, kapsul_error *err) {
    const kpServe_limits *lim = env;
    kpBuf kw = { 0 };
    kapsul_status st = lim->convert(lim->convert_ctx, bytes, len, &kw, err);
    if (st == KAPSUL_OK) st = kapsul_module_new(engine, kw.data, kw.len, out, err);
    kpBuf_free(&kw);
    return st;
}

static kapsul_status add_component(kpServe_app *app, const char *id, const uint8_t *bytes, size_t len,
                                   const kpServe_limits *lim, kapsul_error *err) {
    if (kpVec_grow(&app->components) != 0) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    kpServe_component *c = &app->components.v[app->components.n];
    memset(c, 0, sizeof *c);
    if (!(c->id = kp_strndup(id, strlen(id)))) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    kpBuf converted = { 0 };
    kapsul_status st = KAPSUL_OK;
    /* --tier native: a module is converted whole, a component's core modules one by one */
    bool component = kpComponent_isAnyVersion(bytes, len);
    if (lim->convert && !component &&
        (st = lim->convert(lim->convert_ctx, bytes, len, &converted, err)) == KAPSUL_OK)
        bytes = converted.data, len = converted.len;
    if (st == KAPSUL_OK)
        st = kpInstance_prepareWith(&c->run, app->engine, bytes, len,
                                    lim->convert && component ? native_core : NULL, (void *)lim, err);
    kpBuf_free(&converted);
    if (st != KAPSUL_OK) {
        kp_free(c->id);
        return st;
    }
    c->run.timeout_ns = lim->timeout_ns;
    c->run.fuel = lim->fuel;
    app->components.n++;
    return KAPSUL_OK;
}

static kapsul_status add_binding(kpServe_app *app, size_t component, const char *argv_tmpl, const char *entry,
                                 kapsul_error *err) {
    if (kpVec_grow(&app->bindings) != 0) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    app->bindings.v[app->bindings.n++] = (kpServe_binding){ component, argv_tmpl, entry };
    return KAPSUL_OK;
}

static void app_init(kpServe_app *app, kapsul_engine *engine, kpLog *log) {
    memset(app, 0, sizeof *app);
    app->engine = engine;
    app->log = log;
    app->base = "/";
    app->name = app->version = "";
    pthread_mutex_init(&app->active_lock, NULL);
    atomic_init(&app->stopping, false);
}

kapsul_status kpServe_single(kpServe_app *app, kapsul_engine *engine, kpLog *log, const char *name,
                             const uint8_t *bytes, size_t len, const kpManifestEnv *env, size_t nenv,
                             const kapsul_wasi_dir *dirs, size_t ndirs, const kpServe_limits *lim,
                             kapsul_error *err) {
    app_init(app, engine, log);
    app->name = name;
    kapsul_status st = add_component(app, name, bytes, len, lim, err);
    if (st == KAPSUL_OK) st = add_binding(app, 0, "${SCRIPT_NAME} ${ARGS}", NULL, err);
    if (st == KAPSUL_OK) st = kpRoute_add(&app->router, "/...", "/...", app->components.v[0].id, 0, err);
    for (size_t i = 0; st == KAPSUL_OK && i < ndirs; i++)
        st = kpInstance_addDir(&app->components.v[0].run, dirs[i].host_path,
                               dirs[i].guest_path ? dirs[i].guest_path : dirs[i].host_path, dirs[i].read_only,
                               err);
    if (st == KAPSUL_OK) {
        app->components.v[0].env = env;
        app->components.v[0].nenv = nenv;
        app->components.v[0].run.outbound = lim->outbound;
        app->components.v[0].run.noutbound = lim->noutbound;
    }
    return st;
}

/* Copy one host file to root + guest path, creating the directories between. */
static kapsul_status stage_file(const char *root, const char *host, const char *guest, kapsul_error *err) {
    char path[KP_OS_PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s%s", root, guest) >= sizeof path)
        return kpError_set(err, KAPSUL_ERR_LIMIT, 0, "%s: path too long", guest);
    kpOs_err e = kpOs_copyPath(host, path);
    return e == KP_OS_OK ? KAPSUL_OK
                         : kpError_set(err, KAPSUL_ERR_IO, 0, "cannot mount %s at %s: %s", host, guest,
                                       kpOs_strerror(e));
}

/* A component's `files`: single files from globs are copied into a private tree (WASI preopens
 * only directories, and mounting a file's whole host directory would show files the patterns or
 * exclude_files left out); { source, destination } directories are preopened as they are. All of
 * it read-only. */
static kapsul_status mount_files(kpServe_app *app, kpServe_component *c, const kpManifestComponent *mc,
                                 kapsul_error *err) {
    kapsul_status st = KAPSUL_OK;
    char root[KP_OS_PATH_MAX];
    bool any_file = false;
    kpOs_err e;
    for (size_t i = 0; i < mc->files.n; i++) any_file |= mc->files.v[i].kind == KP_MOUNT_FILE;
    if (any_file) {
        if (!app->staging) {
            const char *tmp = getenv("TMPDIR");
            if ((e = kpOs_tempDir(tmp && *tmp ? tmp : "/tmp", "kapsul-up-", root, sizeof root)) != KP_OS_OK)
                return kpError_set(err, KAPSUL_ERR_IO, 0, "a temporary directory: %s", kpOs_strerror(e));
            if (!(app->staging = kp_strndup(root, strlen(root))))
                return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        }
        snprintf(root, sizeof root, "%s/%zu", app->staging, app->components.n - 1);
        if ((e = kpOs_mkdirs(root)) != KP_OS_OK)
            return kpError_set(err, KAPSUL_ERR_IO, 0, "%s: %s", root, kpOs_strerror(e));
        for (size_t i = 0; st == KAPSUL_OK && i < mc->files.n; i++)
            if (mc->files.v[i].kind == KP_MOUNT_FILE)
                st = stage_file(root, mc->files.v[i].host, mc->files.v[i].guest, err);
        if (st == KAPSUL_OK) st = kpInstance_addDir(&c->run, root, "/", true, err);
    }
    for (size_t i = 0; st == KAPSUL_OK && i < mc->files.n; i++)
        if (mc->files.v[i].kind == KP_MOUNT_DIR)
            st = kpInstance_addDir(&c->run, mc->files.v[i].host, mc->files.v[i].guest, true, err);
    return st;
}

/* One component of the manifest, loaded from its source. */
static kapsul_status load_component(kpServe_app *app, const kpManifestComponent *mc,
                                    const kpServe_limits *lim, kapsul_error *err) {
    uint8_t *bytes = NULL;
    size_t got = 0;
    kapsul_status st;
    kpOs_err e = kpOs_readPath(mc->source_path, SIZE_MAX, (void **)&bytes, &got);
    if (e != KP_OS_OK) {
        st = e == KP_OS_ENOMEM
                 ? kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory")
                 : kpError_set(err, KAPSUL_ERR_IO, 0, "component '%s': %s: %s", mc->id, mc->source_path,
                               e == KP_OS_EINVAL ? "not a regular file" : kpOs_strerror(e));
        goto fail;
    }
    st = add_component(app, mc->id, bytes, got, lim, err);
    if (st != KAPSUL_OK) {
        char msg[640];
        snprintf(msg, sizeof msg, "component '%s' (%s): %s", mc->id, mc->source, err->message);
        snprintf(err->message, sizeof err->message, "%.255s", msg);
        goto fail;
    }
    kpServe_component *c = &app->components.v[app->components.n - 1];
    if (c->run.cpre) { /* a wasi:http component: its outgoing requests may go there */
        c->run.outbound = (const char *const *)mc->allowed_outbound_hosts.v;
        c->run.noutbound = mc->allowed_outbound_hosts.n;
    } else if (mc->allowed_outbound_hosts.n) {
        /* Recorded, not granted: a WAGI guest gets no sockets, so nothing here can reach them. */
        kpBuf b = { 0 };
        char head[160];
        snprintf(head, sizeof head,
                 "component '%.64s': allowed_outbound_hosts (not granted: WAGI has no outbound):", mc->id);
        kpBuf_push(&b, head, strlen(head));
        for (size_t i = 0; i < mc->allowed_outbound_hosts.n; i++) {
            kpBuf_byte(&b, ' ');
            kpBuf_push(&b, mc->allowed_outbound_hosts.v[i], strlen(mc->allowed_outbound_hosts.v[i]));
        }
        if (kpBuf_byte(&b, 0) == 0) kpLog_event(app->log, (const char *)b.data);
        kpBuf_free(&b);
    }
    c->env = mc->env.v;
    c->nenv = mc->env.n;
    st = mount_files(app, c, mc, err);
fail:
    kp_free(bytes);
    return st;
}

kapsul_status kpServe_fromManifest(kpServe_app *app, kapsul_engine *engine, kpLog *log, const kpManifest *m,
                                   const kpServe_limits *lim, kapsul_error *err) {
    app_init(app, engine, log);
    app->name = m->name;
    app->version = m->version;
    app->base = m->base;
    kapsul_status st = KAPSUL_OK;
    app->spin_headers = true;
    /* Components are loaded in manifest order; only those a trigger uses. */
    size_t *index = kp_calloc(m->components.n ? m->components.n : 1, sizeof *index);
    if (!index) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    for (size_t i = 0; i < m->components.n; i++) index[i] = SIZE_MAX;
    for (size_t i = 0; st == KAPSUL_OK && i < m->triggers.n; i++) {
        const kpManifestTrigger *t = &m->triggers.v[i];
        if (index[t->component_index] == SIZE_MAX) {
            st = load_component(app, &m->components.v[t->component_index], lim, err);
            index[t->component_index] = app->components.n - 1;
        }
        /* Spin's executor (the default) runs wasi:http components; the WAGI one, modules */
        if (st == KAPSUL_OK) {
            bool component = app->components.v[index[t->component_index]].run.cpre != NULL;
            if (component != (t->executor == KP_EXECUTOR_SPIN))
                st = kpError_setText(err, KAPSUL_ERR_MALFORMED, t->line, t->column,
                                     component
                                         ? "component '%s' is a wasi:http component: its trigger needs "
                                           "Spin's default executor (no executor, or type = \"spin\")"
                                         : "component '%s' is a core module: Spin's default executor "
                                           "runs wasi:http components; use executor = { type = \"wagi\" }",
                                     t->component);
        }
        if (st == KAPSUL_OK) st = add_binding(app, index[t->component_index], t->argv, t->entrypoint, err);
    }
    kp_free(index);
    if (st == KAPSUL_OK) st = kpRoute_build(&app->router, m, err);
    return st;
}

kapsul_status kpServe_start(kpServe_app *app, const kpHttp_config *cfg, const kpHttp_config *metrics,
                            kpHttp_server **out, kapsul_error *err) {
    kpServe_clientInit(); /* libcurl, before the workers start */
    if (!(app->stats = kp_calloc(app->components.n + 1, sizeof *app->stats)))
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    /* Guests run on the front's workers only, so a template never needs more slots than there
     * are workers; the live templates are bounded by count and by the slots they reserve. */
    uint32_t pool = kpHttp_workers(cfg);
    size_t max_live = app->max_templates ? app->max_templates : KP_SERVE_MAX_TEMPLATES;
    if (max_live > KP_SERVE_MAX_POOL_SLOTS / pool) max_live = KP_SERVE_MAX_POOL_SLOTS / pool;
    kapsul_status st = kpInstance_cacheInit(&app->cache, max_live, pool, err);
    if (st != KAPSUL_OK) return st;
    app->cache_ready = true;
    for (size_t i = 0; i < app->components.n; i++) app->components.v[i].run.cache = &app->cache;
    if (pthread_create(&app->monitor, NULL, monitor_main, app) != 0)
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "cannot start the monitor thread");
    app->monitor_started = true;
    if (metrics) {
        kapsul_status st = kpHttp_start(metrics, metrics_handle, app, &app->metrics, err);
        if (st != KAPSUL_OK) {
            char why[sizeof err->message];
            memcpy(why, err->message, sizeof why);
            snprintf(err->message, sizeof err->message, "--metrics: %.240s", why);
            return st;
        }
    }
    return kpHttp_start(cfg, handle, app, out, err);
}

uint16_t kpServe_metricsPort(const kpServe_app *app) { return app->metrics ? kpHttp_port(app->metrics) : 0; }

kapsul_status kpServe_stop(kpServe_app *app, kpHttp_server *server, kapsul_error *err) {
    kapsul_status st = server ? kpHttp_stop(server, err) : KAPSUL_OK;
    if (app->metrics) kpHttp_stop(app->metrics, NULL);
    app->metrics = NULL;
    atomic_store(&app->stopping, true);
    if (app->monitor_started) pthread_join(app->monitor, NULL);
    app->monitor_started = false;
    return st;
}

void kpServe_free(kpServe_app *app) {
    for (size_t i = 0; i < app->components.n; i++) {
        kpInstance_release(&app->components.v[i].run);
        kp_free(app->components.v[i].id);
    }
    kpVec_free(&app->components);
    kpVec_free(&app->bindings);
    kpRoute_free(&app->router);
    if (app->cache_ready) kpInstance_cacheFree(&app->cache);
    kp_free(app->stats);
    if (app->staging) kpOs_removeTree(app->staging); /* as far as it can: nothing to report to */
    kp_free(app->staging);
    pthread_mutex_destroy(&app->active_lock);
}
