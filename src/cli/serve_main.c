/*
 * serve_main.c -- the kapsul-serve program: `kapsul serve` and `kapsul up` (which the static
 * `kapsul` execs, serve.c). Linked dynamically with the HTTP front (kapsul_http: h2o, OpenSSL).
 *
 *   kapsul-serve serve [--listen ADDR:PORT] [--env K=V] [--dir HOST[::GUEST][:ro]] [--max-memory SIZE]
 *                      [--timeout DURATION] [--fuel N] [--tls-cert F --tls-key F] [--log-file F]
 *                      [--trace-wasi] [--perf-map] FILE.wasm
 *   kapsul-serve up [-f spin.toml|DIR] [--listen ADDR:PORT] [limits, TLS, --log-file as above]
 *
 * Logs (one JSON object per line) go to stderr or --log-file; the first is a "server" event
 * "listening on http://ADDR:PORT". SIGTERM or SIGINT drains (in-flight requests finish, for at most
 * KP_HTTP_DRAIN_MS) and exits 0. Exit 2: bad flags or files; 1: the app or server cannot start.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "serve/server.h"

typedef struct opts {
    const char *cmd; /* "serve" or "up" */
    kpHttp_config http, metrics;
    char host[64], metrics_host[64];
    bool want_metrics;
    kapsul_config engine;
    kpServe_limits lim;
    const char *log_file, *file, *manifest, *otlp;
    uint64_t max_templates;
    bool trace_wasi, perf_map;
    kpCliTier tier;
    KP_VEC(kapsul_wasi_dir) dirs;
    KP_VEC(kpManifestEnv) env;
    KP_VEC(const char *) outbound; /* --allow-outbound */
} opts;

static kpHttp_server *volatile the_server;

static void on_signal(int sig) {
    (void)sig;
    if (the_server) kpHttp_requestStop(the_server);
}

static void usage(FILE *f, const char *cmd) {
    if (strcmp(cmd, "up") == 0)
        fputs("usage: kapsul up [-f spin.toml|DIR] [options]\n"
              "Serve a Spin v2 application: each [[trigger.http]] route runs its component in a fresh\n"
              "sandbox per request: a wasi:http component (Spin's default executor; outgoing requests\n"
              "only to its allowed_outbound_hosts) or a WAGI module (executor = { type = \"wagi\" }).\n"
              "  -f, --from FILE|DIR|REF  the manifest, or the directory holding spin.toml (default: .),\n"
              "                           or an image reference (HOST/REPO:TAG, oci:DIR:TAG; kapsul oci)\n",
              f);
    else
        fputs(
            "usage: kapsul serve [options] FILE.wasm\n"
            "Serve HTTP: FILE, a WASI command speaking WAGI (CGI) or a component exporting\n"
            "wasi:http/incoming-handler@0.2.x, answers every path, in a fresh sandbox per request.\n"
            "  --env NAME=VALUE         set an environment variable for the guest\n"
            "  --dir HOST[::GUEST][:ro] preopen directory HOST as GUEST; :ro = read-only\n"
            "  --allow-outbound URL     let a wasi:http component send requests there (Spin's\n"
            "                           allowed_outbound_hosts syntax: http://127.0.0.1:8080,\n"
            "                           https://*.example.com, *://localhost:*); repeatable; none: denied\n",
            f);
    fputs("  --listen ADDR:PORT       address to listen on (default 127.0.0.1:3000; [::1]:3000 for IPv6)\n"
          "  --max-memory SIZE        cap each request's linear memory (bytes, or K/M/G)\n"
          "  --timeout DURATION       per request (e.g. 500ms, 2s); past it the answer is 504\n"
          "  --fuel N                 per request units of work; exhausted: 500\n"
          "  --tls-cert FILE, --tls-key FILE   serve HTTPS (and h2) with this PEM chain and key\n"
          "  --max-templates N        keep at most N components instantiable from a ready template\n"
          "                           (default 1024); the least recently used is rebuilt on demand\n"
          "  --tier interp|native     interpreter (default), or native code: each component compiled\n"
          "                           through LLVM once at start-up (cached)\n"
          "  --cache DIR              where --tier native keeps compiled modules\n"
          "  --log-file FILE          append the JSON log here instead of stderr\n"
          "  --trace-wasi             log every WASI call of every request (kind \"wasi\", with the\n"
          "                           request's trace_id and span_id), as kapsul run --trace-wasi\n"
          "  --perf-map               with --tier native, write /tmp/perf-PID.map (COMPONENT::function\n"
          "                           per compiled function) for Linux perf\n"
          "  --metrics ADDR:PORT      serve Prometheus metrics (requests, durations, live instances) there\n"
          "  --otlp-endpoint URL      export one span per request as OTLP/HTTP JSON (URL used as given,\n"
          "                           e.g. http://127.0.0.1:4318/v1/traces)\n"
          "  -h, --help               this text\n"
          "GET /.well-known/spin/health answers 200. SIGTERM drains in-flight requests and exits 0.\n",
          f);
}

