/*
 * otlp.h -- one OpenTelemetry span per request, exported as OTLP/HTTP JSON with libcurl, batched
 * off the request path.
 *
 * A worker formats its span (a few hundred bytes) and appends it to a bounded queue under a mutex;
 * that is all the request pays. One exporter thread sends a batch when KP_SERVE_OTLP_BATCH spans are
 * waiting or KP_SERVE_OTLP_FLUSH_MS has passed, as one POST of an ExportTraceServiceRequest to the
 * URL exactly as given (e.g. http://127.0.0.1:4318/v1/traces). A full queue drops the span and
 * counts it; an unreachable collector loses the batch and never slows a request. kpOtlp_stop sends
 * what is queued (one last try) and joins the thread.
 */
#ifndef KP_SERVE_OTLP_H
#define KP_SERVE_OTLP_H

#include "serve/log.h"

typedef struct kpOtlp kpOtlp;

/* KAPSUL_ERR_ARG: url is not http:// or https://; KAPSUL_ERR_NOMEM. */
kapsul_status kpOtlp_start(const char *url, const char *service, kpOtlp **out, kapsul_error *err);
/* The span of one request: start/end in ns since the epoch (CLOCK_REALTIME). */
void kpOtlp_span(kpOtlp *o, const kpLogRequest *r, uint64_t start_ns, uint64_t end_ns);
/* Flush, stop, free. Returns how many spans were dropped or failed to send over the lifetime. */
uint64_t kpOtlp_stop(kpOtlp *o);

#endif /* KP_SERVE_OTLP_H */
