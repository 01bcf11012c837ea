/*
 * test_ref.c -- unit tests of the OCI client's parsers (src/oci/ref.c, manifest.c): references
 * with Docker Hub's defaults, ports, tags and digests, oci: layouts; the relative-path check of
 * pulled file names; manifests, indexes and configs with missing or mistyped fields.
 * Ends with "N passed, N failed".
 */
#include <stdio.h>

#include "oci/oci.h"

static int passed, failed;

static void check(const char *name, bool ok) {
    if (ok) passed++;
    else failed++, printf("FAIL %s\n", name);
}

static bool eq(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static void ref(const char *text, kpOciRefKind kind, const char *host, const char *repo, const char *dir,
                const char *tag, const char *digest) {
    kpOciRef r;
    kapsul_error err;
    bool ok = kpOciRef_parse(text, &r, &err) == KAPSUL_OK;
    ok = ok && r.kind == kind && eq(r.host, host) && eq(r.repo, repo) && eq(r.dir, dir) && eq(r.tag, tag) &&
         eq(r.digest, digest);
    if (!ok) printf("  %s -> %s %s %s %s %s\n", text, r.host, r.repo, r.dir, r.tag, r.digest);
    check(text, ok);
    kpOciRef_free(&r);
}

static void bad_ref(const char *text, const char *needle) {
    kpOciRef r;
    kapsul_error err;
    bool ok = kpOciRef_parse(text, &r, &err) == KAPSUL_ERR_MALFORMED && strstr(err.message, needle);
    if (!ok) printf("  %s: %s\n", text, err.message);
    check(text, ok);
}

static void manifest(const char *name, const char *json, kapsul_status want, const char *needle) {
    kpOciManifest m;
    kapsul_error err = { 0 };
    kapsul_status st = kpOciManifest_parse((const uint8_t *)json, strlen(json), &m, &err);
    bool ok = st == want && (!needle || strstr(err.message, needle));
    if (!ok) printf("  %s: %d %s\n", name, st, err.message);
    check(name, ok);
    if (!st) kpOciManifest_free(&m);
}

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

int main(void) {
    ref("alpine", KP_OCI_REF_REGISTRY, "registry-1.docker.io", "library/alpine", NULL, "latest", NULL);
    ref("docker.io/user/app:1.2", KP_OCI_REF_REGISTRY, "registry-1.docker.io", "user/app", NULL, "1.2", NULL);
    ref("user/app", KP_OCI_REF_REGISTRY, "registry-1.docker.io", "user/app", NULL, "latest", NULL);
    ref("127.0.0.1:5000/a/b-c__d.e:v1", KP_OCI_REF_REGISTRY, "127.0.0.1:5000", "a/b-c__d.e", NULL, "v1", NULL);
    ref("localhost/x@sha256:" D64, KP_OCI_REF_REGISTRY, "localhost", "x", NULL, NULL, "sha256:" D64);
    ref("ghcr.io/o/r:t@sha256:" D64, KP_OCI_REF_REGISTRY, "ghcr.io", "o/r", NULL, "t", "sha256:" D64);
    ref("oci:/tmp/lay", KP_OCI_REF_LAYOUT, NULL, NULL, "/tmp/lay", NULL, NULL);
    ref("oci:lay:v1.0", KP_OCI_REF_LAYOUT, NULL, NULL, "lay", "v1.0", NULL);
    ref("oci:lay@sha256:" D64, KP_OCI_REF_LAYOUT, NULL, NULL, "lay", NULL, "sha256:" D64);
    bad_ref("Upper/Case", "repository");
    bad_ref("a//b", "repository");
    bad_ref("x/y-:t", "repository");
    bad_ref("h.io/x:-t", "tag");
    bad_ref("h.io:99999/x", "host");
    bad_ref("x@sha256:12", "digest");
    bad_ref("x@md5:" D64, "digest");
    bad_ref("oci:", "directory");
    bad_ref("oci::t", "directory");

    check("rel ok", kpOci_checkRelPath("static/sub/b.txt") == NULL);
    check("rel ..", kpOci_checkRelPath("a/../b") != NULL);
    check("rel abs", kpOci_checkRelPath("/etc/passwd") != NULL);
    check("rel empty", kpOci_checkRelPath("a//b") != NULL);
    check("rel trailing", kpOci_checkRelPath("a/") != NULL);
    check("rel dot", kpOci_checkRelPath("./a") != NULL);
    check("rel ctl", kpOci_checkRelPath("a\nb") != NULL);
    check("rel dots name", kpOci_checkRelPath("..a/b..") == NULL);

    const char *good = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha256:" D64
                       "\",\"size\":3},\"layers\":[]}";
    manifest("manifest.good", good, KAPSUL_OK, NULL);
    manifest("manifest.schema", "{\"schemaVersion\":1,\"config\":{},\"layers\":[]}", KAPSUL_ERR_MALFORMED,
             "schemaVersion");
    manifest("manifest.noconfig", "{\"schemaVersion\":2,\"layers\":[]}", KAPSUL_ERR_MALFORMED, "config");
    manifest("manifest.size", "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha256:" D64
             "\",\"size\":-1},\"layers\":[]}", KAPSUL_ERR_MALFORMED, "size");
    manifest("manifest.digest", "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha512:"
             D64 "\",\"size\":1},\"layers\":[]}", KAPSUL_ERR_MALFORMED, "sha256 only");
    manifest("manifest.layers", "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha256:" D64
             "\",\"size\":1},\"layers\":{}}", KAPSUL_ERR_MALFORMED, "layers");
    manifest("manifest.dup", "{\"schemaVersion\":2,\"schemaVersion\":2}", KAPSUL_ERR_MALFORMED, "not JSON");
    manifest("manifest.array", "[]", KAPSUL_ERR_MALFORMED, "not a JSON object");

    kpOciImageConfig c;
    kapsul_error err;
    const char *cfg = "{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{\"Entrypoint\":[\"/a.wasm\"]},"
                      "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:" D64 "\"]}}";
    bool ok = kpOciImageConfig_parse((const uint8_t *)cfg, strlen(cfg), &c, &err) == KAPSUL_OK &&
              eq(c.entrypoint0, "/a.wasm") && c.diff_ids.n == 1;
    check("config.good", ok);
    if (ok) kpOciImageConfig_free(&c);
    const char *nocfg = "{\"os\":\"linux\",\"architecture\":\"amd64\",\"rootfs\":{\"diff_ids\":[1]}}";
    check("config.diffids", kpOciImageConfig_parse((const uint8_t *)nocfg, strlen(nocfg), &c, &err) ==
                                KAPSUL_ERR_MALFORMED);

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
