/*
 * test_manifest.c -- the Spin v2 manifest reader (src/app/manifest.c): a manifest using every
 * field kapsul reads (tests/app/good), the golden bad manifests (tests/app/bad/NAME.toml, each
 * with NAME.err holding its one-line "NAME.toml:LINE:COLUMN: message"), outbound host forms, a
 * symlink leading out of the application directory, and allocation failures.
 * Run from the source root (ctest does).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/manifest.h"
#include "test.h"

static const kpManifestMount *find_mount(const kpManifestComponent *c, const char *guest) {
    for (size_t i = 0; i < c->files.n; i++)
        if (strcmp(c->files.v[i].guest, guest) == 0) return &c->files.v[i];
    return NULL;
}

static void test_good(void) {
    kpManifest m;
    kapsul_error err;
    kapsul_status st = kpManifest_load("tests/app/good/spin.toml", &m, &err);
    if (st) fprintf(stderr, "good manifest: %d:%d: %s\n", err.line, err.column, err.message);
    CHECK(st == KAPSUL_OK);
    if (st) return;
    CHECK(strcmp(m.dir, "tests/app/good") == 0);
    CHECK(strcmp(m.name, "hello") == 0 && strcmp(m.version, "1.0.0") == 0);
    CHECK(m.authors.n == 2 && strcmp(m.authors.v[1], "Bob") == 0);
    CHECK(strcmp(m.base, "/") == 0);
    CHECK(m.triggers.n == 3 && m.components.n == 3);
    const kpManifestTrigger *t = &m.triggers.v[0];
    CHECK(strcmp(t->route, "/hello") == 0 && strcmp(t->based_route, "/hello") == 0 && !t->wildcard);
    CHECK(t->executor == KP_EXECUTOR_WAGI && strcmp(t->argv, "${SCRIPT_NAME} ${ARGS}") == 0);
    CHECK(strcmp(t->entrypoint, "_start") == 0 && t->component_index == 0 && t->line == 16 && t->column == 1);
    t = &m.triggers.v[1];
    CHECK(t->wildcard && strcmp(t->based_route, "/static/...") == 0 &&
          strcmp(t->argv, "${SCRIPT_NAME} -v ${ARGS}") == 0);
    CHECK(strcmp(t->component, "files") == 0 && t->component_index == 1);
    t = &m.triggers.v[2];
    CHECK(t->executor == KP_EXECUTOR_SPIN && strcmp(t->based_route, "/api") == 0 && t->component_index == 2);
    const kpManifestComponent *c = &m.components.v[0];
    CHECK(strcmp(c->id, "hello") == 0 && strcmp(c->source_path, "tests/app/good/hello.wasm") == 0);
    CHECK(c->env.n == 2 && strcmp(c->env.v[1].name, "WITH SPACE") == 0 &&
          strcmp(c->env.v[1].value, "x=y") == 0);
    CHECK(c->allowed_outbound_hosts.n == 6);
    CHECK(c->files.n == 2 && strcmp(c->files.v[0].guest, "/static/css/site.css") == 0 &&
          strcmp(c->files.v[1].guest, "/static/index.html") == 0); /* "**", sorted, *.key excluded */
    CHECK(c->has_build && c->build_commands.n == 1 && strcmp(c->build_workdir, "src") == 0 &&
          c->build_watch.n == 2);
    c = &m.components.v[1];
    CHECK(strcmp(c->source_path, "/opt/wasm/fileserver.wasm") == 0);
    CHECK(c->files.n ==
          3); /* index.html, css/site.css, the assets dir; secret.key excluded; css dir skipped */
    const kpManifestMount *f = find_mount(c, "/static/index.html");
    CHECK(f && f->kind == KP_MOUNT_FILE && strcmp(f->host, "tests/app/good/static/index.html") == 0);
    CHECK(find_mount(c, "/static/css/site.css") != NULL);
    CHECK(find_mount(c, "/static/secret.key") == NULL && find_mount(c, "/static/css") == NULL);
    f = find_mount(c, "/assets");
    CHECK(f && f->kind == KP_MOUNT_DIR && strcmp(f->host, "tests/app/good/assets") == 0);
    CHECK(c->build_commands.n == 2);
    kpManifest_free(&m);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
    return buf;
}

