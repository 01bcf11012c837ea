/*
 * manifest.c -- the JSON documents of OCI images, read with jansson: image manifests (OCI and
 * Docker v2 schema 2), image indexes (OCI index, Docker manifest list, a layout's index.json),
 * image configs and the CNCF wasm config. Each parser checks the fields kapsul uses and ignores
 * the rest, as the image spec asks of consumers ("MUST ignore unknown properties").
 */
#include <jansson.h>

#include "oci/oci.h"

static kapsul_status bad(kapsul_error *err, const char *what, const char *fmt, const char *arg) {
    kapsul_status st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "%s: ", what);
    if (err) {
        size_t n = strlen(err->message);
        snprintf(err->message + n, sizeof err->message - n, fmt, arg);
    }
    return st;
}

static json_t *load(const uint8_t *data, size_t len, const char *what, kapsul_error *err) {
    json_error_t je;
    if (len > KP_OCI_MANIFEST_MAX) {
        kpError_set(err, KAPSUL_ERR_LIMIT, 0, "%s: %zu bytes, more than %zu", what, len, KP_OCI_MANIFEST_MAX);
        return NULL;
    }
    /* JSON_REJECT_DUPLICATES: two "digest" keys must not mean different things to different readers. */
    json_t *root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "%s: not JSON (line %d: %s)", what, je.line, je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "%s: not a JSON object", what);
        return NULL;
    }
    return root;
}

/* An optional string member: *out NULL when absent; an error when present but not a string. */
static kapsul_status opt_string(json_t *obj, const char *key, char **out, const char *what,
                                kapsul_error *err) {
    *out = NULL;
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return KAPSUL_OK;
    if (!json_is_string(v)) return bad(err, what, "\"%s\" is not a string", key);
    if (!(*out = kp_strndup(json_string_value(v), json_string_length(v))))
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    if (strlen(*out) != json_string_length(v)) { /* an embedded NUL */
        kp_free(*out);
        *out = NULL;
        return bad(err, what, "\"%s\" holds a NUL character", key);
    }
    return KAPSUL_OK;
}

static void desc_free(kpOciDesc *d) {
    kp_free(d->media_type);
    kp_free(d->title);
    kp_free(d->ref_name);
    kp_free(d->os);
    kp_free(d->arch);
    memset(d, 0, sizeof *d);
}

/* A descriptor: mediaType, digest (sha256 only), size, and the annotations and platform kapsul reads. */
static kapsul_status parse_desc(json_t *o, kpOciDesc *d, const char *what, kapsul_error *err) {
    kapsul_status st;
    memset(d, 0, sizeof *d);
    if (!json_is_object(o)) return bad(err, what, "%s is not an object", "descriptor");
    if ((st = opt_string(o, "mediaType", &d->media_type, what, err))) goto fail;
    if (!d->media_type) {
        st = bad(err, what, "descriptor without %s", "\"mediaType\"");
        goto fail;
    }
    json_t *dg = json_object_get(o, "digest");
    if (!json_is_string(dg)) {
        st = bad(err, what, "descriptor without a string %s", "\"digest\"");
        goto fail;
    }
    if (!kpOci_isDigest(json_string_value(dg)) || json_string_length(dg) != 71) {
        st = bad(err, what, "unsupported or malformed digest '%.80s' (sha256 only)", json_string_value(dg));
        goto fail;
    }
    memcpy(d->digest, json_string_value(dg), 72);
    json_t *sz = json_object_get(o, "size");
    if (!json_is_integer(sz) || json_integer_value(sz) < 0) {
        st = bad(err, what, "descriptor %s has no valid \"size\"", d->digest);
        goto fail;
    }
    d->size = (uint64_t)json_integer_value(sz);
    json_t *ann = json_object_get(o, "annotations");
    if (ann && !json_is_null(ann)) {
        if (!json_is_object(ann)) {
            st = bad(err, what, "%s is not an object", "\"annotations\"");
            goto fail;
        }
        if ((st = opt_string(ann, KP_OCI_ANN_TITLE, &d->title, what, err))) goto fail;
        if ((st = opt_string(ann, KP_OCI_ANN_REF_NAME, &d->ref_name, what, err))) goto fail;
    }
    json_t *plat = json_object_get(o, "platform");
    if (plat && !json_is_null(plat)) {
        if (!json_is_object(plat)) {
            st = bad(err, what, "%s is not an object", "\"platform\"");
            goto fail;
        }
        if ((st = opt_string(plat, "os", &d->os, what, err))) goto fail;
        if ((st = opt_string(plat, "architecture", &d->arch, what, err))) goto fail;
    }
    return KAPSUL_OK;
fail:
    desc_free(d);
    return st;
}

