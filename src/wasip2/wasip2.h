/*
 * wasip2.h -- the WASI 0.2 host: wasi:cli, wasi:io, wasi:clocks, wasi:random, wasi:filesystem and
 * wasi:sockets (behind the grants of kpP2Net, below) and wasi:http (types, outgoing-handler through
 * an embedder's client; incoming-handler through kpP2_httpHandle) as host instances for component
 * imports (src/cinstance), on top of a preview1 context.
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

/* ---- wasi:http (http.c) ------------------------------------------------------------------------ */

/* A field (header or trailer) as given; not owned. */
typedef struct kpP2HttpHeader {
    const char *name;
    size_t name_len;
    const uint8_t *value;
    size_t value_len;
} kpP2HttpHeader;

/* A request: what a client sent (kpP2_httpHandle) or what a guest sends (kpP2HttpClient.send).
 * Strings are not NUL-terminated; none is owned. */
typedef struct kpP2HttpRequest {
    const char *method;
    size_t method_len;
    const char *scheme; /* "http", "https" or another, NUL-terminated */
    const char *authority;
    size_t authority_len;
    const char *path_with_query;
    size_t path_len;
    const kpP2HttpHeader *headers;
    size_t nheaders;
    const uint8_t *body;
    size_t body_len;
    uint64_t connect_timeout_ns, first_byte_timeout_ns; /* 0: none (outgoing only) */
    uint64_t deadline_ns;                               /* the context's deadline, 0: none */
} kpP2HttpRequest;

/* An owned field of a response. */
typedef struct kpP2HttpField {
    char *name; /* NUL-terminated, lower-case */
    uint8_t *value;
    size_t name_len, value_len;
} kpP2HttpField;

/* Error-code cases (types.wit's variant error-code) the host itself produces or names. */
enum {
    KP_HTTP_E_DNS_ERROR = 1,
    KP_HTTP_E_CONNECTION_REFUSED = 6,
    KP_HTTP_E_CONNECTION_TIMEOUT = 8,
    KP_HTTP_E_TLS_CERTIFICATE = 13,
    KP_HTTP_E_REQUEST_DENIED = 15,
    KP_HTTP_E_REQUEST_URI_INVALID = 19,
    KP_HTTP_E_RESPONSE_BODY_SIZE = 28,
    KP_HTTP_E_RESPONSE_TIMEOUT = 33,
    KP_HTTP_E_PROTOCOL = 35,
    KP_HTTP_E_INTERNAL = 38,
    KP_HTTP_E_NCASES = 39
};

/* A response: what the guest answered (kpP2_httpHandle), or what a server answered a guest's
 * request (kpP2HttpClient.send). error >= 0 is an error-code case instead of a response (detail
 * says more); set is false when the guest never called response-outparam.set. */
typedef struct kpP2HttpResponse {
    bool set;
    int error;
    char detail[200];
    uint16_t status;
    KP_VEC(kpP2HttpField) headers;
    kpBuf body;
} kpP2HttpResponse;

/* Copies name (lower-cased) and value. -1 when out of memory. */
int kpP2HttpResponse_addHeader(kpP2HttpResponse *r, const char *name, size_t name_len, const uint8_t *value,
                               size_t value_len);
void kpP2HttpResponse_free(kpP2HttpResponse *r);
/* The kebab-case name of an error-code case ("HTTP-request-denied"), "?" when out of range. */
const char *kpP2Http_errorName(int code);

/* How a guest's wasi:http/outgoing-handler requests leave the host. Without one, every request is
 * denied (HTTP-request-denied). allowed runs in handle() with the request's scheme and authority
 * (host[:port] as the guest gave it); send performs an allowed request once its body is complete
 * (at the guest's first future-incoming-response.get), filling res (status, headers, body; or
 * error with an error-code case and detail). */
typedef struct kpP2HttpClient {
    bool (*allowed)(void *env, const char *scheme, const char *authority, size_t authority_len);
    void (*send)(void *env, const kpP2HttpRequest *req, kpP2HttpResponse *res);
    void *env;
} kpP2HttpClient;
void kpP2_setHttpClient(kpP2 *p, const kpP2HttpClient *client);

/* Call ci's wasi:http/incoming-handler#handle (handle, found with kpCInstance_func) with req, and
 * collect what the guest set on its response-outparam into *res (zeroed first; free it with
 * kpP2HttpResponse_free in every case). ci must have been instantiated with kpP2_resolve on p.
 * Returns the call's status (a trap: KAPSUL_ERR_TRAP; the response is what was set before). A
 * response whose body was not finished (outgoing-body.finish) counts as an error
 * (HTTP-response-incomplete's detail). */
kapsul_status kpP2_httpHandle(kpP2 *p, kpCInstance *ci, kpCFunc *handle, const kpP2HttpRequest *req,
                              kpP2HttpResponse *res, kapsul_error *err);

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
