/*
 * image.c -- the three image formats (docs/RATIONALE.md, "OCI formats"), push and pull over a
 * store, and writing a pulled image out:
 *   wasm    the CNCF TAG Runtime wasm artifact: config application/vnd.wasm.config.v0+json
 *           (created, architecture "wasm", os "wasip1", layerDigests), one application/wasm layer
 *   compat  a container image: image config with Entrypoint ["/NAME.wasm"] and the host's
 *           platform, one tar+gzip layer holding /NAME.wasm, manifest annotation
 *           module.wasm.image/variant=compat (what crun and runwasi look for)
 *   spin    config application/vnd.fermyon.spin.application.v1+config, then spin.toml and each
 *           module and file as a layer titled with its path in the application
 */
#include <jansson.h>
#include <stdlib.h>
#include <time.h>

#include "oci/store.h"
#include "os/os.h"

static kapsul_status nomem(kapsul_error *err) {
    return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
}

void kpOciImage_free(kpOciImage *img) {
    kp_free(img->config_media_type);
    kpBuf_free(&img->config);
    for (size_t i = 0; i < img->layers.n; i++) {
        kp_free(img->layers.v[i].media_type);
        kp_free(img->layers.v[i].title);
        kpBuf_free(&img->layers.v[i].data);
    }
    kpVec_free(&img->layers);
    kp_free(img->artifact_type);
    memset(img, 0, sizeof *img);
}

static char *dup(const char *s) { return s ? kp_strndup(s, strlen(s)) : NULL; }

kapsul_status kpOciImage_addLayer(kpOciImage *img, const char *media_type, const char *title,
                                  const uint8_t *data, size_t len, kapsul_error *err) {
    if (kpVec_grow(&img->layers)) return nomem(err);
    kpOciLayer *l = &img->layers.v[img->layers.n];
    memset(l, 0, sizeof *l);
    if (!(l->media_type = dup(media_type)) || (title && !(l->title = dup(title))) ||
        kpBuf_push(&l->data, data, len)) {
        kp_free(l->media_type);
        kp_free(l->title);
        kpBuf_free(&l->data);
        return nomem(err);
    }
    img->layers.n++;
    return KAPSUL_OK;
}

/* RFC 3339 UTC: $SOURCE_DATE_EPOCH when set (reproducible builds' convention), else now. */
static void created_now(char out[32]) {
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    time_t t;
    uint64_t ns = 0;
    if (sde && *sde && strspn(sde, "0123456789") == strlen(sde) && strlen(sde) < 12)
        t = (time_t)strtoll(sde, NULL, 10);
    else t = kpOs_clockNow(KP_OS_CLOCK_REALTIME, &ns) ? 0 : (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Dump a jansson object as the image's config blob. */
static kapsul_status set_config(kpOciImage *img, const char *media_type, json_t *cfg, kapsul_error *err) {
    char *text = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
    json_decref(cfg);
    kapsul_status st = KAPSUL_OK;
    if (!text || !(img->config_media_type = dup(media_type)) || kpBuf_push(&img->config, text, strlen(text)))
        st = nomem(err);
    free(text);
    return st;
}

kapsul_status kpOciImage_wasm(const uint8_t *wasm, size_t len, const char *name, kpOciImage *img,
                              kapsul_error *err) {
    memset(img, 0, sizeof *img);
    kapsul_status st = kpOciImage_addLayer(img, KP_OCI_MT_WASM_LAYER, name, wasm, len, err);
    if (st) return st;
    char created[32], digest[KP_OCI_DIGEST_LEN];
    created_now(created);
    kpOci_digest(wasm, len, digest);
    json_t *cfg = json_pack("{s:s,s:s,s:s,s:[s]}", "created", created, "architecture", "wasm", "os", "wasip1",
                            "layerDigests", digest);
    if ((st = set_config(img, KP_OCI_MT_WASM_CONFIG, cfg, err))) kpOciImage_free(img);
    return st;
}

kapsul_status kpOciImage_compat(const uint8_t *wasm, size_t len, const char *name, const char *os,
                                const char *arch, kpOciImage *img, kapsul_error *err) {
    memset(img, 0, sizeof *img);
    img->compat = true;
    kpBuf tgz = { 0 };
    char diff_id[KP_OCI_DIGEST_LEN], created[32], entry[300];
    if (strlen(name) > 255 || strchr(name, '/'))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "compat image: bad module name '%s'", name);
    kapsul_status st = kpOciTar_one(name, wasm, len, &tgz, diff_id, err);
    if (st) return st;
    st = kpOciImage_addLayer(img, KP_OCI_MT_LAYER_TGZ, NULL, tgz.data, tgz.len, err);
    kpBuf_free(&tgz);
    if (st) return st;
    created_now(created);
    snprintf(entry, sizeof entry, "/%s", name);
    json_t *cfg = json_pack("{s:s,s:s,s:s,s:{s:[s],s:s},s:{s:s,s:[s]},s:[{s:s,s:s}]}", "created", created,
                            "architecture", arch, "os", os, "config", "Entrypoint", entry, "WorkingDir", "/",
                            "rootfs", "type", "layers", "diff_ids", diff_id, "history", "created", created,
                            "created_by", "kapsul oci push --format compat");
    if ((st = set_config(img, KP_OCI_MT_IMAGE_CONFIG, cfg, err))) kpOciImage_free(img);
    return st;
}

kapsul_status kpOciImage_spin(const char *name, const char *version, kpOciImage *img, kapsul_error *err) {
    memset(img, 0, sizeof *img);
    char created[32];
    created_now(created);
    json_t *cfg = json_pack("{s:s,s:s,s:s,s:s}", "name", name, "version", version ? version : "", "created",
                            created, "manifest", "spin.toml");
    return set_config(img, KP_OCI_MT_SPIN_CONFIG, cfg, err);
}

kapsul_status kpOciImage_format(const kpOciImage *img, kpOciFormat *out, kapsul_error *err) {
    const char *mt = img->config_media_type;
    if (strcmp(mt, KP_OCI_MT_WASM_CONFIG) == 0) *out = KP_OCI_WASM;
    else if (strcmp(mt, KP_OCI_MT_IMAGE_CONFIG) == 0 || strcmp(mt, KP_OCI_MT_DOCKER_CONFIG) == 0)
        *out = KP_OCI_COMPAT;
    else if (strcmp(mt, KP_OCI_MT_SPIN_CONFIG) == 0) *out = KP_OCI_SPIN;
    else return kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "unknown config media type '%.100s'", mt);
    return KAPSUL_OK;
}