static kapsul_status check_schema(json_t *root, const char *what, kapsul_error *err) {
    json_t *v = json_object_get(root, "schemaVersion");
    if (!json_is_integer(v) || json_integer_value(v) != 2)
        return bad(err, what, "%s is not 2", "\"schemaVersion\"");
    return KAPSUL_OK;
}

void kpOciManifest_free(kpOciManifest *m) {
    kp_free(m->media_type);
    kp_free(m->artifact_type);
    kp_free(m->variant);
    desc_free(&m->config);
    for (size_t i = 0; i < m->layers.n; i++) desc_free(&m->layers.v[i]);
    kpVec_free(&m->layers);
    memset(m, 0, sizeof *m);
}

kapsul_status kpOciManifest_parse(const uint8_t *json, size_t len, kpOciManifest *m, kapsul_error *err) {
    static const char what[] = "manifest";
    memset(m, 0, sizeof *m);
    json_t *root = load(json, len, what, err);
    if (!root) return err ? err->code : KAPSUL_ERR_MALFORMED;
    kapsul_status st;
    if ((st = check_schema(root, what, err))) goto fail;
    if ((st = opt_string(root, "mediaType", &m->media_type, what, err))) goto fail;
    if (m->media_type && strcmp(m->media_type, KP_OCI_MT_MANIFEST) != 0 &&
        strcmp(m->media_type, KP_OCI_MT_DOCKER_MANIFEST) != 0) {
        st = bad(err, what, "unsupported media type '%.100s'", m->media_type);
        goto fail;
    }
    if ((st = opt_string(root, "artifactType", &m->artifact_type, what, err))) goto fail;
    json_t *cfg = json_object_get(root, "config");
    if (!cfg) {
        st = bad(err, what, "no %s", "\"config\"");
        goto fail;
    }
    if ((st = parse_desc(cfg, &m->config, "manifest config", err))) goto fail;
    json_t *layers = json_object_get(root, "layers");
    if (!json_is_array(layers)) {
        st = bad(err, what, "%s is not an array", "\"layers\"");
        goto fail;
    }
    if (json_array_size(layers) > 4096) {
        st = bad(err, what, "%s: more than 4096 layers", "\"layers\"");
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(layers); i++) {
        if (kpVec_grow(&m->layers)) goto nomem;
        if ((st = parse_desc(json_array_get(layers, i), &m->layers.v[m->layers.n], "manifest layer", err)))
            goto fail;
        m->layers.n++;
    }
    json_t *ann = json_object_get(root, "annotations");
    if (ann && !json_is_null(ann)) {
        if (!json_is_object(ann)) {
            st = bad(err, what, "%s is not an object", "\"annotations\"");
            goto fail;
        }
        if ((st = opt_string(ann, KP_OCI_ANN_VARIANT, &m->variant, what, err))) goto fail;
    }
    json_decref(root);
    return KAPSUL_OK;
nomem:
    st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
fail:
    json_decref(root);
    kpOciManifest_free(m);
    return st;
}

void kpOciIndex_free(kpOciIndex *x) {
    for (size_t i = 0; i < x->manifests.n; i++) desc_free(&x->manifests.v[i]);
    kpVec_free(&x->manifests);
}

kapsul_status kpOciIndex_parse(const uint8_t *json, size_t len, kpOciIndex *x, kapsul_error *err) {
    static const char what[] = "image index";
    memset(x, 0, sizeof *x);
    json_t *root = load(json, len, what, err);
    if (!root) return err ? err->code : KAPSUL_ERR_MALFORMED;
    kapsul_status st;
    char *mt = NULL;
    if ((st = check_schema(root, what, err))) goto fail;
    if ((st = opt_string(root, "mediaType", &mt, what, err))) goto fail;
    if (mt && strcmp(mt, KP_OCI_MT_INDEX) != 0 && strcmp(mt, KP_OCI_MT_DOCKER_LIST) != 0) {
        st = bad(err, what, "unsupported media type '%.100s'", mt);
        goto fail;
    }
    json_t *ms = json_object_get(root, "manifests");
    if (!json_is_array(ms)) {
        st = bad(err, what, "%s is not an array", "\"manifests\"");
        goto fail;
    }
    if (json_array_size(ms) > 65536) {
        st = bad(err, what, "%s: more than 65536 entries", "\"manifests\"");
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(ms); i++) {
        if (kpVec_grow(&x->manifests)) {
            st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
            goto fail;
        }
        if ((st = parse_desc(json_array_get(ms, i), &x->manifests.v[x->manifests.n], what, err))) goto fail;
        x->manifests.n++;
    }
    kp_free(mt);
    json_decref(root);
    return KAPSUL_OK;
fail:
    kp_free(mt);
    json_decref(root);
    kpOciIndex_free(x);
    return st;
}

