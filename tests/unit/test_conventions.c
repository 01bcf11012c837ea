/*
 * test_conventions.c -- the promises kapsul.h makes about itself rather than about wasm: the
 * version macros agree with kapsul_version(), and kapsul_module_new_wat loads text or reports
 * where it is malformed.
 */
#include <stdio.h>
#include <string.h>

#include "kapsul.h"
#include "test.h"

static void test_version(void) {
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", KAPSUL_VERSION_MAJOR, KAPSUL_VERSION_MINOR,
             KAPSUL_VERSION_PATCH);
    CHECK(strcmp(KAPSUL_VERSION, expect) == 0);
    CHECK(strcmp(kapsul_version(), KAPSUL_VERSION) == 0);
    CHECK(KAPSUL_VERSION_NUMBER ==
          KAPSUL_VERSION_MAJOR * 1000000 + KAPSUL_VERSION_MINOR * 1000 + KAPSUL_VERSION_PATCH);
}

static void test_module_new_wat(kapsul_engine *e) {
    static const char good[] = "(module (func (export \"f\") (result i32) (i32.const 7)))";
    static const char bad[] = "(module\n  (func (result i32) (i32.konst 7)))";
    static const char invalid[] = "(module (func (result i32)))";
    kapsul_error err;
    kapsul_module *m = NULL;
    CHECK(kapsul_module_new_wat(e, good, strlen(good), &m, &err) == KAPSUL_OK && m);
    CHECK(kapsul_module_export_count(m) == 1);
    kapsul_module_free(m);

    m = (kapsul_module *)&err;   /* must be reset to NULL on failure */
    CHECK(kapsul_module_new_wat(e, bad, strlen(bad), &m, &err) == KAPSUL_ERR_MALFORMED);
    CHECK(m == NULL && err.code == KAPSUL_ERR_MALFORMED && err.line == 2 && err.column > 0);
    CHECK(kapsul_module_new_wat(e, invalid, strlen(invalid), &m, &err) == KAPSUL_ERR_INVALID);
    CHECK(m == NULL && err.code == KAPSUL_ERR_INVALID);
    CHECK(kapsul_module_new_wat(e, NULL, 3, &m, &err) == KAPSUL_ERR_ARG && err.code == KAPSUL_ERR_ARG);
    CHECK(kapsul_module_new_wat(e, good, strlen(good), &m, NULL) == KAPSUL_OK);
    kapsul_module_free(m);
}

int main(void) {
    test_version();
    kapsul_engine *e = kapsul_engine_new(NULL);
    CHECK(e != NULL);
    test_module_new_wat(e);
    kapsul_engine_free(e);
    return kpt_finish();
}