/* "127.0.0.1:3000", "[::1]:8080", ":3000" (127.0.0.1) into host (64 bytes) and *port. */
static bool parse_listen(const char *v, char host[64], uint16_t *port) {
    const char *colon = strrchr(v, ':');
    if (!colon) return false;
    const char *h = v;
    size_t hl = (size_t)(colon - v);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2;
    if (hl >= 64) return false;
    memcpy(host, h, hl);
    host[hl] = 0;
    if (hl == 0) strcpy(host, KP_HTTP_HOST);
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || p > 65535) return false;
    *port = (uint16_t)p;
    return true;
}

static bool add_dir(opts *o, char *spec) {
    kapsul_wasi_dir d = { .host_path = spec };
    size_t n = strlen(spec);
    if (n > 3 && strcmp(spec + n - 3, ":ro") == 0) d.read_only = true, spec[n - 3] = 0;
    char *sep = strstr(spec, "::");
    if (sep) *sep = 0, d.guest_path = sep + 2;
    if (!*d.host_path || (d.guest_path && !*d.guest_path) || kpVec_grow(&o->dirs) != 0) return false;
    o->dirs.v[o->dirs.n++] = d;
    return true;
}

/* NAME=VALUE, split in place (the name must be non-empty). */
static bool add_env(opts *o, char *spec) {
    char *eq = strchr(spec, '=');
    if (!eq || eq == spec || kpVec_grow(&o->env) != 0) return false;
    *eq = 0;
    o->env.v[o->env.n++] = (kpManifestEnv){ spec, eq + 1 };
    return true;
}

static int take(opts *o, const char *name, char *val) {
    bool up = strcmp(o->cmd, "up") == 0, ok = true;
    uint64_t u;
    if (!val) return kpCli_usageError(o->cmd, "%s needs a value", name);
    if (strcmp(name, "--listen") == 0) ok = parse_listen(val, o->host, &o->http.port), o->http.host = o->host;
    else if (strcmp(name, "--metrics") == 0)
        ok = parse_listen(val, o->metrics_host, &o->metrics.port), o->metrics.host = o->metrics_host,
        o->want_metrics = true;
    else if (strcmp(name, "--tls-cert") == 0) o->http.tls_cert = val;
    else if (strcmp(name, "--tls-key") == 0) o->http.tls_key = val;
    else if (strcmp(name, "--log-file") == 0) o->log_file = val;
    else if (strcmp(name, "--otlp-endpoint") == 0) o->otlp = val;
    else if (strcmp(name, "--max-memory") == 0)
        ok = kpCli_parseSize(val, &o->engine.max_memory_bytes) && o->engine.max_memory_bytes;
    else if (strcmp(name, "--timeout") == 0)
        ok = kpCli_parseDuration(val, &o->lim.timeout_ns) && o->lim.timeout_ns;
    else if (strcmp(name, "--max-templates") == 0) {
        char *end;
        errno = 0;
        o->max_templates = strtoull(val, &end, 10);
        ok = val[0] >= '1' && val[0] <= '9' && !*end && !errno && o->max_templates <= 1000000;
    } else if (strcmp(name, "--fuel") == 0) {
        char *end;
        errno = 0;
        u = strtoull(val, &end, 10);
        ok = val[0] >= '0' && val[0] <= '9' && !*end && !errno && u;
        o->lim.fuel = u;
    } else if (strcmp(name, "--tier") == 0) {
        ok = strcmp(val, "native") == 0 || strcmp(val, "interp") == 0;
        o->tier.native = strcmp(val, "native") == 0;
    } else if (strcmp(name, "--cache") == 0) o->tier.cache = val;
    else if (up && (strcmp(name, "-f") == 0 || strcmp(name, "--from") == 0)) o->manifest = val;
    else if (!up && strcmp(name, "--env") == 0) ok = add_env(o, val);
    else if (!up && strcmp(name, "--dir") == 0) ok = add_dir(o, val);
    else if (!up && strcmp(name, "--allow-outbound") == 0) {
        const char *why = kpManifest_checkOutboundHost(val);
        if (why) return kpCli_usageError(o->cmd, "--allow-outbound '%s': %s", val, why);
        if (kpVec_grow(&o->outbound) != 0) return kpCli_usageError(o->cmd, "out of memory");
        o->outbound.v[o->outbound.n++] = val;
    } else return kpCli_usageError(o->cmd, "unknown option %s", name);
    return ok ? 0 : kpCli_usageError(o->cmd, "bad value for %s: '%s'", name, val);
}