void kpOciImageConfig_free(kpOciImageConfig *c) {
    kp_free(c->os);
    kp_free(c->arch);
    kp_free(c->entrypoint0);
    for (size_t i = 0; i < c->diff_ids.n; i++) kp_free(c->diff_ids.v[i]);
    kpVec_free(&c->diff_ids);
    memset(c, 0, sizeof *c);
}

/* The first string of config[key], if it is a non-empty array of strings. */
static kapsul_status first_arg(json_t *cfg, const char *key, char **out, kapsul_error *err) {
    json_t *a = json_object_get(cfg, key);
    if (!a || json_is_null(a)) return KAPSUL_OK;
    if (!json_is_array(a)) return bad(err, "image config", "config.%s is not an array", key);
    if (json_array_size(a) == 0) return KAPSUL_OK;
    json_t *s = json_array_get(a, 0);
    if (!json_is_string(s)) return bad(err, "image config", "config.%s[0] is not a string", key);
    if (!(*out = kp_strndup(json_string_value(s), strlen(json_string_value(s)))))
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    return KAPSUL_OK;
}

kapsul_status kpOciImageConfig_parse(const uint8_t *json, size_t len, kpOciImageConfig *c,
                                     kapsul_error *err) {
    static const char what[] = "image config";
    memset(c, 0, sizeof *c);
    json_t *root = load(json, len, what, err);
    if (!root) return err ? err->code : KAPSUL_ERR_MALFORMED;
    kapsul_status st;
    if ((st = opt_string(root, "os", &c->os, what, err))) goto fail;
    if ((st = opt_string(root, "architecture", &c->arch, what, err))) goto fail;
    if (!c->os || !c->arch) {
        st = bad(err, what, "%s missing", "\"os\" or \"architecture\"");
        goto fail;
    }
    json_t *cfg = json_object_get(root, "config");
    if (cfg && !json_is_null(cfg)) {
        if (!json_is_object(cfg)) {
            st = bad(err, what, "%s is not an object", "\"config\"");
            goto fail;
        }
        if ((st = first_arg(cfg, "Entrypoint", &c->entrypoint0, err))) goto fail;
        if (!c->entrypoint0 && (st = first_arg(cfg, "Cmd", &c->entrypoint0, err))) goto fail;
    }
    json_t *rootfs = json_object_get(root, "rootfs");
    json_t *ids = json_is_object(rootfs) ? json_object_get(rootfs, "diff_ids") : NULL;
    if (!json_is_array(ids)) {
        st = bad(err, what, "%s is not an array", "\"rootfs.diff_ids\"");
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(ids); i++) {
        json_t *s = json_array_get(ids, i);
        if (!json_is_string(s) || !kpOci_isDigest(json_string_value(s))) {
            st = bad(err, what, "%s holds something other than a sha256 digest", "\"rootfs.diff_ids\"");
            goto fail;
        }
        if (kpVec_grow(&c->diff_ids) ||
            !(c->diff_ids.v[c->diff_ids.n] = kp_strndup(json_string_value(s), 71))) {
            st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
            goto fail;
        }
        c->diff_ids.n++;
    }
    json_decref(root);
    return KAPSUL_OK;
fail:
    json_decref(root);
    kpOciImageConfig_free(c);
    return st;
}

kapsul_status kpOciWasmConfig_check(const uint8_t *json, size_t len, const kpOciManifest *m,
                                    kapsul_error *err) {
    static const char what[] = "wasm config";
    json_t *root = load(json, len, what, err);
    if (!root) return err ? err->code : KAPSUL_ERR_MALFORMED;
    kapsul_status st = KAPSUL_OK;
    json_t *arch = json_object_get(root, "architecture");
    if (arch && (!json_is_string(arch) || strcmp(json_string_value(arch), "wasm") != 0)) {
        st = bad(err, what, "architecture is not %s", "\"wasm\"");
        goto done;
    }
    json_t *ids = json_object_get(root, "layerDigests");
    if (ids && !json_is_null(ids)) {
        if (!json_is_array(ids) || json_array_size(ids) != m->layers.n) {
            st = bad(err, what, "%s does not list the manifest's layers", "\"layerDigests\"");
            goto done;
        }
        for (size_t i = 0; i < m->layers.n; i++) {
            json_t *s = json_array_get(ids, i);
            if (!json_is_string(s) || strcmp(json_string_value(s), m->layers.v[i].digest) != 0) {
                st =
                    bad(err, what, "layerDigests[%s] is not the manifest's layer digest", i == 0 ? "0" : "n");
                goto done;
            }
        }
    }
done:
    json_decref(root);
    return st;
}

char *kpOci_mediaTypeOf(const uint8_t *json, size_t len) {
    json_t *root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, NULL);
    char *mt = NULL;
    json_t *v = json_is_object(root) ? json_object_get(root, "mediaType") : NULL;
    if (json_is_string(v)) mt = kp_strndup(json_string_value(v), strlen(json_string_value(v)));
    json_decref(root);
    return mt;
}
