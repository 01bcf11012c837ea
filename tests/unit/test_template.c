/*
 * test_template.c -- the templates of `kapsul new` (src/app/template.c): project-name rules,
 * every embedded template written out and its spin.toml read back by the manifest reader (so no
 * name the checks accept can produce an invalid manifest, and no placeholder is left over),
 * refusals that must leave nothing behind (an existing directory, an unknown placeholder, a
 * failure halfway), and allocation failures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/manifest.h"
#include "app/template.h"
#include "test.h"

static char tmp[] = "/tmp/kp_template_XXXXXX";

static bool exists(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static char *path_in(const char *rel) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmp, rel);
    return buf;
}

static void test_names(void) {
    static const char *const good[] = {
        "a", "hello", "hello-world", "hello_world", "a1-b2_c3", "x-y-z", NULL
    };
    static const char *const bad[] = { "",    "1a",    "-a",  "_a",  "a-",  "a_", "a--b",     "a-_b",
                                       "a-1", "Hello", "a b", "a.b", "a/b", "..", "\xc3\xa9", NULL };
    for (size_t i = 0; good[i]; i++) CHECK(kpTemplate_checkName(good[i]) == NULL);
    for (size_t i = 0; bad[i]; i++) CHECK(kpTemplate_checkName(bad[i]) != NULL);
    char name[KP_TEMPLATE_MAX_NAME + 2];
    memset(name, 'a', sizeof name);
    name[KP_TEMPLATE_MAX_NAME] = 0;
    CHECK(kpTemplate_checkName(name) == NULL);
    name[KP_TEMPLATE_MAX_NAME] = 'a';
    name[KP_TEMPLATE_MAX_NAME + 1] = 0;
    CHECK(kpTemplate_checkName(name) != NULL);
}

/* No "{{" may survive in a written file. */
static bool file_clean(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, "{{") == NULL;
}

static void test_every_template(void) {
    CHECK(kpTemplate_count >= 2);
    CHECK(kpTemplate_find("http-c") != NULL && kpTemplate_find("http-rust") != NULL);
    CHECK(kpTemplate_find("nope") == NULL);
    for (size_t i = 0; i < kpTemplate_count; i++) {
        const kpTemplate *t = &kpTemplate_all[i];
        char desc[200], dir[256], rel[300];
        kapsul_error err;
        CHECK(kpTemplate_describe(t, desc, sizeof desc, &err) == KAPSUL_OK && desc[0]);
        snprintf(dir, sizeof dir, "%s/%s", tmp, t->id);
        kapsul_status st = kpTemplate_write(t, "my-app_x", dir, &err);
        if (st) fprintf(stderr, "%s: %s\n", t->id, err.message);
        CHECK(st == KAPSUL_OK);
        for (size_t j = 0; j < t->nfiles; j++) {
            snprintf(rel, sizeof rel, "%s/%s", dir, t->files[j].path);
            CHECK(file_clean(rel));
        }
        snprintf(rel, sizeof rel, "%s/spin.toml", dir);
        kpManifest m;
        st = kpManifest_load(rel, &m, &err);
        if (st) fprintf(stderr, "%s: %d:%d: %s\n", rel, err.line, err.column, err.message);
        CHECK(st == KAPSUL_OK);
        if (st) continue;
        CHECK(strcmp(m.name, "my-app_x") == 0);
        CHECK(m.components.n == 1 && strcmp(m.components.v[0].id, "my-app-x") == 0);
        CHECK(strcmp(m.components.v[0].source, "target/my-app_x.wasm") == 0);
        CHECK(m.components.v[0].has_build && m.components.v[0].build_commands.n >= 1);
        CHECK(m.triggers.n == 1 && m.triggers.v[0].executor == KP_EXECUTOR_WAGI && m.triggers.v[0].wildcard);
        kpManifest_free(&m);
        /* A second run must refuse and change nothing. */
        CHECK(kpTemplate_write(t, "other", dir, &err) == KAPSUL_ERR_IO &&
              strstr(err.message, "already exists"));
        CHECK(file_clean(rel));
    }
}

