/*
 * http.h -- kapsul's HTTP front: HTTP/1.1 (keep-alive), HTTP/2 (h2 over TLS by ALPN, h2c by prior
 * knowledge) and TLS, served by libh2o-evloop; a handler runs on worker threads, never on an event
 * loop, so a slow or endless handler stalls nothing but itself.
 *
 * Threads: `loops` event-loop threads share one listening socket (each polls its own dup of it and
 * accepts when woken); `workers` handler threads take requests from one bounded queue and post the
 * finished response back to the loop that owns the connection (an h2o_multithread message). A full
 * queue is answered 503 on the loop at once.
 *
 * Limits are checked where the bytes arrive (by h2o, configured from kpHttp_config): request body
 * (413), request header bytes (431; h2o's own hard cap H2O_MAX_REQLEN answers 400 above it), the
 * time to receive a request's header and body and the keep-alive idle time (HTTP/1 header_timeout),
 * the HTTP/2 idle time, and the number of open connections (at the cap, loops stop accepting until
 * one closes). Nothing a client sends reaches an assert or abort.
 *
 * Life cycle: kpHttp_start -> (kpHttp_requestStop from a signal handler, kpHttp_wait) -> kpHttp_stop.
 * kpHttp_stop stops accepting, lets in-flight requests finish and their responses go out (HTTP/2
 * connections get a GOAWAY, idle HTTP/1 connections are closed), and after drain_ms cancels the
 * rest: connections are shut down and running handlers see kpHttp_cancelled() turn true.
 *
 * Defaults are compile-time knobs in src/config.h (KP_HTTP_*).
 */
#ifndef KP_SERVE_HTTP_H
#define KP_SERVE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "kapsul.h"

/* Server settings; kpHttp_configDefaults fills every field from the defaults above. */
typedef struct kpHttp_config {
    const char *host;         /* numeric address (no name lookup) */
    uint16_t port;            /* 0: any free port (read it back with kpHttp_port) */
    const char *tls_cert;     /* PEM certificate chain file, or NULL for plain HTTP */
    const char *tls_key;      /* PEM private key file; set both or neither */
    unsigned loops;           /* 0 = one per online CPU */
    unsigned workers;         /* 0 = two per online CPU */
    unsigned queue_depth;     /* >= 1 */
    unsigned max_connections; /* >= 1 */
    size_t max_body;
    size_t max_header_bytes;
    size_t max_response_bytes;
    uint32_t header_timeout_ms;
    uint32_t idle_timeout_ms;
    uint32_t drain_ms;
} kpHttp_config;

/* One request header as received; names are lower-case (HTTP/2 requires it, h2o folds HTTP/1's). */
typedef struct kpHttp_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} kpHttp_header;

/* What a handler sees. Every string is NUL-terminated and has its length beside it; all of it is a
 * private copy that stays valid until the response is complete (the client may be long gone). */
typedef struct kpHttp_request {
    const char *method;
    size_t method_len;
    const char *path;
    size_t path_len; /* as sent, without the query */
    const char *path_normalized;
    size_t path_normalized_len; /* "." and ".." resolved, %-decoded */
    const char *query;
    size_t query_len; /* after '?', "" when none */
    const char *authority;
    size_t authority_len; /* Host / :authority */
    const kpHttp_header *headers;
    size_t nheaders;
    const uint8_t *body;
    size_t body_len;    /* the whole body, NULL/0 when none */
    const char *scheme; /* "http" or "https" */
    int version;        /* 0x100 HTTP/1.0, 0x101 HTTP/1.1, 0x200 HTTP/2 */
    char client_addr[48];
    uint16_t client_port;
    char local_addr[48];
    uint16_t local_port;
} kpHttp_request;

/* The response a handler builds (owned by the server; valid until the handler returns, or until
 * kpHttp_complete when the handler returned KP_HTTP_PENDING). */
typedef struct kpHttp_response kpHttp_response;

/* Runs on a worker thread. Return 0 when the response is built, KP_HTTP_PENDING to finish it later
 * from any thread with kpHttp_complete, anything else for a 500 (what was built is dropped). */
#define KP_HTTP_PENDING 1
typedef int (*kpHttp_handler)(void *ctx, const kpHttp_request *req, kpHttp_response *res);

typedef struct kpHttp_server kpHttp_server;

void kpHttp_configDefaults(kpHttp_config *config);
/* The worker threads a server started with c has (resolving workers = 0). */
unsigned kpHttp_workers(const kpHttp_config *c);

/* Bind, start the loop and worker threads, and return; requests are served from then on.
 * Fails with KAPSUL_ERR_ARG (bad setting), KAPSUL_ERR_IO (bind, TLS files) or KAPSUL_ERR_NOMEM. */
kapsul_status kpHttp_start(const kpHttp_config *config, kpHttp_handler fn, void *ctx, kpHttp_server **out,
                           kapsul_error *err);
/* The port actually bound (useful with port 0). */
uint16_t kpHttp_port(const kpHttp_server *server);
/* Ask for a stop; async-signal-safe (one write to a pipe), callable from any thread, repeatable. */
void kpHttp_requestStop(kpHttp_server *server);
/* Block until kpHttp_requestStop has been called. */
void kpHttp_wait(kpHttp_server *server);
/* Stop accepting, drain for at most config.drain_ms, cancel what is left, join every thread and free
 * the server. Returns 0 when everything in flight finished, KAPSUL_ERR_LIMIT when the drain ran out
 * of time and requests were cancelled. Call once, not from a handler. */
kapsul_status kpHttp_stop(kpHttp_server *server, kapsul_error *err);

/* ---- Building a response (from the handler's thread) ----------------------------------------- */

/* Status 200..599 except 101 (defaults to 200). KAPSUL_ERR_ARG when out of range. */
kapsul_status kpHttp_setStatus(kpHttp_response *res, int status);
/* Add a header. The name must be an HTTP token and the value free of CR, LF and NUL (a handler
 * cannot split a response); names are stored lower-case. Framing headers (content-length,
 * transfer-encoding, connection and the other hop-by-hop ones) are the server's: KAPSUL_ERR_ARG. */
kapsul_status kpHttp_addHeader(kpHttp_response *res, const char *name, size_t name_len, const char *value,
                               size_t value_len);
/* Append body bytes. KAPSUL_ERR_LIMIT past config.max_response_bytes, KAPSUL_ERR_NOMEM. */
kapsul_status kpHttp_write(kpHttp_response *res, const void *data, size_t len);
/* The request this response answers. */
const kpHttp_request *kpHttp_requestOf(const kpHttp_response *res);
/* True once the client has gone (HTTP/2: stream reset or connection closed; HTTP/1: the connection
 * closed or reset, seen by a check every KP_HTTP_CLIENT_PROBE_MS -- a client that half-closes after
 * its request counts as gone, as in nginx) or the server is cancelling (drain ran out); a long handler polls
 * this (the wasm layer maps it to an interrupt) and returns soon after. */
bool kpHttp_cancelled(const kpHttp_response *res);
/* Finish a response whose handler returned KP_HTTP_PENDING; `status` as a handler's return value
 * (0 = send what was built, else 500). Any thread, exactly once. */
void kpHttp_complete(kpHttp_response *res, int status);

#endif /* KP_SERVE_HTTP_H */
