/*
 * sockets.c -- wasi:sockets 0.2 (network, instance-network, ip-name-lookup, tcp, tcp-create-socket,
 * udp, udp-create-socket) for the WASI 0.2 host, behind the grants of sockets_grant.c.
 *
 * A socket is a non-blocking host socket registered as a preview1 fd of the context (so its
 * lifetime is counted like a file's: the socket resource and every stream and pollable made from
 * it hold it open), with its state machine in a kpP2Sock. The start/finish pairs follow the
 * spec: start-* does the system call (a connect returns at once, in progress), finish-* reports
 * would-block until the kernel is done, not-in-progress without a start, invalid-state or
 * concurrency-conflict for a call the state does not allow. Every address a guest names is
 * checked against the grants before any system call; without a grant the answer is
 * access-denied, and without any TCP (UDP) grant not even a socket is created.
 *
 * Streams over a connected socket are p2.c's input/output streams with `sock` set; their reads
 * and writes are below (kpP2Sock_read/_write/_checkWrite), their pollables wait on the fd.
 */
#include "wasip2/p2int.h"

#define MAX_IO (1u << 20)   /* bytes one stream read or one receive call moves */
#define MAX_DATAGRAM 65536u /* the largest UDP payload (65507) fits */
#define MAX_RECEIVE 64u     /* datagrams one receive call returns */
#define SEND_PERMIT 64u     /* datagrams check-send allows while the socket is writable */
#define MAX_RESOLVE 64u     /* addresses one lookup keeps */
#define DEFAULT_BACKLOG 128u

/* The socket states of the spec (tcp.wit, udp.wit). */
enum {
    S_UNBOUND,
    S_BIND_STARTED,
    S_BOUND,
    S_LISTEN_STARTED,
    S_LISTENING,
    S_CONNECT_STARTED,
    S_CONNECTED,
    S_CLOSED
};

/* network.error-code, in the order of network.wit. */
enum {
    E_UNKNOWN,
    E_ACCESS_DENIED,
    E_NOT_SUPPORTED,
    E_INVALID_ARGUMENT,
    E_OUT_OF_MEMORY,
    E_TIMEOUT,
    E_CONCURRENCY_CONFLICT,
    E_NOT_IN_PROGRESS,
    E_WOULD_BLOCK,
    E_INVALID_STATE,
    E_NEW_SOCKET_LIMIT,
    E_ADDRESS_NOT_BINDABLE,
    E_ADDRESS_IN_USE,
    E_REMOTE_UNREACHABLE,
    E_CONNECTION_REFUSED,
    E_CONNECTION_RESET,
    E_CONNECTION_ABORTED,
    E_DATAGRAM_TOO_LARGE,
    E_NAME_UNRESOLVABLE,
    E_TEMPORARY_RESOLVER_FAILURE,
    E_PERMANENT_RESOLVER_FAILURE
};

struct kpP2Sock {
    uint8_t family; /* 4 or 6 */
    uint8_t state;  /* S_* */
    bool connected; /* UDP: associated with remote */
    uint32_t backlog;
    uint64_t permit;  /* outgoing-datagram-stream: datagrams the last check-send allowed */
    kpOs_addr remote; /* UDP: the associated peer */
    kpOs_addr *addrs; /* resolve-address-stream: the addresses, next the one to hand out */
    size_t naddrs, next;
};

void kpP2Sock_free(struct kpP2Sock *sk) {
    if (!sk) return;
    kp_free(sk->addrs);
    kp_free(sk);
}

/* preview1 errno (what the OS said, through kpWasi_errno) -> error-code. */
static uint32_t code_of(uint16_t e) {
    switch (e) {
    case KP_WE_ACCES:
    case KP_WE_PERM: return E_ACCESS_DENIED;
    case KP_WE_NOTSUP:
    case KP_WE_NOPROTOOPT:
    case KP_WE_AFNOSUPPORT:
    case KP_WE_PROTONOSUPPORT: return E_NOT_SUPPORTED;
    case KP_WE_INVAL:
    case KP_WE_DESTADDRREQ: return E_INVALID_ARGUMENT;
    case KP_WE_NOMEM:
    case KP_WE_NOBUFS: return E_OUT_OF_MEMORY;
    case KP_WE_TIMEDOUT: return E_TIMEOUT;
    case KP_WE_ALREADY: return E_CONCURRENCY_CONFLICT;
    case KP_WE_AGAIN: return E_WOULD_BLOCK;
    case KP_WE_ISCONN:
    case KP_WE_NOTCONN: return E_INVALID_STATE;
    case KP_WE_MFILE:
    case KP_WE_NFILE: return E_NEW_SOCKET_LIMIT;
    case KP_WE_ADDRNOTAVAIL: return E_ADDRESS_NOT_BINDABLE;
    case KP_WE_ADDRINUSE: return E_ADDRESS_IN_USE;
    case KP_WE_HOSTUNREACH:
    case KP_WE_NETUNREACH:
    case KP_WE_NETDOWN: return E_REMOTE_UNREACHABLE;
    case KP_WE_CONNREFUSED: return E_CONNECTION_REFUSED;
    case KP_WE_CONNRESET:
    case KP_WE_PIPE: return E_CONNECTION_RESET;
    case KP_WE_CONNABORTED: return E_CONNECTION_ABORTED;
    case KP_WE_MSGSIZE: return E_DATAGRAM_TOO_LARGE;
    default: return E_UNKNOWN;
    }
}

/* ---- Values ------------------------------------------------------------------------------------ */

/* err(code) of a result<T, error-code>. */
static kapsul_status fail(kpCHostCall *call, kpCValue *out, uint32_t code, kapsul_error *err) {
    kpCValue *pl;
    kapsul_status st = kpP2_putResult(call, out, 1, &pl, true, err);
    if (st == KAPSUL_OK) pl->var.disc = code;
    return st;
}

static kapsul_status os_fail(kpCHostCall *call, kpCValue *out, kpOs_err oe, kapsul_error *err) {
    return fail(call, out, code_of(kpWasi_errno(oe)), err);
}

static kapsul_status ok_unit(kpCValue *out) {
    out->var.disc = 0, out->var.payload = NULL;
    return KAPSUL_OK;
}

