/*
 * route.h -- which component answers a request path: Spin's HTTP routing rules.
 *
 *   - Routes are the manifest's normalised ("based") routes (app/manifest.h): base + route, one
 *     trailing '/' dropped, "/" itself becoming "". A route ending in "/..." is a wildcard over
 *     the prefix before it; any other route is exact.
 *   - A request path (raw, still percent-encoded, without the query) loses one trailing '/'
 *     before comparing, so "/foo/" reaches the route "/foo".
 *   - An exact route beats every wildcard; among wildcards the longest prefix wins. A wildcard
 *     "/p/..." matches "/p" and everything under "/p/", not "/px".
 *   - Everything under "/.well-known/spin/" is Spin's: ".../health" (answer 200 "OK") and
 *     ".../info" are special results, any other path there is not found, whatever the routes.
 *   - No match: KP_ROUTE_NOT_FOUND (answer 404).
 * A match splits the path into SCRIPT_NAME (the route's prefix, without "/...") and PATH_INFO
 * (the raw rest of the path after the prefix; "" for an exact route), as Spin's WAGI executor
 * defines them (spin crates/http/src/routes.rs, trailing_wildcard).
 */
#ifndef KP_SERVE_ROUTE_H
#define KP_SERVE_ROUTE_H

#include "app/manifest.h"
#include "base/base.h"

typedef struct kpRoute {
    const char *based_route; /* borrowed: normalised route, "/..." kept */
    const char *raw_route;   /* borrowed: as written in the manifest */
    const char *component;   /* borrowed: component id */
    size_t prefix_len;       /* bytes of based_route before "/..." (all of it when exact) */
    bool wildcard;
    size_t index; /* the caller's index (kpRoute_build: the trigger's) */
} kpRoute;

typedef struct kpRouter {
    KP_VEC(kpRoute) routes;
    kpStrIndex exact, wild; /* prefix -> route number, for exact routes and wildcards */
} kpRouter;

typedef enum kpRouteResult {
    KP_ROUTE_NOT_FOUND = 0,
    KP_ROUTE_MATCH,
    KP_ROUTE_HEALTH, /* /.well-known/spin/health */
    KP_ROUTE_INFO    /* /.well-known/spin/info */
} kpRouteResult;

typedef struct kpRouteMatch {
    kpRouteResult result;
    const kpRoute *route;    /* KP_ROUTE_MATCH only */
    const char *script_name; /* in route->based_route */
    size_t script_name_len;
    const char *path_info; /* in the request path */
    size_t path_info_len;
} kpRouteMatch;

/* The routes of every [[trigger.http]] of m; the router borrows m's strings (keep m alive). */
kapsul_status kpRoute_build(kpRouter *r, const kpManifest *m, kapsul_error *err);
/* One route; a based_route already present is KAPSUL_ERR_ARG. Strings are borrowed. */
kapsul_status kpRoute_add(kpRouter *r, const char *based_route, const char *raw_route, const char *component,
                          size_t index, kapsul_error *err);
/* Route the raw path[0..len). Never fails; out->result says what was found. */
void kpRoute_match(const kpRouter *r, const char *path, size_t len, kpRouteMatch *out);
void kpRoute_free(kpRouter *r);

#endif /* KP_SERVE_ROUTE_H */
