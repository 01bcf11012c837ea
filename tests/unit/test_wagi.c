/*
 * test_wagi.c -- the WAGI mapping (src/serve/wagi.c): the environment (wagi's own test case from
 * deislabs/wagi src/http_util.rs, then Spin's variables and the hostile cases), argv (Spin's
 * integration test), and the guest-output parser with every error wagi defines plus injection,
 * framing and size attacks.
 */
#include <stdio.h>
#include <string.h>

#include "serve/wagi.h"
#include "test.h"

static const char *env_get(const kpStrVec *env, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < env->n; i++)
        if (strncmp(env->v[i], name, n) == 0 && env->v[i][n] == '=') return env->v[i] + n + 1;
    return NULL;
}

static bool want(const kpStrVec *env, const char *name, const char *value) {
    const char *v = env_get(env, name);
    bool ok = v && strcmp(v, value) == 0;
    if (!ok) fprintf(stderr, "env %s: got %s, want %s\n", name, v ? v : "(unset)", value);
    return ok;
}

#define H(n, v) \
    { n, sizeof n - 1, v, sizeof v - 1 }

typedef struct fixture {
    kpRouter router;
    kpRouteMatch match;
    kpWagiRequest rq;
} fixture;

/* A request for path?query routed through a router holding route (a based route). */
static void setup(fixture *f, const char *route, const char *raw_route, const char *path, const char *query,
                  const kpWagiHeader *h, size_t nh) {
    memset(f, 0, sizeof *f);
    CHECK(kpRoute_add(&f->router, route, raw_route, "comp", 0, NULL) == KAPSUL_OK);
    kpRoute_match(&f->router, path, strlen(path), &f->match);
    f->rq = (kpWagiRequest){ .method = "POST",
                             .path = path,
                             .path_len = strlen(path),
                             .query = query,
                             .query_len = query ? strlen(query) : 0,
                             .headers = h,
                             .nheaders = nh,
                             .content_length = 1234,
                             .client_addr = "192.168.0.1",
                             .client_port = 3000,
                             .server_host = "127.0.0.1",
                             .server_port = 3000,
                             .scheme = "https",
                             .protocol = "HTTP/1.1",
                             .match = &f->match,
                             .base = "/" };
}

static void test_env_wagi_case(void) {
    static const kpWagiHeader h[] = { H("X-Test-Header", "hello"),       H("Accept", "text/html"),
                                      H("User-agent", "test"),           H("Host", "example.com:3000"),
                                      H("Authorization", "supersecret"), H("Connection", "sensitive"),
                                      H("Content-Type", "text/plain") };
    static const kpManifestEnv cenv[] = { { "GREETING", "hi" },
                                          { "PATH_INFO", "shadowed" },
                                          { "SCRIPT_NAME", "x" } };
    fixture f;
    setup(&f, "/path/...", "/path/...", "/path/test%3brun", "foo=bar", h, 7);
    f.rq.env = cenv;
    f.rq.nenv = 3;
    kpStrVec env = { 0 };
    kapsul_error err;
    CHECK(kpWagi_buildEnv(&f.rq, &env, &err) == KAPSUL_OK);
    CHECK(want(&env, "X_MATCHED_ROUTE", "/path/..."));
    CHECK(want(&env, "HTTP_ACCEPT", "text/html"));
    CHECK(want(&env, "REQUEST_METHOD", "POST"));
    CHECK(want(&env, "SERVER_PROTOCOL", "HTTP/1.1"));
    CHECK(want(&env, "HTTP_USER_AGENT", "test"));
    CHECK(want(&env, "SCRIPT_NAME", "/path"));
    CHECK(want(&env, "SERVER_SOFTWARE", "WAGI/1"));
    CHECK(want(&env, "SERVER_PORT", "3000"));
    CHECK(want(&env, "SERVER_NAME", "example.com"));
    CHECK(want(&env, "AUTH_TYPE", ""));
    CHECK(want(&env, "REMOTE_ADDR", "192.168.0.1"));
    CHECK(want(&env, "REMOTE_HOST", "192.168.0.1"));
    CHECK(want(&env, "PATH_INFO", "/test;run"));
    CHECK(want(&env, "PATH_TRANSLATED", "/test;run"));
    CHECK(want(&env, "X_RAW_PATH_INFO", "/test%3brun"));
    CHECK(want(&env, "QUERY_STRING", "foo=bar"));
    CHECK(want(&env, "CONTENT_LENGTH", "1234"));
    CHECK(want(&env, "CONTENT_TYPE", "text/plain"));
    CHECK(want(&env, "HTTP_HOST", "example.com:3000"));
    CHECK(want(&env, "GATEWAY_INTERFACE", "CGI/1.1"));
    CHECK(want(&env, "REMOTE_USER", ""));
    CHECK(want(&env, "X_FULL_URL", "https://example.com:3000/path/test%3brun?foo=bar"));
    CHECK(want(&env, "HTTP_X_TEST_HEADER", "hello"));
    CHECK(want(&env, "X_BASE_PATH", "/"));
    CHECK(want(&env, "X_RAW_COMPONENT_ROUTE", "/path/..."));
    CHECK(want(&env, "X_COMPONENT_ROUTE", "/path"));
    CHECK(want(&env, "X_CLIENT_ADDR", "192.168.0.1:3000"));
    CHECK(want(&env, "GREETING", "hi"));
    CHECK(env_get(&env, "HTTP_AUTHORIZATION") == NULL && env_get(&env, "HTTP_CONNECTION") == NULL);
    CHECK(want(&env, "PATH_INFO", "/test;run") && want(&env, "SCRIPT_NAME", "/path")); /* not shadowed */
    size_t count = 0;
    for (size_t i = 0; i < env.n; i++) count += strncmp(env.v[i], "PATH_INFO=", 10) == 0;
    CHECK(count == 1 && env.n == 29);
    kpWagi_freeStrings(&env);
    kpRoute_free(&f.router);
}

