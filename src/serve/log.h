/*
 * log.h -- serve's request log and W3C trace context.
 *
 * One JSON object per line: one per request (kind "request"), one per line the guest wrote to
 * stderr (kind "guest_stderr") and, with --trace-wasi, one per WASI call (kind "wasi"), all
 * carrying the request's trace id and span id, so a log search for one id finds the request and
 * everything its guest said and did. Guest text is JSON-escaped byte by byte (invalid UTF-8
 * becomes \u00XX of each byte), so a guest can never forge a log line.
 *
 * Trace context (https://www.w3.org/TR/trace-context/): an incoming `traceparent` whose version is
 * not ff, whose ids are hex and not all zero, is continued (its trace id kept, a new span id for
 * this request, the caller's span id kept as parent); anything else starts a new trace.
 */
#ifndef KP_SERVE_LOG_H
#define KP_SERVE_LOG_H

#include "base/base.h"
#include "os/os.h"

typedef struct kpTrace {
    char trace_id[33];  /* 32 lower-case hex digits */
    char span_id[17];   /* this request's span */
    char parent_id[17]; /* the caller's span, "" when the trace started here */
    uint8_t flags;      /* trace-flags: 01 = sampled */
} kpTrace;

/* Continue the trace in a traceparent header value (v[0..n)), or start a new one when v is NULL
 * or not valid. Never fails (ids come from kpOs_random, or the clock if that fails). */
void kpTrace_begin(kpTrace *t, const char *v, size_t n);
/* The traceparent value that names this request's span: "00-TRACE-SPAN-FLAGS" (55 bytes + NUL). */
void kpTrace_format(const kpTrace *t, char out[56]);

typedef struct kpLog {
    kpOs_fd fd; /* stderr or --log-file, appended to */
    bool owned;
    kpOs_mutex *lock; /* one line is one write, never interleaved */
} kpLog;

/* path NULL: standard error. KAPSUL_ERR_IO when the file cannot be opened for appending. */
kapsul_status kpLog_open(kpLog *log, const char *path, kapsul_error *err);
void kpLog_close(kpLog *log);

typedef struct kpLogRequest {
    const kpTrace *trace;
    const char *component;     /* NULL: none (404, health) */
    const char *route;         /* the matched route as written, NULL when none */
    const char *method, *path; /* path as sent, without the query */
    int status;
    uint64_t bytes; /* response body bytes */
    uint64_t duration_us, instantiate_us;
    uint64_t fuel_used; /* 0 with metering off: logged as null */
    bool fuel_metered;
    uint64_t memory_pages;
    const char *outcome; /* "ok", "exit 3", "trap: unreachable", "timeout", ... */
} kpLogRequest;

void kpLog_request(kpLog *log, const kpLogRequest *r);
/* Every line of the guest's stderr (the last one may lack its newline), each cut to
 * KP_SERVE_STDERR_LINE bytes. */
void kpLog_guestStderr(kpLog *log, const kpTrace *trace, const char *component, const uint8_t *text,
                       size_t len);
/* One WASI call of the guest (kapsul serve --trace-wasi), as `kapsul run --trace-wasi` prints it:
 * {"kind":"wasi","trace_id":...,"span_id":...,"component":...,"call":"fd_write(1, ...) = 0"}. */
void kpLog_wasiCall(kpLog *log, const kpTrace *trace, const char *component, const char *call);
/* A server event ("listening", "stopped"...): {"kind":"server","message":...}. */
void kpLog_event(kpLog *log, const char *message);
/* Append s[0..n) to b as a JSON string, quoted and escaped (bytes that are not well-formed UTF-8
 * as \u00XX). Out of memory leaves b short; callers check kpBuf_byte of a final byte. */
void kpLog_jsonString(kpBuf *b, const char *s, size_t n);

#endif /* KP_SERVE_LOG_H */
