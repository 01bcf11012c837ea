/*
 * layout.c -- a store in an OCI image layout directory (image-spec, image-layout.md):
 *   DIR/oci-layout           {"imageLayoutVersion": "1.0.0"}
 *   DIR/index.json           an image index; each tagged manifest carries the annotation
 *                            org.opencontainers.image.ref.name = TAG (what skopeo's oci:DIR:TAG reads)
 *   DIR/blobs/sha256/HEX     every blob and manifest, named by its digest
 * Every file is written beside its final name and renamed into place, blobs before the index
 * that names them, so a reader (or a crash) never sees an index entry without its blobs.
 */
#include <jansson.h>
#include <stdlib.h>

#include "oci/store.h"
#include "os/os.h"

typedef struct layout {
    kpOciStore base;
} layout;

static kapsul_status os_error(kapsul_error *err, kpOs_err oe, const char *what, const char *path) {
    return kpError_set(err, oe == KP_OS_ENOENT ? KAPSUL_ERR_NOT_FOUND : KAPSUL_ERR_IO, 0, "%s %s: %s", what,
                       path, kpOs_strerror(oe));
}

static void blob_path(const layout *l, const char *digest, char *out, size_t cap) {
    snprintf(out, cap, "%s/blobs/sha256/%s", l->base.ref.dir, digest + 7);
}

static kapsul_status lay_has_blob(kpOciStore *s, const char *digest, bool *has, kapsul_error *err) {
    (void)err;
    char path[KP_OS_PATH_MAX];
    blob_path((layout *)s, digest, path, sizeof path);
    kpOs_stat st;
    *has = kpOs_statPath(path, &st) == KP_OS_OK && st.type == KP_OS_FT_FILE;
    return KAPSUL_OK;
}

static kapsul_status ensure_layout(layout *l, kapsul_error *err) {
    char path[KP_OS_PATH_MAX];
    snprintf(path, sizeof path, "%s/blobs/sha256", l->base.ref.dir);
    kpOs_err oe = kpOs_mkdirs(path);
    if (oe) return os_error(err, oe, "cannot create", path);
    snprintf(path, sizeof path, "%s/oci-layout", l->base.ref.dir);
    kpOs_stat st;
    if (kpOs_statPath(path, &st) == KP_OS_OK) return KAPSUL_OK;
    static const char text[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
    if ((oe = kpOs_writePathAtomic(path, text, sizeof text - 1)))
        return os_error(err, oe, "cannot write", path);
    return KAPSUL_OK;
}

static kapsul_status lay_put_blob(kpOciStore *s, const char *digest, const uint8_t *data, size_t len,
                                  kapsul_error *err) {
    layout *l = (layout *)s;
    kapsul_status st = ensure_layout(l, err);
    if (st) return st;
    char path[KP_OS_PATH_MAX];
    blob_path(l, digest, path, sizeof path);
    kpOs_err oe = kpOs_writePathAtomic(path, data, len);
    return oe ? os_error(err, oe, "cannot write", path) : KAPSUL_OK;
}

static kapsul_status lay_get_blob(kpOciStore *s, const char *digest, size_t max, kpBuf *out,
                                  kapsul_error *err) {
    char path[KP_OS_PATH_MAX];
    blob_path((layout *)s, digest, path, sizeof path);
    void *data = NULL;
    size_t len = 0;
    kpOs_err oe = kpOs_readPath(path, max, &data, &len);
    if (oe == KP_OS_EFBIG)
        return kpError_set(err, KAPSUL_ERR_MALFORMED, 0,
                           "blob %s: size mismatch: longer than the manifest says", digest);
    if (oe) return os_error(err, oe, "blob", path);
    /* Hand over as a kpBuf (allocated with malloc: kp_free is free underneath). */
    out->data = data;
    out->len = out->cap = len;
    return KAPSUL_OK;
}

/* index.json, or an empty index when there is none yet. */
static json_t *read_index(layout *l, bool must_exist, kapsul_error *err) {
    char path[KP_OS_PATH_MAX];
    snprintf(path, sizeof path, "%s/index.json", l->base.ref.dir);
    void *data = NULL;
    size_t len = 0;
    kpOs_err oe = kpOs_readPath(path, KP_OCI_MANIFEST_MAX, &data, &len);
    if (oe == KP_OS_ENOENT && !must_exist)
        return json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType", KP_OCI_MT_INDEX, "manifests");
    if (oe) {
        if (oe == KP_OS_ENOENT)
            kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0, "%s: not an OCI image layout (no index.json)",
                        l->base.ref.dir);
        else os_error(err, oe, "cannot read", path);
        return NULL;
    }
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    free(data);
    if (!json_is_object(root) || !json_is_array(json_object_get(root, "manifests"))) {
        json_decref(root);
        kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "%s: malformed index.json", l->base.ref.dir);
        return NULL;
    }
    return root;
}

