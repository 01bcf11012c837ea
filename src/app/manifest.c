/*
 * manifest.c -- the Spin v2 manifest: the TOML tree (app/toml.c) checked field by field into
 * kpManifest, then the file globs resolved against the application directory.
 *
 * Fields are checked against per-table lists (the known ones, and the ones Spin defines that
 * kapsul does not do), so a typo and an unsupported feature both stop the load with the field's
 * position instead of being dropped. Facts about Spin come from fermyon/spin
 * (crates/manifest/src/schema/v2.rs, common.rs; crates/http/src/config.rs and routes.rs;
 * crates/factor-outbound-networking/src/config.rs; crates/serde/src/id.rs).
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>

#include "app/manifest.h"
#include "app/toml.h"

typedef struct mctx {
    kpManifest *m;
    kapsul_error *err;
    kpStrIndex routes; /* based route -> trigger number, for the duplicate check */
} mctx;

static kapsul_status mfail(mctx *c, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static kapsul_status mfail(mctx *c, int line, int column, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kpError_setText(c->err, KAPSUL_ERR_MALFORMED, line, column, "%s", msg);
}

static kapsul_status nomem(mctx *c) {
    return kpError_setText(c->err, KAPSUL_ERR_NOMEM, 0, 0, "out of memory");
}

/* A key or value for a message: printable ASCII, cut short. */
static const char *shown(const char *s, char *buf, size_t cap) {
    size_t o = 0;
    for (; *s && o + 4 < cap; s++)
        buf[o++] = ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f) ? *s : '?';
    if (*s) {
        buf[o++] = '.';
        buf[o++] = '.';
        buf[o++] = '.';
    }
    buf[o] = 0;
    return buf;
}

static bool in_list(const char *key, const char *const *list) {
    for (; list && *list; list++)
        if (strcmp(key, *list) == 0) return true;
    return false;
}

/* Every entry of table t must be in known (checked elsewhere) or "tool" (ignored, as Spin does);
 * entries in unsupported are Spin features kapsul lacks. section names t in messages. */
static kapsul_status check_fields(mctx *c, const kpTomlValue *t, const char *section,
                                  const char *const *known, const char *const *unsupported) {
    char b[80];
    for (size_t i = 0; i < t->u.tab.n; i++) {
        const kpTomlEntry *e = &t->u.tab.v[i];
        if (in_list(e->key, known) || strcmp(e->key, "tool") == 0) continue;
        if (in_list(e->key, unsupported))
            return mfail(c, e->line, e->column, "'%s' in %s is not supported by kapsul", e->key, section);
        return mfail(c, e->line, e->column, "unknown field '%s' in %s", shown(e->key, b, sizeof b), section);
    }
    return KAPSUL_OK;
}

/* A string value as a C string: no NUL bytes inside. */
static kapsul_status take_string(mctx *c, const kpTomlEntry *e, char **out) {
    const kpTomlValue *v = e->value;
    if (v->kind != KP_TOML_STRING)
        return mfail(c, v->line, v->column, "'%s' must be a string, not %s", e->key,
                     kpToml_kindName(v->kind));
    if (strlen(v->u.str.s) != v->u.str.len)
        return mfail(c, v->line, v->column, "'%s' must not contain NUL", e->key);
    if (!(*out = kp_strndup(v->u.str.s, v->u.str.len))) return nomem(c);
    return KAPSUL_OK;
}

/* Optional string field: *out stays NULL (or gets dflt) when absent. required: absent is an
 * error at the table's position. */
static kapsul_status get_string(mctx *c, const kpTomlValue *t, const char *key, const char *section,
                                bool required, const char *dflt, char **out) {
    const kpTomlEntry *e = kpToml_find(t, key);
    if (e) return take_string(c, e, out);
    if (required) return mfail(c, t->line, t->column, "%s is missing '%s'", section, key);
    if (dflt && !(*out = kp_strndup(dflt, strlen(dflt)))) return nomem(c);
    return KAPSUL_OK;
}

/* Append s (owned) to v; frees s if that fails. */
static kapsul_status push_str(mctx *c, kpStrVec *v, char *s) {
    if (kpVec_grow(v)) {
        kp_free(s);
        return nomem(c);
    }
    v->v[v->n++] = s;
    return KAPSUL_OK;
}

/* An array of strings (absent: empty). */
static kapsul_status get_strings(mctx *c, const kpTomlValue *t, const char *key, kpStrVec *out) {
    const kpTomlEntry *e = kpToml_find(t, key);
    if (!e) return KAPSUL_OK;
    const kpTomlValue *a = e->value;
    if (a->kind != KP_TOML_ARRAY)
        return mfail(c, a->line, a->column, "'%s' must be an array of strings, not %s", key,
                     kpToml_kindName(a->kind));
    for (size_t i = 0; i < a->u.arr.n; i++) {
        const kpTomlValue *v = a->u.arr.v[i];
        if (v->kind != KP_TOML_STRING)
            return mfail(c, v->line, v->column, "'%s' must be an array of strings; this element is %s", key,
                         kpToml_kindName(v->kind));
        if (strlen(v->u.str.s) != v->u.str.len)
            return mfail(c, v->line, v->column, "'%s' must not contain NUL", key);
        char *s = kp_strndup(v->u.str.s, v->u.str.len);
        if (!s) return nomem(c);
        kapsul_status st = push_str(c, out, s);
        if (st) return st;
    }
    return KAPSUL_OK;
}

/* The entry's value must be a table; what names it in the message. */
static kapsul_status need_table(mctx *c, const kpTomlEntry *e, const char *what) {
    if (e->value->kind == KP_TOML_TABLE) return KAPSUL_OK;
    return mfail(c, e->value->line, e->value->column, "%s must be a table, not %s", what,
                 kpToml_kindName(e->value->kind));
}

/* ---- allowed_outbound_hosts --------------------------------------------------------------------- */