/* ok(payload): *pl is where the payload goes. */
static kapsul_status ok_with(kpCHostCall *call, kpCValue *out, kpCValue **pl, kapsul_error *err) {
    return kpP2_putResult(call, out, 0, pl, true, err);
}

/* An ip-socket-address (or, sock false, an ip-address) value -> a host address. */
static void addr_in(const kpCValue *v, bool sock, kpOs_addr *out) {
    memset(out, 0, sizeof *out);
    const kpCValue *pl = v->var.payload, *ip;
    out->family = v->var.disc == 0 ? 4 : 6;
    if (!sock) ip = pl;
    else if (out->family == 4) out->port = (uint16_t)pl->agg.v[0].u, ip = &pl->agg.v[1];
    else {
        out->port = (uint16_t)pl->agg.v[0].u, out->flowinfo = (uint32_t)pl->agg.v[1].u;
        ip = &pl->agg.v[2], out->scope_id = (uint32_t)pl->agg.v[3].u;
    }
    if (out->family == 4)
        for (int i = 0; i < 4; i++) out->ip[i] = (uint8_t)ip->agg.v[i].u;
    else
        for (int i = 0; i < 8; i++)
            out->ip[2 * i] = (uint8_t)(ip->agg.v[i].u >> 8), out->ip[2 * i + 1] = (uint8_t)ip->agg.v[i].u;
}

/* A host address -> an ip-socket-address (sock) or ip-address value. */
static bool addr_out(kpCHostCall *call, const kpOs_addr *a, bool sock, kpCValue *out) {
    bool v6 = a->family == 6;
    kpCValue *ip = kpP2_vals(call, 1), *parts = kpP2_vals(call, v6 ? 8 : 4);
    if (!ip || !parts) return false;
    for (int i = 0; i < (v6 ? 8 : 4); i++)
        parts[i].u = v6 ? (uint64_t)(a->ip[2 * i] << 8 | a->ip[2 * i + 1]) : a->ip[i];
    ip->agg.v = parts, ip->agg.n = v6 ? 8 : 4;
    out->var.disc = v6;
    if (!sock) return out->var.payload = ip, true;
    kpCValue *rec = kpP2_vals(call, 1), *f = kpP2_vals(call, v6 ? 4 : 2);
    if (!rec || !f) return false;
    f[0].u = a->port;
    if (v6) f[1].u = a->flowinfo, f[2] = *ip, f[3].u = a->scope_id;
    else f[1] = *ip;
    rec->agg.v = f, rec->agg.n = v6 ? 4 : 2;
    out->var.payload = rec;
    return true;
}

static bool unspecified(const kpOs_addr *a) {
    static const uint8_t zero[16];
    return memcmp(a->ip, zero, a->family == 6 ? 16 : 4) == 0;
}