/* Each tests/app/bad/NAME.toml fails with exactly the line in NAME.err. */
static void test_bad_golden(void) {
    DIR *d = opendir("tests/app/bad");
    CHECK(d != NULL);
    if (!d) return;
    struct dirent *e;
    int count = 0;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".toml") != 0) continue;
        char path[600], errpath[600], got[800];
        snprintf(path, sizeof path, "tests/app/bad/%s", e->d_name);
        snprintf(errpath, sizeof errpath, "tests/app/bad/%.*s.err", (int)(n - 5), e->d_name);
        kpManifest m;
        kapsul_error err;
        kapsul_status st = kpManifest_load(path, &m, &err);
        snprintf(got, sizeof got, "%s:%d:%d: %s", e->d_name, err.line, err.column, err.message);
        const char *want = slurp(errpath);
        bool ok = st != KAPSUL_OK && want && strcmp(got, want) == 0;
        if (!ok)
            fprintf(stderr, "golden mismatch for %s\n  got:  %s\n  want: %s\n", path, st ? got : "(loaded)",
                    want ? want : "(no .err file)");
        if (st == KAPSUL_OK) kpManifest_free(&m);
        CHECK(ok);
        count++;
    }
    closedir(d);
    CHECK(count >= 30);
}

static void test_outbound_hosts(void) {
    const char *good[] = { "https://example.com",
                           "http://example.com:8080",
                           "*://*:*",
                           "redis://*.x.internal:6379",
                           "mysql://db:3306..3310",
                           "http://10.0.0.0/8:80",
                           "https://example.com/",
                           "http://self",
                           "postgres://db",
                           "mqtt://broker",
                           "  http://trim.me  ",
                           "tcp://h:*",
                           "https://example.com:443/",
                           NULL };
    const char *badh[] = { "example.com",
                           "://x:1",
                           "ftp://x",
                           "http://x/path",
                           "http://x:1/path",
                           "http://a*b:1",
                           "http://x:70000",
                           "http://x:1..y",
                           "http://x:abc",
                           "insecure:allow-all",
                           "http://{{ host }}",
                           "{http,https}://x:1",
                           "h2c://x:1",
                           "http://:80",
                           "*://x",
                           "http://{a,b}:1",
                           "http://x:{1,2}",
                           "HTTPS://EXAMPLE.COM",
                           NULL };
    for (int i = 0; good[i]; i++) {
        const char *why = kpManifest_checkOutboundHost(good[i]);
        if (why) fprintf(stderr, "outbound '%s': %s\n", good[i], why);
        CHECK(why == NULL);
    }
    for (int i = 0; badh[i]; i++) {
        const char *why = kpManifest_checkOutboundHost(badh[i]);
        if (!why) fprintf(stderr, "outbound '%s' accepted\n", badh[i]);
        CHECK(why != NULL);
    }
}

