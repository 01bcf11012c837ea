/*
 * wagi.h -- WAGI, CGI for WebAssembly: what a guest sees of an HTTP request (environment, argv)
 * and how its standard output becomes the HTTP response.
 *
 * Defined by deislabs/wagi (src/http_util.rs, src/handlers.rs at 479fae0) and Spin's WAGI
 * executor (fermyon/spin crates/http/src/wagi/mod.rs, crates/trigger-http/src/wagi.rs and
 * headers.rs at 0f8b7ad4), with RFC 3875 where they are silent or wrong. Where kapsul differs
 * from them it says so beside the function (and docs/RATIONALE.md says why).
 *
 * The environment is exactly (nothing from the host):
 *   AUTH_TYPE="" CONTENT_LENGTH CONTENT_TYPE GATEWAY_INTERFACE=CGI/1.1 PATH_INFO (percent-decoded)
 *   PATH_TRANSLATED (= PATH_INFO) QUERY_STRING (raw) REMOTE_ADDR REMOTE_HOST (= REMOTE_ADDR)
 *   REMOTE_USER="" REQUEST_METHOD SCRIPT_NAME SERVER_NAME SERVER_PORT SERVER_PROTOCOL
 *   SERVER_SOFTWARE=WAGI/1 X_BASE_PATH X_CLIENT_ADDR (ip:port) X_COMPONENT_ROUTE X_FULL_URL
 *   X_MATCHED_ROUTE X_RAW_COMPONENT_ROUTE X_RAW_PATH_INFO, one HTTP_<NAME> per request header
 *   (except Authorization and Connection), then the component's environment for names not
 *   already set (CGI variables win, as in wagi).
 */
#ifndef KP_SERVE_WAGI_H
#define KP_SERVE_WAGI_H

#include "app/manifest.h"
#include "base/base.h"
#include "serve/route.h"

typedef struct kpWagiHeader {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} kpWagiHeader;

/* One request as the HTTP front saw it. Everything is borrowed; lengths are exact (no NUL
 * termination needed) except for the C strings marked so. */
typedef struct kpWagiRequest {
    const char *method; /* C string: "GET" */
    const char *path;   /* raw request path, still percent-encoded, no query */
    size_t path_len;
    const char *query; /* raw query string without '?', NULL or "" if none */
    size_t query_len;
    const kpWagiHeader *headers;
    size_t nheaders;
    uint64_t content_length; /* body bytes (after transfer decoding) */
    const char *client_addr; /* C string: the peer's IP address, as text */
    uint16_t client_port;
    const char *server_host; /* C string: the listener's name/address (no Host header) */
    uint16_t server_port;
    const char *scheme;        /* C string: "http" or "https" */
    const char *protocol;      /* C string: "HTTP/1.1", "HTTP/2.0" */
    const kpRouteMatch *match; /* a KP_ROUTE_MATCH result */
    const char *base;          /* C string: the manifest's base, "/" by default */
    const kpManifestEnv *env;  /* the component's environment */
    size_t nenv;
} kpWagiRequest;

/* The guest's environment as "NAME=VALUE" strings (out is appended to; free with
 * kpWagi_freeStrings). KAPSUL_ERR_ARG: the request cannot be given to a guest (a path that
 * decodes to a NUL byte; answer 400). KAPSUL_ERR_LIMIT: too many headers or bytes (431). */
kapsul_status kpWagi_buildEnv(const kpWagiRequest *rq, kpStrVec *out, kapsul_error *err);

/* argv from the executor's template (kpManifestTrigger.argv, default "${SCRIPT_NAME} ${ARGS}"),
 * as Spin does it: ${SCRIPT_NAME} becomes the raw request path, ${ARGS} the raw query with every
 * '&' turned into ' ', and the result is split at each ' ' (empty pieces kept). */
kapsul_status kpWagi_buildArgv(const char *tmpl, const kpWagiRequest *rq, kpStrVec *out, kapsul_error *err);
void kpWagi_freeStrings(kpStrVec *v);

typedef struct kpWagiOutHeader {
    char *name, *value; /* in kpWagiResponse.head */
} kpWagiOutHeader;

typedef struct kpWagiResponse {
    int status;                      /* 200 unless Status/Location say otherwise */
    const char *reason;              /* the Status line's reason phrase, or NULL */
    KP_VEC(kpWagiOutHeader) headers; /* in the guest's order; Content-Type and Location included */
    const uint8_t *body;             /* into the guest's output, or a static error message */
    size_t body_len;
    char *head; /* owned copy of the header block */
} kpWagiResponse;

/* The guest's stdout (out[0..len)) as a response. exit_code/trapped say how the guest ended.
 * A guest that failed or wrote a bad response gives KAPSUL_ERR_MALFORMED with the reason in err
 * (for the log) AND a ready 500 (or 502: unparsable Status) response in *resp, so the caller
 * always has something to send. KAPSUL_ERR_NOMEM: nothing in *resp. Free with
 * kpWagi_freeResponse in every case. */
kapsul_status kpWagi_parseOutput(const uint8_t *out, size_t len, int exit_code, bool trapped,
                                 kpWagiResponse *resp, kapsul_error *err);
void kpWagi_freeResponse(kpWagiResponse *r);

#endif /* KP_SERVE_WAGI_H */