/* Upload a blob unless the store already has it. */
static kapsul_status put_once(kpOciStore *s, const uint8_t *data, size_t len, char digest[KP_OCI_DIGEST_LEN],
                              kapsul_error *err) {
    kpOci_digest(data, len, digest);
    bool has = false;
    kapsul_status st = kpOciStore_hasBlob(s, digest, &has, err);
    if (st || has) return st;
    return kpOciStore_putBlob(s, digest, data, len, err);
}

static json_t *descriptor(const char *media_type, const char *digest, size_t size, const char *title) {
    json_t *d =
        json_pack("{s:s,s:s,s:I}", "mediaType", media_type, "digest", digest, "size", (json_int_t)size);
    if (d && title && json_object_set_new(d, "annotations", json_pack("{s:s}", KP_OCI_ANN_TITLE, title))) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* Upload img's blobs and its manifest: under the reference's tag, or (child) only by digest, for
 * an index to name. *size: the manifest's length. */
static kapsul_status push_one(kpOciStore *s, const kpOciImage *img, bool child,
                              char digest[KP_OCI_DIGEST_LEN], size_t *size, kapsul_error *err) {
    kapsul_status st = KAPSUL_OK;
    char d[KP_OCI_DIGEST_LEN];
    json_t *m = json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType", KP_OCI_MT_MANIFEST, "layers");
    char *text = NULL;
    if (!m) return nomem(err);
    json_t *layers = json_object_get(m, "layers");
    for (size_t i = 0; i < img->layers.n; i++) {
        const kpOciLayer *l = &img->layers.v[i];
        if ((st = put_once(s, l->data.data, l->data.len, d, err))) goto done;
        if (json_array_append_new(layers, descriptor(l->media_type, d, l->data.len, l->title))) goto oom;
    }
    if ((st = put_once(s, img->config.data, img->config.len, d, err))) goto done;
    if (json_object_set_new(m, "config", descriptor(img->config_media_type, d, img->config.len, NULL)))
        goto oom;
    if (img->artifact_type && json_object_set_new(m, "artifactType", json_string(img->artifact_type)))
        goto oom;
    if (img->compat &&
        json_object_set_new(m, "annotations", json_pack("{s:s}", KP_OCI_ANN_VARIANT, "compat")))
        goto oom;
    if (!(text = json_dumps(m, JSON_COMPACT))) goto oom;
    *size = strlen(text);
    st = child ? kpOciStore_putChildManifest(s, KP_OCI_MT_MANIFEST, (const uint8_t *)text, *size, err)
               : kpOciStore_putManifest(s, KP_OCI_MT_MANIFEST, (const uint8_t *)text, *size, err);
    if (!st) kpOci_digest((const uint8_t *)text, *size, digest);
done:
    free(text);
    json_decref(m);
    return st;
oom:
    st = nomem(err);
    goto done;
}

kapsul_status kpOci_push(kpOciStore *s, const kpOciImage *img, char digest[KP_OCI_DIGEST_LEN],
                         kapsul_error *err) {
    size_t size;
    return push_one(s, img, false, digest, &size, err);
}

kapsul_status kpOci_pushIndex(kpOciStore *s, const kpOciImage *imgs, const char *const *os,
                              const char *const *arch, size_t n, char digest[KP_OCI_DIGEST_LEN],
                              kapsul_error *err) {
    json_t *x = json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType", KP_OCI_MT_INDEX, "manifests");
    kapsul_status st = KAPSUL_OK;
    char *text = NULL;
    if (!x) return nomem(err);
    for (size_t i = 0; i < n; i++) {
        char d[KP_OCI_DIGEST_LEN];
        size_t size;
        if ((st = push_one(s, &imgs[i], true, d, &size, err))) goto done;
        json_t *e = descriptor(KP_OCI_MT_MANIFEST, d, size, NULL);
        if (!e ||
            json_object_set_new(e, "platform",
                                json_pack("{s:s,s:s}", "architecture", arch[i], "os", os[i])) ||
            json_array_append_new(json_object_get(x, "manifests"), e)) {
            st = nomem(err);
            goto done;
        }
    }
    if (!(text = json_dumps(x, JSON_COMPACT))) {
        st = nomem(err);
        goto done;
    }
    if ((st = kpOciStore_putManifest(s, KP_OCI_MT_INDEX, (const uint8_t *)text, strlen(text), err)))
        goto done;
    kpOci_digest((const uint8_t *)text, strlen(text), digest);
done:
    free(text);
    json_decref(x);
    return st;
}

static bool known_layer(const char *mt) {
    static const char *const types[] = { KP_OCI_MT_WASM_LAYER, KP_OCI_MT_LAYER_TGZ, KP_OCI_MT_DOCKER_LAYER,
                                         KP_OCI_MT_SPIN_WASM, KP_OCI_MT_SPIN_DATA };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(mt, types[i]) == 0) return true;
    return false;
}

