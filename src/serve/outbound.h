/*
 * outbound.h -- where a wasi:http component's outgoing requests go: the allowed_outbound_hosts
 * check (Spin's syntax, app/manifest.h) and the HTTP client that sends what it allows (libcurl,
 * src/serve/http_client.c), as the kpP2HttpClient the WASI 0.2 host calls.
 *
 * A denied request is logged ({"kind":"server"} line naming the component, the trace id and the
 * destination) and the guest gets HTTP-request-denied. An allowed one is sent with http:// or
 * https:// only, no redirects followed, the guest's headers as given (the host's forbidden ones
 * never reach here), within the request's deadline, its response body bounded by KP_P2_MAX_BODY.
 *
 * Built into kapsul_http (it links libcurl), so only the kapsul-serve executable has it.
 */
#ifndef KP_SERVE_OUTBOUND_H
#define KP_SERVE_OUTBOUND_H

#include "serve/log.h"
#include "wasip2/wasip2.h"

/* One request's view: everything borrowed, valid while the guest runs. */
typedef struct kpServe_outbound {
    kpLog *log;
    const kpTrace *trace;
    const char *component;
    const char *const *allowed; /* allowed_outbound_hosts entries */
    size_t nallowed;
} kpServe_outbound;

/* The client for one request (env: ob). */
void kpServe_client(kpServe_outbound *ob, kpP2HttpClient *out);
/* libcurl's global initialisation: once, before any worker thread runs. */
void kpServe_clientInit(void);

#endif /* KP_SERVE_OUTBOUND_H */