/* Hand-made templates: an unknown placeholder stops before anything is written; a file that
 * cannot be created halfway through takes back everything made before it. */
static const unsigned char ok_data[] = "name={{ project-name }} kebab={{project-name|kebab_case}} "
                                       "snake={{project-name | snake_case}} {{ not closed";
static const unsigned char bad_data[] = "x {{project-name | upper}} y";
static const kpTemplateFile ok_files[] = { { "a/b/c.txt", ok_data, sizeof ok_data - 1 },
                                           { "a/d.txt", ok_data, sizeof ok_data - 1 },
                                           { "top.txt", ok_data, sizeof ok_data - 1 } };
static const kpTemplateFile bad_files[] = { { "first.txt", ok_data, sizeof ok_data - 1 },
                                            { "second.txt", bad_data, sizeof bad_data - 1 } };
static const kpTemplateFile clash_files[] = { { "a/one.txt", ok_data, sizeof ok_data - 1 },
                                              { "x", ok_data, sizeof ok_data - 1 },
                                              { "x/y", ok_data, sizeof ok_data - 1 } };
static const kpTemplate ok_t = { "ok", "", 0, ok_files, 3 };
static const kpTemplate bad_t = { "bad", "", 0, bad_files, 2 };
static const kpTemplate clash_t = { "clash", "", 0, clash_files, 3 };

static void test_substitution_and_undo(void) {
    kapsul_error err;
    char *dir = path_in("subst");
    CHECK(kpTemplate_write(&ok_t, "a-b_c", dir, &err) == KAPSUL_OK);
    FILE *f = fopen(path_in("subst/a/b/c.txt"), "rb");
    char buf[200] = { 0 };
    if (f) {
        CHECK(fread(buf, 1, sizeof buf - 1, f) > 0);
        fclose(f);
    }
    CHECK(strcmp(buf, "name=a-b_c kebab=a-b-c snake=a_b_c {{ not closed") == 0);
    CHECK(exists(path_in("subst/a/d.txt")) && exists(path_in("subst/top.txt")));
    CHECK(kpTemplate_write(&ok_t, "Bad", path_in("badname"), &err) == KAPSUL_ERR_ARG);
    CHECK(!exists(path_in("badname")));
    CHECK(kpTemplate_write(&bad_t, "a", path_in("badt"), &err) == KAPSUL_ERR_MALFORMED);
    CHECK(strstr(err.message, "second.txt") && strstr(err.message, "upper"));
    CHECK(!exists(path_in("badt")));
    CHECK(kpTemplate_write(&clash_t, "a", path_in("clash"), &err) == KAPSUL_ERR_IO);
    CHECK(strstr(err.message, "x/y") != NULL);
    CHECK(!exists(path_in("clash")));
    CHECK(kpTemplate_write(&ok_t, "a", path_in("no/such/parent"), &err) == KAPSUL_ERR_IO);
    CHECK(kpTemplate_write(&ok_t, "a", "", &err) == KAPSUL_ERR_ARG);
}

/* Every allocation of kpTemplate_write failing in turn: NOMEM each time, and nothing left. */
static void test_allocfail(void) {
    const kpTemplate *t = kpTemplate_find("http-rust");
    char *dir = path_in("allocfail");
    kapsul_error err;
    int failures = 0;
    for (long n = 0; n < 1000; n++) {
        kpAlloc_failAfter(n);
        kapsul_status st = kpTemplate_write(t, "app", dir, &err);
        kpAlloc_failAfter(-1);
        if (st == KAPSUL_OK) break;
        failures++;
        CHECK(st == KAPSUL_ERR_NOMEM);
        CHECK(!exists(dir));
    }
    CHECK(failures > 0 && exists(path_in("allocfail/spin.toml")));
}

int main(void) {
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_names();
    test_every_template();
    test_substitution_and_undo();
    test_allocfail();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return kpt_finish();
}