static bool all_digits(const char *s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

/* The decimal port s[0..n) (0..65535, read no further than n), or -1. */
static long port_value(const char *s, size_t n) {
    if (!all_digits(s, n) || n > 5) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
    return v <= 65535 ? v : -1;
}

static bool port_number(const char *s, size_t n) { return port_value(s, n) >= 0; }

/* Spin's AllowedHostConfig::parse: "scheme://host[:port][/]". Scheme "*" or letters; host "*",
 * "self", "*.domain", an address/prefix (CIDR) or a name; port "*", a number, "a..b", or nothing
 * when the scheme has a well-known port. Templates and {lists} are not supported. */
const char *kpManifest_checkOutboundHost(const char *s) {
    static const char *const well_known[] = { "postgres", "mysql", "redis", "mqtt", "http", "https", NULL };
    if (strcmp(s, "insecure:allow-all") == 0)
        return "'insecure:allow-all' is not allowed - use '*://*:*' to allow all outbound traffic";
    if (strstr(s, "{{")) return "templated hosts ({{ variable }}) are not supported by kapsul";
    while (*s == ' ' || *s == '\t') s++;
    const char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t')) end--;
    const char *sep = strstr(s, "://");
    if (!sep || sep + 3 > end) return "does not contain a scheme (e.g., 'http://' or '*://')";
    size_t slen = (size_t)(sep - s);
    if (slen == 0) return "the scheme is empty";
    if (s[0] == '{') return "scheme lists are not supported";
    bool any_scheme = slen == 1 && s[0] == '*';
    for (size_t i = 0; i < slen && !any_scheme; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
            return "the scheme contains a non-alphabetic character";
    /* The port follows the last ':'; a '/' after it may only end the string. */
    const char *host = sep + 3, *colon = NULL;
    for (const char *q = host; q < end; q++)
        if (*q == ':') colon = q;
    const char *hend = colon ? colon : end, *port = colon ? colon + 1 : end, *pend = end;
    if (colon) {
        const char *slash = memchr(port, '/', (size_t)(end - port));
        if (slash && slash + 1 != end) return "has a path but is not allowed to";
        if (slash) pend = slash;
    }
    if (host == hend) return "the host is empty";
    if (host[0] == '{') return "host lists are not supported";
    const char *slash = memchr(host, '/', (size_t)(hend - host));
    if (slash) { /* an address/prefix, or trailing slashes */
        const char *q = slash + 1;
        bool cidr = all_digits(q, (size_t)(hend - q));
        while (q < hend && *q == '/') q++;
        if (!cidr && q != hend) return "hosts must not contain paths";
        hend = slash;
    }
    size_t hlen = (size_t)(hend - host);
    bool special = (hlen == 1 && host[0] == '*') || (hlen == 4 && !memcmp(host, "self", 4));
    size_t from = (hlen > 2 && host[0] == '*' && host[1] == '.') ? 2 : 0;
    if (!special && memchr(host + from, '*', hlen - from))
        return "wildcards are allowed only as a '*.' prefix of the host";
    if (!colon) {
        char scheme[16];
        if (slen >= sizeof scheme) return "no port was provided and the scheme has no well-known port";
        memcpy(scheme, s, slen);
        scheme[slen] = 0;
        return in_list(scheme, well_known) ? NULL
                                           : "no port was provided and the scheme has no well-known port";
    }
    size_t plen = (size_t)(pend - port);
    if (plen == 1 && port[0] == '*') return NULL;
    if (plen && port[0] == '{') return "port lists are not supported";
    for (const char *q = port; q + 1 < pend; q++)
        if (q[0] == '.' && q[1] == '.') {
            if (!port_number(port, (size_t)(q - port)) || !port_number(q + 2, (size_t)(pend - q - 2)))
                return "the port range contains a non-number";
            return NULL;
        }
    return port_number(port, plen) ? NULL : "the port is not a number";
}

/* Split "host[:port]" (host may be "[v6]") at its port; the port is def when absent. False when
 * the port is not a number 0..65535 or the host is empty. */
static bool split_authority(const char *a, size_t n, const char **host, size_t *hlen, long *port, long def) {
    const char *colon = NULL;
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close) return false;
        if ((size_t)(close - a) + 1 < n) {
            if (close[1] != ':') return false;
            colon = close + 1;
        }
        *host = a + 1, *hlen = (size_t)(close - a) - 1;
    } else {
        colon = memchr(a, ':', n);
        *host = a, *hlen = colon ? (size_t)(colon - a) : n;
    }
    *port = def;
    if (colon) {
        size_t plen = n - (size_t)(colon + 1 - a);
        if ((*port = port_value(colon + 1, plen)) < 0) return false;
    }
    return *hlen > 0;
}

static bool same_text(const char *a, size_t n, const char *b, size_t m) {
    return n == m && strncasecmp(a, b, n) == 0;
}

static long default_port(const char *scheme, size_t n) {
    return same_text(scheme, n, "http", 4) ? 80 : same_text(scheme, n, "https", 5) ? 443 : -1;
}

/* Whether a request to scheme://authority matches one allowed_outbound_hosts entry (which
 * kpManifest_checkOutboundHost accepted): scheme "*" or equal; host "*", "*.domain" (any name
 * ending in ".domain") or equal, ignoring case; port "*", "a..b", a number, or the scheme's
 * well-known one when the entry has none. "self" and address prefixes (CIDR) match nothing. */
bool kpManifest_outboundAllows(const char *pattern, const char *scheme, const char *authority, size_t len) {
    while (*pattern == ' ' || *pattern == '\t') pattern++;
    size_t plen = strlen(pattern);
    while (plen && (pattern[plen - 1] == ' ' || pattern[plen - 1] == '\t' || pattern[plen - 1] == '/'))
        plen--;
    const char *sep = strstr(pattern, "://");
    if (!sep || (size_t)(sep - pattern) + 3 > plen) return false;
    size_t slen = (size_t)(sep - pattern), rlen = strlen(scheme);
    if (!(slen == 1 && pattern[0] == '*') && !same_text(pattern, slen, scheme, rlen)) return false;
    long def = default_port(scheme, rlen), want_port;
    const char *host, *phost;
    size_t hlen, phlen;
    if (!split_authority(authority, len, &host, &hlen, &want_port, def) || want_port < 0) return false;
    /* the entry's port: after the last ':' (after the ']' of an IPv6 address) */
    const char *rest = sep + 3, *end = pattern + plen, *colon = NULL;
    for (const char *q = rest; q < end; q++)
        if (*q == ':') colon = q;
    if (rest[0] == '[') {
        const char *close = memchr(rest, ']', (size_t)(end - rest));
        colon = close && close + 1 < end && close[1] == ':' ? close + 1 : NULL;
        phost = rest + 1, phlen = close ? (size_t)(close - rest) - 1 : 0;
    } else {
        phost = rest, phlen = colon ? (size_t)(colon - rest) : (size_t)(end - rest);
    }
    if (memchr(phost, '/', phlen) || same_text(phost, phlen, "self", 4)) return false; /* not yet */
    bool host_ok = (phlen == 1 && phost[0] == '*') ||
                   (phlen > 2 && phost[0] == '*' && phost[1] == '.' && hlen > phlen - 1 &&
                    same_text(host + hlen - (phlen - 1), phlen - 1, phost + 1, phlen - 1)) ||
                   same_text(phost, phlen, host, hlen);
    if (!host_ok) return false;
    if (!colon) return want_port == default_port(pattern, slen) && want_port >= 0;
    const char *port = colon + 1;
    size_t n = (size_t)(end - port);
    if (n == 1 && port[0] == '*') return true;
    for (const char *q = port; q + 1 < end; q++)
        if (q[0] == '.' && q[1] == '.')
            return want_port >= strtol(port, NULL, 10) && want_port <= strtol(q + 2, NULL, 10);
    return port_value(port, n) == want_port;
}

