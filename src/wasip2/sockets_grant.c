/*
 * sockets_grant.c -- which addresses a guest's sockets may reach (wasip2.h: kpP2Net).
 *
 * A grant is a kind (connect, bind, send, lookup), an address (or any) and a port range. Host
 * names in a grant are resolved here, once, when the grant is made: a guest only ever names IP
 * addresses to its sockets, so the check at connect time is a comparison of numbers and never a
 * lookup the guest could steer. See docs/RATIONALE.md ("wasi:sockets: grants, default deny").
 */
#include "wasip2/p2int.h"

#define MAX_GRANTS 4096
#define MAX_NAME_ADDRS 32

typedef struct grant {
    uint8_t what; /* kpP2Allow */
    bool any_host;
    kpOs_addr addr; /* family and ip when !any_host */
    uint16_t lo, hi;
} grant;

struct kpP2Net {
    KP_VEC(grant) g;
    bool lookup;
    kpP2Resolver resolve; /* kpOs_resolve but in tests (fuzz_netgrant: no DNS query) */
};

kapsul_status kpP2Net_new(kpP2Net **out, kapsul_error *err) {
    *out = kp_calloc(1, sizeof **out);
    if (!*out) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    (*out)->resolve = kpOs_resolve;
    return KAPSUL_OK;
}

void kpP2Net_setResolver(kpP2Net *n, kpP2Resolver fn) { n->resolve = fn; }

void kpP2Net_free(kpP2Net *n) {
    if (!n) return;
    kpVec_free(&n->g);
    kp_free(n);
}

static kapsul_status push(kpP2Net *n, grant g, kapsul_error *err) {
    if (n->g.n >= MAX_GRANTS)
        return kpError_set(err, KAPSUL_ERR_LIMIT, 0, "more than %d socket grants", MAX_GRANTS);
    if (kpVec_grow(&n->g) != 0) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    n->g.v[n->g.n++] = g;
    return KAPSUL_OK;
}

/* "80", "8000-8100" or "*" into [lo, hi]. */
static bool parse_ports(const char *s, uint16_t *lo, uint16_t *hi) {
    if (strcmp(s, "*") == 0) return *lo = 0, *hi = 65535, true;
    uint32_t v[2] = { 0, 0 };
    int k = 0;
    bool digit = false;
    for (const char *c = s; *c; c++) {
        if (*c == '-' && k == 0 && digit) {
            k = 1, digit = false;
            continue;
        }
        if (*c < '0' || *c > '9' || (v[k] = v[k] * 10 + (uint32_t)(*c - '0')) > 65535) return false;
        digit = true;
    }
    if (!digit) return false;
    *lo = (uint16_t)v[0], *hi = (uint16_t)(k ? v[1] : v[0]);
    return *lo <= *hi;
}

static bool host_name(const char *h) {
    size_t n = strlen(h);
    if (n == 0 || n > 253) return false;
    for (const char *c = h; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
              *c == '.'))
            return false;
    return true;
}

kapsul_status kpP2Net_allow(kpP2Net *n, kpP2Allow what, const char *hostport, kapsul_error *err) {
    if (what == KP_P2_NAME_LOOKUP) return n->lookup = true, KAPSUL_OK;
    if ((unsigned)what > KP_P2_NAME_LOOKUP || !hostport)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "bad socket grant");
    char host[260];
    const char *colon = strrchr(hostport, ':');
    size_t hl = colon ? (size_t)(colon - hostport) : 0;
    grant g = { .what = (uint8_t)what };
    if (!colon || hl == 0 || hl >= sizeof host || !parse_ports(colon + 1, &g.lo, &g.hi))
        return kpError_set(err, KAPSUL_ERR_ARG, 0,
                           "bad socket grant '%s' (want HOST:PORT, PORT a number, LOW-HIGH or *)", hostport);
    memcpy(host, hostport, hl);
    host[hl] = 0;
    if (strcmp(host, "*") == 0) return g.any_host = true, push(n, g, err);
    if (strcmp(host, "localhost") == 0) {
        kpOs_parseIp("127.0.0.1", 4, &g.addr);
        kapsul_status st = push(n, g, err);
        if (st != KAPSUL_OK) return st;
        kpOs_parseIp("::1", 6, &g.addr);
        return push(n, g, err);
    }
    if (host[0] == '[') {
        if (hl < 3 || host[hl - 1] != ']') goto bad;
        host[hl - 1] = 0;
        if (!kpOs_parseIp(host + 1, 6, &g.addr)) goto bad;
        return push(n, g, err);
    }
    if (kpOs_parseIp(host, 4, &g.addr)) return push(n, g, err);
    if (!host_name(host)) goto bad;
    kpOs_addr addrs[MAX_NAME_ADDRS];
    size_t na = 0;
    kpOs_err oe = n->resolve(host, addrs, MAX_NAME_ADDRS, &na);
    if (oe != KP_OS_OK || na == 0)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "socket grant '%s': cannot resolve %s", hostport, host);
    for (size_t i = 0; i < na && i < MAX_NAME_ADDRS; i++) {
        g.addr = addrs[i];
        kapsul_status st = push(n, g, err);
        if (st != KAPSUL_OK) return st;
    }
    return KAPSUL_OK;
bad:
    return kpError_set(err, KAPSUL_ERR_ARG, 0,
                       "bad socket grant '%s' (HOST: an IPv4 address, [IPv6], localhost, *, or a host name)",
                       hostport);
}

kapsul_status kpP2Net_allowUrl(kpP2Net *n, const char *url, kapsul_error *err) {
    const char *sep = strstr(url, "://");
    if (!sep)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "bad outbound host '%s' (want SCHEME://HOST:PORT)", url);
    size_t sl = (size_t)(sep - url);
    bool tcp = sl == 3 && memcmp(url, "tcp", 3) == 0, udp = sl == 3 && memcmp(url, "udp", 3) == 0;
    bool any = sl == 1 && url[0] == '*';
    if (!tcp && !udp && !any) return KAPSUL_ERR_NOT_FOUND;
    kapsul_status st = KAPSUL_OK;
    if (tcp || any) st = kpP2Net_allow(n, KP_P2_TCP_CONNECT, sep + 3, err);
    if (st == KAPSUL_OK && (udp || any)) st = kpP2Net_allow(n, KP_P2_UDP_SEND, sep + 3, err);
    return st;
}

bool kpP2Net_allows(const kpP2Net *n, kpP2Allow what, const kpOs_addr *a) {
    if (!n) return false;
    if (what == KP_P2_NAME_LOOKUP) return n->lookup;
    for (size_t i = 0; i < n->g.n; i++) {
        const grant *g = &n->g.v[i];
        if (g->what != what || a->port < g->lo || a->port > g->hi) continue;
        if (g->any_host) return true;
        if (g->addr.family == a->family && memcmp(g->addr.ip, a->ip, a->family == 6 ? 16 : 4) == 0)
            return true;
    }
    return false;
}

bool kpP2Net_any(const kpP2Net *n, bool udp) {
    if (!n) return false;
    for (size_t i = 0; i < n->g.n; i++)
        if ((n->g.v[i].what == KP_P2_UDP_BIND || n->g.v[i].what == KP_P2_UDP_SEND) == udp) return true;
    return false;
}