/* Returns 0, -1 after --help, or an exit status. */
static int parse(opts *o, int argc, char **argv) {
    int i = 1;
    for (; i < argc; i++) {
        char *a = argv[i], name[32], *val;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || !a[1]) break;
        if (kpCli_isHelp(a)) {
            usage(stdout, o->cmd);
            return -1;
        }
        if (strcmp(a, "--trace-wasi") == 0) { /* no value: the lines go to the log */
            o->trace_wasi = true;
            continue;
        }
        if (strcmp(a, "--perf-map") == 0 || strcmp(a, "--profile=perfmap") == 0) {
            o->perf_map = true;
            continue;
        }
        kpCli_splitOption(argc, argv, &i, name, sizeof name, &val);
        int st = take(o, name, val);
        if (st) return st;
    }
    if (strcmp(o->cmd, "serve") == 0) {
        if (i != argc - 1) return kpCli_usageError(o->cmd, i >= argc ? "missing FILE" : "one FILE only");
        o->file = argv[i];
    } else if (i != argc) {
        return kpCli_usageError(o->cmd, "unexpected argument '%s' (use -f FILE)", argv[i]);
    }
    if (!o->http.tls_cert != !o->http.tls_key)
        return kpCli_usageError(o->cmd, "--tls-cert and --tls-key go together");
    return 0;
}

/* --tier native: module bytes to .kwasm bytes (kapsul-llvmc, cached; tier.c). */
static kapsul_status to_native(void *ctx, const uint8_t *bytes, size_t len, kpBuf *out, kapsul_error *err) {
    return kpCli_nativeArtifact(ctx, bytes, len, out, err);
}

/* --tier native with a manifest: compile every component a trigger uses into the cache on one
 * thread per CPU before the app is built (which then finds each in the cache), so a cold start of
 * N components takes N / CPUs compile times rather than N. Failures are left to the build, which
 * reports them per component. */
typedef struct warm_job {
    const kpManifest *m;
    const kpCliTier *tier;
    atomic_size_t next;
} warm_job;

static void *warm_main(void *arg) {
    warm_job *j = arg;
    for (size_t i; (i = atomic_fetch_add(&j->next, 1)) < j->m->components.n;) {
        bool used = false;
        for (size_t t = 0; t < j->m->triggers.n && !used; t++)
            used = j->m->triggers.v[t].component_index == i;
        kpBuf wasm = { 0 }, out = { 0 };
        kapsul_error err;
        if (used && kpCli_readFile(j->m->components.v[i].source_path, &wasm, &err) == KAPSUL_OK)
            kpCli_nativeArtifact(j->tier, wasm.data, wasm.len, &out, &err);
        kpBuf_free(&wasm);
        kpBuf_free(&out);
    }
    return NULL;
}