/* ---- paths -------------------------------------------------------------------------------------- */

/* A path inside the application directory: relative, no ".." component. */
static const char *check_relative(const char *p) {
    if (p[0] == '/') return "must be relative to the application directory";
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.') return "must not contain '..'";
        s += n + (e != NULL);
    }
    return NULL;
}

/* Symlinks must not lead out of the application directory: compare real paths. */
static bool inside_dir(const char *dir_real, const char *path) {
    char real[PATH_MAX];
    if (!realpath(path, real)) return false;
    size_t n = strlen(dir_real);
    if (strcmp(dir_real, "/") == 0) return true;
    return strncmp(real, dir_real, n) == 0 && (real[n] == '/' || real[n] == 0);
}

#ifndef KP_MANIFEST_MAX_WALK
#define KP_MANIFEST_MAX_WALK 100000 /* directory entries looked at for one "**" pattern */
#endif
#define KP_MANIFEST_WALK_DEPTH 32 /* directory levels below the application directory */

/* Patterns must stay inside the directory; a few "**" at most (matching is exponential in them). */
static const char *check_pattern(const char *p) {
    const char *why = check_relative(p);
    if (why) return why;
    int stars = 0;
    for (const char *q = p; (q = strstr(q, "**")); q += 2) stars++;
    if (stars > 4) return "has more than four '**'";
    return NULL;
}

/* Does the relative path match the pattern? Segment by segment with fnmatch(3); a "**" segment
 * matches any number of segments, as in Spin's glob crate. */
static bool path_match(const char *pat, const char *path) {
    const char *pe = strchr(pat, '/');
    size_t pn = pe ? (size_t)(pe - pat) : strlen(pat);
    if (pn == 2 && pat[0] == '*' && pat[1] == '*') {
        if (!pe) return true;
        for (const char *q = path;;) {
            if (path_match(pe + 1, q)) return true;
            const char *n = strchr(q, '/');
            if (!n) return false;
            q = n + 1;
        }
    }
    const char *se = strchr(path, '/');
    size_t sn = se ? (size_t)(se - path) : strlen(path);
    char ps[512], ss[512];
    if (pn >= sizeof ps || sn >= sizeof ss) return false;
    memcpy(ps, pat, pn);
    ps[pn] = 0;
    memcpy(ss, path, sn);
    ss[sn] = 0;
    if (fnmatch(ps, ss, 0) != 0) return false;
    if (!pe || !se) return !pe && !se;
    return path_match(pe + 1, se + 1);
}

static bool excluded(const kpManifestComponent *comp, const char *rel) {
    for (size_t i = 0; i < comp->exclude_files.n; i++)
        if (path_match(comp->exclude_files.v[i], rel)) return true;
    return false;
}

/* ---- components --------------------------------------------------------------------------------- */

static kapsul_status add_mount(mctx *c, kpManifestComponent *comp, kpMountKind kind, char *host,
                               char *guest) {
    if (!host || !guest || kpVec_grow(&comp->files)) {
        kp_free(host);
        kp_free(guest);
        return nomem(c);
    }
    comp->files.v[comp->files.n++] = (kpManifestMount){ kind, host, guest };
    return KAPSUL_OK;
}

/* One matched path (dir + "/" + rel): a regular file inside the application directory is
 * mounted at "/" + rel; other kinds are skipped; excluded files too. */
static kapsul_status add_file(mctx *c, kpManifestComponent *comp, const kpTomlValue *v, const char *dir_real,
                              const char *path, const char *rel) {
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || excluded(comp, rel)) return KAPSUL_OK;
    if (!dir_real || !inside_dir(dir_real, path)) {
        char b[80];
        return mfail(c, v->line, v->column,
                     "files entry matches '%s', which leads outside the application directory",
                     shown(rel, b, sizeof b));
    }
    if (comp->files.n >= KP_MANIFEST_MAX_FILES)
        return kpError_setText(c->err, KAPSUL_ERR_LIMIT, v->line, v->column, "more than %d files",
                               KP_MANIFEST_MAX_FILES);
    char *guest = kp_malloc(strlen(rel) + 2);
    if (guest) {
        guest[0] = '/';
        strcpy(guest + 1, rel);
    }
    return add_mount(c, comp, KP_MOUNT_FILE, kp_strndup(path, strlen(path)), guest);
}

