/*
 * ref.c -- image references as docker, containerd and skopeo write them:
 *   [HOST[:PORT]/]REPO[:TAG][@sha256:HEX]   a registry; no HOST means Docker Hub, where a
 *                                            one-component REPO lives under library/
 *   oci:DIR[:TAG][@sha256:HEX]              an OCI image layout (skopeo's oci: transport; DIR
 *                                            cannot hold a ':', as in skopeo)
 * The first component of a registry name is a HOST when it has a '.' or ':' or is "localhost"
 * (the rule of docker's reference package).
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/sha256.h"
#include "oci/oci.h"

bool kpOci_isDigest(const char *s) {
    if (strncmp(s, "sha256:", 7) != 0) return false;
    size_t n = 0;
    for (const char *p = s + 7; *p; p++, n++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
    return n == 64;
}

void kpOci_digest(const uint8_t *data, size_t len, char out[KP_OCI_DIGEST_LEN]) {
    uint8_t h[32];
    kpSha256(data, len, h);
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < 32; i++) {
        out[7 + 2 * i] = "0123456789abcdef"[h[i] >> 4];
        out[8 + 2 * i] = "0123456789abcdef"[h[i] & 15];
    }
    out[71] = 0;
}

/* A repository path: components split by '/', each [a-z0-9]+ runs joined by one '.', '_', "__"
 * or a run of '-' (the distribution spec's grammar). */
static bool valid_component(const char *p, size_t n) {
    size_t i = 0;
    for (;;) {
        size_t run = 0;
        while (i < n && ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9'))) i++, run++;
        if (run == 0) return false;
        if (i == n) return true;
        if (p[i] == '.') i++;
        else if (p[i] == '_') i += (i + 1 < n && p[i + 1] == '_') ? 2 : 1;
        else if (p[i] == '-')
            while (i < n && p[i] == '-') i++;
        else return false;
    }
}

static bool valid_repo(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 255) return false;
    for (;;) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (!valid_component(s, len)) return false;
        if (!e) return true;
        s = e + 1;
    }
}

static bool valid_tag(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 128) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!word && (i == 0 || (c != '.' && c != '-'))) return false;
    }
    return true;
}

static bool valid_host(const char *s) {
    if (!*s || strlen(s) > 255) return false;
    const char *colon = NULL;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (c == ':') {
            if (colon) return false;
            colon = p;
        } else if (colon) {
            if (c < '0' || c > '9') return false;
        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                     c == '-')) {
            return false;
        }
    }
    return !colon || (colon[1] && colon != s && strlen(colon + 1) <= 5 && atoi(colon + 1) <= 65535);
}

bool kpOciRef_looksLike(const char *text) {
    if (strncmp(text, "oci:", 4) == 0) return true;
    const char *slash = strchr(text, '/');
    if (!slash) return false;
    size_t n = (size_t)(slash - text);
    if (n == 9 && strncmp(text, "localhost", 9) == 0) return true;
    return memchr(text, '.', n) || memchr(text, ':', n);
}

void kpOciRef_free(kpOciRef *r) {
    kp_free(r->host);
    kp_free(r->repo);
    kp_free(r->dir);
    kp_free(r->tag);
    kp_free(r->digest);
    memset(r, 0, sizeof *r);
}

static char *dup_n(const char *s, size_t n) { return kp_strndup(s, n); }

static kapsul_status parse_layout(const char *text, const char *rest, kpOciRef *r, kapsul_error *err) {
    r->kind = KP_OCI_REF_LAYOUT;
    const char *at = strchr(rest, '@');
    size_t end = at ? (size_t)(at - rest) : strlen(rest);
    const char *colon = memchr(rest, ':', end);
    size_t dirlen = colon ? (size_t)(colon - rest) : end;
    if (dirlen == 0)
        return kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "'%s': oci: reference without a directory", text);
    if (!(r->dir = dup_n(rest, dirlen))) goto nomem;
    if (colon) {
        if (!(r->tag = dup_n(colon + 1, end - dirlen - 1))) goto nomem;
        /* A layout's ref.name is free text in the spec; skopeo accepts tags and more. Keep it
         * printable and short. */
        if (!*r->tag || strlen(r->tag) > 128 || strpbrk(r->tag, " \t\n/"))
            return kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "'%s': bad tag '%s'", text, r->tag);
    }
    if (at) {
        if (!kpOci_isDigest(at + 1))
            return kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "'%s': '%s' is not a sha256 digest", text,
                               at + 1);
        if (!(r->digest = kp_strndup(at + 1, strlen(at + 1)))) goto nomem;
    }
    return KAPSUL_OK;
