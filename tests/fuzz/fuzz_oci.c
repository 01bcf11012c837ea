/*
 * fuzz_oci.c -- libFuzzer target: the OCI client's parsers (src/oci/) on arbitrary bytes. The first
 * byte picks the parser: 0 an image manifest (and, when it parses, a wasm config check against
 * it with the rest of the input), 1 an image index, 2 an image config, 3 a reference and the
 * relative-path check (the text up to the first NUL), 4 a tar+gzip layer (kpOciTar_find). Oracles:
 * a failure is a known status with a NUL-terminated, non-empty message; a success gives fields
 * that keep the parsers' promises (sha256 digests, NUL-terminated strings, known kinds).
 */
#include <stdlib.h>
#include <string.h>

#include "oci/oci.h"

static void check_error(kapsul_status st, const kapsul_error *err) {
    if (st == KAPSUL_OK) return;
    if (err->code != st || memchr(err->message, 0, sizeof err->message) == NULL || !err->message[0]) abort();
    if (st != KAPSUL_ERR_MALFORMED && st != KAPSUL_ERR_LIMIT && st != KAPSUL_ERR_NOMEM && st != KAPSUL_ERR_NOT_FOUND)
        abort();
}

static void check_desc(const kpOciDesc *d) {
    if (!kpOci_isDigest(d->digest) || !d->media_type) abort();
}

static void fuzz_manifest(const uint8_t *data, size_t size) {
    kapsul_error err;
    kpOciManifest m;
    size_t split = size / 2 + 1 <= size ? size / 2 : size;
    kapsul_status st = kpOciManifest_parse(data, size, &m, &err);
    check_error(st, &err);
    if (st) return;
    check_desc(&m.config);
    for (size_t i = 0; i < m.layers.n; i++) check_desc(&m.layers.v[i]);
    check_error(kpOciWasmConfig_check(data + split, size - split, &m, &err), &err);
    kpOciManifest_free(&m);
}

static void fuzz_index(const uint8_t *data, size_t size) {
    kapsul_error err;
    kpOciIndex x;
    kapsul_status st = kpOciIndex_parse(data, size, &x, &err);
    check_error(st, &err);
    if (st) return;
    for (size_t i = 0; i < x.manifests.n; i++) check_desc(&x.manifests.v[i]);
    kpOciIndex_free(&x);
}

static void fuzz_config(const uint8_t *data, size_t size) {
    kapsul_error err;
    kpOciImageConfig c;
    kapsul_status st = kpOciImageConfig_parse(data, size, &c, &err);
    check_error(st, &err);
    if (st) return;
    if (!c.os || !c.arch) abort();
    for (size_t i = 0; i < c.diff_ids.n; i++)
        if (!kpOci_isDigest(c.diff_ids.v[i])) abort();
    kpOciImageConfig_free(&c);
}

static void fuzz_ref(const uint8_t *data, size_t size) {
    char text[1024];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = 0;
    kapsul_error err;
    kpOciRef r;
    kapsul_status st = kpOciRef_parse(text, &r, &err);
    check_error(st, &err);
    if (!st) {
        if (r.kind == KP_OCI_REF_REGISTRY && (!r.host || !r.repo || (!r.tag && !r.digest))) abort();
        if (r.kind == KP_OCI_REF_LAYOUT && !r.dir) abort();
        if (r.digest && !kpOci_isDigest(r.digest)) abort();
        kpOciRef_free(&r);
    }
    if (!kpOci_checkRelPath(text)) { /* accepted: relative, and no component is empty, "." or ".." */
        if (text[0] == '/') abort();
        for (const char *p = text, *e;; p = e + 1) {
            e = strchr(p, '/');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) abort();
            if (!e) break;
        }
    }
}

static void fuzz_tar(const uint8_t *data, size_t size) {
    kapsul_error err;
    kpBuf out = { 0 };
    char diff_id[KP_OCI_DIGEST_LEN];
    kapsul_status st = kpOciTar_find(data, size, "/app.wasm", &out, diff_id, &err);
    check_error(st, &err);
    if (!st && !kpOci_isDigest(diff_id)) abort();
    kpBuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    switch (data[0] % 5) {
    case 0: fuzz_manifest(data + 1, size - 1); break;
    case 1: fuzz_index(data + 1, size - 1); break;
    case 2: fuzz_config(data + 1, size - 1); break;
    case 3: fuzz_ref(data + 1, size - 1); break;
    default: fuzz_tar(data + 1, size - 1); break;
    }
    return 0;
}