/* A pattern without "**": glob(3) against the application directory. */
static kapsul_status expand_glob(mctx *c, kpManifestComponent *comp, const kpTomlValue *v,
                                 const char *dir_real) {
    const char *dir = c->m->dir;
    /* The directory's own name may hold glob characters: escape them. */
    char *edir = kp_malloc(strlen(dir) * 2 + 1), *full = NULL;
    if (edir) {
        size_t o = 0;
        for (const char *q = dir; *q; q++) {
            if (strchr("*?[]\\", *q)) edir[o++] = '\\';
            edir[o++] = *q;
        }
        edir[o] = 0;
        full = kp_pathJoin(edir, v->u.str.s);
        kp_free(edir);
    }
    if (!full) return nomem(c);
    glob_t g;
    memset(&g, 0, sizeof g);
    int rc = glob(full, 0, NULL, &g);
    kp_free(full);
    kapsul_status st = KAPSUL_OK;
    if (rc == GLOB_NOSPACE) st = nomem(c);
    for (size_t i = 0; rc == 0 && st == KAPSUL_OK && i < g.gl_pathc; i++)
        st = add_file(c, comp, v, dir_real, g.gl_pathv[i], g.gl_pathv[i] + strlen(dir) + 1);
    globfree(&g);
    return st; /* no match, or unreadable directories: nothing to mount */
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A pattern with "**": walk the directory tree (symlinked directories are not followed; names in
 * sorted order) and match every path below it. rel holds the current directory's relative path. */
static kapsul_status walk(mctx *c, kpManifestComponent *comp, const kpTomlValue *v, const char *dir_real,
                          kpBuf *rel, int depth, size_t *seen) {
    char *here =
        rel->len ? kp_pathJoin(c->m->dir, (const char *)rel->data) : kp_strndup(c->m->dir, strlen(c->m->dir));
    kpStrVec names = { 0 };
    kapsul_status st = KAPSUL_OK;
    if (!here) return nomem(c);
    DIR *d = opendir(here);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && st == KAPSUL_OK) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (++*seen > KP_MANIFEST_MAX_WALK)
            st = kpError_setText(c->err, KAPSUL_ERR_LIMIT, v->line, v->column,
                                 "'**' walks more than %d entries", KP_MANIFEST_MAX_WALK);
        else if (kpVec_grow(&names) || !(names.v[names.n] = kp_strndup(e->d_name, strlen(e->d_name))))
            st = nomem(c);
        else names.n++;
    }
    if (d) closedir(d);
    if (names.n) qsort(names.v, names.n, sizeof *names.v, cmp_names);
    size_t keep = rel->len;
    for (size_t i = 0; i < names.n && st == KAPSUL_OK; i++) {
        rel->len = keep;
        if ((keep && kpBuf_byte(rel, '/')) || kpBuf_push(rel, names.v[i], strlen(names.v[i]) + 1)) {
            st = nomem(c);
            break;
        }
        rel->len--; /* keep the NUL after the bytes, not in the length */
        char *path = kp_pathJoin(c->m->dir, (const char *)rel->data);
        struct stat sb;
        if (!path) st = nomem(c);
        else if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            if (depth < KP_MANIFEST_WALK_DEPTH) st = walk(c, comp, v, dir_real, rel, depth + 1, seen);
        } else if (path_match(v->u.str.s, (const char *)rel->data)) {
            st = add_file(c, comp, v, dir_real, path, (const char *)rel->data);
        }
        kp_free(path);
    }
    rel->len = keep;
    if (rel->data) rel->data[keep] = 0;
    for (size_t i = 0; i < names.n; i++) kp_free(names.v[i]);
    kpVec_free(&names);
    kp_free(here);
    return st;
}

static kapsul_status expand_pattern(mctx *c, kpManifestComponent *comp, const kpTomlValue *v,
                                    const char *dir_real) {
    if (!strstr(v->u.str.s, "**")) return expand_glob(c, comp, v, dir_real);
    /* Start below the literal leading directories of the pattern (static, for static then **), so a
     * big target/ or node_modules/ elsewhere in the app is never read. */
    const char *pat = v->u.str.s;
    size_t plen = 0;
    for (const char *q = pat, *e; (e = strchr(q, '/')) != NULL; q = e + 1) {
        if (strcspn(q, "*?[\\") < (size_t)(e - q)) break;
        plen = (size_t)(e - pat);
    }
    kpBuf rel = { 0 };
    size_t seen = 0;
    kapsul_status st = kpBuf_push(&rel, pat, plen) || kpBuf_byte(&rel, 0) ? nomem(c) : KAPSUL_OK;
    rel.len = plen;
    if (!st) st = walk(c, comp, v, dir_real, &rel, 0, &seen);
    kpBuf_free(&rel);
    return st;
}

