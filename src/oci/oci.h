/*
 * oci.h -- the OCI client: image references, manifests and configs (JSON through jansson), two
 * stores that speak the same five verbs (a registry over the distribution API through libcurl,
 * registry.c; an OCI image layout on disk, layout.c), and the three image formats kapsul pushes
 * and pulls (image.c): the CNCF wasm artifact, the "compat" container image and a Spin-style
 * application.
 *
 * Contract:
 *   - Everything read from a registry, a layout or a file is untrusted: parsers check every
 *     field they use and fail with KAPSUL_ERR_MALFORMED and a message naming it; every blob is
 *     checked against the digest and size of the descriptor it was fetched for before anyone
 *     sees it (KAPSUL_ERR_MALFORMED "digest mismatch ..." otherwise).
 *   - Network and file failures are KAPSUL_ERR_IO with the server's status or the OS error in
 *     the message; an unknown reference or blob is KAPSUL_ERR_NOT_FOUND.
 *   - Blobs are held in memory, at most KP_OCI_BLOB_MAX bytes each, manifests and configs at
 *     most KP_OCI_MANIFEST_MAX (KAPSUL_ERR_LIMIT past those).
 *   - Only sha256 digests are produced and accepted.
 * The layer uses the runtime not at all and the OS through os/os.h (curl and libarchive do their
 * own I/O on sockets and memory).
 */
#ifndef KP_OCI_H
#define KP_OCI_H

#include "base/base.h"

#define KP_OCI_BLOB_MAX ((size_t)1 << 30)
#define KP_OCI_MANIFEST_MAX ((size_t)4 << 20)

/* Media types (docs/RATIONALE.md, "OCI formats"). */
#define KP_OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define KP_OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define KP_OCI_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define KP_OCI_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define KP_OCI_MT_IMAGE_CONFIG "application/vnd.oci.image.config.v1+json"
#define KP_OCI_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define KP_OCI_MT_LAYER_TGZ "application/vnd.oci.image.layer.v1.tar+gzip"
#define KP_OCI_MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define KP_OCI_MT_WASM_CONFIG "application/vnd.wasm.config.v0+json"
#define KP_OCI_MT_WASM_LAYER "application/wasm"
#define KP_OCI_MT_SPIN_CONFIG "application/vnd.fermyon.spin.application.v1+config"
#define KP_OCI_MT_SPIN_WASM "application/vnd.wasm.content.layer.v1+wasm"
#define KP_OCI_MT_SPIN_DATA "application/vnd.wasm.content.layer.v1+data"
#define KP_OCI_ANN_TITLE "org.opencontainers.image.title"
#define KP_OCI_ANN_REF_NAME "org.opencontainers.image.ref.name"
#define KP_OCI_ANN_VARIANT "module.wasm.image/variant"

/* "sha256:" + 64 lowercase hex digits + NUL */
#define KP_OCI_DIGEST_LEN 72

/* ---- References (ref.c) ---------------------------------------------------------------------- */

typedef enum kpOciRefKind {
    KP_OCI_REF_REGISTRY, /* [HOST[:PORT]/]REPO[:TAG][@sha256:HEX] */
    KP_OCI_REF_LAYOUT    /* oci:DIR[:TAG][@sha256:HEX], as skopeo names an OCI image layout */
} kpOciRefKind;

typedef struct kpOciRef {
    kpOciRefKind kind;
    char *host;   /* registry: where to connect, "HOST[:PORT]" (docker.io -> registry-1.docker.io) */
    char *repo;   /* registry: "library/alpine" for "alpine" on Docker Hub */
    char *dir;    /* layout: the directory */
    char *tag;    /* the tag; "latest" for a registry reference without tag or digest; NULL else */
    char *digest; /* "sha256:..." if the reference pins one, else NULL */
} kpOciRef;

/* Parse a reference; KAPSUL_ERR_MALFORMED (naming the bad part) if it is not one. */
kapsul_status kpOciRef_parse(const char *text, kpOciRef *out, kapsul_error *err);
void kpOciRef_free(kpOciRef *r);
/* True if text can only be meant as a reference (oci:..., or HOST/... with a '.' or ':' in HOST,
 * or localhost/...), so a CLI taking a file or a reference tries the file first only otherwise. */
bool kpOciRef_looksLike(const char *text);
/* True if s is "sha256:" and 64 lowercase hex digits. */
bool kpOci_isDigest(const char *s);
/* "sha256:HEX" of data into out. */
void kpOci_digest(const uint8_t *data, size_t len, char out[KP_OCI_DIGEST_LEN]);

