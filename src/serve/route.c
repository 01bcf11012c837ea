/*
 * route.c -- Spin's HTTP routing (see route.h for the rules): exact routes and wildcard prefixes
 * each in a hash index, so a match costs one lookup for the exact route and one per '/' of the
 * path for the wildcards, however many routes an application has (bench/density.sh runs 10,000).
 * The match does no allocation and never fails.
 */
#include "serve/route.h"

#define KP_WELL_KNOWN "/.well-known/spin/"

/* Duplicates are refused here too, so a router built by hand obeys the manifest's rule. */
kapsul_status kpRoute_add(kpRouter *r, const char *based_route, const char *raw_route, const char *component,
                          size_t index, kapsul_error *err) {
    size_t len = strlen(based_route);
    bool wildcard = len >= 4 && memcmp(based_route + len - 4, "/...", 4) == 0;
    size_t prefix = wildcard ? len - 4 : len;
    if (kpVec_grow(&r->routes)) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    int put = kpStrIndex_put(wildcard ? &r->wild : &r->exact, based_route, prefix, r->routes.n, NULL);
    if (put < 0) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    if (put > 0) return kpError_set(err, KAPSUL_ERR_ARG, 0, "duplicate route '%s'", based_route);
    r->routes.v[r->routes.n++] = (kpRoute){ based_route, raw_route, component, prefix, wildcard, index };
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

void kpRoute_free(kpRouter *r) {
    kpVec_free(&r->routes);
    kpStrIndex_free(&r->exact);
    kpStrIndex_free(&r->wild);
}

/* Spin's reserved paths: health, info, and a 404 for anything else beneath the prefix. */
static bool well_known(const char *path, size_t len, kpRouteMatch *out) {
    size_t k = sizeof KP_WELL_KNOWN - 1;
    if (len < k || memcmp(path, KP_WELL_KNOWN, k) != 0) return false;
    if (len - k == 6 && memcmp(path + k, "health", 6) == 0) out->result = KP_ROUTE_HEALTH;
    else if (len - k == 4 && memcmp(path + k, "info", 4) == 0) out->result = KP_ROUTE_INFO;
    return true;
}

/* An exact route wins; else the longest wildcard prefix that ends where the path does or at one
 * of its '/' (Spin 2 route_full). */
void kpRoute_match(const kpRouter *r, const char *path, size_t len, kpRouteMatch *out) {
    memset(out, 0, sizeof *out);
    if (well_known(path, len, out)) return;
    size_t plen = len && path[len - 1] == '/' ? len - 1 : len; /* Spin drops one trailing '/' */
    size_t at;
    const kpRoute *best = NULL;
    if (kpStrIndex_get(&r->exact, path, plen, &at)) {
        best = &r->routes.v[at];
    } else if (r->wild.n) {
        for (size_t k = plen + 1; k-- > 0;)
            if ((k == plen || path[k] == '/') && kpStrIndex_get(&r->wild, path, k, &at)) {
                best = &r->routes.v[at];
                break;
            }
    }
    if (!best) return;
    out->result = KP_ROUTE_MATCH;
    out->route = best;
    out->script_name = best->based_route;
    out->script_name_len = best->prefix_len;
    out->path_info = path + (best->wildcard ? best->prefix_len : len);
    out->path_info_len = best->wildcard ? len - best->prefix_len : 0;
}
