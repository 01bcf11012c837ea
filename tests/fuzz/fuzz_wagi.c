/*
 * fuzz_wagi.c -- libFuzzer target: the WAGI mapping (src/serve/wagi.c) and routing
 * (src/serve/route.c) on hostile input.
 *   1. The whole input as a guest's stdout through kpWagi_parseOutput. Oracles: a status in
 *      100..999; no header name or value holding CR, LF or another control byte; the body inside
 *      the input (or the static error message).
 *   2. The input as a request: line 1 the path, line 2 the query, line 3 the argv template, the
 *      rest "Name: value" headers; routed over a fixed route set, then kpWagi_buildEnv and
 *      kpWagi_buildArgv. Oracles: every variable is NAME=VALUE with NAME of [A-Z0-9_] only.
 */
#include <stdlib.h>
#include <string.h>

#include "serve/wagi.h"

static void check_response(const uint8_t *data, size_t size, const kpWagiResponse *r) {
    if (r->status < 100 || r->status > 999) abort();
    for (size_t i = 0; i < r->headers.n; i++) {
        const char *n = r->headers.v[i].name, *v = r->headers.v[i].value;
        if (!*n) abort();
        for (; *n; n++)
            if ((unsigned char)*n <= 0x20 || *n == ':') abort();
        for (; *v; v++)
            if (((unsigned char)*v < 0x20 && *v != '\t') || *v == 0x7f) abort();
    }
    bool inside = r->body >= data && r->body + r->body_len <= data + size;
    if (!inside && r->body_len > 200) abort();
}

static void check_env(const kpStrVec *env) {
    for (size_t i = 0; i < env->n; i++) {
        const char *s = env->v[i];
        const char *eq = strchr(s, '=');
        if (!eq || eq == s) abort();
        for (const char *p = s; p < eq; p++)
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')) abort();
    }
}

/* The next '\n'-terminated piece of [*p, end). */
static const char *next_line(const char **p, const char *end, size_t *len) {
    const char *s = *p;
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    *len = nl ? (size_t)(nl - s) : (size_t)(end - s);
    *p = nl ? nl + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kpWagiResponse r;
    kapsul_error err;
    kapsul_status st = kpWagi_parseOutput(data, size, 0, false, &r, &err);
    if (st != KAPSUL_ERR_NOMEM) check_response(data, size, &r);
    kpWagi_freeResponse(&r);

    static kpRouter router;
    static bool ready;
    if (!ready) {
        static const char *const routes[] = { "", "/a", "/a/...", "/a/b/...", "/...", "/x%20y" };
        for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
            if (kpRoute_add(&router, routes[i], routes[i], "c", i, NULL)) abort();
        ready = true;
    }
    const char *p = (const char *)data, *end = p + size;
    size_t plen, qlen, tlen;
    const char *path = next_line(&p, end, &plen), *query = next_line(&p, end, &qlen),
               *tmpl = next_line(&p, end, &tlen);
    kpWagiHeader headers[64];
    size_t nh = 0;
    while (p < end && nh < 64) {
        size_t ln;
        const char *l = next_line(&p, end, &ln);
        const char *colon = memchr(l, ':', ln);
        if (!colon) continue;
        headers[nh++] = (kpWagiHeader){ l, (size_t)(colon - l), colon + 1, ln - (size_t)(colon - l) - 1 };
    }
    kpRouteMatch m;
    kpRoute_match(&router, path, plen, &m);
    if (m.result == KP_ROUTE_MATCH) {
        if (m.path_info < path || m.path_info + m.path_info_len > path + plen) abort();
        static const kpManifestEnv cenv[] = { { "PATH_INFO", "x" }, { "APP", "y" } };
        kpWagiRequest rq = { .method = "GET",
                             .path = path,
                             .path_len = plen,
                             .query = query,
                             .query_len = qlen,
                             .headers = headers,
                             .nheaders = nh,
                             .client_addr = "::1",
                             .client_port = 1,
                             .server_host = "h",
                             .server_port = 80,
                             .scheme = "http",
                             .protocol = "HTTP/1.1",
                             .match = &m,
                             .base = "/",
                             .env = cenv,
                             .nenv = 2 };
        kpStrVec env = { 0 }, argv = { 0 };
        if (kpWagi_buildEnv(&rq, &env, &err) == KAPSUL_OK) check_env(&env);
        char *t = strndup(tmpl, tlen);
        if (t && kpWagi_buildArgv(t, &rq, &argv, &err) == KAPSUL_OK && argv.n == 0) abort();
        free(t);
        kpWagi_freeStrings(&env);
        kpWagi_freeStrings(&argv);
    }
    return 0;
}