static void test_env_hostile(void) {
    static const kpWagiHeader h[] = { H("Accept", "a"),
                                      H("accept", "b"),
                                      H("Cookie", "x=1"),
                                      H("COOKIE", "y=2"),
                                      H("X_Forwarded_For", "evil"),
                                      H("X-Forwarded-For", "10.0.0.1"),
                                      H("Proxy", "http://evil"),
                                      H("Bad Name", "v"),
                                      H("X-Bin", "caf\xc3\xa9"),
                                      H("X-Ctl", "a\x01b"),
                                      H("Host", "[::1]:8443"),
                                      H("", "empty"),
                                      H("X.Dot", "d"),
                                      H("X~T", "t") };
    fixture f;
    setup(&f, "/...", "/...", "/a%20b/%zz/%4/%ff%C3%A9/", NULL, h, 14);
    kpStrVec env = { 0 };
    kapsul_error err;
    CHECK(kpWagi_buildEnv(&f.rq, &env, &err) == KAPSUL_OK);
    CHECK(want(&env, "HTTP_ACCEPT", "a, b"));
    CHECK(want(&env, "HTTP_COOKIE", "x=1; y=2"));
    CHECK(want(&env, "HTTP_X_FORWARDED_FOR", "10.0.0.1"));
    CHECK(env_get(&env, "HTTP_PROXY") == NULL);
    CHECK(want(&env, "HTTP_X_BIN", "CORRUPT VALUE") && want(&env, "HTTP_X_CTL", "CORRUPT VALUE"));
    CHECK(want(&env, "SERVER_NAME", "[::1]") && want(&env, "SERVER_PORT", "8443"));
    CHECK(want(&env, "PATH_INFO", "/a b/%zz/%4/\xEF\xBF\xBD\xC3\xA9/"));
    CHECK(want(&env, "X_RAW_PATH_INFO", "/a%20b/%zz/%4/%ff%C3%A9/"));
    CHECK(want(&env, "SCRIPT_NAME", "") && want(&env, "QUERY_STRING", "") && want(&env, "CONTENT_TYPE", ""));
    CHECK(want(&env, "X_COMPONENT_ROUTE", "") &&
          want(&env, "X_FULL_URL", "https://[::1]:8443/a%20b/%zz/%4/%ff%C3%A9/"));
    for (size_t i = 0; i < env.n; i++)
        CHECK(strncmp(env.v[i], "HTTP_BAD", 8) != 0 && strncmp(env.v[i], "HTTP_=", 6) != 0 &&
              strncmp(env.v[i], "HTTP_X.", 7) != 0 && strncmp(env.v[i], "HTTP_X~", 7) != 0);
    kpWagi_freeStrings(&env);
    kpRoute_free(&f.router);

    /* %00 in the path: refused (400), nothing left behind. */
    setup(&f, "/...", "/...", "/x%00y", NULL, NULL, 0);
    CHECK(kpWagi_buildEnv(&f.rq, &env, &err) == KAPSUL_ERR_ARG && env.n == 0);
    kpRoute_free(&f.router);

    /* No Host header: the listener's name; a bad port in Host is ignored. */
    static const kpWagiHeader h2[] = { H("Host", "example.org:http") };
    setup(&f, "/exact", "/exact", "/exact", "a=1&b=2", h2, 1);
    CHECK(kpWagi_buildEnv(&f.rq, &env, &err) == KAPSUL_OK);
    CHECK(want(&env, "SERVER_NAME", "example.org") && want(&env, "SERVER_PORT", "3000"));
    CHECK(want(&env, "PATH_INFO", "") && want(&env, "SCRIPT_NAME", "/exact"));
    kpWagi_freeStrings(&env);
    f.rq.nheaders = 0;
    CHECK(kpWagi_buildEnv(&f.rq, &env, &err) == KAPSUL_OK);
    CHECK(want(&env, "SERVER_NAME", "127.0.0.1") &&
          want(&env, "X_FULL_URL", "https://127.0.0.1:3000/exact?a=1&b=2"));
    kpWagi_freeStrings(&env);

    /* Too many headers, or too many bytes: a limit error. */
    static kpWagiHeader many[KP_WAGI_MAX_REQUEST_HEADERS + 1];
    for (size_t i = 0; i < KP_WAGI_MAX_REQUEST_HEADERS + 1; i++) many[i] = (kpWagiHeader)H("X-A", "b");
    f.rq.headers = many;
    f.rq.nheaders = KP_WAGI_MAX_REQUEST_HEADERS + 1;
    CHECK(kpWagi_buildEnv(&f.rq, &env, &err) == KAPSUL_ERR_LIMIT && env.n == 0);
    static char big[KP_WAGI_MAX_ENV_BYTES / 2];
    memset(big, 'v', sizeof big);
    kpWagiHeader bigh[3] = { { "X-1", 3, big, sizeof big },
                             { "X-2", 3, big, sizeof big },
                             { "X-3", 3, big, sizeof big } };
    f.rq.headers = bigh;
    f.rq.nheaders = 3;
    CHECK(kpWagi_buildEnv(&f.rq, &env, &err) == KAPSUL_ERR_LIMIT && env.n == 0);
    kpRoute_free(&f.router);
}

