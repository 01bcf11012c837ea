/*
 * fuzz_toml.c -- libFuzzer target: arbitrary bytes through the TOML reader (src/app/toml.c) and,
 * when they parse, through the Spin manifest reader (src/app/manifest.c) with a directory that
 * does not exist (so file globs resolve to nothing and nothing on disk is touched). Oracles: a
 * failure carries a position and a NUL-terminated message; a success gives a well-formed tree
 * (walked completely: kinds, string terminators, positions). Also the allowed_outbound_hosts
 * matcher: the first line as an entry (when the syntax check accepts it) against the rest of the
 * input as the authority a guest's outgoing request names (no oracle but the sanitizers).
 */
#include <stdlib.h>
#include <string.h>

#include "app/manifest.h"
#include "app/toml.h"

static void check_error(kapsul_status st, const kapsul_error *err) {
    if (st == KAPSUL_OK) return;
    if (err->code != st || memchr(err->message, 0, sizeof err->message) == NULL) abort();
    if ((st == KAPSUL_ERR_MALFORMED || st == KAPSUL_ERR_LIMIT) && (err->line < 1 || err->column < 1)) abort();
}

static void walk(const kpTomlValue *v, int depth) {
    if (depth > KP_TOML_MAX_DEPTH + 2 || v->line < 1 || v->column < 1) abort();
    switch (v->kind) {
    case KP_TOML_STRING:
    case KP_TOML_DATETIME:
        if (v->u.str.s[v->u.str.len] != 0) abort();
        break;
    case KP_TOML_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++) walk(v->u.arr.v[i], depth + 1);
        break;
    case KP_TOML_TABLE:
        for (size_t i = 0; i < v->u.tab.n; i++) {
            const kpTomlEntry *e = &v->u.tab.v[i];
            if (e->key[e->key_len] != 0) abort();
            for (size_t j = 0; j < i; j++)
                if (v->u.tab.v[j].key_len == e->key_len && !memcmp(v->u.tab.v[j].key, e->key, e->key_len))
                    abort();
            walk(e->value, depth + 1);
        }
        break;
    default: break;
    }
}

static void outbound(const uint8_t *data, size_t size) {
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl || memchr(data, 0, (size_t)(nl - data))) return;
    char *pattern = strndup((const char *)data, (size_t)(nl - data));
    if (pattern && !kpManifest_checkOutboundHost(pattern)) {
        const char *auth = (const char *)nl + 1;
        size_t len = size - (size_t)(nl + 1 - data);
        kpManifest_outboundAllows(pattern, "http", auth, len);
        kpManifest_outboundAllows(pattern, "https", auth, len);
    }
    free(pattern);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    outbound(data, size);
    kpTomlValue *doc = NULL;
    kapsul_error err;
    memset(&err, 0, sizeof err);
    kapsul_status st = kpToml_parse((const char *)data, size, &doc, &err);
    check_error(st, &err);
    if (st != KAPSUL_OK) return 0;
    walk(doc, 0);
    kpToml_free(doc);

    kpManifest m;
    memset(&err, 0, sizeof err);
    st = kpManifest_parse((const char *)data, size, "/nonexistent-kapsul-fuzz-dir", &m, &err);
    check_error(st, &err);
    if (st == KAPSUL_OK) kpManifest_free(&m);
    return 0;
}
