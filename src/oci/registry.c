/*
 * registry.c -- a store over the OCI distribution API (v2), through libcurl:
 *   HEAD/GET  /v2/REPO/blobs/DIGEST            does a blob exist / fetch it (redirects followed)
 *   POST      /v2/REPO/blobs/uploads/           start an upload: 202 and a Location
 *   PUT       LOCATION?digest=DIGEST            the whole blob in one request (monolithic)
 *   PUT/GET   /v2/REPO/manifests/TAG|DIGEST     with the manifest's media type / an Accept list
 * Authentication: a 401 with `WWW-Authenticate: Bearer realm=...,service=...,scope=...` gets a
 * token from the realm (with the user's Basic credentials, if config.json has them for the host)
 * and the request is retried once with it; `Basic` challenges get the credentials directly.
 * Credentials come from `auths.<host>.auth` of $DOCKER_CONFIG/config.json or
 * ~/.docker/config.json; credential helpers (credsStore) are not run.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>

#include "kapsul_version.h"

#include "oci/store.h"
#include "os/os.h"

typedef struct resp {
    CURL *curl;
    long status;
    kpBuf body;
    size_t max;
    bool too_big;
    char *location, *content_type, *digest, *www_auth;
} resp;

typedef struct registry {
    kpOciStore base;
    CURL *curl;
    char *origin;   /* "https://HOST[:PORT]" */
    char *repo_url; /* origin + "/v2/" + repo */
    char *auth;     /* "Authorization: ..." header in use, or NULL */
    char *basic;    /* base64 user:password from config.json, or NULL */
    bool push;      /* ask for push scope */
} registry;

static void resp_clear(resp *r) {
    kpBuf_free(&r->body);
    kp_free(r->location);
    kp_free(r->content_type);
    kp_free(r->digest);
    kp_free(r->www_auth);
    r->location = r->content_type = r->digest = r->www_auth = NULL;
    r->status = 0;
    r->too_big = false;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    resp *r = ud;
    size_t len = size * n;
    long code = 0;
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
    /* The limit is for the content asked for; an error's body may be up to 64 KiB (its message). */
    size_t max = code >= 200 && code < 300 ? r->max : 65536;
    if (r->body.len + len > max) {
        r->too_big = true;
        return 0;
    }
    return kpBuf_push(&r->body, p, len) ? 0 : len;
}

/* Keep the headers of the last response only (a redirect's come first). */
static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    resp *r = ud;
    size_t len = size * n;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        kp_free(r->location);
        kp_free(r->content_type);
        kp_free(r->digest);
        kp_free(r->www_auth);
        r->location = r->content_type = r->digest = r->www_auth = NULL;
        return len;
    }
    static const struct {
        const char *name;
        size_t off;
    } keep[] = {
        { "location", offsetof(resp, location) },
        { "content-type", offsetof(resp, content_type) },
        { "docker-content-digest", offsetof(resp, digest) },
        { "www-authenticate", offsetof(resp, www_auth) },
    };
    const char *colon = memchr(p, ':', len);
    if (!colon) return len;
    size_t nl = (size_t)(colon - p);
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        if (strlen(keep[i].name) != nl || strncasecmp(p, keep[i].name, nl) != 0) continue;
        const char *v = colon + 1, *e = p + len;
        while (v < e && (*v == ' ' || *v == '\t')) v++;
        while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ')) e--;
        char **slot = (char **)((char *)r + keep[i].off);
        kp_free(*slot);
        *slot = kp_strndup(v, (size_t)(e - v));
    }
    return len;
}