static void check_argv(const char *tmpl, const char *path, const char *query, const char *const *expect) {
    fixture f;
    setup(&f, "/...", "/...", path, query, NULL, 0);
    kpStrVec argv = { 0 };
    kapsul_error err;
    CHECK(kpWagi_buildArgv(tmpl, &f.rq, &argv, &err) == KAPSUL_OK);
    size_t n = 0;
    while (expect[n]) n++;
    bool ok = argv.n == n;
    for (size_t i = 0; ok && i < n; i++) ok = strcmp(argv.v[i], expect[i]) == 0;
    if (!ok) {
        fprintf(stderr, "argv for %s?%s:", path, query ? query : "");
        for (size_t i = 0; i < argv.n; i++) fprintf(stderr, " [%s]", argv.v[i]);
        fprintf(stderr, "\n");
    }
    CHECK(ok);
    kpWagi_freeStrings(&argv);
    kpRoute_free(&f.router);
}

static void test_argv(void) {
    const char *dflt = "${SCRIPT_NAME} ${ARGS}";
    check_argv(dflt, "/assert-args", "x=y", (const char *[]){ "/assert-args", "x=y", NULL });
    check_argv(dflt, "/a/b", "x=1&y=2&z", (const char *[]){ "/a/b", "x=1", "y=2", "z", NULL });
    check_argv(dflt, "/a", NULL, (const char *[]){ "/a", "", NULL });
    check_argv(dflt, "/a", "q=a+b%20c", (const char *[]){ "/a", "q=a+b%20c", NULL });
    check_argv("${SCRIPT_NAME} -v ${ARGS} --end", "/p", "a&&b",
               (const char *[]){ "/p", "-v", "a", "", "b", "--end", NULL });
    check_argv(dflt, "/${ARGS}", "x", (const char *[]){ "/${ARGS}", "x", NULL });
    check_argv("fixed", "/p", "x", (const char *[]){ "fixed", NULL });
}

/* Parse out and check status, body and (optionally) one header. */
static kapsul_status parse(const char *out, size_t len, int code, bool trap, kpWagiResponse *r) {
    kapsul_error err;
    return kpWagi_parseOutput((const uint8_t *)out, len, code, trap, r, &err);
}

