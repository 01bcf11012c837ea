/*
 * wasip2.h -- the WASI 0.2 host: wasi:cli, wasi:io, wasi:clocks, wasi:random, wasi:filesystem and
 * wasi:sockets (behind the grants of kpP2Net, below)
 * as host instances for component imports (src/cinstance), on top of a preview1 context.
 *
 * One sandbox: a kpP2 wraps a kapsul_wasi (kapsul_wasi_new: arguments, environment, stdio, the
 * --dir preopens with their rights and read-only flags, the deadline) and performs every file
 * operation through src/wasi's own handlers (path_open, fd_pread, fd_filestat_get, ...) on a
 * scratch memory of its own, so paths are resolved, rights checked and read-only preopens
 * refused exactly as for a preview1 guest. Descriptors are preview1 fds of that context; streams,
 * errors and pollables live in a small table of host resources whose index is the resource's rep.
 *
 * Every 0.2.x version of an interface resolves to the same implementation (funcs.def lists each
 * function with its shape; a guest whose declaration has another shape is refused at
 * instantiation).
 */
#ifndef KP_WASIP2_H
#define KP_WASIP2_H

#include "cinstance/cinstance.h"

typedef struct kpP2 kpP2;

/* A host over wasi (which must outlive it; its fds 0-2 are stdin/stdout/stderr, its preopens the
 * filesystem's directories). */
kapsul_status kpP2_new(kapsul_wasi *wasi, kpP2 **out, kapsul_error *err);
void kpP2_free(kpP2 *p);

/* A kpCResolveFn (env: the kpP2): `wasi:IFACE@0.2.x` for every interface of funcs.def;
 * KAPSUL_ERR_NOT_FOUND for another name or version. A kpP2 serves the one kpCInstance it first
 * resolved for (KAPSUL_ERR_ARG for another): make one per instance, and free it with it. */
kapsul_status kpP2_resolve(void *env, kpCInstance *ci, const char *name, uint32_t len, kpCInst **out,
                           kapsul_error *err);

/* ---- wasi:sockets grants (sockets_grant.c) -------------------------------------------------------
 * Default deny: a host without grants (or with an empty kpP2Net) answers every socket call and
 * name lookup with access-denied before any system call. A kpP2Net is built once (from the CLI's
 * --allow-* flags or a Spin manifest's allowed_outbound_hosts) and shared, read-only, by every
 * kpP2 that serves with it; it must outlive them. */
typedef enum kpP2Allow {
    KP_P2_TCP_CONNECT, /* tcp start-connect to HOST:PORT */
    KP_P2_TCP_BIND,    /* tcp start-bind on ADDR:PORT (then listen and accept) */
    KP_P2_UDP_BIND,    /* udp start-bind on ADDR:PORT (then receive from anyone) */
    KP_P2_UDP_SEND,    /* udp datagrams to HOST:PORT (stream with a remote, send) */
    KP_P2_NAME_LOOKUP  /* ip-name-lookup through the system resolver (no HOST:PORT) */
} kpP2Allow;
typedef struct kpP2Net kpP2Net;
kapsul_status kpP2Net_new(kpP2Net **out, kapsul_error *err);
void kpP2Net_free(kpP2Net *n);
/* Allow `what` for HOST:PORT (NULL for KP_P2_NAME_LOOKUP). HOST: an IPv4 address, [IPv6],
 * `localhost` (127.0.0.1 and [::1]), `*` (any address), or a host name, resolved once, here, to
 * the addresses it has now. PORT: a number, LOW-HIGH, or `*` (any, including 0 = an ephemeral
 * port for a bind). KAPSUL_ERR_ARG naming what is wrong. */
kapsul_status kpP2Net_allow(kpP2Net *n, kpP2Allow what, const char *hostport, kapsul_error *err);
/* A Spin allowed_outbound_hosts entry: tcp://HOST:PORT (connect), udp://HOST:PORT (send) or
 * *://HOST:PORT (both); KAPSUL_ERR_NOT_FOUND for another scheme (http, https, redis, ...: not
 * a socket grant). */
kapsul_status kpP2Net_allowUrl(kpP2Net *n, const char *url, kapsul_error *err);
/* Serve wasi:sockets with these grants (NULL: none). */
void kpP2_setNet(kpP2 *p, const kpP2Net *net);

#endif /* KP_WASIP2_H */
