/*
 * test_route.c -- Spin's routing rules (src/serve/route.c): exact beats wildcard, longest prefix,
 * trailing slashes, base paths, the reserved /.well-known/spin/ paths, SCRIPT_NAME/PATH_INFO.
 * Cases follow spin crates/http/src/routes.rs's tests.
 */
#include <stdio.h>
#include <string.h>

#include "serve/route.h"
#include "test.h"

/* path must route to component with SCRIPT_NAME script and PATH_INFO info (NULL component: 404). */
static void expect(const kpRouter *r, const char *path, const char *component, const char *script,
                   const char *info) {
    kpRouteMatch m;
    kpRoute_match(r, path, strlen(path), &m);
    bool ok;
    if (!component) ok = m.result == KP_ROUTE_NOT_FOUND;
    else
        ok = m.result == KP_ROUTE_MATCH && strcmp(m.route->component, component) == 0 &&
             m.script_name_len == strlen(script) && memcmp(m.script_name, script, m.script_name_len) == 0 &&
             m.path_info_len == strlen(info) && memcmp(m.path_info, info, m.path_info_len) == 0;
    if (!ok)
        fprintf(stderr, "route %s: got %d %s '%.*s' '%.*s' (want %s '%s' '%s')\n", path, m.result,
                m.route ? m.route->component : "-", (int)m.script_name_len,
                m.script_name ? m.script_name : "", (int)m.path_info_len, m.path_info ? m.path_info : "",
                component ? component : "404", script ? script : "", info ? info : "");
    CHECK(ok);
}

static kpRouter make(const char *const *routes) {
    kpRouter r;
    memset(&r, 0, sizeof r);
    for (size_t i = 0; routes[i]; i += 2)
        CHECK(kpRoute_add(&r, routes[i], routes[i], routes[i + 1], i / 2, NULL) == KAPSUL_OK);
    return r;
}

static void test_rules(void) {
    /* based routes as the manifest normalises them: "/" -> "", "/a/" -> "/a" */
    const char *routes[] = { "",
                             "root",
                             "/foo",
                             "foo",
                             "/foo/bar",
                             "foobar",
                             "/one/...",
                             "one",
                             "/one/two/...",
                             "onetwo",
                             "/one/two/three/...",
                             "onetwothree",
                             "/...",
                             "all",
                             "/exact/...",
                             "exact-wild",
                             "/exact",
                             "exact",
                             NULL };
    kpRouter r = make(routes);
    expect(&r, "/", "root", "", "");
    expect(&r, "/foo", "foo", "/foo", "");
    expect(&r, "/foo/", "foo", "/foo", "");
    expect(&r, "/foo/bar", "foobar", "/foo/bar", "");
    expect(&r, "/foo/bar/", "foobar", "/foo/bar", "");
    expect(&r, "/foo/bar/baz", "all", "", "/foo/bar/baz");
    expect(&r, "/foo//", "all", "", "/foo//");
    expect(&r, "/one/two/three/four", "onetwothree", "/one/two/three", "/four");
    expect(&r, "/one/two/three", "onetwothree", "/one/two/three", "");
    expect(&r, "/one/two/threefold", "onetwo", "/one/two", "/threefold");
    expect(&r, "/one/two/", "onetwo", "/one/two", "/");
    expect(&r, "/one/x/", "one", "/one", "/x/");
    expect(&r, "/onex", "all", "", "/onex");
    expect(&r, "/exact", "exact", "/exact", "");
    expect(&r, "/exact/more", "exact-wild", "/exact", "/more");
    expect(&r, "/a%20b/c", "all", "", "/a%20b/c");
    kpRoute_free(&r);
}

static void test_no_wildcard(void) {
    const char *routes[] = { "/foo", "foo", "/test/...", "test", NULL };
    kpRouter r = make(routes);
    expect(&r, "/", NULL, NULL, NULL);
    expect(&r, "/bar", NULL, NULL, NULL);
    expect(&r, "/foo/x", NULL, NULL, NULL);
    expect(&r, "/testing", NULL, NULL, NULL);
    expect(&r, "*", NULL, NULL, NULL);
    expect(&r, "", NULL, NULL, NULL);
    /* spin's trailing_wildcard_respects_trailing_slash */
    expect(&r, "/test", "test", "/test", "");
    expect(&r, "/test/", "test", "/test", "/");
    expect(&r, "/test/hello", "test", "/test", "/hello");
    expect(&r, "/test/hello/", "test", "/test", "/hello/");
    CHECK(kpRoute_add(&r, "/foo", "/foo/", "x", 9, NULL) == KAPSUL_ERR_ARG);
    kpRoute_free(&r);
}