kapsul_status kpOci_pull(kpOciStore *s, const char *os, const char *arch, kpOciImage *img,
                         char digest[KP_OCI_DIGEST_LEN], kapsul_error *err) {
    memset(img, 0, sizeof *img);
    kpBuf raw = { 0 };
    char *mt = NULL;
    kpOciManifest m;
    kpOciFormat fmt;
    kapsul_status st = kpOciStore_getManifest(s, os, arch, &raw, &mt, digest, err);
    if (st) return st;
    st = kpOciManifest_parse(raw.data, raw.len, &m, err);
    if (st) goto done_raw;
    if (mt && strcmp(mt, KP_OCI_MT_MANIFEST) != 0 && strcmp(mt, KP_OCI_MT_DOCKER_MANIFEST) != 0) {
        st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "manifest: unknown media type '%.100s'", mt);
        goto done;
    }
    if (!(img->config_media_type = dup(m.config.media_type))) goto oom;
    if ((st = kpOciImage_format(img, &fmt, err))) goto done;
    if (m.config.size > KP_OCI_MANIFEST_MAX) {
        st = kpError_set(err, KAPSUL_ERR_LIMIT, 0, "config %s: too large", m.config.digest);
        goto done;
    }
    for (size_t i = 0; i < m.layers.n; i++)
        if (!known_layer(m.layers.v[i].media_type)) {
            st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "layer %s: unknown media type '%.100s'",
                             m.layers.v[i].digest, m.layers.v[i].media_type);
            goto done;
        }
    if ((st = kpOciStore_getBlob(s, &m.config, &img->config, err))) {
        if (st == KAPSUL_ERR_NOT_FOUND)
            st = kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0, "config %s: missing (%s)", m.config.digest,
                             err->message);
        goto done;
    }
    if (fmt == KP_OCI_WASM && (st = kpOciWasmConfig_check(img->config.data, img->config.len, &m, err)))
        goto done;
    img->compat = m.variant && strcmp(m.variant, "compat") == 0;
    for (size_t i = 0; i < m.layers.n; i++) {
        const kpOciDesc *d = &m.layers.v[i];
        kpBuf data = { 0 };
        if ((st = kpOciStore_getBlob(s, d, &data, err))) goto done;
        st = kpOciImage_addLayer(img, d->media_type, d->title, data.data, data.len, err);
        kpBuf_free(&data);
        if (st) goto done;
    }