nomem:
    return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
}

kapsul_status kpOciRef_parse(const char *text, kpOciRef *r, kapsul_error *err) {
    memset(r, 0, sizeof *r);
    kapsul_status st;
    if (strncmp(text, "oci:", 4) == 0) {
        if ((st = parse_layout(text, text + 4, r, err))) goto fail;
        return KAPSUL_OK;
    }
    r->kind = KP_OCI_REF_REGISTRY;
    const char *at = strchr(text, '@');
    size_t end = at ? (size_t)(at - text) : strlen(text);
    const char *name = text;
    const char *slash = memchr(text, '/', end);
    size_t hostlen = 0;
    if (slash && kpOciRef_looksLike(text)) {
        hostlen = (size_t)(slash - text);
        name = slash + 1;
    }
    /* The tag is after the last ':' that follows the last '/'. */
    const char *tagsep = NULL;
    for (const char *p = name; p < text + end; p++) {
        if (*p == '/') tagsep = NULL;
        else if (*p == ':') tagsep = p;
    }
    size_t namelen = (size_t)((tagsep ? tagsep : text + end) - name);
    if (hostlen) {
        if (!(r->host = dup_n(text, hostlen))) goto nomem;
        if (!valid_host(r->host)) {
            st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "'%s': bad registry host '%s'", text, r->host);
            goto fail;
        }
    } else if (!(r->host = dup_n("docker.io", 9))) {
        goto nomem;
    }
    bool hub = strcmp(r->host, "docker.io") == 0 || strcmp(r->host, "index.docker.io") == 0;
    if (hub) {
        kp_free(r->host);
        if (!(r->host = dup_n("registry-1.docker.io", 20))) goto nomem;
    }
    bool library = hub && !memchr(name, '/', namelen);
    if (!(r->repo = kp_malloc(namelen + 9))) goto nomem;
    snprintf(r->repo, namelen + 9, "%s%.*s", library ? "library/" : "", (int)namelen, name);
    if (!valid_repo(r->repo)) {
        st = kpError_set(
            err, KAPSUL_ERR_MALFORMED, 0,
            "'%s': bad repository name '%s' (lowercase letters, digits, and . _ - / between them)", text,
            r->repo);
        goto fail;
    }
    if (tagsep) {
        if (!(r->tag = dup_n(tagsep + 1, (size_t)(text + end - tagsep - 1)))) goto nomem;
        if (!valid_tag(r->tag)) {
            st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "'%s': bad tag '%s'", text, r->tag);
            goto fail;
        }
    }
    if (at) {
        if (!kpOci_isDigest(at + 1)) {
            st = kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "'%s': '%s' is not a sha256 digest", text, at + 1);
            goto fail;
        }
        if (!(r->digest = kp_strndup(at + 1, strlen(at + 1)))) goto nomem;
    } else if (!tagsep && !(r->tag = dup_n("latest", 6))) {
        goto nomem;
    }
    return KAPSUL_OK;
nomem:
    st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
fail:
    kpOciRef_free(r);
    return st;
}

const char *kpOci_checkRelPath(const char *rel) {
    if (!*rel) return "empty path";
    if (rel[0] == '/') return "absolute path";
    if (strlen(rel) >= 1024) return "path too long";
    const char *p = rel;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0) return "empty path component";
        if (n == 1 && p[0] == '.') return "'.' component";
        if (n == 2 && p[0] == '.' && p[1] == '.') return "'..' component";
        if (n > 255) return "path component too long";
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)p[i] < 0x20 || p[i] == '\\' || p[i] == 0x7f)
                return "control character or backslash";
        p += n;
        if (*p == '/') p++;
        if (e && !*p) return "trailing '/'";
    }
    return NULL;
}
