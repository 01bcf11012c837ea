/*
 * route.c -- Spin's HTTP routing (see route.h for the rules): one linear pass over the routes
 * per request, exact matches first. Linear is enough for the route counts manifests have; the
 * match does no allocation and never fails.
 */
#include "serve/route.h"

#define KP_WELL_KNOWN "/.well-known/spin/"

/* Duplicates are refused here too, so a router built by hand obeys the manifest's rule. */
kapsul_status kpRoute_add(kpRouter *r, const char *based_route, const char *raw_route, const char *component,
                          size_t index, kapsul_error *err) {
    size_t len = strlen(based_route);
    bool wildcard = len >= 4 && memcmp(based_route + len - 4, "/...", 4) == 0;
    for (size_t i = 0; i < r->routes.n; i++)
        if (strcmp(r->routes.v[i].based_route, based_route) == 0)
            return kpError_set(err, KAPSUL_ERR_ARG, 0, "duplicate route '%s'", based_route);
    if (kpVec_grow(&r->routes)) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    r->routes.v[r->routes.n++] =
        (kpRoute){ based_route, raw_route, component, wildcard ? len - 4 : len, wildcard, index };
    return KAPSUL_OK;
}

/* One route per trigger, in manifest order (the index is the trigger's). */
kapsul_status kpRoute_build(kpRouter *r, const kpManifest *m, kapsul_error *err) {
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < m->triggers.n; i++) {
        const kpManifestTrigger *t = &m->triggers.v[i];
        kapsul_status st = kpRoute_add(r, t->based_route, t->route, t->component, i, err);
        if (st) {
            kpRoute_free(r);
            return st;
        }
    }
    return KAPSUL_OK;
}

void kpRoute_free(kpRouter *r) { kpVec_free(&r->routes); }

/* Spin's reserved paths: health, info, and a 404 for anything else beneath the prefix. */
static bool well_known(const char *path, size_t len, kpRouteMatch *out) {
    size_t k = sizeof KP_WELL_KNOWN - 1;
    if (len < k || memcmp(path, KP_WELL_KNOWN, k) != 0) return false;
    if (len - k == 6 && memcmp(path + k, "health", 6) == 0) out->result = KP_ROUTE_HEALTH;
    else if (len - k == 4 && memcmp(path + k, "info", 4) == 0) out->result = KP_ROUTE_INFO;
    return true;
}

/* Exact routes end the search; wildcards keep the longest prefix seen (Spin 2 route_full). */
void kpRoute_match(const kpRouter *r, const char *path, size_t len, kpRouteMatch *out) {
    memset(out, 0, sizeof *out);
    if (well_known(path, len, out)) return;
    size_t plen = len && path[len - 1] == '/' ? len - 1 : len; /* Spin drops one trailing '/' */
    const kpRoute *best = NULL;
    for (size_t i = 0; i < r->routes.n; i++) {
        const kpRoute *rt = &r->routes.v[i];
        size_t n = rt->prefix_len;
        if (!rt->wildcard) {
            if (plen == n && memcmp(path, rt->based_route, n) == 0) {
                best = rt;
                break;
            }
            continue;
        }
        bool hit = plen >= n && memcmp(path, rt->based_route, n) == 0 && (plen == n || path[n] == '/');
        if (hit && (!best || n >= best->prefix_len)) best = rt;
    }
    if (!best) return;
    out->result = KP_ROUTE_MATCH;
    out->route = best;
    out->script_name = best->based_route;
    out->script_name_len = best->prefix_len;
    out->path_info = path + (best->wildcard ? best->prefix_len : len);
    out->path_info_len = best->wildcard ? len - best->prefix_len : 0;
}