static kapsul_status lay_put_manifest(kpOciStore *s, const char *reference, const char *digest,
                                      const char *media_type, const uint8_t *data, size_t len,
                                      kapsul_error *err) {
    layout *l = (layout *)s;
    kapsul_status st = lay_put_blob(s, digest, data, len, err);
    if (st) return st;
    json_t *root = read_index(l, false, err);
    if (!root) return err ? err->code : KAPSUL_ERR_IO;
    bool tagged = strcmp(reference, digest) != 0;
    json_t *ms = json_object_get(root, "manifests");
    /* The tag moves: drop the entry that had it (and an untagged entry of the same manifest). */
    for (size_t i = json_array_size(ms); i-- > 0;) {
        json_t *e = json_array_get(ms, i);
        json_t *ann = json_object_get(e, "annotations");
        json_t *name = json_is_object(ann) ? json_object_get(ann, KP_OCI_ANN_REF_NAME) : NULL;
        json_t *dg = json_object_get(e, "digest");
        bool same_tag = tagged && json_is_string(name) && strcmp(json_string_value(name), reference) == 0;
        bool same_untagged = !name && json_is_string(dg) && strcmp(json_string_value(dg), digest) == 0;
        if (same_tag || same_untagged) json_array_remove(ms, i);
    }
    json_t *e =
        json_pack("{s:s,s:s,s:I}", "mediaType", media_type, "digest", digest, "size", (json_int_t)len);
    if (e && tagged)
        json_object_set_new(e, "annotations", json_pack("{s:s}", KP_OCI_ANN_REF_NAME, reference));
    char *text = NULL;
    if (!e || json_array_append_new(ms, e) || !(text = json_dumps(root, JSON_COMPACT))) {
        st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    } else {
        char path[KP_OS_PATH_MAX];
        snprintf(path, sizeof path, "%s/index.json", l->base.ref.dir);
        kpOs_err oe = kpOs_writePathAtomic(path, text, strlen(text));
        if (oe) st = os_error(err, oe, "cannot write", path);
    }
    free(text);
    json_decref(root);
    return st;
}

static kapsul_status lay_get_manifest(kpOciStore *s, const char *reference, kpBuf *out, char **media_type,
                                      char expected[KP_OCI_DIGEST_LEN], kapsul_error *err) {
    layout *l = (layout *)s;
    json_t *root = read_index(l, true, err);
    if (!root) return err ? err->code : KAPSUL_ERR_IO;
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    kpOciIndex x;
    kapsul_status st = kpOciIndex_parse((const uint8_t *)text, strlen(text), &x, err);
    free(text);
    if (st) return st;
    const kpOciDesc *pick = NULL;
    bool by_digest = reference && kpOci_isDigest(reference);
    for (size_t i = 0; i < x.manifests.n && !pick; i++) {
        const kpOciDesc *d = &x.manifests.v[i];
        if (by_digest ? strcmp(d->digest, reference) == 0
                      : (reference && d->ref_name && strcmp(d->ref_name, reference) == 0))
            pick = d;
    }
    if (!reference && x.manifests.n == 1) pick = &x.manifests.v[0];
    kpOciDesc byd = { 0 };
    if (!pick && by_digest) { /* a manifest an index inside the layout names, not index.json */
        memcpy(byd.digest, reference, KP_OCI_DIGEST_LEN);
        byd.size = KP_OCI_MANIFEST_MAX;
        pick = &byd;
    }
    if (!pick) {
        st = reference ? kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0, "%s: no image tagged '%s'",
                                     l->base.ref.dir, reference)
                       : kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0, "%s: %zu images; name one as oci:%s:TAG",
                                     l->base.ref.dir, x.manifests.n, l->base.ref.dir);
    } else if (pick->size > KP_OCI_MANIFEST_MAX) {
        st = kpError_set(err, KAPSUL_ERR_LIMIT, 0, "manifest %s: too large", pick->digest);
    } else {
        st = lay_get_blob(s, pick->digest, (size_t)pick->size + 1, out, err);
        if (!st && pick != &byd && out->len != pick->size) {
            st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0,
                             "manifest %s: size mismatch: %zu bytes, index.json says %llu", pick->digest,
                             out->len, (unsigned long long)pick->size);
            kpBuf_free(out);
        }
        if (!st) {
            memcpy(expected, pick->digest, KP_OCI_DIGEST_LEN);
            if (pick->media_type && !(*media_type = kp_strndup(pick->media_type, strlen(pick->media_type))))
                st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        }
    }
    kpOciIndex_free(&x);
    return st;
}

static void lay_close(kpOciStore *s) { kp_free(s); }

static const kpOciStoreOps layout_ops = { lay_has_blob,     lay_put_blob,     lay_get_blob,
                                          lay_put_manifest, lay_get_manifest, lay_close };

kapsul_status kpOciLayout_open(const kpOciRef *ref, const kpOciOptions *opt, kpOciStore **out,
                               kapsul_error *err) {
    layout *l = kp_calloc(1, sizeof *l);
    if (!l) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    l->base.ops = &layout_ops;
    l->base.ref = *ref;
    l->base.opt = *opt;
    *out = &l->base;
    return KAPSUL_OK;
}