/* Matching a request's scheme and authority against allowed_outbound_hosts entries. */
static void test_outbound_match(void) {
    static const struct {
        const char *pattern, *scheme, *authority;
        bool allowed;
    } cases[] = {
        { "http://127.0.0.1:8080", "http", "127.0.0.1:8080", true },
        { "http://127.0.0.1:8080", "http", "127.0.0.1:8081", false },
        { "http://127.0.0.1:8080", "https", "127.0.0.1:8080", false },
        { "http://127.0.0.1:8080", "http", "127.0.0.1", false },
        { "http://example.com", "http", "example.com", true },
        { "http://example.com", "http", "EXAMPLE.com:80", true },
        { "http://example.com", "http", "example.com:8080", false },
        { "https://example.com", "https", "example.com", true },
        { "https://example.com/", "https", "example.com:443", true },
        { "https://*.example.com", "https", "api.example.com", true },
        { "https://*.example.com", "https", "a.b.example.com", true },
        { "https://*.example.com", "https", "example.com", false },
        { "https://*.example.com", "https", "badexample.com", false },
        { "*://localhost:*", "http", "localhost:1234", true },
        { "*://localhost:*", "https", "localhost", true },
        { "*://localhost:*", "http", "127.0.0.1:1234", false },
        { "*://*:*", "http", "anything:1", true },
        { "http://x:8000..8010", "http", "x:8005", true },
        { "http://x:8000..8010", "http", "x:8011", false },
        { "http://[::1]:8080", "http", "[::1]:8080", true },
        { "http://[::1]:8080", "http", "[::2]:8080", false },
        { "http://10.0.0.0/8:80", "http", "10.1.2.3", false }, /* address prefixes: not yet */
        { "http://self", "http", "self", false },
        { "http://x:80", "http", "x:99999", false },
        { "http://x:80", "http", "x:", false },
        { "http://x:80", "http", "", false },
        { "http://x:80", "http", "[::1", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = kpManifest_outboundAllows(cases[i].pattern, cases[i].scheme, cases[i].authority,
                                             strlen(cases[i].authority));
        if (got != cases[i].allowed)
            fprintf(stderr, "'%s' vs %s://%s: %d\n", cases[i].pattern, cases[i].scheme, cases[i].authority,
                    got);
        CHECK(got == cases[i].allowed);
    }
}

/* A symlink inside the app directory pointing outside it is refused by glob and placement. */
static void test_symlink_escape(void) {
    char dir[] = "/tmp/kapsul[manifest]*-XXXXXX"; /* glob characters in the app directory itself */
    CHECK(mkdtemp(dir) != NULL);
    char path[300];
    snprintf(path, sizeof path, "%s/static", dir);
    CHECK(mkdir(path, 0755) == 0);
    snprintf(path, sizeof path, "%s/static/passwd", dir);
    CHECK(symlink("/etc/passwd", path) == 0);
    snprintf(path, sizeof path, "%s/etc", dir);
    CHECK(symlink("/etc", path) == 0);
    const char *glob_src =
        "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\n"
        "component = \"a\"\n[component.a]\nsource = \"a.wasm\"\nfiles = [\"static/*\"]\n";
    const char *dir_src =
        "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\n"
        "component = \"a\"\n[component.a]\nsource = \"a.wasm\"\nfiles = [{ source = \"etc\", destination = \"/etc\" }]\n";
    kpManifest m;
    kapsul_error err;
    CHECK(kpManifest_parse(glob_src, strlen(glob_src), dir, &m, &err) == KAPSUL_ERR_MALFORMED);
    CHECK(err.line == 9 && strstr(err.message, "outside the application directory"));
    CHECK(kpManifest_parse(dir_src, strlen(dir_src), dir, &m, &err) == KAPSUL_ERR_MALFORMED);
    CHECK(err.line == 9 && strstr(err.message, "outside the application directory"));
    /* "**" walks the tree without following the directory symlink (no loop), and still finds
     * the file symlink leading out. */
    snprintf(path, sizeof path, "%s/static/loop", dir);
    CHECK(symlink("..", path) == 0);
    const char *star_src =
        "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\n"
        "component = \"a\"\n[component.a]\nsource = \"a.wasm\"\nfiles = [\"**/*\"]\n";
    CHECK(kpManifest_parse(star_src, strlen(star_src), dir, &m, &err) == KAPSUL_ERR_MALFORMED);
    CHECK(err.line == 9 && strstr(err.message, "static/passwd"));
    /* A "**" pattern under a literal directory, with the bad symlink excluded by name: fine. */
    const char *static_src =
        "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\n"
        "component = \"a\"\n[component.a]\nsource = \"a.wasm\"\nfiles = [\"static/**\"]\n"
        "exclude_files = [\"static/passwd\"]\n";
    CHECK(kpManifest_parse(static_src, strlen(static_src), dir, &m, &err) == KAPSUL_OK &&
          m.components.v[0].files.n == 0);
    kpManifest_free(&m);
    snprintf(path, sizeof path, "%s/static/passwd", dir);
    unlink(path);
    CHECK(kpManifest_parse(star_src, strlen(star_src), dir, &m, &err) == KAPSUL_OK &&
          m.components.v[0].files.n == 0);
    kpManifest_free(&m);
    snprintf(path, sizeof path, "%s/static/loop", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/static", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/etc", dir);
    unlink(path);
    rmdir(dir);
}

static void test_allocfail(void) {
    bool saw_ok = false;
    for (long n = 0; n < 2000 && !saw_ok; n++) {
        kpManifest m;
        kapsul_error err;
        kpAlloc_failAfter(n);
        kapsul_status st = kpManifest_load("tests/app/good/spin.toml", &m, &err);
        kpAlloc_failAfter(-1);
        if (st == KAPSUL_OK) {
            saw_ok = true;
            kpManifest_free(&m);
        } else CHECK(st == KAPSUL_ERR_NOMEM);
    }
    CHECK(saw_ok);
}

static void test_misc(void) {
    kpManifest m;
    kapsul_error err;
    CHECK(kpManifest_load("tests/app/does-not-exist.toml", &m, &err) == KAPSUL_ERR_IO &&
          strstr(err.message, "cannot open"));
    const char *src =
        "spin_manifest_version = 2\n[application]\nname = \"x\"\n[application.trigger.http]\nbase = \"/base/\"\n"
        "[[trigger.http]]\nroute = \"/\"\ncomponent = \"a\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"a\"\n"
        "[[trigger.http]]\nroute = \"foo/...\"\ncomponent = \"a\"\n[component.a]\nsource = \"a.wasm\"\n";
    CHECK(kpManifest_parse(src, strlen(src), "/app", &m, &err) == KAPSUL_OK);
    CHECK(strcmp(m.triggers.v[0].based_route, "/base") == 0);
    CHECK(strcmp(m.triggers.v[1].based_route, "/base/...") == 0 && m.triggers.v[1].wildcard);
    CHECK(strcmp(m.triggers.v[2].based_route, "/base/foo/...") == 0);
    kpManifest_free(&m);
}

int main(void) {
    test_good();
    test_bad_golden();
    test_outbound_hosts();
    test_outbound_match();
    test_symlink_escape();
    test_allocfail();
    test_misc();
    return kpt_finish();
}