/* ---- Manifests, indexes, configs (manifest.c) ------------------------------------------------ */

typedef struct kpOciDesc {
    char *media_type;
    char digest[KP_OCI_DIGEST_LEN];
    uint64_t size;
    char *title;     /* annotation org.opencontainers.image.title, or NULL */
    char *ref_name;  /* annotation org.opencontainers.image.ref.name (index entries), or NULL */
    char *os, *arch; /* platform (index entries), or NULL */
} kpOciDesc;

typedef struct kpOciManifest {
    char *media_type; /* the document's own mediaType field, or NULL if absent */
    char *artifact_type;
    kpOciDesc config;
    KP_VEC(kpOciDesc) layers;
    char *variant; /* annotation module.wasm.image/variant, or NULL */
} kpOciManifest;

typedef struct kpOciIndex {
    KP_VEC(kpOciDesc) manifests;
} kpOciIndex;

/* An image config (application/vnd.oci.image.config.v1+json): what the compat format needs. */
typedef struct kpOciImageConfig {
    char *os, *arch;
    char *entrypoint0; /* config.Entrypoint[0], or config.Cmd[0], or NULL */
    KP_VEC(char *) diff_ids;
} kpOciImageConfig;

/* Parse an image manifest (OCI or Docker v2 schema 2). */
kapsul_status kpOciManifest_parse(const uint8_t *json, size_t len, kpOciManifest *out, kapsul_error *err);
void kpOciManifest_free(kpOciManifest *m);
/* Parse an image index (OCI index or Docker manifest list; an OCI layout's index.json). */
kapsul_status kpOciIndex_parse(const uint8_t *json, size_t len, kpOciIndex *out, kapsul_error *err);
void kpOciIndex_free(kpOciIndex *x);
kapsul_status kpOciImageConfig_parse(const uint8_t *json, size_t len, kpOciImageConfig *out,
                                     kapsul_error *err);
void kpOciImageConfig_free(kpOciImageConfig *c);
/* Check a wasm artifact config (application/vnd.wasm.config.v0+json): architecture "wasm",
 * layerDigests, when present, matching the manifest's layers. */
kapsul_status kpOciWasmConfig_check(const uint8_t *json, size_t len, const kpOciManifest *m,
                                    kapsul_error *err);
/* The media type a manifest document declares: its mediaType field, else NULL (caller frees). */
char *kpOci_mediaTypeOf(const uint8_t *json, size_t len);

/* ---- Stores: a registry or a layout (store.c, registry.c, layout.c) -------------------------- */

typedef struct kpOciOptions {
    bool plain_http;           /* http:// instead of https:// (a loopback registry) */
    const char *docker_config; /* config.json with auths; NULL: $DOCKER_CONFIG or ~/.docker */
    bool verbose;
} kpOciOptions;

typedef struct kpOciStore kpOciStore;

/* Open the store ref names (a layout directory is created on the first push). */
kapsul_status kpOciStore_open(const kpOciRef *ref, const kpOciOptions *opt, kpOciStore **out,
                              kapsul_error *err);
void kpOciStore_close(kpOciStore *s);
/* Blob by digest: *has true if the store holds it. */
kapsul_status kpOciStore_hasBlob(kpOciStore *s, const char *digest, bool *has, kapsul_error *err);
kapsul_status kpOciStore_putBlob(kpOciStore *s, const char *digest, const uint8_t *data, size_t len,
                                 kapsul_error *err);
/* Fetch the blob d names into out, checked against d's size and digest. */
kapsul_status kpOciStore_getBlob(kpOciStore *s, const kpOciDesc *d, kpBuf *out, kapsul_error *err);
/* Store a manifest under ref's tag (or only by digest when the reference has none). */
kapsul_status kpOciStore_putManifest(kpOciStore *s, const char *media_type, const uint8_t *data, size_t len,
                                     kapsul_error *err);
/* Store a manifest only by its digest (one an index will name). */
kapsul_status kpOciStore_putChildManifest(kpOciStore *s, const char *media_type, const uint8_t *data,
                                          size_t len, kapsul_error *err);
/* Fetch the manifest ref names (following an index to the entry for platform os/arch, or its only
 * entry), its bytes into out, its media type and digest (checked if the reference pins one). */
kapsul_status kpOciStore_getManifest(kpOciStore *s, const char *os, const char *arch, kpBuf *out,
                                     char **media_type, char digest[KP_OCI_DIGEST_LEN], kapsul_error *err);

/* ---- Images (image.c, tar.c) ----------------------------------------------------------------- */

typedef struct kpOciLayer {
    char *media_type;
    char *title; /* annotation org.opencontainers.image.title, or NULL */
    kpBuf data;
} kpOciLayer;