/* { source = "dir", destination = "/guest" }: one directory mount. */
static kapsul_status placement(mctx *c, kpManifestComponent *comp, const kpTomlValue *t,
                               const char *dir_real) {
    static const char *const known[] = { "source", "destination", NULL };
    char *src = NULL, *dst = NULL, *host = NULL;
    const char *why;
    kapsul_status st;
    if ((st = check_fields(c, t, "a files placement", known, NULL))) return st;
    if ((st = get_string(c, t, "source", "a files placement", true, NULL, &src)) ||
        (st = get_string(c, t, "destination", "a files placement", true, NULL, &dst)))
        goto fail;
    const kpTomlEntry *se = kpToml_find(t, "source"), *de = kpToml_find(t, "destination");
    if ((why = check_relative(src))) {
        st = mfail(c, se->value->line, se->value->column, "files source %s", why);
        goto fail;
    }
    if (dst[0] != '/' || check_relative(dst + 1)) {
        st = mfail(c, de->value->line, de->value->column,
                   "files destination must be an absolute guest path without '..'");
        goto fail;
    }
    if (!(host = kp_pathJoin(c->m->dir, src))) {
        st = nomem(c);
        goto fail;
    }
    struct stat sb;
    if (stat(host, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        char b[80];
        st = mfail(c, se->value->line, se->value->column, "files source '%s' is not a directory",
                   shown(src, b, sizeof b));
        goto fail;
    }
    if (!dir_real || !inside_dir(dir_real, host)) {
        st = mfail(c, se->value->line, se->value->column,
                   "files source leads outside the application directory");
        goto fail;
    }
    st = add_mount(c, comp, KP_MOUNT_DIR, host, dst);
    host = dst = NULL;
fail:
    kp_free(src);
    kp_free(dst);
    kp_free(host);
    return st;
}

/* files = [...]: each entry a pattern or a placement, resolved now against the app directory. */
static kapsul_status component_files(mctx *c, kpManifestComponent *comp, const kpTomlValue *t) {
    const kpTomlEntry *e = kpToml_find(t, "files");
    if (!e) return KAPSUL_OK;
    if (e->value->kind != KP_TOML_ARRAY)
        return mfail(c, e->value->line, e->value->column, "'files' must be an array, not %s",
                     kpToml_kindName(e->value->kind));
    char dir_real[PATH_MAX];
    bool have_real = realpath(c->m->dir, dir_real) != NULL;
    for (size_t i = 0; i < e->value->u.arr.n; i++) {
        const kpTomlValue *v = e->value->u.arr.v[i];
        kapsul_status st;
        const char *why;
        if (v->kind == KP_TOML_STRING) {
            if (strlen(v->u.str.s) != v->u.str.len)
                return mfail(c, v->line, v->column, "'files' must not contain NUL");
            if ((why = check_pattern(v->u.str.s)))
                return mfail(c, v->line, v->column, "files pattern %s", why);
            st = expand_pattern(c, comp, v, have_real ? dir_real : NULL);
        } else if (v->kind == KP_TOML_TABLE) {
            st = placement(c, comp, v, have_real ? dir_real : NULL);
        } else {
            return mfail(c, v->line, v->column,
                         "a files entry must be a glob string or { source, destination }, not %s",
                         kpToml_kindName(v->kind));
        }
        if (st) return st;
    }
    return KAPSUL_OK;
}

/* environment = { NAME = "value" }: names that can be "NAME=value" strings, values strings. */
static kapsul_status component_env(mctx *c, kpManifestComponent *comp, const kpTomlValue *t) {
    const kpTomlEntry *e = kpToml_find(t, "environment");
    if (!e) return KAPSUL_OK;
    kapsul_status st = need_table(c, e, "'environment'");
    if (st) return st;
    for (size_t i = 0; i < e->value->u.tab.n; i++) {
        const kpTomlEntry *v = &e->value->u.tab.v[i];
        if (v->key_len == 0 || strlen(v->key) != v->key_len || strchr(v->key, '='))
            return mfail(c, v->line, v->column,
                         "environment variable names must be non-empty, without '=' or NUL");
        char *val = NULL, *name;
        if ((st = take_string(c, v, &val))) return st;
        if (!(name = kp_strndup(v->key, v->key_len)) || kpVec_grow(&comp->env)) {
            kp_free(name);
            kp_free(val);
            return nomem(c);
        }
        comp->env.v[comp->env.n++] = (kpManifestEnv){ name, val };
    }
    return KAPSUL_OK;
}

/* [component.ID.build]: command (one string or several), workdir inside the app, watch globs. */
static kapsul_status component_build(mctx *c, kpManifestComponent *comp, const kpTomlValue *t,
                                     const char *id) {
    static const char *const known[] = { "command", "workdir", "watch", NULL };
    const kpTomlEntry *e = kpToml_find(t, "build");
    char section[160], b[80];
    if (!e) return KAPSUL_OK;
    snprintf(section, sizeof section, "[component.%s.build]", shown(id, b, sizeof b));
    kapsul_status st;
    if ((st = need_table(c, e, section)) || (st = check_fields(c, e->value, section, known, NULL))) return st;
    comp->has_build = true;
    const kpTomlEntry *cmd = kpToml_find(e->value, "command");
    if (!cmd) return mfail(c, e->value->line, e->value->column, "%s is missing 'command'", section);
    if (cmd->value->kind == KP_TOML_STRING) {
        char *s = NULL;
        if ((st = take_string(c, cmd, &s)) || (st = push_str(c, &comp->build_commands, s))) return st;
    } else if ((st = get_strings(c, e->value, "command", &comp->build_commands))) {
        return st;
    }
    if ((st = get_string(c, e->value, "workdir", section, false, NULL, &comp->build_workdir))) return st;
    const char *why;
    if (comp->build_workdir && (why = check_relative(comp->build_workdir))) {
        const kpTomlValue *w = kpToml_get(e->value, "workdir");
        return mfail(c, w->line, w->column, "build workdir %s", why);
    }
    return get_strings(c, e->value, "watch", &comp->build_watch);
}

/* Spin's KebabId: words of ASCII letters and digits, each starting with a letter, all lower or
 * all upper case, joined by single '-'. */
static const char *check_id(const char *id, size_t len) {
    if (len == 0) return "is empty";
    if (strlen(id) != len) return "contains NUL";
    if (strchr(id, '_')) return "must separate words with '-', not '_'";
    const char *w = id;
    for (;;) {
        size_t n = strcspn(w, "-");
        if (n == 0) return "has an empty word (a leading, trailing or doubled '-')";
        if (!((w[0] >= 'a' && w[0] <= 'z') || (w[0] >= 'A' && w[0] <= 'Z')))
            return "has a word not starting with a letter";
        bool upper = w[0] >= 'A' && w[0] <= 'Z';
        for (size_t i = 1; i < n; i++) {
            char ch = w[i];
            if (ch >= '0' && ch <= '9') continue;
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
                return "may only contain letters, digits and '-'";
            if ((ch >= 'A' && ch <= 'Z') != upper) return "has a word mixing upper and lower case";
        }
        if (!w[n]) return NULL;
        w += n + 1;
    }
}

/* One [component.ID]: its id, its fields, then its files (which need exclude_files first). */
static kapsul_status component(mctx *c, const kpTomlEntry *ce) {
    static const char *const known[] = { "source",        "description",
                                         "environment",   "files",
                                         "exclude_files", "allowed_outbound_hosts",
                                         "build",         NULL };
    static const char *const unsupported[] = { "variables",
                                               "key_value_stores",
                                               "sqlite_databases",
                                               "ai_models",
                                               "allowed_http_hosts",
                                               "dependencies",
                                               "dependencies_inherit_configuration",
                                               NULL };
    char section[120], b[80];
    const char *why;
    kapsul_status st;
    if ((why = check_id(ce->key, ce->key_len)))
        return mfail(c, ce->line, ce->column, "component id '%s' %s", shown(ce->key, b, sizeof b), why);
    snprintf(section, sizeof section, "[component.%s]", ce->key);
    if ((st = need_table(c, ce, section))) return st;
    const kpTomlValue *t = ce->value;
    if ((st = check_fields(c, t, section, known, unsupported))) return st;
    if (kpVec_grow(&c->m->components)) return nomem(c);
    kpManifestComponent *comp = &c->m->components.v[c->m->components.n++];
    memset(comp, 0, sizeof *comp);
    comp->line = t->line;
    comp->column = t->column;
    if (!(comp->id = kp_strndup(ce->key, ce->key_len))) return nomem(c);
    const kpTomlEntry *src = kpToml_find(t, "source");
    if (!src) return mfail(c, t->line, t->column, "%s is missing 'source'", section);
    if (src->value->kind == KP_TOML_TABLE) {
        bool remote = kpToml_find(src->value, "url") != NULL;
        return mfail(c, src->value->line, src->value->column,
                     "%s component sources are not supported by kapsul: "
                     "build the module and give its path",
                     remote ? "remote ({ url, digest })" : "registry");
    }
    if ((st = take_string(c, src, &comp->source))) return st;
    if (comp->source[0] == 0) return mfail(c, src->value->line, src->value->column, "'source' is empty");
    if (comp->source[0] == '/') comp->source_path = kp_strndup(comp->source, strlen(comp->source));
    else comp->source_path = kp_pathJoin(c->m->dir, comp->source);
    if (!comp->source_path) return nomem(c);
    if ((st = get_string(c, t, "description", section, false, "", &comp->description)) ||
        (st = component_env(c, comp, t)) || (st = get_strings(c, t, "exclude_files", &comp->exclude_files)) ||
        (st = get_strings(c, t, "allowed_outbound_hosts", &comp->allowed_outbound_hosts)))
        return st;
    const kpTomlEntry *hosts = kpToml_find(t, "allowed_outbound_hosts");
    for (size_t i = 0; i < comp->allowed_outbound_hosts.n; i++)
        if ((why = kpManifest_checkOutboundHost(comp->allowed_outbound_hosts.v[i]))) {
            const kpTomlValue *v = hosts->value->u.arr.v[i];
            return mfail(c, v->line, v->column, "allowed_outbound_hosts entry '%s': %s",
                         shown(comp->allowed_outbound_hosts.v[i], b, sizeof b), why);
        }
    if ((st = component_build(c, comp, t, ce->key))) return st;
    return component_files(c, comp, t);
}

/* ---- triggers ----------------------------------------------------------------------------------- */

/* Spin's route normalisation (routes.rs sanitize_with_base): the route gets a leading '/', base
 * and route each lose one trailing '/', and are joined. "/" alone becomes "". */
static char *normalize_route(const char *base, const char *route) {
    size_t bl = strlen(base), rl = strlen(route);
    if (bl && base[bl - 1] == '/') bl--;
    bool slash = route[0] != '/';
    size_t total = bl + slash + rl;
    char *s = kp_malloc(total + 1);
    if (!s) return NULL;
    memcpy(s, base, bl);
    if (slash) s[bl] = '/';
    memcpy(s + bl + slash, route, rl);
    if (total && s[total - 1] == '/') total--;
    s[total] = 0;
    return s;
}

/* Routes are plain paths: no control characters, spaces, '?' or '#'. Spin 3's ":name" and trailing-star
 * wildcard forms are refused rather than taken literally. */
static const char *check_route(const char *r) {
    for (const char *s = r; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch <= 0x20 || ch == 0x7f || ch == '?' || ch == '#')
            return "contains a space, control character, '?' or '#'";
        if ((ch == ':' || ch == '*') && (s == r || s[-1] == '/'))
            return "uses a ':name' or '*' wildcard segment, which kapsul does not support (use '/...')";
    }
    return NULL;
}

