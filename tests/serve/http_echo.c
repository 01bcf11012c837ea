/*
 * http_echo.c -- the HTTP front (src/serve/http.c) with a test handler, for tests/serve/test_http.py
 * and bench/http.sh. Prints "listening PORT" on stdout once serving; SIGTERM or SIGINT drains and
 * exits 0 (2 when the drain ran out and requests were cancelled).
 *
 * Routes (any method):
 *   /hello             "hello\n"
 *   /echo              the request body, byte for byte, with the request's content-type
 *   /headers           method, paths, query, version, scheme, addresses and headers, one per line
 *   /sleep?ms=N        sleeps N ms on the worker (wakes early when cancelled)
 *   /loop              sleeps until cancelled (the drain running out)
 *   /status?code=N&name=H&value=V   status N and header H: V
 *   /badheader         tries to add headers a handler must not set; says which were refused
 *   /fail              the handler fails (500)
 *   /pending?ms=N      answers from another thread after N ms (KP_HTTP_PENDING)
 *   /big?n=N           N bytes of a repeating pattern
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "serve/http.h"

static kpHttp_server *volatile server;

static void on_signal(int sig) {
    (void)sig;
    if (server) kpHttp_requestStop(server);
}

/* The value of query parameter `key` copied into out ("" when absent). */
static void query_param(const kpHttp_request *req, const char *key, char *out, size_t cap) {
    size_t klen = strlen(key);
    const char *q = req->query;
    out[0] = '\0';
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > klen && strncmp(q, key, klen) == 0 && q[klen] == '=') {
            size_t n = len - klen - 1 < cap - 1 ? len - klen - 1 : cap - 1;
            memcpy(out, q + klen + 1, n);
            out[n] = '\0';
            return;
        }
        q += len + (amp ? 1 : 0);
    }
}

static long query_long(const kpHttp_request *req, const char *key) {
    char buf[32];
    query_param(req, key, buf, sizeof buf);
    return strtol(buf, NULL, 10);
}

static bool path_is(const kpHttp_request *req, const char *p) { return strcmp(req->path_normalized, p) == 0; }

/* Sleep ms in 5 ms steps, stopping early when the request is cancelled. */
static void nap(kpHttp_response *res, long ms) {
    for (long t = 0; (ms < 0 || t < ms) && !kpHttp_cancelled(res); t += 5) {
        struct timespec ts = { 0, 5 * 1000000L };
        nanosleep(&ts, NULL);
    }
}

static int text(kpHttp_response *res, const char *s) {
    kpHttp_addHeader(res, "Content-Type", 12, "text/plain", 10);
    return kpHttp_write(res, s, strlen(s)) == KAPSUL_OK ? 0 : -1;
}

static int describe(const kpHttp_request *req, kpHttp_response *res) {
    char line[512];
    int n = snprintf(line, sizeof line,
                     "method %s\npath %s\nnormalized %s\nquery %s\nauthority %s\nversion %x\nscheme %s\n"
                     "client %s %u\nlocal %s %u\nbody %zu\n",
                     req->method, req->path, req->path_normalized, req->query, req->authority, req->version,
                     req->scheme, req->client_addr, req->client_port, req->local_addr, req->local_port,
                     req->body_len);
    if (kpHttp_write(res, line, (size_t)n) != KAPSUL_OK) return -1;
    for (size_t i = 0; i < req->nheaders; i++) {
        const kpHttp_header *h = &req->headers[i];
        if (kpHttp_write(res, "header ", 7) || kpHttp_write(res, h->name, h->name_len) ||
            kpHttp_write(res, ": ", 2) || kpHttp_write(res, h->value, h->value_len) ||
            kpHttp_write(res, "\n", 1))
            return -1;
    }
    return 0;
}

static int bad_headers(kpHttp_response *res) {
    static const char *const tries[][2] = {
        { "x-split", "a\r\nx-injected: 1" }, { "bad name", "v" }, { "content-length", "5" },
        { "Transfer-Encoding", "chunked" },  { "", "v" },         { "x-nul", "a\0b" }
    };
    char out[256] = "";
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        size_t vlen = i == 5 ? 3 : strlen(tries[i][1]);
        if (kpHttp_addHeader(res, tries[i][0], strlen(tries[i][0]), tries[i][1], vlen) == KAPSUL_ERR_ARG)
            strcat(out, "refused\n");
        else strcat(out, "accepted\n");
    }
    return text(res, out);
}

static void *finish_later(void *arg) {
    kpHttp_response *res = arg;
    long ms = query_long(kpHttp_requestOf(res), "ms");
    nap(res, ms);
    kpHttp_complete(res, text(res, "pending done\n"));
    return NULL;
}