static bool v4_mapped(const kpOs_addr *a) {
    static const uint8_t pre[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    return a->family == 6 && memcmp(a->ip, pre, 12) == 0;
}

static bool multicast_or_broadcast(const kpOs_addr *a) {
    if (a->family == 6) return a->ip[0] == 0xff;
    return (a->ip[0] & 0xf0) == 0xe0 ||
           (a->ip[0] == 255 && a->ip[1] == 255 && a->ip[2] == 255 && a->ip[3] == 255);
}

/* A remote a guest may name at all (the spec's invalid-argument cases): the socket's family,
 * a unicast address that is not the unspecified one, a port other than 0, never IPv4-mapped. */
static bool valid_remote(const p2res *s, const kpOs_addr *a) {
    return a->family == s->sk->family && !unspecified(a) && a->port != 0 && !v4_mapped(a) &&
           !multicast_or_broadcast(a);
}

/* ---- Sockets in the resource table ----------------------------------------------------------- */

static kpOs_fd osfd(kpP2 *p, const p2res *s) {
    return s->fd < p->w->nfds ? p->w->fds[s->fd].host : KP_OS_NO_FD;
}

static p2res *sock_arg(kpP2 *p, const kpCValue *v, uint8_t kind) { return kpP2_resGet(p, v->rep, kind); }

/* Register host socket fd (owned: closed on failure) as a socket resource of kind in state
 * state. 0, or the preview1 errno of what failed (*st set when the host ran out of memory). */
static uint16_t new_socket(kpP2 *p, kpOs_fd fd, uint8_t kind, int family, uint8_t state, uint32_t *rep) {
    uint32_t slot;
    uint16_t e = kpWasiFd_add(p->w, fd, kind == R_UDP ? KP_FT_DGRAM : KP_FT_STREAM, 0, 0, false, &slot);
    if (e) return e;
    struct kpP2Sock *sk = kp_calloc(1, sizeof *sk);
    if (sk) sk->family = (uint8_t)family, sk->state = state, sk->backlog = DEFAULT_BACKLOG;
    if (!sk || kpP2_resNew(p, (p2res){ .kind = kind, .sock = true, .fd = slot, .sk = sk }, rep) != 0) {
        kp_free(sk);
        kpWasiFd_close(&p->w->fds[slot]);
        return KP_WE_NOMEM;
    }
    return 0;
}

/* A pair of input and output streams over socket slot fd, into a tuple value. */
static kapsul_status stream_pair(kpP2 *p, uint32_t fd, kpCValue *tuple, uint32_t at, kapsul_error *err) {
    uint32_t in, out;
    if (kpP2_resNew(p, (p2res){ .kind = R_IN, .sock = true, .fd = fd }, &in) != 0) return kpP2_nomem(err);
    if (kpP2_resNew(p, (p2res){ .kind = R_OUT, .sock = true, .fd = fd }, &out) != 0) return kpP2_nomem(err);
    tuple->agg.v[at].rep = in, tuple->agg.v[at + 1].rep = out;
    return KAPSUL_OK;
}

static kapsul_status new_pollable(kpP2 *p, uint32_t fd, unsigned events, kpCValue *out, kapsul_error *err) {
    uint32_t rep;
    if (kpP2_resNew(p, (p2res){ .kind = R_POLL, .sock = true, .fd = fd, .events = (uint8_t)events }, &rep) !=
        0)
        return kpP2_nomem(err);
    out->rep = rep;
    return KAPSUL_OK;
}

/* ---- wasi:sockets/network, instance-network ---------------------------------------------------- */

KP_P2_HOST(kpP2_instanceNetwork) {
    kpP2 *p = env;
    (void)call, (void)a;
    uint32_t rep;
    if (kpP2_resNew(p, (p2res){ .kind = R_NET }, &rep) != 0) return kpP2_nomem(err);
    r[0].rep = rep;
    return KAPSUL_OK;
}

KP_P2_HOST(kpP2_networkErrorCode) {
    kpP2 *p = env;
    p2res *e = kpP2_resGet(p, a[0].rep, R_ERROR);
    if (!e) return kpP2_trap(err, "wasi: not an error resource");
    kpCValue *pl = kpP2_vals(call, 1);
    if (!pl) return kpP2_nomem(err);
    pl->var.disc = code_of(e->errcode), pl->var.payload = NULL;
    r[0].var.disc = 1, r[0].var.payload = pl;
    return KAPSUL_OK;
}

static bool network_arg(kpP2 *p, const kpCValue *v) { return kpP2_resGet(p, v->rep, R_NET) != NULL; }

/* ---- Creating, binding ------------------------------------------------------------------------- */

static kapsul_status create(kpP2 *p, kpCHostCall *call, const kpCValue *a, kpCValue *r, bool udp,
                            kapsul_error *err) {
    int family = a[0].var.disc == 0 ? 4 : 6;
    if (!kpP2Net_any(p->net, udp)) return fail(call, &r[0], E_ACCESS_DENIED, err);
    kpOs_fd fd;
    kpOs_err oe = kpOs_socket(family, udp, &fd);
    if (oe != KP_OS_OK) return os_fail(call, &r[0], oe, err);
    uint32_t rep;
    uint16_t e = new_socket(p, fd, udp ? R_UDP : R_TCP, family, S_UNBOUND, &rep);
    if (e == KP_WE_NOMEM) return kpP2_nomem(err);
    if (e) return fail(call, &r[0], code_of(e), err);
    kpCValue *pl;
    kapsul_status st = ok_with(call, &r[0], &pl, err);
    if (st == KAPSUL_OK) pl->rep = rep;
    return st;
}

KP_P2_HOST(kpP2_createTcpSocket) { return create(env, call, a, r, false, err); }
KP_P2_HOST(kpP2_createUdpSocket) { return create(env, call, a, r, true, err); }

/* start-bind (tcp and udp): a[0] the socket, a[1] the network, a[2] the local address. */
static kapsul_status start_bind(kpP2 *p, kpCHostCall *call, const kpCValue *a, kpCValue *r, uint8_t kind,
                                kapsul_error *err) {
    p2res *s = sock_arg(p, &a[0], kind);
    if (!s) return kpP2_trap(err, kind == R_TCP ? "wasi: not a tcp-socket" : "wasi: not a udp-socket");
    if (!network_arg(p, &a[1])) return kpP2_trap(err, "wasi: not a network");
    kpOs_addr local;
    addr_in(&a[2], true, &local);
    if (local.family != s->sk->family || v4_mapped(&local) || multicast_or_broadcast(&local))
        return fail(call, &r[0], E_INVALID_ARGUMENT, err);
    if (s->sk->state != S_UNBOUND) return fail(call, &r[0], E_INVALID_STATE, err);
    if (!kpP2Net_allows(p->net, kind == R_TCP ? KP_P2_TCP_BIND : KP_P2_UDP_BIND, &local))
        return fail(call, &r[0], E_ACCESS_DENIED, err);
    kpOs_err oe = kpOs_bind(osfd(p, s), &local);
    if (oe != KP_OS_OK) return os_fail(call, &r[0], oe, err);
    s->sk->state = S_BIND_STARTED;
    return ok_unit(&r[0]);
}

static kapsul_status finish_bind(kpP2 *p, kpCHostCall *call, const kpCValue *a, kpCValue *r, uint8_t kind,
                                 kapsul_error *err) {
    p2res *s = sock_arg(p, &a[0], kind);
    if (!s) return kpP2_trap(err, kind == R_TCP ? "wasi: not a tcp-socket" : "wasi: not a udp-socket");
    if (s->sk->state != S_BIND_STARTED) return fail(call, &r[0], E_NOT_IN_PROGRESS, err);
    s->sk->state = S_BOUND;
    return ok_unit(&r[0]);
}

KP_P2_HOST(kpP2_tcpStartBind) { return start_bind(env, call, a, r, R_TCP, err); }
KP_P2_HOST(kpP2_tcpFinishBind) { return finish_bind(env, call, a, r, R_TCP, err); }
KP_P2_HOST(kpP2_udpStartBind) { return start_bind(env, call, a, r, R_UDP, err); }
KP_P2_HOST(kpP2_udpFinishBind) { return finish_bind(env, call, a, r, R_UDP, err); }

/* ---- TCP --------------------------------------------------------------------------------------- */

static p2res *tcp(kpP2 *p, const kpCValue *a) { return sock_arg(p, &a[0], R_TCP); }
#define TCP_ARG()                                            \
    kpP2 *p = env;                                           \
    p2res *s = tcp(p, a);                                    \
    if (!s) return kpP2_trap(err, "wasi: not a tcp-socket"); \
    (void)call, (void)r

KP_P2_HOST(kpP2_tcpStartConnect) {
    TCP_ARG();
    if (!network_arg(p, &a[1])) return kpP2_trap(err, "wasi: not a network");
    kpOs_addr remote;
    addr_in(&a[2], true, &remote);
    if (!valid_remote(s, &remote)) return fail(call, &r[0], E_INVALID_ARGUMENT, err);
    switch (s->sk->state) {
    case S_UNBOUND:
    case S_BOUND: break;
    case S_BIND_STARTED:
    case S_CONNECT_STARTED:
    case S_LISTEN_STARTED: return fail(call, &r[0], E_CONCURRENCY_CONFLICT, err);
    default: return fail(call, &r[0], E_INVALID_STATE, err);
    }
    if (!kpP2Net_allows(p->net, KP_P2_TCP_CONNECT, &remote)) return fail(call, &r[0], E_ACCESS_DENIED, err);
    kpOs_err oe = kpOs_connect(osfd(p, s), &remote);
    if (oe != KP_OS_OK && oe != KP_OS_EINPROGRESS) {
        s->sk->state = S_CLOSED;
        return os_fail(call, &r[0], oe, err);
    }
    s->sk->state = S_CONNECT_STARTED;
    return ok_unit(&r[0]);
}

/* finish-connect: would-block while the handshake goes on; then the streams, or the error and
 * a closed socket. */
KP_P2_HOST(kpP2_tcpFinishConnect) {
    TCP_ARG();
    if (s->sk->state != S_CONNECT_STARTED) return fail(call, &r[0], E_NOT_IN_PROGRESS, err);
    kpOs_pollfd pf = { .fd = osfd(p, s), .events = KP_OS_POLL_OUT };
    int ready = 0;
    kpOs_err oe = kpOs_poll(&pf, 1, 0, &ready);
    if (oe != KP_OS_OK || ready == 0) return fail(call, &r[0], E_WOULD_BLOCK, err);
    if ((oe = kpOs_sockError(pf.fd)) != KP_OS_OK) {
        s->sk->state = S_CLOSED;
        return os_fail(call, &r[0], oe, err);
    }
    s->sk->state = S_CONNECTED;
    uint32_t fd = s->fd;
    kpCValue *pl, *t = kpP2_vals(call, 2);
    if (!t) return kpP2_nomem(err);
    kapsul_status st = ok_with(call, &r[0], &pl, err);
    if (st != KAPSUL_OK) return st;
    pl->agg.v = t, pl->agg.n = 2;
    return stream_pair(p, fd, pl, 0, err);
}

KP_P2_HOST(kpP2_tcpStartListen) {
    TCP_ARG();
    switch (s->sk->state) {
    case S_BOUND: break;
    case S_BIND_STARTED:
    case S_CONNECT_STARTED:
    case S_LISTEN_STARTED: return fail(call, &r[0], E_CONCURRENCY_CONFLICT, err);
    default: return fail(call, &r[0], E_INVALID_STATE, err);
    }
    kpOs_err oe = kpOs_listenOn(osfd(p, s), (int)s->sk->backlog);
    if (oe != KP_OS_OK) return os_fail(call, &r[0], oe, err);
    s->sk->state = S_LISTEN_STARTED;
    return ok_unit(&r[0]);
}

KP_P2_HOST(kpP2_tcpFinishListen) {
    TCP_ARG();
    if (s->sk->state != S_LISTEN_STARTED) return fail(call, &r[0], E_NOT_IN_PROGRESS, err);
    s->sk->state = S_LISTENING;
    return ok_unit(&r[0]);
}

/* accept: the next connection (would-block when none waits), as a connected socket and its
 * streams. */
KP_P2_HOST(kpP2_tcpAccept) {
    TCP_ARG();
    if (s->sk->state != S_LISTENING) return fail(call, &r[0], E_INVALID_STATE, err);
    int family = s->sk->family;
    kpOs_fd fd;
    kpOs_err oe = kpOs_accept(osfd(p, s), true, &fd);
    if (oe == KP_OS_EAGAIN) return fail(call, &r[0], E_WOULD_BLOCK, err);
    if (oe != KP_OS_OK) return os_fail(call, &r[0], oe, err);
    uint32_t rep;
    uint16_t e = new_socket(p, fd, R_TCP, family, S_CONNECTED, &rep);
    if (e == KP_WE_NOMEM) return kpP2_nomem(err);
    if (e) return fail(call, &r[0], code_of(e), err);
    uint32_t slot = p->res.v[rep].fd;
    kpCValue *pl;
    kapsul_status st = ok_with(call, &r[0], &pl, err);
    if (st != KAPSUL_OK) return st;
    if (!(pl->agg.v = kpP2_vals(call, 3))) return kpP2_nomem(err);
    pl->agg.n = 3;
    pl->agg.v[0].rep = rep;
    return stream_pair(p, slot, pl, 1, err);
}

static kapsul_status address(kpP2 *p, kpCHostCall *call, p2res *s, bool peer, kpCValue *out,
                             kapsul_error *err) {
    kpOs_addr ad;
    kpOs_err oe = kpOs_sockName(osfd(p, s), peer, &ad);
    if (oe != KP_OS_OK) return os_fail(call, out, oe, err);
    kpCValue *pl;
    kapsul_status st = ok_with(call, out, &pl, err);
    if (st == KAPSUL_OK && !addr_out(call, &ad, true, pl)) return kpP2_nomem(err);
    return st;
}

KP_P2_HOST(kpP2_tcpLocalAddress) {
    TCP_ARG();
    if (s->sk->state == S_UNBOUND || s->sk->state == S_CLOSED) return fail(call, &r[0], E_INVALID_STATE, err);
    return address(p, call, s, false, &r[0], err);
}

KP_P2_HOST(kpP2_tcpRemoteAddress) {
    TCP_ARG();
    if (s->sk->state != S_CONNECTED) return fail(call, &r[0], E_INVALID_STATE, err);
    return address(p, call, s, true, &r[0], err);
}

KP_P2_HOST(kpP2_tcpIsListening) {
    TCP_ARG();
    r[0].b = s->sk->state == S_LISTENING;
    return KAPSUL_OK;
}

KP_P2_HOST(kpP2_tcpAddressFamily) {
    TCP_ARG();
    r[0].var.disc = s->sk->family == 6, r[0].var.payload = NULL;
    return KAPSUL_OK;
}

KP_P2_HOST(kpP2_tcpSetListenBacklogSize) {
    TCP_ARG();
    if (a[1].u == 0) return fail(call, &r[0], E_INVALID_ARGUMENT, err);
    if (s->sk->state == S_CONNECT_STARTED || s->sk->state == S_CONNECTED || s->sk->state == S_CLOSED)
        return fail(call, &r[0], E_INVALID_STATE, err);
    s->sk->backlog = a[1].u > 65535 ? 65535 : (uint32_t)a[1].u;
    if (s->sk->state == S_LISTENING || s->sk->state == S_LISTEN_STARTED) {
        kpOs_err oe = kpOs_listenOn(osfd(p, s), (int)s->sk->backlog);
        if (oe != KP_OS_OK) return os_fail(call, &r[0], oe, err);
    }
    return ok_unit(&r[0]);
}

KP_P2_HOST(kpP2_tcpShutdown) {
    TCP_ARG();
    if (s->sk->state != S_CONNECTED) return fail(call, &r[0], E_INVALID_STATE, err);
    uint32_t how = a[1].var.disc; /* receive, send, both */
    kpOs_err oe = kpOs_shutdown(osfd(p, s), how != 1, how != 0);
    if (oe != KP_OS_OK && oe != KP_OS_ENOTCONN) return os_fail(call, &r[0], oe, err);
    return ok_unit(&r[0]);
}

/* subscribe: ready when the connect in progress has ended or a connection waits to be
 * accepted; at once in every other state. */
KP_P2_HOST(kpP2_tcpSubscribe) {
    TCP_ARG();
    unsigned ev = s->sk->state == S_CONNECT_STARTED ? KP_OS_POLL_OUT
                  : s->sk->state == S_LISTENING     ? KP_OS_POLL_IN
                                                    : 0;
    return new_pollable(p, s->fd, ev, &r[0], err);
}

/* ---- Socket options (tcp and udp) --------------------------------------------------------------- */

/* Get option opt of socket a[0] of kind: ok(value / div) as a number (or a bool). */
static kapsul_status opt_get(kpP2 *p, kpCHostCall *call, const kpCValue *a, kpCValue *r, uint8_t kind,
                             kpOs_sockopt opt, uint64_t mul, uint64_t max, kapsul_error *err) {
    p2res *s = sock_arg(p, &a[0], kind);
    if (!s) return kpP2_trap(err, "wasi: not a socket of that type");
    uint64_t v = 0;
    kpOs_err oe = kpOs_sockGet(osfd(p, s), s->sk->family, opt, &v);
    if (oe != KP_OS_OK) return os_fail(call, &r[0], oe, err);
    kpCValue *pl;
    kapsul_status st = ok_with(call, &r[0], &pl, err);
    if (st != KAPSUL_OK) return st;
    v = v > max / mul ? max : v * mul;
    if (opt == KP_OS_SO_KEEPALIVE) pl->b = v != 0;
    else pl->u = v;
    return KAPSUL_OK;
}

/* Set it to a[1] / div (rounded up); 0 is invalid-argument for every option but keep-alive. */
static kapsul_status opt_set(kpP2 *p, kpCHostCall *call, const kpCValue *a, kpCValue *r, uint8_t kind,
                             kpOs_sockopt opt, uint64_t div, kapsul_error *err) {
    p2res *s = sock_arg(p, &a[0], kind);
    if (!s) return kpP2_trap(err, "wasi: not a socket of that type");
    uint64_t v = opt == KP_OS_SO_KEEPALIVE ? (uint64_t)a[1].b : a[1].u;
    if (opt != KP_OS_SO_KEEPALIVE && v == 0) return fail(call, &r[0], E_INVALID_ARGUMENT, err);
    v = v / div + (v % div != 0);
    kpOs_err oe = kpOs_sockSet(osfd(p, s), s->sk->family, opt, v);
    if (oe != KP_OS_OK) return os_fail(call, &r[0], oe, err);
    return ok_unit(&r[0]);
}

#define NS 1000000000ull
KP_P2_HOST(kpP2_tcpKeepAlive) { return opt_get(env, call, a, r, R_TCP, KP_OS_SO_KEEPALIVE, 1, 1, err); }
KP_P2_HOST(kpP2_tcpSetKeepAlive) { return opt_set(env, call, a, r, R_TCP, KP_OS_SO_KEEPALIVE, 1, err); }
KP_P2_HOST(kpP2_tcpKeepIdle) {
    return opt_get(env, call, a, r, R_TCP, KP_OS_SO_KEEPIDLE, NS, UINT64_MAX, err);
}
KP_P2_HOST(kpP2_tcpSetKeepIdle) { return opt_set(env, call, a, r, R_TCP, KP_OS_SO_KEEPIDLE, NS, err); }
KP_P2_HOST(kpP2_tcpKeepInterval) {
    return opt_get(env, call, a, r, R_TCP, KP_OS_SO_KEEPINTVL, NS, UINT64_MAX, err);
}
KP_P2_HOST(kpP2_tcpSetKeepInterval) { return opt_set(env, call, a, r, R_TCP, KP_OS_SO_KEEPINTVL, NS, err); }
KP_P2_HOST(kpP2_tcpKeepCount) {
    return opt_get(env, call, a, r, R_TCP, KP_OS_SO_KEEPCNT, 1, UINT32_MAX, err);
}
KP_P2_HOST(kpP2_tcpSetKeepCount) { return opt_set(env, call, a, r, R_TCP, KP_OS_SO_KEEPCNT, 1, err); }
KP_P2_HOST(kpP2_tcpHopLimit) { return opt_get(env, call, a, r, R_TCP, KP_OS_SO_HOPLIMIT, 1, 255, err); }
KP_P2_HOST(kpP2_tcpSetHopLimit) { return opt_set(env, call, a, r, R_TCP, KP_OS_SO_HOPLIMIT, 1, err); }
KP_P2_HOST(kpP2_tcpReceiveBuffer) {
    return opt_get(env, call, a, r, R_TCP, KP_OS_SO_RCVBUF, 1, UINT64_MAX, err);
}
KP_P2_HOST(kpP2_tcpSetReceiveBuffer) { return opt_set(env, call, a, r, R_TCP, KP_OS_SO_RCVBUF, 1, err); }
KP_P2_HOST(kpP2_tcpSendBuffer) {
    return opt_get(env, call, a, r, R_TCP, KP_OS_SO_SNDBUF, 1, UINT64_MAX, err);
}
KP_P2_HOST(kpP2_tcpSetSendBuffer) { return opt_set(env, call, a, r, R_TCP, KP_OS_SO_SNDBUF, 1, err); }
KP_P2_HOST(kpP2_udpHopLimit) { return opt_get(env, call, a, r, R_UDP, KP_OS_SO_HOPLIMIT, 1, 255, err); }
KP_P2_HOST(kpP2_udpSetHopLimit) { return opt_set(env, call, a, r, R_UDP, KP_OS_SO_HOPLIMIT, 1, err); }
KP_P2_HOST(kpP2_udpReceiveBuffer) {
    return opt_get(env, call, a, r, R_UDP, KP_OS_SO_RCVBUF, 1, UINT64_MAX, err);
}
KP_P2_HOST(kpP2_udpSetReceiveBuffer) { return opt_set(env, call, a, r, R_UDP, KP_OS_SO_RCVBUF, 1, err); }
KP_P2_HOST(kpP2_udpSendBuffer) {
    return opt_get(env, call, a, r, R_UDP, KP_OS_SO_SNDBUF, 1, UINT64_MAX, err);
}
KP_P2_HOST(kpP2_udpSetSendBuffer) { return opt_set(env, call, a, r, R_UDP, KP_OS_SO_SNDBUF, 1, err); }

/* ---- Streams over a connected TCP socket (p2.c's input/output streams) ------------------------- */

kapsul_status kpP2Sock_read(kpP2 *p, kpCHostCall *call, p2res *s, uint64_t len, bool blocking, bool skip,
                            kpCValue *out, kapsul_error *err) {
    kpOs_fd fd = osfd(p, s);
    size_t want = len > MAX_IO ? MAX_IO : (size_t)len;
    uint8_t *buf = kpCArena_alloc(call->arena, want ? want : 1);
    if (!buf) return kpP2_nomem(err);
    size_t done = 0;
    while (want > 0) {
        kapsul_status st;
        if (blocking && (st = kpP2_waitFd(p, fd, KP_OS_POLL_IN, 0, err)) != KAPSUL_OK) return st;
        kpOs_iov iov = { buf, want };
        bool truncated;
        kpOs_err oe = kpOs_recv(fd, &iov, 1, 0, &done, &truncated);
        if (oe == KP_OS_EAGAIN || oe == KP_OS_EINTR) {
            done = 0;
            if (blocking) continue;
            break;
        }
        if (oe != KP_OS_OK) return kpP2_streamError(p, call, out, kpWasi_errno(oe), err);
        if (done == 0) return kpP2_streamError(p, call, out, 0, err); /* the peer shut down: closed */
        break;
    }
    kpCValue *pl;
    kapsul_status st = kpP2_putResult(call, out, 0, &pl, true, err);
    if (st != KAPSUL_OK) return st;
    if (skip) return pl->u = done, KAPSUL_OK;
    return kpP2_bytesValue(call, buf, done, pl) ? KAPSUL_OK : kpP2_nomem(err);
}

/* check-write: 64 KiB when the socket can take bytes now, 0 when not; a socket with an error is
 * last-operation-failed, one whose peer hung up closed. */
kapsul_status kpP2Sock_checkWrite(kpP2 *p, kpCHostCall *call, p2res *s, kpCValue *out, kapsul_error *err) {
    kpOs_pollfd pf = { .fd = osfd(p, s), .events = KP_OS_POLL_OUT };
    int ready = 0;
    kpOs_poll(&pf, 1, 0, &ready);
    if (pf.revents & (KP_OS_POLL_ERR | KP_OS_POLL_NVAL)) {
        kpOs_err oe = kpOs_sockError(pf.fd);
        return kpP2_streamError(p, call, out, oe != KP_OS_OK ? kpWasi_errno(oe) : 0, err);
    }
    kpCValue *pl;
    kapsul_status st = kpP2_putResult(call, out, 0, &pl, true, err);
    if (st == KAPSUL_OK) pl->u = (pf.revents & KP_OS_POLL_OUT) ? 65536 : 0;
    return st;
}

/* write (and blocking-write-and-flush): every byte goes out before the call returns, waiting
 * for the socket when its buffer is full (never past the run's deadline). A peer gone or a
 * send side shut down is closed. */
kapsul_status kpP2Sock_write(kpP2 *p, kpCHostCall *call, p2res *s, const uint8_t *b, size_t n, kpCValue *out,
                             kapsul_error *err) {
    kpOs_fd fd = osfd(p, s);
    while (n > 0) {
        kpOs_iov iov = { (void *)b, n };
        size_t done = 0;
        kpOs_err oe = kpOs_send(fd, &iov, 1, &done);
        if (oe == KP_OS_EAGAIN || oe == KP_OS_EINTR) {
            kapsul_status st = kpP2_waitFd(p, fd, KP_OS_POLL_OUT, 0, err);
            if (st != KAPSUL_OK) return st;
            continue;
        }
        if (oe == KP_OS_EPIPE) return kpP2_streamError(p, call, out, 0, err);
        if (oe != KP_OS_OK) return kpP2_streamError(p, call, out, kpWasi_errno(oe), err);
        b += done, n -= done;
    }
    return ok_unit(out);
}

/* ---- UDP --------------------------------------------------------------------------------------- */

#define UDP_ARG()                                            \
    kpP2 *p = env;                                           \
    p2res *s = sock_arg(p, &a[0], R_UDP);                    \
    if (!s) return kpP2_trap(err, "wasi: not a udp-socket"); \
    (void)call, (void)r

/* stream(remote): associate with remote (some) or with nobody (none), and hand out a pair of
 * datagram streams. */
KP_P2_HOST(kpP2_udpStream) {
    UDP_ARG();
    if (s->sk->state != S_BOUND) return fail(call, &r[0], E_INVALID_STATE, err);
    kpOs_addr remote;
    bool some = a[1].var.disc == 1;
    if (some) {
        addr_in(a[1].var.payload, true, &remote);
        if (!valid_remote(s, &remote)) return fail(call, &r[0], E_INVALID_ARGUMENT, err);
        if (!kpP2Net_allows(p->net, KP_P2_UDP_SEND, &remote)) return fail(call, &r[0], E_ACCESS_DENIED, err);
    }
    kpOs_err oe = KP_OS_OK;
    if (some || s->sk->connected) oe = kpOs_connect(osfd(p, s), some ? &remote : NULL);
    if (oe != KP_OS_OK && !(oe == KP_OS_EAFNOSUPPORT && !some)) return os_fail(call, &r[0], oe, err);
    s->sk->connected = some;
    if (some) s->sk->remote = remote;
    struct kpP2Sock *in = kp_calloc(1, sizeof *in), *outk = kp_calloc(1, sizeof *outk);
    if (!in || !outk) {
        kp_free(in), kp_free(outk);
        return kpP2_nomem(err);
    }
    *in = *s->sk, *outk = *s->sk;
    in->addrs = outk->addrs = NULL;
    uint32_t fd = s->fd, rin, rout;
    if (kpP2_resNew(p, (p2res){ .kind = R_DGIN, .sock = true, .fd = fd, .sk = in }, &rin) != 0) {
        kp_free(in), kp_free(outk);
        return kpP2_nomem(err);
    }
    if (kpP2_resNew(p, (p2res){ .kind = R_DGOUT, .sock = true, .fd = fd, .sk = outk }, &rout) != 0) {
        kp_free(outk);
        return kpP2_nomem(err);
    }
    kpCValue *pl, *t = kpP2_vals(call, 2);
    if (!t) return kpP2_nomem(err);
    kapsul_status st = ok_with(call, &r[0], &pl, err);
    if (st != KAPSUL_OK) return st;
    t[0].rep = rin, t[1].rep = rout;
    pl->agg.v = t, pl->agg.n = 2;
    return KAPSUL_OK;
}

KP_P2_HOST(kpP2_udpLocalAddress) {
    UDP_ARG();
    if (s->sk->state == S_UNBOUND) return fail(call, &r[0], E_INVALID_STATE, err);
    return address(p, call, s, false, &r[0], err);
}

KP_P2_HOST(kpP2_udpRemoteAddress) {
    UDP_ARG();
    if (!s->sk->connected) return fail(call, &r[0], E_INVALID_STATE, err);
    return address(p, call, s, true, &r[0], err);
}

KP_P2_HOST(kpP2_udpAddressFamily) {
    UDP_ARG();
    r[0].var.disc = s->sk->family == 6, r[0].var.payload = NULL;
    return KAPSUL_OK;
}

KP_P2_HOST(kpP2_udpSubscribe) {
    UDP_ARG();
    return new_pollable(p, s->fd, 0, &r[0], err);
}

/* receive(max): the datagrams waiting now (at most max, MAX_RECEIVE and about MAX_IO bytes);
 * an empty list when none waits. */
KP_P2_HOST(kpP2_udpReceive) {
    kpP2 *p = env;
    p2res *s = sock_arg(p, &a[0], R_DGIN);
    if (!s) return kpP2_trap(err, "wasi: not an incoming-datagram-stream");
    uint64_t max = a[1].u < MAX_RECEIVE ? a[1].u : MAX_RECEIVE;
    kpCValue *list = kpP2_vals(call, (size_t)max);
    uint8_t *buf = kpCArena_alloc(call->arena, MAX_DATAGRAM);
    if (!list || !buf) return kpP2_nomem(err);
    uint32_t k = 0;
    size_t bytes = 0;
    kpOs_fd fd = osfd(p, s);
    while (k < max && bytes < MAX_IO) {
        size_t done = 0;
        bool truncated = false;
        kpOs_addr from;
        kpOs_err oe = kpOs_recvFrom(fd, buf, MAX_DATAGRAM, &done, &from, &truncated);
        if (oe == KP_OS_EAGAIN || oe == KP_OS_EINTR) break;
        if (oe != KP_OS_OK) {
            if (k == 0) return os_fail(call, &r[0], oe, err);
            break;
        }
        kpCValue *rec = kpP2_vals(call, 2);
        if (!rec || !kpP2_bytesValue(call, buf, done, &rec[0]) || !addr_out(call, &from, true, &rec[1]))
            return kpP2_nomem(err);
        list[k].agg.v = rec, list[k].agg.n = 2;
        k++, bytes += done;
    }
    kpCValue *pl;
    kapsul_status st = ok_with(call, &r[0], &pl, err);
    if (st == KAPSUL_OK) pl->agg.v = list, pl->agg.n = k;
    return st;
}

KP_P2_HOST(kpP2_udpIncomingSubscribe) {
    kpP2 *p = env;
    (void)call;
    p2res *s = sock_arg(p, &a[0], R_DGIN);
    if (!s) return kpP2_trap(err, "wasi: not an incoming-datagram-stream");
    return new_pollable(p, s->fd, KP_OS_POLL_IN, &r[0], err);
}

KP_P2_HOST(kpP2_udpCheckSend) {
    kpP2 *p = env;
    p2res *s = sock_arg(p, &a[0], R_DGOUT);
    if (!s) return kpP2_trap(err, "wasi: not an outgoing-datagram-stream");
    kpOs_pollfd pf = { .fd = osfd(p, s), .events = KP_OS_POLL_OUT };
    int ready = 0;
    kpOs_poll(&pf, 1, 0, &ready);
    s->sk->permit = (pf.revents & KP_OS_POLL_OUT) ? SEND_PERMIT : 0;
    kpCValue *pl;
    kapsul_status st = ok_with(call, &r[0], &pl, err);
    if (st == KAPSUL_OK) pl->u = s->sk->permit;
    return st;
}

/* send: each datagram to its remote (or the associated one), in order; how many went out, or
 * the error of the first when none did. More datagrams than check-send allowed is a trap, as
 * the spec says. */
KP_P2_HOST(kpP2_udpSend) {
    kpP2 *p = env;
    p2res *s = sock_arg(p, &a[0], R_DGOUT);
    if (!s) return kpP2_trap(err, "wasi: not an outgoing-datagram-stream");
    uint32_t n = a[1].agg.n;
    if (n > s->sk->permit) return kpP2_trap(err, "wasi: send: more datagrams than check-send permitted");
    s->sk->permit -= n;
    kpOs_fd fd = osfd(p, s);
    uint8_t *buf = n ? kpCArena_alloc(call->arena, MAX_DATAGRAM) : NULL;
    if (n && !buf) return kpP2_nomem(err);
    uint32_t sent = 0, code = 0;
    for (; sent < n; sent++) {
        const kpCValue *d = &a[1].agg.v[sent];
        const kpCValue *data = &d->agg.v[0], *to = &d->agg.v[1];
        kpOs_addr remote;
        bool explicit = to->var.disc == 1;
        if (explicit) addr_in(to->var.payload, true, &remote);
        if (!explicit && !s->sk->connected) {
            code = E_INVALID_ARGUMENT;
            break;
        }
        if (explicit && (!valid_remote(s, &remote) ||
                         (s->sk->connected && (remote.port != s->sk->remote.port ||
                                               memcmp(remote.ip, s->sk->remote.ip, 16) != 0)))) {
            code = E_INVALID_ARGUMENT;
            break;
        }
        if (explicit && !kpP2Net_allows(p->net, KP_P2_UDP_SEND, &remote)) {
            code = E_ACCESS_DENIED;
            break;
        }
        if (data->agg.n > MAX_DATAGRAM - 1) {
            code = E_DATAGRAM_TOO_LARGE;
            break;
        }
        for (uint32_t i = 0; i < data->agg.n; i++) buf[i] = (uint8_t)data->agg.v[i].u;
        size_t done;
        kpOs_err oe =
            kpOs_sendTo(fd, buf, data->agg.n, explicit && !s->sk->connected ? &remote : NULL, &done);
        if (oe == KP_OS_EAGAIN) {
            code = E_WOULD_BLOCK;
            break;
        }
        if (oe != KP_OS_OK) {
            code = code_of(kpWasi_errno(oe));
            break;
        }
    }
    if (sent == 0 && n > 0) return fail(call, &r[0], code, err);
    kpCValue *pl;
    kapsul_status st = ok_with(call, &r[0], &pl, err);
    if (st == KAPSUL_OK) pl->u = sent;
    return st;
}

KP_P2_HOST(kpP2_udpOutgoingSubscribe) {
    kpP2 *p = env;
    (void)call;
    p2res *s = sock_arg(p, &a[0], R_DGOUT);
    if (!s) return kpP2_trap(err, "wasi: not an outgoing-datagram-stream");
    return new_pollable(p, s->fd, KP_OS_POLL_OUT, &r[0], err);
}

/* ---- ip-name-lookup ---------------------------------------------------------------------------- */

/* A name the resolver may see: letters, digits, '-', '.', at most 253 bytes, no empty label. */
static bool domain_name(const char *s, size_t n) {
    if (n == 0 || n > 253) return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') ||
            ++label > 63)
            return false;
    }
    return true;
}