done:
    kpOciManifest_free(&m);
done_raw:
    kpBuf_free(&raw);
    kp_free(mt);
    if (st) kpOciImage_free(img);
    return st;
oom:
    st = nomem(err);
    goto done;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

kapsul_status kpOciImage_module(const kpOciImage *img, kpBuf *wasm, char **name, kapsul_error *err) {
    kpOciFormat fmt;
    kapsul_status st = kpOciImage_format(img, &fmt, err);
    *name = NULL;
    memset(wasm, 0, sizeof *wasm);
    if (st) return st;
    if (fmt == KP_OCI_SPIN)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "a Spin application, not a module (use kapsul up -f REF)");
    if (fmt == KP_OCI_WASM) {
        if (img->layers.n != 1 || strcmp(img->layers.v[0].media_type, KP_OCI_MT_WASM_LAYER) != 0)
            return kpError_set(err, KAPSUL_ERR_MALFORMED, 0,
                               "wasm artifact: %zu layers, expected one application/wasm", img->layers.n);
        const char *title = img->layers.v[0].title;
        const char *n = title && !kpOci_checkRelPath(title) ? base_name(title) : "module.wasm";
        if (kpBuf_push(wasm, img->layers.v[0].data.data, img->layers.v[0].data.len) || !(*name = dup(n)))
            goto oom;
        return KAPSUL_OK;
    }
    kpOciImageConfig c;
    if ((st = kpOciImageConfig_parse(img->config.data, img->config.len, &c, err))) return st;
    if (!c.entrypoint0 || strlen(c.entrypoint0) < 6 ||
        strcmp(c.entrypoint0 + strlen(c.entrypoint0) - 5, ".wasm") != 0) {
        st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "image: the entrypoint '%.100s' is not a .wasm file",
                         c.entrypoint0 ? c.entrypoint0 : "");
        goto done;
    }
    if (c.diff_ids.n != img->layers.n) {
        st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "image: %zu layers but %zu diff_ids", img->layers.n,
                         c.diff_ids.n);
        goto done;
    }
    /* The entry point's file in the topmost layer that has it. */
    st = KAPSUL_ERR_NOT_FOUND;
    for (size_t i = img->layers.n; i-- > 0 && st == KAPSUL_ERR_NOT_FOUND;) {
        char diff_id[KP_OCI_DIGEST_LEN];
        const kpOciLayer *l = &img->layers.v[i];
        st = kpOciTar_find(l->data.data, l->data.len, c.entrypoint0, wasm, diff_id, err);
        if ((st == KAPSUL_OK || st == KAPSUL_ERR_NOT_FOUND) && strcmp(diff_id, c.diff_ids.v[i]) != 0) {
            kpBuf_free(wasm);
            st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0,
                             "layer %zu: diff_id mismatch: the tar hashes to %s, the config says %s", i,
                             diff_id, c.diff_ids.v[i]);
        }
    }
    if (st == KAPSUL_ERR_NOT_FOUND)
        st = kpError_set(err, KAPSUL_ERR_NOT_FOUND, 0, "image: no layer holds the entrypoint %s",
                         c.entrypoint0);
    if (!st && !(*name = dup(base_name(c.entrypoint0)))) st = nomem(err);
    if (!st && kpOci_checkRelPath(*name))
        st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "image: bad entrypoint name");
done:
    kpOciImageConfig_free(&c);
    if (st) {
        kpBuf_free(wasm);
        kp_free(*name);
        *name = NULL;
    }
    return st;
oom:
    kpBuf_free(wasm);
    kp_free(*name);
    *name = NULL;
    return nomem(err);
}

static kapsul_status os_error(kapsul_error *err, kpOs_err oe, const char *what, const char *path) {
    return kpError_set(err, KAPSUL_ERR_IO, 0, "%s %s: %s", what, path, kpOs_strerror(oe));
}

static char *path_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = kp_malloc(n);
    if (s) snprintf(s, n, "%s/%s", a, b);
    return s;
}