static const char *hdr(const kpWagiResponse *r, const char *name) {
    for (size_t i = 0; i < r->headers.n; i++)
        if (strcmp(r->headers.v[i].name, name) == 0) return r->headers.v[i].value;
    return NULL;
}

static void expect_status(const char *out, size_t len, int code, bool trap, kapsul_status want_st, int status,
                          const char *body) {
    kpWagiResponse r;
    kapsul_status st = parse(out, len, code, trap, &r);
    bool ok = st == want_st && r.status == status &&
              (!body || (r.body_len == strlen(body) && memcmp(r.body, body, r.body_len) == 0));
    if (!ok)
        fprintf(stderr, "parse(%.*s): got %d %d '%.*s'\n", (int)len, out, st, r.status, (int)r.body_len,
                (const char *)r.body);
    CHECK(ok);
    kpWagi_freeResponse(&r);
}
#define EXPECT(out, ...) expect_status(out, sizeof out - 1, __VA_ARGS__)

static void test_response(void) {
    kpWagiResponse r;
    CHECK(parse("Content-Type: text/plain\n\nhello\n", 32, 0, false, &r) == KAPSUL_OK);
    CHECK(r.status == 200 && r.body_len == 6 && !memcmp(r.body, "hello\n", 6) &&
          strcmp(hdr(&r, "Content-Type"), "text/plain") == 0);
    kpWagi_freeResponse(&r);
    static const char crlf[] =
        "content-type:text/html \r\nX-Extra:  a b  \r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n<p>\r\n\x00\xff";
    CHECK(parse(crlf, sizeof crlf - 1, 0, false, &r) == KAPSUL_OK);
    CHECK(strcmp(hdr(&r, "content-type"), "text/html") == 0 && strcmp(hdr(&r, "X-Extra"), "a b") == 0);
    CHECK(r.headers.n == 4 && strcmp(r.headers.v[3].value, "b=2") == 0);
    CHECK(r.body_len == 7 && !memcmp(r.body, "<p>\r\n\x00\xff", 7)); /* the body is binary-safe, CRs kept */
    kpWagi_freeResponse(&r);
    CHECK(parse("Status: 404 Not Found\n\n", 23, 0, false, &r) == KAPSUL_OK);
    CHECK(r.status == 404 && r.reason && strcmp(r.reason, "Not Found") == 0 && r.body_len == 0);
    kpWagi_freeResponse(&r);
    CHECK(parse("Location: /elsewhere\n\n", 22, 0, false, &r) == KAPSUL_OK);
    CHECK(r.status == 302 && strcmp(hdr(&r, "Location"), "/elsewhere") == 0);
    kpWagi_freeResponse(&r);
    EXPECT("Status: 301\nLocation: /x\n\n", 0, false, KAPSUL_OK, 301, "");
    EXPECT("Location: /x\nStatus: 307\n\n", 0, false, KAPSUL_OK, 307, "");
    EXPECT("Status: abc\nContent-Type: a\n\nb", 0, false, KAPSUL_OK, 502, "b");
    EXPECT("Status: 99\n\n", 0, false, KAPSUL_OK, 502, "");
    EXPECT("Status: 2000\n\n", 0, false, KAPSUL_OK, 502, "");
    EXPECT("Content-Type: a\nContent-Type: b\n\n", 0, false, KAPSUL_OK, 200, "");
    CHECK(parse("Content-Type: a\nContent-Type: b\n\n", 33, 0, false, &r) == KAPSUL_OK && r.headers.n == 1 &&
          strcmp(r.headers.v[0].value, "b") == 0);
    kpWagi_freeResponse(&r);
    /* wagi's failures: 500 with a message */
    EXPECT("X-Only: 1\n\nbody", 0, false, KAPSUL_ERR_MALFORMED, 500,
           "Exactly one of 'location' or 'content-type' must be specified");
    EXPECT("Content-Type: text/plain\nno blank line", 0, false, KAPSUL_ERR_MALFORMED, 500, NULL);
    EXPECT("Content-Type: text/plain\n\nok", 1, false, KAPSUL_ERR_MALFORMED, 500, NULL);
    EXPECT("Content-Type: text/plain\n\nok", 0, true, KAPSUL_ERR_MALFORMED, 500, "the guest trapped");
    EXPECT("", 0, false, KAPSUL_ERR_MALFORMED, 500, NULL);
    EXPECT("\n\nbody", 0, false, KAPSUL_ERR_MALFORMED, 500, NULL);
    EXPECT("Content-Type: \xff\n\n", 0, false, KAPSUL_ERR_MALFORMED, 500, NULL);
    /* injection: a lone CR is dropped (wagi), so it cannot split; other controls are refused */
    CHECK(parse("Content-Type: a\rSet-Cookie: x\n\n", 31, 0, false, &r) == KAPSUL_OK && r.headers.n == 1 &&
          strcmp(r.headers.v[0].value, "aSet-Cookie: x") == 0);
    kpWagi_freeResponse(&r);
    EXPECT("Content-Type: a\x01"
           "b\n\n",
           0, false, KAPSUL_ERR_MALFORMED, 500, NULL);
    EXPECT("Content-Type: a\x00"
           "b\n\n",
           0, false, KAPSUL_ERR_MALFORMED, 500, NULL);
    CHECK(parse("Status\x00x: 404\nContent-Type: a\n\n", 31, 0, false, &r) == KAPSUL_OK && r.status == 200);
    kpWagi_freeResponse(&r);
    /* framing and invalid names are dropped */
    static const char framing[] =
        "Content-Type: a\nContent-Length: 9999\nTransfer-Encoding: chunked\nConnection: close\n"
        "Bad Name: x\nno colon\n: empty\nX-Ok: 1\n\nb";
    CHECK(parse(framing, sizeof framing - 1, 0, false, &r) == KAPSUL_OK);
    CHECK(r.headers.n == 2 && hdr(&r, "X-Ok") && !hdr(&r, "Content-Length") && r.body_len == 1);
    kpWagi_freeResponse(&r);
    /* size limits */
    static char huge[KP_WAGI_MAX_RESPONSE_HEAD + 100];
    memset(huge, 'a', sizeof huge);
    memcpy(huge, "X-Big: ", 7);
    expect_status(huge, sizeof huge, 0, false, KAPSUL_ERR_MALFORMED, 500, NULL);
    static char many[KP_WAGI_MAX_RESPONSE_HEADERS * 8 + 64];
    size_t o = 0;
    o += (size_t)sprintf(many, "Content-Type: a\n");
    for (int i = 0; i <= KP_WAGI_MAX_RESPONSE_HEADERS; i++) o += (size_t)sprintf(many + o, "X: %d\n", i % 10);
    many[o++] = '\n';
    expect_status(many, o, 0, false, KAPSUL_ERR_MALFORMED, 500, "the guest wrote too many headers");
}