/* resolve-addresses: only with the lookup grant. An IP address (v6 with or without brackets)
 * is its own answer; a name goes to the system resolver, synchronously, so the stream is ready
 * at once. */
KP_P2_HOST(kpP2_resolveAddresses) {
    kpP2 *p = env;
    if (!network_arg(p, &a[0])) return kpP2_trap(err, "wasi: not a network");
    if (!kpP2Net_allows(p->net, KP_P2_NAME_LOOKUP, NULL)) return fail(call, &r[0], E_ACCESS_DENIED, err);
    char name[256];
    size_t n = a[1].str.len;
    if (n == 0 || n >= sizeof name || memchr(a[1].str.p, 0, n))
        return fail(call, &r[0], E_INVALID_ARGUMENT, err);
    memcpy(name, a[1].str.p, n);
    name[n] = 0;
    kpOs_addr *addrs = kp_calloc(MAX_RESOLVE, sizeof *addrs);
    if (!addrs) return kpP2_nomem(err);
    size_t na = 0;
    uint32_t code = 0;
    char *ip = name;
    if (n > 2 && name[0] == '[' && name[n - 1] == ']') ip = name + 1, name[n - 1] = 0;
    if (kpOs_parseIp(ip, 4, &addrs[0]) || kpOs_parseIp(ip, 6, &addrs[0])) {
        na = 1;
    } else if (ip != name || !domain_name(name, n)) {
        code = E_INVALID_ARGUMENT;
    } else {
        kpOs_err oe = kpOs_resolve(name, addrs, MAX_RESOLVE, &na);
        if (oe == KP_OS_ENOENT || (oe == KP_OS_OK && na == 0)) code = E_NAME_UNRESOLVABLE;
        else if (oe == KP_OS_EAGAIN) code = E_TEMPORARY_RESOLVER_FAILURE;
        else if (oe == KP_OS_ENOMEM) code = E_OUT_OF_MEMORY;
        else if (oe != KP_OS_OK) code = E_PERMANENT_RESOLVER_FAILURE;
    }
    struct kpP2Sock *sk = code ? NULL : kp_calloc(1, sizeof *sk);
    if (code || !sk) {
        kp_free(addrs);
        return code ? fail(call, &r[0], code, err) : kpP2_nomem(err);
    }
    sk->addrs = addrs, sk->naddrs = na;
    uint32_t rep;
    if (kpP2_resNew(p, (p2res){ .kind = R_RESOLVE, .sk = sk }, &rep) != 0) {
        kpP2Sock_free(sk);
        return kpP2_nomem(err);
    }
    kpCValue *pl;
    kapsul_status st = ok_with(call, &r[0], &pl, err);
    if (st == KAPSUL_OK) pl->rep = rep;
    return st;
}