static void warm_native_cache(const opts *o, const kpManifest *m) {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = ncpu < 1 ? 1 : ncpu > 16 ? 16 : (size_t)ncpu;
    if (n > m->components.n) n = m->components.n;
    if (n < 2) return; /* one at a time is what the build does anyway */
    warm_job job = { m, &o->tier, 0 };
    pthread_t th[15]; /* and this thread */
    size_t started = 0;
    while (started + 1 < n && pthread_create(&th[started], NULL, warm_main, &job) == 0) started++;
    warm_main(&job);
    for (size_t i = 0; i < started; i++) pthread_join(th[i], NULL);
}

/* The app from FILE.wasm (serve) or the manifest (up); errors printed here. */
static int build_app(opts *o, kapsul_engine *engine, kpLog *log, kpManifest *m, kpServe_app *app) {
    kapsul_error err;
    kpBuf bytes = { 0 };
    kapsul_status st;
    int rc = KP_EXIT_OK;
    if (o->tier.native) {
        o->lim.convert = to_native;
        o->lim.convert_ctx = &o->tier;
    }
    if (o->file) {
        if ((st = kpCli_loadModuleBytes(o->file, &bytes, NULL, &err)) != KAPSUL_OK) {
            kpCli_printError(stderr, o->file, &err);
            rc = kpCli_exitFor(st);
            goto fail;
        }
        const char *base = strrchr(o->file, '/');
        o->lim.outbound = o->outbound.v;
        o->lim.noutbound = o->outbound.n;
        st = kpServe_single(app, engine, log, base ? base + 1 : o->file, bytes.data, bytes.len, o->env.v,
                            o->env.n, o->dirs.v, o->dirs.n, &o->lim, &err);
        if (st != KAPSUL_OK) {
            kpCli_printError(stderr, o->file, &err);
            rc = KP_EXIT_FAIL;
        }
        goto fail;
    }
    char path[4096];
    struct stat sb;
    const char *from = o->manifest ? o->manifest : ".";
    if (stat(from, &sb) == 0 && S_ISDIR(sb.st_mode)) snprintf(path, sizeof path, "%s/spin.toml", from);
    else snprintf(path, sizeof path, "%s", from);
    if ((st = kpManifest_load(path, m, &err)) != KAPSUL_OK) {
        if (err.line) fprintf(stderr, "%s:%d:%d: %s\n", path, err.line, err.column, err.message);
        else fprintf(stderr, "kapsul up: %s\n", err.message);
        rc = st == KAPSUL_ERR_IO ? KP_EXIT_USAGE : KP_EXIT_FAIL;
        goto fail;
    }
    if (o->tier.native) warm_native_cache(o, m);
    if ((st = kpServe_fromManifest(app, engine, log, m, &o->lim, &err)) != KAPSUL_OK) {
        if (err.line) fprintf(stderr, "%s:%d:%d: %s\n", path, err.line, err.column, err.message);
        else fprintf(stderr, "kapsul up: %s\n", err.message);
        rc = KP_EXIT_FAIL;
    }
fail:
    kpBuf_free(&bytes);
    return rc;
}

/* --perf-map: every component's compiled functions, named "ID::function", in /tmp/perf-PID.map. */
static int perf_map(const opts *o, const kpServe_app *app) {
    for (size_t i = 0; i < app->components.n; i++) {
        const kpServe_component *c = &app->components.v[i];
        char prefix[256];
        snprintf(prefix, sizeof prefix, "%s::", c->id);
        int rc = kpCli_perfMapAdd(o->cmd, c->run.module, c->id, prefix);
        if (rc != KP_EXIT_OK) return rc;
    }
    return KP_EXIT_OK;
}

/* Every connection, template image and guest stdio file is a descriptor: an application of
 * thousands of tenants under load needs more than the usual soft limit of 1024, so take the hard
 * limit, as servers do. */