static void test_allocfail(void) {
    static const kpWagiHeader h[] = { H("Accept", "a"), H("accept", "b"), H("Host", "x:1") };
    static const kpManifestEnv cenv[] = { { "A", "b" } };
    bool saw_ok = false;
    for (long n = 0; n < 400 && !saw_ok; n++) {
        fixture f;
        setup(&f, "/...", "/...", "/p%41", "a=b", h, 3);
        f.rq.env = cenv;
        f.rq.nenv = 1;
        kpStrVec env = { 0 }, argv = { 0 };
        kpWagiResponse r;
        kapsul_error err;
        kpAlloc_failAfter(n);
        kapsul_status a = kpWagi_buildEnv(&f.rq, &env, &err);
        kapsul_status b = a ? a : kpWagi_buildArgv("${SCRIPT_NAME} ${ARGS}", &f.rq, &argv, &err);
        kapsul_status c =
            b ? b : kpWagi_parseOutput((const uint8_t *)"Content-Type: a\nX: y\n\nz", 23, 0, false, &r, &err);
        kpAlloc_failAfter(-1);
        if (!b) kpWagi_freeResponse(&r);
        CHECK(a == KAPSUL_OK || a == KAPSUL_ERR_NOMEM);
        CHECK(b == KAPSUL_OK || b == KAPSUL_ERR_NOMEM);
        CHECK(c == KAPSUL_OK || c == KAPSUL_ERR_NOMEM);
        if (c == KAPSUL_OK) saw_ok = true;
        kpWagi_freeStrings(&env);
        kpWagi_freeStrings(&argv);
        kpRoute_free(&f.router);
    }
    CHECK(saw_ok);
}

int main(void) {
    test_env_wagi_case();
    test_env_hostile();
    test_argv();
    test_response();
    test_allocfail();
    return kpt_finish();
}