/* One HTTP exchange. headers: NULL-terminated extra header lines. */
static kapsul_status exchange(registry *g, const char *method, const char *url, const char *const *headers,
                              const uint8_t *body, size_t blen, size_t max, resp *r, kapsul_error *err) {
    resp_clear(r);
    r->max = max;
    CURL *c = g->curl;
    r->curl = c;
    curl_easy_reset(c);
    struct curl_slist *hl = NULL, *t;
    for (size_t i = 0; headers && headers[i]; i++) {
        if (!(t = curl_slist_append(hl, headers[i]))) goto nomem;
        hl = t;
    }
    if (g->auth) {
        if (!(t = curl_slist_append(hl, g->auth))) goto nomem;
        hl = t;
    }
    /* No "Expect: 100-continue" for a large body: curl would wait for the interim answer. */
    if (!(t = curl_slist_append(hl, "Expect:"))) goto nomem;
    hl = t;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, strcmp(method, "GET") == 0 ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kapsul/" KAPSUL_VERSION);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    }
    CURLcode cr = curl_easy_perform(c);
    curl_slist_free_all(hl);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    if (cr != CURLE_OK) {
        if (r->too_big)
            return kpError_set(err, KAPSUL_ERR_MALFORMED, 0,
                               "%s %s: size mismatch: the content is longer than the %zu bytes expected",
                               method, url, max >= 1 ? max - 1 : 0);
        return kpError_set(err, KAPSUL_ERR_IO, 0, "%s %s: %s", method, url, curl_easy_strerror(cr));
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    return KAPSUL_OK;
nomem:
    curl_slist_free_all(hl);
    return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
}

/* The value of key="..." (or key=token) in a challenge's parameter list, or NULL. */
static char *challenge_param(const char *ch, const char *key) {
    size_t kl = strlen(key);
    const char *p = ch;
    while ((p = strcasestr(p, key)) != NULL) {
        bool start = p == ch || p[-1] == ' ' || p[-1] == ',';
        if (start && p[kl] == '=') {
            const char *v = p + kl + 1;
            if (*v == '"') {
                const char *e = strchr(v + 1, '"');
                return e ? kp_strndup(v + 1, (size_t)(e - v - 1)) : NULL;
            }
            size_t n = strcspn(v, ", ");
            return kp_strndup(v, n);
        }
        p += kl;
    }
    return NULL;
}

static kapsul_status set_auth(registry *g, const char *scheme, const char *cred, kapsul_error *err) {
    kp_free(g->auth);
    size_t n = strlen(scheme) + strlen(cred) + 24;
    if (!(g->auth = kp_malloc(n))) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    snprintf(g->auth, n, "Authorization: %s %s", scheme, cred);
    return KAPSUL_OK;
}

/* Answer a 401's challenge: a bearer token from the realm, or Basic credentials. */
static kapsul_status authenticate(registry *g, const char *challenge, kapsul_error *err) {
    if (strncasecmp(challenge, "Basic", 5) == 0) {
        if (!g->basic)
            return kpError_set(err, KAPSUL_ERR_IO, 0,
                               "%s: authentication required and no credentials for it in "
                               "~/.docker/config.json",
                               g->origin);
        return set_auth(g, "Basic", g->basic, err);
    }
    if (strncasecmp(challenge, "Bearer", 6) != 0)
        return kpError_set(err, KAPSUL_ERR_IO, 0, "%s: unsupported authentication challenge '%.60s'",
                           g->origin, challenge);
    kapsul_status st = KAPSUL_OK;
    char *realm = challenge_param(challenge, "realm"), *service = challenge_param(challenge, "service");
    char *url = NULL, *esc_service = NULL, *esc_scope = NULL, *saved = g->auth;
    char scope[600];
    resp r = { 0 };
    json_t *root = NULL;
    g->auth = NULL;
    if (!realm || (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0)) {
        st = kpError_set(err, KAPSUL_ERR_IO, 0, "%s: bearer challenge without an http(s) realm", g->origin);
        goto done;
    }
    snprintf(scope, sizeof scope, "repository:%s:%s", g->base.ref.repo, g->push ? "pull,push" : "pull");
    esc_service = service ? curl_easy_escape(g->curl, service, 0) : NULL;
    esc_scope = curl_easy_escape(g->curl, scope, 0);
    size_t n =
        strlen(realm) + (esc_service ? strlen(esc_service) : 0) + (esc_scope ? strlen(esc_scope) : 0) + 32;
    if (!esc_scope || !(url = kp_malloc(n))) {
        st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        goto done;
    }
    snprintf(url, n, "%s%cscope=%s%s%s", realm, strchr(realm, '?') ? '&' : '?', esc_scope,
             esc_service ? "&service=" : "", esc_service ? esc_service : "");
    if (g->basic && (st = set_auth(g, "Basic", g->basic, err))) goto done;
    if ((st = exchange(g, "GET", url, NULL, NULL, 0, 1 << 20, &r, err))) goto done;
    if (r.status != 200) {
        st = kpError_set(err, KAPSUL_ERR_IO, 0, "token from %s: HTTP %ld%s", realm, r.status,
                         g->basic ? "" : " (no credentials for this registry in ~/.docker/config.json)");
        goto done;
    }
    root = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
    json_t *tok = json_is_object(root) ? json_object_get(root, "token") : NULL;
    if (!json_is_string(tok)) tok = json_is_object(root) ? json_object_get(root, "access_token") : NULL;
    if (!json_is_string(tok) || strpbrk(json_string_value(tok), "\r\n")) {
        st = kpError_set(err, KAPSUL_ERR_IO, 0, "token from %s: no token in the answer", realm);
        goto done;
    }
    st = set_auth(g, "Bearer", json_string_value(tok), err);
done:
    if (st) {
        kp_free(g->auth);
        g->auth = saved;
    } else {
        kp_free(saved);
    }
    json_decref(root);
    resp_clear(&r);
    curl_free(esc_service);
    curl_free(esc_scope);
    kp_free(url);
    kp_free(realm);
    kp_free(service);
    return st;
}

/* exchange, answering one 401 with authentication and trying again. */
static kapsul_status request(registry *g, const char *method, const char *url, const char *const *headers,
                             const uint8_t *body, size_t blen, size_t max, resp *r, kapsul_error *err) {
    kapsul_status st = exchange(g, method, url, headers, body, blen, max, r, err);
    if (st || r->status != 401) return st;
    if (!r->www_auth)
        return kpError_set(err, KAPSUL_ERR_IO, 0, "%s %s: HTTP 401 without a challenge", method, url);
    char *challenge = r->www_auth;
    r->www_auth = NULL;
    st = authenticate(g, challenge, err);
    kp_free(challenge);
    if (st) return st;
    st = exchange(g, method, url, headers, body, blen, max, r, err);
    if (!st && r->status == 401)
        st = kpError_set(err, KAPSUL_ERR_IO, 0, "%s %s: HTTP 401: access denied", method, url);
    return st;
}

static char *join(const char *a, const char *b, const char *c) {
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = kp_malloc(n);
    if (s) snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

/* The error for an unexpected status, with the registry's error message when it sent one. */
static kapsul_status http_error(const char *what, const resp *r, kapsul_error *err) {
    const char *msg = "";
    json_t *root = json_loadb((const char *)r->body.data, r->body.len, 0, NULL);
    json_t *errs = json_is_object(root) ? json_object_get(root, "errors") : NULL;
    json_t *e0 = json_is_array(errs) ? json_array_get(errs, 0) : NULL;
    json_t *m = json_is_object(e0) ? json_object_get(e0, "message") : NULL;
    if (json_is_string(m)) msg = json_string_value(m);
    kapsul_status code = r->status == 404 ? KAPSUL_ERR_NOT_FOUND : KAPSUL_ERR_IO;
    kapsul_status st =
        kpError_set(err, code, 0, "%s: HTTP %ld%s%.120s", what, r->status, *msg ? ": " : "", msg);
    json_decref(root);
    return st;
}

static kapsul_status reg_has_blob(kpOciStore *s, const char *digest, bool *has, kapsul_error *err) {
    registry *g = (registry *)s;
    char *url = join(g->repo_url, "/blobs/", digest);
    if (!url) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    resp r = { 0 };
    kapsul_status st = request(g, "HEAD", url, NULL, NULL, 0, 1, &r, err);
    if (!st) {
        *has = r.status == 200;
        if (r.status != 200 && r.status != 404) st = http_error(url, &r, err);
    }
    resp_clear(&r);
    kp_free(url);
    return st;
}

static kapsul_status reg_put_blob(kpOciStore *s, const char *digest, const uint8_t *data, size_t len,
                                  kapsul_error *err) {
    registry *g = (registry *)s;
    g->push = true;
    resp r = { 0 };
    char *url = join(g->repo_url, "/blobs/uploads/", ""), *put = NULL, *loc = NULL;
    kapsul_status st;
    if (!url) goto nomem;
    static const char *const post_headers[] = { "Content-Length: 0", NULL };
    if ((st = request(g, "POST", url, post_headers, NULL, 0, 1 << 16, &r, err))) goto done;
    if (r.status != 202 || !r.location) {
        st = r.status == 202 ? kpError_set(err, KAPSUL_ERR_IO, 0, "POST %s: no Location", url)
                             : http_error("starting a blob upload", &r, err);
        goto done;
    }
    /* A relative Location is relative to the registry's origin. */
    loc = r.location[0] == '/' ? join(g->origin, r.location, "") : join(r.location, "", "");
    if (!loc) goto nomem;
    if (!(put = join(loc, strchr(loc, '?') ? "&digest=" : "?digest=", digest))) goto nomem;
    /* ':' of "sha256:" escaped, as the spec's examples do. */
    char *colon = strstr(put, "digest=sha256:");
    if (colon) {
        char *fixed = kp_malloc(strlen(put) + 3);
        if (!fixed) goto nomem;
        size_t at = (size_t)(colon - put) + 13;
        snprintf(fixed, strlen(put) + 3, "%.*s%%3A%s", (int)at, put, put + at + 1);
        kp_free(put);
        put = fixed;
    }
    static const char *const put_headers[] = { "Content-Type: application/octet-stream", NULL };
    if ((st = request(g, "PUT", put, put_headers, data, len, 1 << 16, &r, err))) goto done;
    if (r.status != 201) st = http_error("uploading a blob", &r, err);
done:
    resp_clear(&r);
    kp_free(url);
    kp_free(put);
    kp_free(loc);
    return st;
nomem:
    st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    goto done;
}

static kapsul_status reg_get_blob(kpOciStore *s, const char *digest, size_t max, kpBuf *out,
                                  kapsul_error *err) {
    registry *g = (registry *)s;
    char *url = join(g->repo_url, "/blobs/", digest);
    if (!url) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    resp r = { 0 };
    kapsul_status st = request(g, "GET", url, NULL, NULL, 0, max, &r, err);
    if (!st && r.status != 200) st = http_error(url, &r, err);
    if (!st) {
        *out = r.body;
        r.body = (kpBuf){ 0 };
    }
    resp_clear(&r);
    kp_free(url);
    return st;
}

static kapsul_status reg_put_manifest(kpOciStore *s, const char *reference, const char *digest,
                                      const char *media_type, const uint8_t *data, size_t len,
                                      kapsul_error *err) {
    (void)digest;
    registry *g = (registry *)s;
    g->push = true;
    char *url = join(g->repo_url, "/manifests/", reference), *ct = join("Content-Type: ", media_type, "");
    kapsul_status st;
    resp r = { 0 };
    if (!url || !ct) {
        st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        goto done;
    }
    const char *headers[] = { ct, NULL };
    if ((st = request(g, "PUT", url, headers, data, len, 1 << 16, &r, err))) goto done;
    if (r.status != 201) st = http_error("pushing the manifest", &r, err);
done:
    resp_clear(&r);
    kp_free(url);
    kp_free(ct);
    return st;
}

static kapsul_status reg_get_manifest(kpOciStore *s, const char *reference, kpBuf *out, char **media_type,
                                      char expected[KP_OCI_DIGEST_LEN], kapsul_error *err) {
    registry *g = (registry *)s;
    char *url = join(g->repo_url, "/manifests/", reference ? reference : "latest");
    if (!url) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    static const char *const headers[] = { "Accept: " KP_OCI_MT_MANIFEST ", " KP_OCI_MT_INDEX
                                           ", " KP_OCI_MT_DOCKER_MANIFEST ", " KP_OCI_MT_DOCKER_LIST,
                                           NULL };
    resp r = { 0 };
    kapsul_status st = request(g, "GET", url, headers, NULL, 0, KP_OCI_MANIFEST_MAX + 1, &r, err);
    if (!st && r.status != 200) st = http_error(url, &r, err);
    if (!st) {
        *out = r.body;
        r.body = (kpBuf){ 0 };
        if (r.content_type) {
            r.content_type[strcspn(r.content_type, ";")] = 0;
            *media_type = r.content_type;
            r.content_type = NULL;
        }
        if (r.digest && kpOci_isDigest(r.digest)) memcpy(expected, r.digest, KP_OCI_DIGEST_LEN);
    }
    resp_clear(&r);
    kp_free(url);
    return st;
}

static void reg_close(kpOciStore *s) {
    registry *g = (registry *)s;
    if (g->curl) curl_easy_cleanup(g->curl);
    kp_free(g->origin);
    kp_free(g->repo_url);
    kp_free(g->auth);
    kp_free(g->basic);
    kp_free(g);
}

static const kpOciStoreOps registry_ops = { reg_has_blob,     reg_put_blob,     reg_get_blob,
                                            reg_put_manifest, reg_get_manifest, reg_close };

/* auths.<key>.auth of the Docker client's config for host, or NULL. Docker Hub's key is the
 * historical "https://index.docker.io/v1/". */
static char *docker_auth(const char *config, const char *host) {
    char path[KP_OS_PATH_MAX];
    const char *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
    if (config) snprintf(path, sizeof path, "%s", config);
    else if (dir && *dir) snprintf(path, sizeof path, "%s/config.json", dir);
    else if (home && *home) snprintf(path, sizeof path, "%s/.docker/config.json", home);
    else return NULL;
    void *data = NULL;
    size_t len = 0;
    if (kpOs_readPath(path, 1 << 20, &data, &len)) return NULL;
    json_t *root = json_loadb(data, len, 0, NULL);
    free(data);
    json_t *auths = json_is_object(root) ? json_object_get(root, "auths") : NULL;
    char *out = NULL;
    char keys[3][300];
    snprintf(keys[0], sizeof keys[0], "%s", host);
    snprintf(keys[1], sizeof keys[1], "https://%s", host);
    snprintf(keys[2], sizeof keys[2], "%s",
             strcmp(host, "registry-1.docker.io") == 0 ? "https://index.docker.io/v1/" : host);
    for (int i = 0; i < 3 && json_is_object(auths) && !out; i++) {
        json_t *e = json_object_get(auths, keys[i]);
        json_t *a = json_is_object(e) ? json_object_get(e, "auth") : NULL;
        if (json_is_string(a) && json_string_length(a) > 0 && !strpbrk(json_string_value(a), "\r\n"))
            out = kp_strndup(json_string_value(a), json_string_length(a));
    }
    json_decref(root);
    return out;
}

kapsul_status kpOciRegistry_open(const kpOciRef *ref, const kpOciOptions *opt, kpOciStore **out,
                                 kapsul_error *err) {
    static bool curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return kpError_set(err, KAPSUL_ERR_IO, 0, "libcurl cannot start");
        curl_ready = true;
    }
    registry *g = kp_calloc(1, sizeof *g);
    if (!g) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    g->base.ops = &registry_ops;
    g->base.ref = *ref;
    g->base.opt = *opt;
    g->curl = curl_easy_init();
    g->origin = join(opt->plain_http ? "http://" : "https://", ref->host, "");
    g->repo_url = g->origin ? join(g->origin, "/v2/", ref->repo) : NULL;
    if (!g->curl || !g->repo_url) {
        reg_close(&g->base);
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    }
    g->basic = docker_auth(opt->docker_config, ref->host);
    *out = &g->base;
    return KAPSUL_OK;
}