KP_P2_HOST(kpP2_resolveNextAddress) {
    kpP2 *p = env;
    p2res *s = kpP2_resGet(p, a[0].rep, R_RESOLVE);
    if (!s) return kpP2_trap(err, "wasi: not a resolve-address-stream");
    kpCValue *pl;
    kapsul_status st = ok_with(call, &r[0], &pl, err);
    if (st != KAPSUL_OK) return st;
    if (s->sk->next >= s->sk->naddrs) {
        pl->var.disc = 0, pl->var.payload = NULL;
        return KAPSUL_OK;
    }
    kpCValue *some = kpP2_vals(call, 1);
    if (!some || !addr_out(call, &s->sk->addrs[s->sk->next++], false, some)) return kpP2_nomem(err);
    pl->var.disc = 1, pl->var.payload = some;
    return KAPSUL_OK;
}

KP_P2_HOST(kpP2_resolveSubscribe) {
    kpP2 *p = env;
    (void)call;
    if (!kpP2_resGet(p, a[0].rep, R_RESOLVE)) return kpP2_trap(err, "wasi: not a resolve-address-stream");
    uint32_t rep;
    if (kpP2_resNew(p, (p2res){ .kind = R_POLL }, &rep) != 0) return kpP2_nomem(err);
    r[0].rep = rep;
    return KAPSUL_OK;
}