/* executor = { type = "wagi", argv, entrypoint } or { type = "spin" }; anything else is refused. */
static kapsul_status executor(mctx *c, kpManifestTrigger *tr, const kpTomlEntry *e) {
    static const char *const wagi_known[] = { "type", "argv", "entrypoint", NULL };
    static const char *const spin_known[] = { "type", NULL };
    kapsul_status st;
    char *type = NULL;
    if ((st = need_table(c, e, "'executor'"))) return st;
    if ((st = get_string(c, e->value, "type", "'executor'", true, NULL, &type))) return st;
    const kpTomlValue *tv = kpToml_get(e->value, "type");
    if (strcmp(type, "wagi") == 0) {
        tr->executor = KP_EXECUTOR_WAGI;
        kp_free(tr->argv);
        kp_free(tr->entrypoint);
        tr->argv = tr->entrypoint = NULL;
        if ((st = check_fields(c, e->value, "a wagi executor", wagi_known, NULL)) ||
            (st = get_string(c, e->value, "argv", "", false, "${SCRIPT_NAME} ${ARGS}", &tr->argv)) ||
            (st = get_string(c, e->value, "entrypoint", "", false, "_start", &tr->entrypoint)))
            goto fail;
    } else if (strcmp(type, "spin") == 0 || strcmp(type, "http") == 0) {
        st = check_fields(c, e->value, "a spin executor", spin_known, NULL);
    } else {
        char b[40];
        st = mfail(c, tv->line, tv->column, "unknown executor type '%s' (kapsul knows \"spin\" and \"wagi\")",
                   shown(type, b, sizeof b));
    }
fail:
    kp_free(type);
    return st;
}