static void test_well_known(void) {
    const char *routes[] = { "/...", "all", "/.well-known/spin/...", "mine", NULL };
    kpRouter r = make(routes);
    kpRouteMatch m;
    kpRoute_match(&r, "/.well-known/spin/health", 24, &m);
    CHECK(m.result == KP_ROUTE_HEALTH);
    kpRoute_match(&r, "/.well-known/spin/info", 22, &m);
    CHECK(m.result == KP_ROUTE_INFO);
    expect(&r, "/.well-known/spin/other", NULL, NULL, NULL);
    expect(&r, "/.well-known/spin/health/", NULL, NULL, NULL);
    expect(&r, "/.well-known/spin", "mine", "/.well-known/spin", "");
    expect(&r, "/.well-known/spindle", "all", "", "/.well-known/spindle");
    kpRoute_free(&r);
}

/* A router built from a manifest with a base path. */
static void test_manifest_base(void) {
    const char *src =
        "spin_manifest_version = 2\n[application]\nname = \"x\"\n[application.trigger.http]\nbase = \"/base/\"\n"
        "[[trigger.http]]\nroute = \"/foo\"\ncomponent = \"foo\"\n[[trigger.http]]\nroute = \"/foo/bar/\"\ncomponent = \"foobar\"\n"
        "[[trigger.http]]\nroute = \"/...\"\ncomponent = \"rest\"\n"
        "[component.foo]\nsource = \"a.wasm\"\n[component.foobar]\nsource = \"a.wasm\"\n[component.rest]\nsource = \"a.wasm\"\n";
    kpManifest m;
    kapsul_error err;
    CHECK(kpManifest_parse(src, strlen(src), "/app", &m, &err) == KAPSUL_OK);
    kpRouter r;
    CHECK(kpRoute_build(&r, &m, &err) == KAPSUL_OK);
    expect(&r, "/base/foo", "foo", "/base/foo", "");
    expect(&r, "/base/foo/", "foo", "/base/foo", "");
    expect(&r, "/base/foo/bar", "foobar", "/base/foo/bar", "");
    expect(&r, "/base/x/y", "rest", "/base", "/x/y");
    expect(&r, "/base", "rest", "/base", "");
    expect(&r, "/foo", NULL, NULL, NULL);
    kpRouteMatch mt;
    kpRoute_match(&r, "/base/foo/bar", 13, &mt);
    CHECK(mt.route->index == 1 && strcmp(mt.route->raw_route, "/foo/bar/") == 0);
    kpRoute_free(&r);
    kpManifest_free(&m);
}

/* Thousands of routes (the router hashes them): each path still finds its own route, wildcards
 * nest by longest prefix, a duplicate is refused. */
static void test_many(void) {
    enum {
        N = 2000
    };
    static char names[2 * N][32];
    kpRouter r;
    memset(&r, 0, sizeof r);
    bool ok = true;
    for (int i = 0; i < N; i++) {
        snprintf(names[2 * i], 32, "/t/%d", i);
        snprintf(names[2 * i + 1], 32, "/w/%d/...", i);
        ok &= kpRoute_add(&r, names[2 * i], names[2 * i], names[2 * i], (size_t)i, NULL) == KAPSUL_OK;
        ok &= kpRoute_add(&r, names[2 * i + 1], names[2 * i + 1], names[2 * i + 1], (size_t)(N + i), NULL) ==
              KAPSUL_OK;
    }
    CHECK(ok);
    for (int i = 0; i < N; i += 13) {
        char p[64];
        kpRouteMatch m;
        snprintf(p, sizeof p, "/t/%d", i);
        kpRoute_match(&r, p, strlen(p), &m);
        ok &= m.result == KP_ROUTE_MATCH && m.route->index == (size_t)i;
        snprintf(p, sizeof p, "/w/%d/a/b", i);
        kpRoute_match(&r, p, strlen(p), &m);
        ok &= m.result == KP_ROUTE_MATCH && m.route->index == (size_t)(N + i) && m.path_info_len == 4;
        snprintf(p, sizeof p, "/w/%dx", i);
        kpRoute_match(&r, p, strlen(p), &m);
        ok &= m.result == KP_ROUTE_NOT_FOUND;
    }
    CHECK(ok);
    CHECK(kpRoute_add(&r, "/t/5", "/t/5", "again", 0, NULL) == KAPSUL_ERR_ARG);
    CHECK(kpRoute_add(&r, "/w/5/...", "/w/5/...", "again", 0, NULL) == KAPSUL_ERR_ARG);
    CHECK(kpRoute_add(&r, "/t/5/...", "/t/5/...", "wild", 9999, NULL) == KAPSUL_OK); /* exact != wildcard */
    kpRouteMatch m;
    kpRoute_match(&r, "/t/5", 4, &m);
    CHECK(m.result == KP_ROUTE_MATCH && m.route->index == 5); /* exact wins */
    kpRoute_match(&r, "/t/5/x", 6, &m);
    CHECK(m.result == KP_ROUTE_MATCH && m.route->index == 9999);
    kpRoute_free(&r);
}

int main(void) {
    test_many();
    test_rules();
    test_no_wildcard();
    test_well_known();
    test_manifest_base();
    return kpt_finish();
}