static int handle(void *ctx, const kpHttp_request *req, kpHttp_response *res) {
    (void)ctx;
    if (path_is(req, "/hello")) return text(res, "hello\n");
    if (path_is(req, "/echo")) {
        for (size_t i = 0; i < req->nheaders; i++)
            if (strcmp(req->headers[i].name, "content-type") == 0)
                kpHttp_addHeader(res, "content-type", 12, req->headers[i].value, req->headers[i].value_len);
        return kpHttp_write(res, req->body, req->body_len) == KAPSUL_OK ? 0 : -1;
    }
    if (path_is(req, "/headers")) return describe(req, res);
    if (path_is(req, "/sleep")) {
        long ms = query_long(req, "ms");
        nap(res, ms);
        char buf[64];
        snprintf(buf, sizeof buf, "slept %ld\n", ms);
        return text(res, buf);
    }
    if (path_is(req, "/loop")) {
        nap(res, -1);
        return text(res, "cancelled\n");
    }
    if (path_is(req, "/status")) {
        char name[64], value[128];
        query_param(req, "name", name, sizeof name);
        query_param(req, "value", value, sizeof value);
        if (kpHttp_setStatus(res, (int)query_long(req, "code")) != KAPSUL_OK)
            return text(res, "bad status\n");
        if (name[0]) kpHttp_addHeader(res, name, strlen(name), value, strlen(value));
        return text(res, "status set\n");
    }
    if (path_is(req, "/badheader")) return bad_headers(res);
    if (path_is(req, "/fail")) return -1;
    if (path_is(req, "/pending")) {
        pthread_t t;
        if (pthread_create(&t, NULL, finish_later, res) != 0) return -1;
        pthread_detach(t);
        return KP_HTTP_PENDING;
    }
    if (path_is(req, "/big")) {
        long n = query_long(req, "n");
        char chunk[4096];
        for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = (char)('a' + i % 26);
        for (long left = n; left > 0; left -= (long)sizeof chunk)
            if (kpHttp_write(res, chunk, left < (long)sizeof chunk ? (size_t)left : sizeof chunk) !=
                KAPSUL_OK)
                return -1;
        return 0;
    }
    kpHttp_setStatus(res, 404);
    return text(res, "not found\n");
}

static unsigned long num(const char *s) { return strtoul(s, NULL, 10); }

int main(int argc, char **argv) {
    kpHttp_config c;
    kpHttp_configDefaults(&c);
    c.port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--host")) c.host = v;
        else if (!strcmp(k, "--port")) c.port = (uint16_t)num(v);
        else if (!strcmp(k, "--tls-cert")) c.tls_cert = v;
        else if (!strcmp(k, "--tls-key")) c.tls_key = v;
        else if (!strcmp(k, "--loops")) c.loops = (unsigned)num(v);
        else if (!strcmp(k, "--workers")) c.workers = (unsigned)num(v);
        else if (!strcmp(k, "--queue")) c.queue_depth = (unsigned)num(v);
        else if (!strcmp(k, "--max-conns")) c.max_connections = (unsigned)num(v);
        else if (!strcmp(k, "--max-body")) c.max_body = num(v);
        else if (!strcmp(k, "--max-header")) c.max_header_bytes = num(v);
        else if (!strcmp(k, "--header-timeout-ms")) c.header_timeout_ms = (uint32_t)num(v);
        else if (!strcmp(k, "--idle-timeout-ms")) c.idle_timeout_ms = (uint32_t)num(v);
        else if (!strcmp(k, "--drain-ms")) c.drain_ms = (uint32_t)num(v);
        else {
            fprintf(stderr, "http_echo: unknown option %s\n", k);
            return 64;
        }
    }
    kapsul_error err;
    kpHttp_server *started;
    if (kpHttp_start(&c, handle, NULL, &started, &err) != KAPSUL_OK) {
        fprintf(stderr, "http_echo: %s\n", err.message);
        return 1;
    }
    server = started;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("listening %u\n", kpHttp_port(server));
    fflush(stdout);
    kpHttp_wait(server);
    kpHttp_server *s = server;
    server = NULL; /* a second signal must not touch a freed server */
    kapsul_status st = kpHttp_stop(s, &err);
    if (st != KAPSUL_OK) fprintf(stderr, "http_echo: %s\n", err.message);
    printf("stopped %s\n", st == KAPSUL_OK ? "drained" : "cancelled");
    return st == KAPSUL_OK ? 0 : 2;
}