/* One [[trigger.http]]: route (checked, normalised, unique), component by name, executor. */
static kapsul_status http_trigger(mctx *c, const kpTomlValue *t) {
    static const char *const known[] = { "route", "component", "executor", "id", NULL };
    static const char *const unsupported[] = { "components", NULL };
    kapsul_status st;
    if (t->kind != KP_TOML_TABLE)
        return mfail(c, t->line, t->column, "each [[trigger.http]] must be a table, not %s",
                     kpToml_kindName(t->kind));
    if ((st = check_fields(c, t, "[[trigger.http]]", known, unsupported))) return st;
    if (kpVec_grow(&c->m->triggers)) return nomem(c);
    kpManifestTrigger *tr = &c->m->triggers.v[c->m->triggers.n++];
    memset(tr, 0, sizeof *tr);
    tr->line = t->line;
    tr->column = t->column;
    const kpTomlEntry *re = kpToml_find(t, "route"), *ce = kpToml_find(t, "component");
    if (!re) return mfail(c, t->line, t->column, "[[trigger.http]] is missing 'route'");
    tr->route_line = re->value->line;
    tr->route_column = re->value->column;
    if (re->value->kind == KP_TOML_TABLE)
        return mfail(c, re->value->line, re->value->column,
                     "private endpoints (route = { private = true }) are not supported by kapsul");
    if ((st = take_string(c, re, &tr->route))) return st;
    const char *why = check_route(tr->route);
    if (why) return mfail(c, re->value->line, re->value->column, "route %s", why);
    if (!(tr->based_route = normalize_route(c->m->base, tr->route))) return nomem(c);
    size_t bl = strlen(tr->based_route);
    tr->wildcard = (bl >= 4 && !strcmp(tr->based_route + bl - 4, "/..."));
    if (!ce) return mfail(c, t->line, t->column, "[[trigger.http]] is missing 'component'");
    if (ce->value->kind == KP_TOML_TABLE)
        return mfail(
            c, ce->value->line, ce->value->column,
            "inline components (component = { ... }) are not supported by kapsul: define [component.NAME] and use component = \"NAME\"");
    if ((st = take_string(c, ce, &tr->component))) return st;
    if (!(tr->argv = kp_strndup("${SCRIPT_NAME} ${ARGS}", 22)) || !(tr->entrypoint = kp_strndup("_start", 6)))
        return nomem(c);
    const kpTomlEntry *ide = kpToml_find(t, "id"); /* Spin's optional trigger id: checked, not kept */
    char *id = NULL;
    if (ide && (st = take_string(c, ide, &id))) return st;
    kp_free(id);
    const kpTomlEntry *ee = kpToml_find(t, "executor");
    if (ee && (st = executor(c, tr, ee))) return st;
    /* Two triggers may not share a route (Spin warns and drops one; kapsul refuses). */
    size_t i;
    int put = kpStrIndex_put(&c->routes, tr->based_route, strlen(tr->based_route), c->m->triggers.n - 1, &i);
    if (put < 0) return nomem(c);
    if (put > 0) {
        char b[80];
        return mfail(c, tr->route_line, tr->route_column, "duplicate route '%s' (also at %d:%d)",
                     shown(tr->route, b, sizeof b), c->m->triggers.v[i].route_line,
                     c->m->triggers.v[i].route_column);
    }
    return KAPSUL_OK;
}

/* [trigger]: only http; each [[trigger.http]] in order. */
static kapsul_status triggers(mctx *c, const kpTomlValue *root) {
    const kpTomlEntry *e = kpToml_find(root, "trigger");
    kapsul_status st;
    if (!e) return mfail(c, 1, 1, "the manifest has no [[trigger.http]]");
    if ((st = need_table(c, e, "'trigger'"))) return st;
    for (size_t i = 0; i < e->value->u.tab.n; i++) {
        const kpTomlEntry *te = &e->value->u.tab.v[i];
        char b[40];
        if (strcmp(te->key, "http") != 0)
            return mfail(c, te->line, te->column, "trigger type '%s' is not supported by kapsul (only http)",
                         shown(te->key, b, sizeof b));
        if (te->value->kind != KP_TOML_ARRAY)
            return mfail(c, te->value->line, te->value->column,
                         "'trigger.http' must be an array of tables ([[trigger.http]])");
        for (size_t j = 0; j < te->value->u.arr.n; j++)
            if ((st = http_trigger(c, te->value->u.arr.v[j]))) return st;
    }
    if (c->m->triggers.n == 0) return mfail(c, e->line, e->column, "the manifest has no [[trigger.http]]");
    return KAPSUL_OK;
}

/* ---- application -------------------------------------------------------------------------------- */

static kapsul_status app_triggers(mctx *c, const kpTomlValue *app) {
    static const char *const known[] = { "base", NULL };
    const kpTomlEntry *e = kpToml_find(app, "trigger");
    kapsul_status st;
    if (!e) return KAPSUL_OK;
    if ((st = need_table(c, e, "[application.trigger]"))) return st;
    for (size_t i = 0; i < e->value->u.tab.n; i++) {
        const kpTomlEntry *te = &e->value->u.tab.v[i];
        char b[40];
        if (strcmp(te->key, "http") != 0)
            return mfail(c, te->line, te->column, "trigger type '%s' is not supported by kapsul (only http)",
                         shown(te->key, b, sizeof b));
        if ((st = need_table(c, te, "[application.trigger.http]")) ||
            (st = check_fields(c, te->value, "[application.trigger.http]", known, NULL)))
            return st;
        const kpTomlEntry *be = kpToml_find(te->value, "base");
        if (be) {
            kp_free(c->m->base);
            c->m->base = NULL;
            if ((st = take_string(c, be, &c->m->base))) return st;
            const char *why = check_route(c->m->base);
            if (c->m->base[0] != '/' || why)
                return mfail(c, be->value->line, be->value->column,
                             "base must be a path starting with '/'%s%s", why ? " that " : "",
                             why ? why : "");
        }
    }
    return KAPSUL_OK;
}

/* [application]: name required; version, description, authors; [application.trigger.http]. */
static kapsul_status application(mctx *c, const kpTomlValue *root) {
    static const char *const known[] = { "name", "version", "description", "authors", "trigger", NULL };
    const kpTomlEntry *e = kpToml_find(root, "application");
    kapsul_status st;
    if (!e) return mfail(c, 1, 1, "the manifest has no [application] table");
    if ((st = need_table(c, e, "[application]")) ||
        (st = check_fields(c, e->value, "[application]", known, NULL)) ||
        (st = get_string(c, e->value, "name", "[application]", true, NULL, &c->m->name)) ||
        (st = get_string(c, e->value, "version", "[application]", false, "", &c->m->version)) ||
        (st = get_string(c, e->value, "description", "[application]", false, "", &c->m->description)) ||
        (st = get_strings(c, e->value, "authors", &c->m->authors)))
        return st;
    return app_triggers(c, e->value);
}

/* spin_manifest_version = 2; version 1 manifests (spin_version = "1" or spin_manifest_version = "1")
 * get a message saying so. */
static kapsul_status version(mctx *c, const kpTomlValue *root) {
    const kpTomlEntry *e = kpToml_find(root, "spin_manifest_version");
    const kpTomlEntry *old = kpToml_find(root, "spin_version");
    if (!e && old)
        return mfail(
            c, old->line, old->column,
            "this is a Spin version 1 manifest (spin_version); kapsul supports only spin_manifest_version = 2 (run `spin doctor` to upgrade)");
    if (!e)
        return mfail(c, 1, 1,
                     "the manifest has no spin_manifest_version (kapsul supports spin_manifest_version = 2)");
    const kpTomlValue *v = e->value;
    if (v->kind == KP_TOML_STRING && strcmp(v->u.str.s, "1") == 0)
        return mfail(
            c, v->line, v->column,
            "this is a Spin version 1 manifest; kapsul supports only spin_manifest_version = 2 (run `spin doctor` to upgrade)");
    if (v->kind != KP_TOML_INTEGER || v->u.i != 2)
        return mfail(c, v->line, v->column, "spin_manifest_version must be 2");
    return KAPSUL_OK;
}

