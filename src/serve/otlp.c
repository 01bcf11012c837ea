/*
 * otlp.c -- the OTLP/HTTP JSON span exporter (see otlp.h).
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "serve/otlp.h"

struct kpOtlp {
    char *url, *service;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    kpBuf queue;   /* spans, each a JSON object followed by ',' */
    size_t queued; /* spans in queue */
    bool stopping;
    uint64_t dropped;
};

static void lit(kpBuf *b, const char *s) { kpBuf_push(b, s, strlen(s)); }

/* A JSON string of s; the values here come from the request (path, method), so they are escaped. */
static void put_json(kpBuf *b, const char *s) {
    kpBuf_byte(b, '"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') kpBuf_byte(b, '\\'), kpBuf_byte(b, c);
        else if (c < 0x20 || c >= 0x7f) snprintf(esc, sizeof esc, "\\u%04x", c), kpBuf_push(b, esc, 6);
        else kpBuf_byte(b, c);
    }
    kpBuf_byte(b, '"');
}

static void put_attr(kpBuf *b, const char *key, const char *sval, int64_t ival, bool first) {
    char num[32];
    if (!first) kpBuf_byte(b, ',');
    lit(b, "{\"key\":");
    put_json(b, key);
    if (sval) {
        lit(b, ",\"value\":{\"stringValue\":");
        put_json(b, sval);
        lit(b, "}}");
    } else {
        int n = snprintf(num, sizeof num, "%lld", (long long)ival);
        lit(b, ",\"value\":{\"intValue\":\"");
        kpBuf_push(b, num, (size_t)n);
        lit(b, "\"}}");
    }
}

/* One span (kind 2 = SERVER; status code 2 = ERROR for 5xx, as the HTTP semantic conventions say). */
static void format_span(kpBuf *b, const kpLogRequest *r, uint64_t start_ns, uint64_t end_ns) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "{\"traceId\":\"%s\",\"spanId\":\"%s\",\"parentSpanId\":\"%s\",\"kind\":2,"
                     "\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":\"%llu\",\"name\":",
                     r->trace->trace_id, r->trace->span_id, r->trace->parent_id, (unsigned long long)start_ns,
                     (unsigned long long)end_ns);
    kpBuf_push(b, head, (size_t)n);
    char name[160];
    snprintf(name, sizeof name, "%s %s", r->method, r->route ? r->route : "");
    put_json(b, name);
    lit(b, ",\"attributes\":[");
    put_attr(b, "http.request.method", r->method, 0, true);
    put_attr(b, "url.path", r->path, 0, false);
    if (r->route) put_attr(b, "http.route", r->route, 0, false);
    if (r->component) put_attr(b, "kapsul.component", r->component, 0, false);
    put_attr(b, "http.response.status_code", NULL, r->status, false);
    put_attr(b, "kapsul.instantiate_us", NULL, (int64_t)r->instantiate_us, false);
    if (r->outcome) put_attr(b, "kapsul.outcome", r->outcome, 0, false);
    n = snprintf(head, sizeof head, "],\"status\":{\"code\":%d}},", r->status >= 500 ? 2 : 0);
    kpBuf_push(b, head, (size_t)n);
}

static size_t discard(char *p, size_t size, size_t n, void *ctx) {
    (void)p, (void)ctx;
    return size * n;
}

/* POST one batch; false when the collector did not take it. */
static bool post(kpOtlp *o, CURL *curl, const kpBuf *spans) {
    kpBuf body = { 0 };
    lit(&body, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    put_attr(&body, "service.name", o->service, 0, true);
    lit(&body, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"kapsul\"},\"spans\":[");
    kpBuf_push(&body, spans->data, spans->len - 1); /* without the last ',' */
    if (kpBuf_push(&body, "]}]}]}", 6) != 0) {
        kpBuf_free(&body);
        return false;
    }
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, o->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *)body.data);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    long code = 0;
    bool ok = curl_easy_perform(curl) == CURLE_OK &&
              curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code >= 200 && code < 300;
    curl_slist_free_all(h);
    kpBuf_free(&body);
    return ok;
}

static void *exporter(void *p) {
    kpOtlp *o = p;
    CURL *curl = curl_easy_init();
    pthread_mutex_lock(&o->lock);
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)KP_SERVE_OTLP_FLUSH_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        while (!o->stopping && o->queued < KP_SERVE_OTLP_BATCH)
            if (pthread_cond_timedwait(&o->wake, &o->lock, &ts) != 0) break;
        bool last = o->stopping;
        kpBuf batch = o->queue;
        size_t n = o->queued;
        memset(&o->queue, 0, sizeof o->queue);
        o->queued = 0;
        pthread_mutex_unlock(&o->lock);
        bool ok = n == 0 || (curl && post(o, curl, &batch));
        kpBuf_free(&batch);
        pthread_mutex_lock(&o->lock);
        if (!ok) o->dropped += n;
        if (last) break;
    }
    pthread_mutex_unlock(&o->lock);
    if (curl) curl_easy_cleanup(curl);
    return NULL;
}

kapsul_status kpOtlp_start(const char *url, const char *service, kpOtlp **out, kapsul_error *err) {
    *out = NULL;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "--otlp-endpoint: '%s' is not an http:// or https:// URL",
                           url);
    kpOtlp *o = kp_calloc(1, sizeof *o);
    if (!o || !(o->url = kp_strndup(url, strlen(url))) ||
        !(o->service = kp_strndup(service, strlen(service)))) {
        if (o) kp_free(o->url);
        kp_free(o);
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    }
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any other thread uses curl */
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->wake, NULL);
    if (pthread_create(&o->thread, NULL, exporter, o) != 0) {
        pthread_mutex_destroy(&o->lock);
        pthread_cond_destroy(&o->wake);
        kp_free(o->url);
        kp_free(o->service);
        kp_free(o);
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "cannot start the OTLP exporter thread");
    }
    *out = o;
    return KAPSUL_OK;
}

void kpOtlp_span(kpOtlp *o, const kpLogRequest *r, uint64_t start_ns, uint64_t end_ns) {
    kpBuf span = { 0 };
    format_span(&span, r, start_ns, end_ns);
    pthread_mutex_lock(&o->lock);
    if (o->queued >= KP_SERVE_OTLP_QUEUE || kpBuf_push(&o->queue, span.data, span.len) != 0) {
        o->dropped++;
    } else if (++o->queued == KP_SERVE_OTLP_BATCH) {
        pthread_cond_signal(&o->wake);
    }
    pthread_mutex_unlock(&o->lock);
    kpBuf_free(&span);
}

uint64_t kpOtlp_stop(kpOtlp *o) {
    if (!o) return 0;
    pthread_mutex_lock(&o->lock);
    o->stopping = true;
    pthread_cond_signal(&o->wake);
    pthread_mutex_unlock(&o->lock);
    pthread_join(o->thread, NULL);
    uint64_t dropped = o->dropped;
    kpBuf_free(&o->queue);
    pthread_mutex_destroy(&o->lock);
    pthread_cond_destroy(&o->wake);
    kp_free(o->url);
    kp_free(o->service);
    kp_free(o);
    curl_global_cleanup();
    return dropped;
}
