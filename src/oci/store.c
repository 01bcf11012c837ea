/*
 * store.c -- the checks every store gets: a blob is handed out only after its size and sha256
 * match the descriptor it was asked for; a manifest only after its digest matches the one the
 * reference pins or the store claims; an index is followed to one manifest (the requested
 * platform's, or its only one).
 */
#include "oci/store.h"

kapsul_status kpOciStore_open(const kpOciRef *ref, const kpOciOptions *opt, kpOciStore **out,
                              kapsul_error *err) {
    kpOciOptions none = { 0 };
    if (!opt) opt = &none;
    if (ref->kind == KP_OCI_REF_LAYOUT) return kpOciLayout_open(ref, opt, out, err);
    return kpOciRegistry_open(ref, opt, out, err);
}

void kpOciStore_close(kpOciStore *s) {
    if (s) s->ops->close(s);
}

kapsul_status kpOciStore_hasBlob(kpOciStore *s, const char *digest, bool *has, kapsul_error *err) {
    return s->ops->has_blob(s, digest, has, err);
}

kapsul_status kpOciStore_putBlob(kpOciStore *s, const char *digest, const uint8_t *data, size_t len,
                                 kapsul_error *err) {
    return s->ops->put_blob(s, digest, data, len, err);
}

kapsul_status kpOciStore_getBlob(kpOciStore *s, const kpOciDesc *d, kpBuf *out, kapsul_error *err) {
    out->len = 0;
    if (d->size > KP_OCI_BLOB_MAX)
        return kpError_set(err, KAPSUL_ERR_LIMIT, 0, "blob %s: %llu bytes, more than the limit of %zu",
                           d->digest, (unsigned long long)d->size, KP_OCI_BLOB_MAX);
    /* One byte more than the descriptor says, so a longer blob is seen as such. */
    kapsul_status st = s->ops->get_blob(s, d->digest, (size_t)d->size + 1, out, err);
    if (st) return st;
    if (out->len != d->size) {
        st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0,
                         "blob %s: size mismatch: %s%zu bytes, the manifest says %llu", d->digest,
                         out->len > d->size ? "more than " : "",
                         out->len > d->size ? (size_t)d->size : out->len, (unsigned long long)d->size);
        goto fail;
    }
    char got[KP_OCI_DIGEST_LEN];
    kpOci_digest(out->data, out->len, got);
    if (strcmp(got, d->digest) != 0) {
        st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "blob %s: digest mismatch: the content hashes to %s",
                         d->digest, got);
        goto fail;
    }
    return KAPSUL_OK;
fail:
    kpBuf_free(out);
    return st;
}

kapsul_status kpOciStore_putManifest(kpOciStore *s, const char *media_type, const uint8_t *data, size_t len,
                                     kapsul_error *err) {
    char digest[KP_OCI_DIGEST_LEN];
    kpOci_digest(data, len, digest);
    const char *reference = s->ref.tag ? s->ref.tag : digest;
    return s->ops->put_manifest(s, reference, digest, media_type, data, len, err);
}

kapsul_status kpOciStore_putChildManifest(kpOciStore *s, const char *media_type, const uint8_t *data,
                                          size_t len, kapsul_error *err) {
    char digest[KP_OCI_DIGEST_LEN];
    kpOci_digest(data, len, digest);
    /* In a layout a manifest an index names is just a blob; index.json lists only what is tagged. */
    if (s->ref.kind == KP_OCI_REF_LAYOUT) return s->ops->put_blob(s, digest, data, len, err);
    return s->ops->put_manifest(s, digest, digest, media_type, data, len, err);
}

static bool is_index_type(const char *mt) {
    return mt && (strcmp(mt, KP_OCI_MT_INDEX) == 0 || strcmp(mt, KP_OCI_MT_DOCKER_LIST) == 0);
}

/* One fetch by reference, checked against the digest the store or the caller expects. */
static kapsul_status fetch_checked(kpOciStore *s, const char *reference, const char *want, kpBuf *out,
                                   char **media_type, char digest[KP_OCI_DIGEST_LEN], kapsul_error *err) {
    char expected[KP_OCI_DIGEST_LEN] = "";
    *media_type = NULL;
    kapsul_status st = s->ops->get_manifest(s, reference, out, media_type, expected, err);
    if (st) return st;
    kpOci_digest(out->data, out->len, digest);
    const char *claim = want ? want : (expected[0] ? expected : NULL);
    if (claim && strcmp(claim, digest) != 0) {
        st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0,
                         "manifest %s: digest mismatch: the content hashes to %s", claim, digest);
        goto fail;
    }
    /* The document's own mediaType wins over a server's Content-Type when both are there. */
    char *doc = kpOci_mediaTypeOf(out->data, out->len);
    if (doc) {
        kp_free(*media_type);
        *media_type = doc;
    }
    return KAPSUL_OK;
fail:
    kpBuf_free(out);
    kp_free(*media_type);
    *media_type = NULL;
    return st;
}

kapsul_status kpOciStore_getManifest(kpOciStore *s, const char *os, const char *arch, kpBuf *out,
                                     char **media_type, char digest[KP_OCI_DIGEST_LEN], kapsul_error *err) {
    const char *reference = s->ref.digest ? s->ref.digest : s->ref.tag;
    kapsul_status st = fetch_checked(s, reference, s->ref.digest, out, media_type, digest, err);
    if (st || !is_index_type(*media_type)) return st;
    kpOciIndex x;
    st = kpOciIndex_parse(out->data, out->len, &x, err);
    kpBuf_free(out);
    kp_free(*media_type);
    *media_type = NULL;
    if (st) return st;
    const kpOciDesc *pick = NULL;
    for (size_t i = 0; i < x.manifests.n && !pick; i++) {
        const kpOciDesc *d = &x.manifests.v[i];
        if (d->os && d->arch && os && arch && strcmp(d->os, os) == 0 && strcmp(d->arch, arch) == 0) pick = d;
    }
    for (size_t i = 0; i < x.manifests.n && !pick; i++) /* a wasm artifact's own platform */
        if (x.manifests.v[i].arch && strcmp(x.manifests.v[i].arch, "wasm") == 0) pick = &x.manifests.v[i];
    if (!pick && x.manifests.n == 1) pick = &x.manifests.v[0];
    if (!pick) {
        st = kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0, "the image index has no manifest for %s/%s (of %zu)",
                         os ? os : "?", arch ? arch : "?", x.manifests.n);
    } else if (pick->size > KP_OCI_MANIFEST_MAX) {
        st = kpError_set(err, KAPSUL_ERR_LIMIT, 0, "manifest %s: too large", pick->digest);
    } else {
        char want[KP_OCI_DIGEST_LEN];
        memcpy(want, pick->digest, sizeof want);
        st = fetch_checked(s, want, want, out, media_type, digest, err);
        if (!st && out->len != pick->size) {
            st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "manifest %s: size mismatch", want);
            kpBuf_free(out);
        }
        if (!st && is_index_type(*media_type))
            st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "manifest %s: an index inside an index", want);
    }
    kpOciIndex_free(&x);
    return st;
}