/* An image to push, or one pulled and verified. */
typedef struct kpOciImage {
    char *config_media_type;
    kpBuf config;
    KP_VEC(kpOciLayer) layers;
    char *artifact_type; /* manifest artifactType, or NULL */
    bool compat;         /* annotation module.wasm.image/variant=compat */
} kpOciImage;

void kpOciImage_free(kpOciImage *img);
/* Append a layer (copies data). */
kapsul_status kpOciImage_addLayer(kpOciImage *img, const char *media_type, const char *title,
                                  const uint8_t *data, size_t len, kapsul_error *err);

typedef enum kpOciFormat {
    KP_OCI_WASM,
    KP_OCI_COMPAT,
    KP_OCI_SPIN
} kpOciFormat;

/* The CNCF wasm artifact of one module named name (e.g. "hello.wasm"). */
kapsul_status kpOciImage_wasm(const uint8_t *wasm, size_t len, const char *name, kpOciImage *out,
                              kapsul_error *err);
/* The compat image: one tar+gzip layer holding /NAME, config.Entrypoint ["/NAME"], platform os/arch. */
kapsul_status kpOciImage_compat(const uint8_t *wasm, size_t len, const char *name, const char *os,
                                const char *arch, kpOciImage *out, kapsul_error *err);
/* A Spin application's config blob: {"name","version","created","manifest":"spin.toml"}; the caller
 * adds the spin.toml and every module and file as layers titled by their path in the application. */
kapsul_status kpOciImage_spin(const char *name, const char *version, kpOciImage *out, kapsul_error *err);
/* Which format a pulled image is; KAPSUL_ERR_MALFORMED for an unknown config media type. */
kapsul_status kpOciImage_format(const kpOciImage *img, kpOciFormat *out, kapsul_error *err);

/* Push: every layer and the config (skipping those the store has), then the manifest; its
 * digest into digest. */
kapsul_status kpOci_push(kpOciStore *s, const kpOciImage *img, char digest[KP_OCI_DIGEST_LEN],
                         kapsul_error *err);
/* Push n images, one per platform os[i]/arch[i], each by digest, and an image index naming them
 * under the reference's tag; the index's digest into digest. */
kapsul_status kpOci_pushIndex(kpOciStore *s, const kpOciImage *imgs, const char *const *os,
                              const char *const *arch, size_t n, char digest[KP_OCI_DIGEST_LEN],
                              kapsul_error *err);
/* Pull the manifest ref names and every blob, verified; digest: the manifest's. os/arch select
 * from an index (NULL: "linux" and this host's architecture). */
kapsul_status kpOci_pull(kpOciStore *s, const char *os, const char *arch, kpOciImage *out,
                         char digest[KP_OCI_DIGEST_LEN], kapsul_error *err);

/* The module of a pulled wasm or compat image: its bytes (borrowed from img or copied into
 * owned) and its file name. */
kapsul_status kpOciImage_module(const kpOciImage *img, kpBuf *wasm, char **name, kapsul_error *err);
/* Write a pulled image into dir (created; must not exist or be empty): a module image as
 * DIR/NAME.wasm, a Spin application as its files. Everything is written into a temporary
 * directory beside dir first and renamed into place at the end, so a failure leaves nothing.
 * *written: the path of the module or of the application directory (caller frees). */
kapsul_status kpOciImage_write(const kpOciImage *img, const char *dir, char **written, kapsul_error *err);

/* tar.c: a gzip-compressed tar holding one regular file NAME (mode 0755) into out, and the
 * digest of the uncompressed tar (the diff_id) into diff_id. */
kapsul_status kpOciTar_one(const char *name, const uint8_t *data, size_t len, kpBuf *out,
                           char diff_id[KP_OCI_DIGEST_LEN], kapsul_error *err);
/* The regular file path (leading "/" and "./" ignored) inside a tar+gzip layer; the
 * uncompressed tar's digest into diff_id. KAPSUL_ERR_MALFORMED for a truncated or corrupt
 * archive, KAPSUL_ERR_NOT_FOUND if it holds no such file. */
kapsul_status kpOciTar_find(const uint8_t *tgz, size_t len, const char *path, kpBuf *out,
                            char diff_id[KP_OCI_DIGEST_LEN], kapsul_error *err);

/* Check that rel is a safe relative path for a pulled file: no absolute path, no "..", no empty
 * or "." component, no backslash or control character. NULL if fine, else a static reason. */
const char *kpOci_checkRelPath(const char *rel);

#endif /* KP_OCI_H */