static void raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Serve until SIGTERM/SIGINT, then drain. */
static int serve(opts *o, kpServe_app *app, kpLog *log) {
    kapsul_error err;
    kpHttp_server *srv = NULL;
    kpOtlp *otlp = NULL;
    if (o->otlp) {
        if (kpOtlp_start(o->otlp, app->name, &otlp, &err) != KAPSUL_OK) {
            fprintf(stderr, "kapsul %s: %s\n", o->cmd, err.message);
            return KP_EXIT_USAGE;
        }
        app->otlp = otlp;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    signal(SIGPIPE, SIG_IGN);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (kpServe_start(app, &o->http, o->want_metrics ? &o->metrics : NULL, &srv, &err) != KAPSUL_OK) {
        fprintf(stderr, "kapsul %s: %s\n", o->cmd, err.message);
        kpServe_stop(app, NULL, &err);
        kpOtlp_stop(otlp);
        return KP_EXIT_FAIL;
    }
    the_server = srv;
    char msg[160];
    bool v6 = strchr(o->http.host, ':') != NULL;
    snprintf(msg, sizeof msg, "listening on %s://%s%s%s:%u", o->http.tls_cert ? "https" : "http",
             v6 ? "[" : "", o->http.host, v6 ? "]" : "", kpHttp_port(srv));
    kpLog_event(log, msg);
    if (o->want_metrics) {
        v6 = strchr(o->metrics.host, ':') != NULL;
        snprintf(msg, sizeof msg, "metrics on http://%s%s%s:%u/metrics", v6 ? "[" : "", o->metrics.host,
                 v6 ? "]" : "", kpServe_metricsPort(app));
        kpLog_event(log, msg);
    }
    kpHttp_wait(srv);
    /* From here a second SIGTERM must not reach the server while kpServe_stop frees it: the
     * signals wait blocked, and find no server when they are delivered (the drain goes on). */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    the_server = NULL;
    kpLog_event(log, "draining");
    kapsul_status st = kpServe_stop(app, srv, &err);
    if (otlp) {
        uint64_t lost = kpOtlp_stop(otlp);
        app->otlp = NULL;
        if (lost) {
            snprintf(msg, sizeof msg, "OTLP: %llu spans dropped or not accepted by the collector",
                     (unsigned long long)lost);
            kpLog_event(log, msg);
        }
    }
    kpLog_event(log, st == KAPSUL_OK ? "stopped" : "stopped; the drain ran out and requests were cancelled");
    return KP_EXIT_OK;
}

int main(int argc, char **argv) {
    opts o;
    memset(&o, 0, sizeof o);
    if (argc < 2 || (strcmp(argv[1], "serve") != 0 && strcmp(argv[1], "up") != 0)) {
        fprintf(stderr, "usage: kapsul-serve serve|up [options] (run by `kapsul serve` and `kapsul up`)\n");
        return KP_EXIT_USAGE;
    }
    o.cmd = argv[1];
    kpHttp_configDefaults(&o.http);
    kpHttp_configDefaults(&o.metrics);
    o.metrics.loops = o.metrics.workers = 1; /* a scrape every few seconds */
    int rc = parse(&o, argc - 1, argv + 1);
    if (rc) {
        kpVec_free(&o.dirs);
        kpVec_free(&o.env);
        kpVec_free(&o.outbound);
        return rc < 0 ? KP_EXIT_OK : rc;
    }
    kapsul_error err;
    kapsul_engine *engine = NULL;
    kpManifest m;
    kpServe_app app;
    kpLog log;
    bool have_app = false;
    memset(&m, 0, sizeof m);
    memset(&app, 0, sizeof app);
    if (kpLog_open(&log, o.log_file, &err) != KAPSUL_OK) {
        fprintf(stderr, "kapsul %s: %s\n", o.cmd, err.message);
        rc = KP_EXIT_USAGE;
        goto fail_nolog;
    }
    if (kapsul_engine_new(&o.engine, &engine, &err) != KAPSUL_OK) {
        fprintf(stderr, "kapsul %s: %s\n", o.cmd, err.message);
        rc = KP_EXIT_FAIL;
        goto fail;
    }
    raise_fd_limit();
    rc = build_app(&o, engine, &log, &m, &app);
    have_app = true;
    app.max_templates = (size_t)o.max_templates;
    app.trace_wasi = o.trace_wasi;
    if (rc == KP_EXIT_OK && o.perf_map) rc = perf_map(&o, &app);
    if (rc == KP_EXIT_OK) rc = serve(&o, &app, &log);
fail:
    if (have_app) kpServe_free(&app);
    kpManifest_free(&m);
    kapsul_engine_free(engine);
    kpLog_close(&log);
fail_nolog:
    kpVec_free(&o.dirs);
    kpVec_free(&o.env);
    kpVec_free(&o.outbound);
    return rc;
}
