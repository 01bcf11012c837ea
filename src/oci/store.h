/*
 * store.h -- what the two stores (registry.c, layout.c) implement for store.c, which adds the
 * checks both need: every blob against its descriptor, manifests against their digests, and
 * following an index to one manifest.
 */
#ifndef KP_OCI_STORE_H
#define KP_OCI_STORE_H

#include "oci/oci.h"

typedef struct kpOciStoreOps {
    kapsul_status (*has_blob)(kpOciStore *s, const char *digest, bool *has, kapsul_error *err);
    kapsul_status (*put_blob)(kpOciStore *s, const char *digest, const uint8_t *data, size_t len,
                              kapsul_error *err);
    /* The raw bytes, at most max of them (KAPSUL_ERR_MALFORMED past that). */
    kapsul_status (*get_blob)(kpOciStore *s, const char *digest, size_t max, kpBuf *out, kapsul_error *err);
    /* Store under reference (a tag, or the digest itself). */
    kapsul_status (*put_manifest)(kpOciStore *s, const char *reference, const char *digest,
                                  const char *media_type, const uint8_t *data, size_t len, kapsul_error *err);
    /* Fetch by reference (a tag, a digest, or NULL: the layout's only manifest). *media_type as
     * the store reports it (may be NULL); expected: the digest the store says it has, "" if none. */
    kapsul_status (*get_manifest)(kpOciStore *s, const char *reference, kpBuf *out, char **media_type,
                                  char expected[KP_OCI_DIGEST_LEN], kapsul_error *err);
    void (*close)(kpOciStore *s);
} kpOciStoreOps;

struct kpOciStore {
    const kpOciStoreOps *ops;
    kpOciRef ref; /* borrowed from the caller of kpOciStore_open */
    kpOciOptions opt;
};

kapsul_status kpOciRegistry_open(const kpOciRef *ref, const kpOciOptions *opt, kpOciStore **out,
                                 kapsul_error *err);
kapsul_status kpOciLayout_open(const kpOciRef *ref, const kpOciOptions *opt, kpOciStore **out,
                               kapsul_error *err);

#endif /* KP_OCI_STORE_H */