/* Components first (triggers name them), then resolve each trigger's component. */
static kapsul_status check_root(mctx *c, const kpTomlValue *root) {
    static const char *const known[] = { "spin_manifest_version", "application", "trigger", "component",
                                         NULL };
    static const char *const unsupported[] = { "variables", NULL };
    kapsul_status st;
    if ((st = version(c, root)) || (st = check_fields(c, root, "the manifest", known, unsupported)) ||
        (st = application(c, root)))
        return st;
    const kpTomlEntry *ce = kpToml_find(root, "component");
    if (ce) {
        if ((st = need_table(c, ce, "'component'"))) return st;
        for (size_t i = 0; i < ce->value->u.tab.n; i++)
            if ((st = component(c, &ce->value->u.tab.v[i]))) return st;
    }
    if ((st = triggers(c, root))) return st;
    /* Components were made one per entry of the component table, in its order. */
    for (size_t i = 0; i < c->m->triggers.n; i++) {
        kpManifestTrigger *tr = &c->m->triggers.v[i];
        const kpTomlEntry *def = ce ? kpToml_find(ce->value, tr->component) : NULL;
        size_t j = def ? (size_t)(def - ce->value->u.tab.v) : c->m->components.n;
        if (j == c->m->components.n) {
            const kpTomlValue *t = kpToml_get(root, "trigger");
            const kpTomlValue *arr = kpToml_get(t, "http");
            const kpTomlValue *cv = kpToml_get(arr->u.arr.v[i], "component");
            char b[80];
            return mfail(c, cv->line, cv->column, "component '%s' is not defined (no [component.%s])",
                         shown(tr->component, b, sizeof b), shown(tr->component, b, sizeof b));
        }
        tr->component_index = j;
    }
    return KAPSUL_OK;
}

static void free_strs(kpStrVec *v) {
    for (size_t i = 0; i < v->n; i++) kp_free(v->v[i]);
    kpVec_free(v);
}

void kpManifest_free(kpManifest *m) {
    if (!m) return;
    for (size_t i = 0; i < m->components.n; i++) {
        kpManifestComponent *c = &m->components.v[i];
        kp_free(c->id);
        kp_free(c->source);
        kp_free(c->source_path);
        kp_free(c->description);
        for (size_t j = 0; j < c->env.n; j++) {
            kp_free(c->env.v[j].name);
            kp_free(c->env.v[j].value);
        }
        kpVec_free(&c->env);
        for (size_t j = 0; j < c->files.n; j++) {
            kp_free(c->files.v[j].host);
            kp_free(c->files.v[j].guest);
        }
        kpVec_free(&c->files);
        free_strs(&c->exclude_files);
        free_strs(&c->allowed_outbound_hosts);
        free_strs(&c->build_commands);
        free_strs(&c->build_watch);
        kp_free(c->build_workdir);
    }
    kpVec_free(&m->components);
    for (size_t i = 0; i < m->triggers.n; i++) {
        kpManifestTrigger *t = &m->triggers.v[i];
        kp_free(t->route);
        kp_free(t->based_route);
        kp_free(t->component);
        kp_free(t->argv);
        kp_free(t->entrypoint);
    }
    kpVec_free(&m->triggers);
    kp_free(m->dir);
    kp_free(m->name);
    kp_free(m->version);
    kp_free(m->description);
    kp_free(m->base);
    free_strs(&m->authors);
    memset(m, 0, sizeof *m);
}

/* TOML first, then the checks; on failure m is left empty. */
kapsul_status kpManifest_parse(const char *text, size_t len, const char *dir, kpManifest *m,
                               kapsul_error *err) {
    mctx c = { m, err, { 0 } };
    kpTomlValue *root = NULL;
    memset(m, 0, sizeof *m);
    kapsul_status st = kpToml_parse(text, len, &root, err);
    if (st) return st;
    if (!(m->dir = kp_strndup(dir, strlen(dir))) || !(m->base = kp_strndup("/", 1))) {
        st = nomem(&c);
        goto fail;
    }
    st = check_root(&c, root);
fail:
    kpStrIndex_free(&c.routes);
    kpToml_free(root);
    if (st) kpManifest_free(m);
    return st;
}

/* The file is read whole (bounded by KP_TOML_MAX_INPUT); its directory is the app directory. */
kapsul_status kpManifest_load(const char *path, kpManifest *m, kapsul_error *err) {
    memset(m, 0, sizeof *m);
    kpBuf text = { 0 };
    char *dir = NULL;
    kapsul_status st = KAPSUL_OK;
    FILE *f = fopen(path, "rb");
    if (!f) return kpError_setText(err, KAPSUL_ERR_IO, 0, 0, "cannot open %s: %s", path, strerror(errno));
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (text.len + n > KP_TOML_MAX_INPUT) {
            st = kpError_setText(err, KAPSUL_ERR_LIMIT, 1, 1, "manifest is larger than %u bytes",
                                 KP_TOML_MAX_INPUT);
            goto fail;
        }
        if (kpBuf_push(&text, chunk, n)) {
            st = kpError_setText(err, KAPSUL_ERR_NOMEM, 0, 0, "out of memory");
            goto fail;
        }
    }
    if (ferror(f)) {
        st = kpError_setText(err, KAPSUL_ERR_IO, 0, 0, "cannot read %s", path);
        goto fail;
    }
    const char *slash = strrchr(path, '/');
    dir = slash ? kp_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : kp_strndup(".", 1);
    if (!dir) {
        st = kpError_setText(err, KAPSUL_ERR_NOMEM, 0, 0, "out of memory");
        goto fail;
    }
    st = kpManifest_parse(text.len ? (const char *)text.data : "", text.len, dir, m, err);
fail:
    fclose(f);
    kpBuf_free(&text);
    kp_free(dir);
    return st;
}
