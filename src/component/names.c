/*
 * names.c -- interface names of imports and exports (`ns:pkg/iface@1.2.3`) and the semver rule by
 * which a host's interface satisfies an import: the same namespace, package and interface, and
 * versions in the same compatibility bucket. As in wasmtime and in semver for 0.x: 1.2.3 and
 * 1.9.0 share the bucket 1; 0.2.3 and 0.2.12 share 0.2; 0.0.1 is alone; a prerelease or build
 * suffix matches only itself. Real components import `wasi:io/streams@0.2.12` beside
 * `wasi:http/types@0.2.10`, and a host implementing 0.2.x must serve both.
 */
#include "component/component.h"

static bool num(const char **p, const char *end, uint64_t *out) {
    const char *s = *p;
    if (s >= end || *s < '0' || *s > '9' || (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9'))
        return false;
    uint64_t v = 0;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX) return false;
    }
    *out = v, *p = s;
    return true;
}

bool kpCName_parse(const char *s, uint32_t len, kpCName *out) {
    *out = (kpCName){ 0 };
    const char *end = s + len, *colon = memchr(s, ':', len), *at = memchr(s, '@', len);
    const char *slash = colon ? memchr(colon, '/', (size_t)(end - colon)) : NULL;
    if (!colon || !slash || colon == s || slash == colon + 1) return false;
    const char *name_end = at ? at : end;
    if (slash + 1 >= name_end) return false;
    out->iface = s;
    out->iface_len = (uint32_t)(name_end - s);
    if (!at) return true;
    const char *p = at + 1;
    uint64_t v[3];
    for (int i = 0; i < 3; i++) {
        if (!num(&p, end, &v[i])) return false;
        if (i < 2 && (p >= end || *p++ != '.')) return false;
    }
    if (p < end && *p != '-' && *p != '+') return false;
    out->has_version = true;
    out->major = (uint32_t)v[0], out->minor = (uint32_t)v[1], out->patch = (uint32_t)v[2];
    out->suffix = p;
    out->suffix_len = (uint32_t)(end - p);
    return true;
}

bool kpCName_compatible(const kpCName *a, const kpCName *b) {
    if (a->iface_len != b->iface_len || memcmp(a->iface, b->iface, a->iface_len) != 0) return false;
    if (a->has_version != b->has_version) return false;
    if (!a->has_version) return true;
    if (a->suffix_len || b->suffix_len)
        return a->major == b->major && a->minor == b->minor && a->patch == b->patch &&
               a->suffix_len == b->suffix_len && memcmp(a->suffix, b->suffix, a->suffix_len) == 0;
    if (a->major != b->major) return false;
    if (a->major > 0) return true;
    if (a->minor != b->minor) return false;
    return a->minor > 0 || a->patch == b->patch;
}