/* Every layer of a Spin application at its title's path beneath tmp. */
static kapsul_status write_app(const kpOciImage *img, const char *tmp, kapsul_error *err) {
    bool manifest = false;
    for (size_t i = 0; i < img->layers.n; i++) {
        const kpOciLayer *l = &img->layers.v[i];
        const char *why = l->title ? kpOci_checkRelPath(l->title) : "no title annotation";
        if (why) return kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "layer %zu: bad file name: %s", i, why);
        if (strcmp(l->media_type, KP_OCI_MT_SPIN_WASM) != 0 &&
            strcmp(l->media_type, KP_OCI_MT_SPIN_DATA) != 0)
            return kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "layer %s: media type %s in a Spin application",
                               l->title, l->media_type);
        manifest |= strcmp(l->title, "spin.toml") == 0;
        char *path = path_join(tmp, l->title);
        if (!path) return nomem(err);
        char *slash = strrchr(path, '/');
        *slash = 0;
        kpOs_err oe = kpOs_mkdirs(path);
        *slash = '/';
        kpOs_stat sb;
        if (!oe && kpOs_statPath(path, &sb) == KP_OS_OK) {
            kp_free(path);
            return kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "layer %s: the file is there twice", l->title);
        }
        if (!oe) oe = kpOs_writePathAtomic(path, l->data.data, l->data.len);
        kapsul_status st = oe ? os_error(err, oe, "cannot write", path) : KAPSUL_OK;
        kp_free(path);
        if (st) return st;
    }
    if (!manifest)
        return kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "Spin application without a spin.toml layer");
    return KAPSUL_OK;
}

/* dir must be absent or an empty directory; remove the empty one so a rename can take its place. */
static kapsul_status claim_dir(const char *dir, kapsul_error *err) {
    kpOs_fd fd;
    kpOs_err oe = kpOs_openDir(dir, &fd);
    if (oe == KP_OS_ENOENT) return KAPSUL_OK;
    if (oe) return os_error(err, oe, "cannot use", dir);
    kpOs_dir *d;
    bool empty = true, end = false;
    if (kpOs_dirOpen(fd, &d) == KP_OS_OK) {
        kpOs_dirent e;
        while (empty && kpOs_dirRead(d, &e, &end) == KP_OS_OK && !end)
            if (strcmp(e.name, ".") != 0 && strcmp(e.name, "..") != 0) empty = false;
        kpOs_dirClose(d);
    }
    kpOs_close(fd);
    if (!empty) return kpError_set(err, KAPSUL_ERR_IO, 0, "%s exists and is not empty", dir);
    oe = kpOs_removeTree(dir);
    return oe ? os_error(err, oe, "cannot replace", dir) : KAPSUL_OK;
}

kapsul_status kpOciImage_write(const kpOciImage *img, const char *dir, char **written, kapsul_error *err) {
    kpOciFormat fmt;
    kapsul_status st = kpOciImage_format(img, &fmt, err);
    *written = NULL;
    if (st) return st;
    if (fmt != KP_OCI_SPIN) {
        kpBuf wasm;
        char *name = NULL, *path = NULL;
        if ((st = kpOciImage_module(img, &wasm, &name, err))) return st;
        kpOs_err oe = kpOs_mkdirs(dir);
        if (oe) st = os_error(err, oe, "cannot create", dir);
        else if (!(path = path_join(dir, name))) st = nomem(err);
        else if ((oe = kpOs_writePathAtomic(path, wasm.data, wasm.len)))
            st = os_error(err, oe, "cannot write", path);
        kpBuf_free(&wasm);
        kp_free(name);
        if (st) kp_free(path);
        else *written = path;
        return st;
    }
    /* The application is written into a fresh directory beside dir and renamed at the end. */
    char parent[KP_OS_PATH_MAX], tmp[KP_OS_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    while (strlen(parent) > 1 && parent[strlen(parent) - 1] == '/') parent[strlen(parent) - 1] = 0;
    char *slash = strrchr(parent, '/');
    if (!slash) snprintf(parent, sizeof parent, ".");
    else if (slash == parent) parent[1] = 0;
    else *slash = 0;
    kpOs_err oe = kpOs_mkdirs(parent);
    if (oe) return os_error(err, oe, "cannot create", parent);
    if ((st = claim_dir(dir, err))) return st;
    if ((oe = kpOs_tempDir(parent, ".kapsul-pull-", tmp, sizeof tmp)))
        return os_error(err, oe, "cannot create a directory in", parent);
    if ((st = write_app(img, tmp, err))) goto fail;
    if ((oe = kpOs_rename(tmp, dir))) {
        st = os_error(err, oe, "cannot rename into", dir);
        goto fail;
    }
    if (!(*written = dup(dir))) return nomem(err);
    return KAPSUL_OK;
fail:
    kpOs_removeTree(tmp);
    return st;
}
