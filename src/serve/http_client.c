/*
 * http_client.c -- the outgoing requests of wasi:http components, through libcurl (outbound.h).
 *
 * One easy handle per request, on the worker thread that runs the guest: the guest is blocked in
 * future-incoming-response.get until the whole response is in memory, as the rest of the WASI 0.2
 * host's I/O completes inside the call. Timeouts are the guest's request-options where it set
 * them, and never past the request's own deadline.
 */
#include <curl/curl.h>
#include <stdio.h>

#include "app/manifest.h"
#include "serve/outbound.h"

void kpServe_clientInit(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static bool allowed(void *env, const char *scheme, const char *authority, size_t len) {
    const kpServe_outbound *ob = env;
    for (size_t i = 0; i < ob->nallowed; i++)
        if (kpManifest_outboundAllows(ob->allowed[i], scheme, authority, len)) return true;
    char msg[512];
    snprintf(msg, sizeof msg,
             "component '%.64s' (trace %s): outgoing request to %.16s://%.*s denied: not in its "
             "allowed_outbound_hosts",
             ob->component, ob->trace ? ob->trace->trace_id : "-", scheme, (int)(len > 200 ? 200 : len),
             authority);
    kpLog_event(ob->log, msg);
    return false;
}

typedef struct sink {
    kpP2HttpResponse *res;
    bool too_big;
} sink;

static size_t on_body(char *data, size_t size, size_t n, void *p) {
    sink *s = p;
    size_t len = size * n;
    if (len > KP_P2_MAX_BODY - s->res->body.len) {
        s->too_big = true;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    return kpBuf_push(&s->res->body, data, len) == 0 ? len : 0;
}

/* Header lines as they arrive: a status line starts a new response (after a 1xx), "name: value"
 * lines are kept, the rest (the blank line) ignored. */
static size_t on_header(char *data, size_t size, size_t n, void *p) {
    sink *s = p;
    size_t len = size * n;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        for (size_t i = 0; i < s->res->headers.n; i++) kp_free(s->res->headers.v[i].name);
        s->res->headers.n = 0;
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon || colon == data) return len;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1, *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) end--;
    if (kpP2HttpResponse_addHeader(s->res, data, nlen, (const uint8_t *)v, (size_t)(end - v)) != 0) return 0;
    return len;
}

static void fail(kpP2HttpResponse *res, int code, const char *detail) {
    res->error = code;
    snprintf(res->detail, sizeof res->detail, "%s", detail);
}

static int error_code(CURLcode c, const sink *s) {
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST: return KP_HTTP_E_DNS_ERROR;
    case CURLE_COULDNT_CONNECT: return KP_HTTP_E_CONNECTION_REFUSED;
    case CURLE_OPERATION_TIMEDOUT: return KP_HTTP_E_CONNECTION_TIMEOUT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR: return KP_HTTP_E_TLS_CERTIFICATE;
    case CURLE_WRITE_ERROR: return s->too_big ? KP_HTTP_E_RESPONSE_BODY_SIZE : KP_HTTP_E_INTERNAL;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT: return KP_HTTP_E_REQUEST_URI_INVALID;
    default: return KP_HTTP_E_PROTOCOL;
    }
}

/* The request's header lines: "name: value", or "name;" for an empty value (curl's syntax). */
static struct curl_slist *header_list(const kpP2HttpRequest *req, bool *ok) {
    struct curl_slist *l = NULL, *t;
    *ok = true;
    for (size_t i = 0; i < req->nheaders && *ok; i++) {
        const kpP2HttpHeader *h = &req->headers[i];
        char *line = kp_malloc(h->name_len + h->value_len + 3);
        if (!line) {
            *ok = false;
            break;
        }
        memcpy(line, h->name, h->name_len);
        if (h->value_len) {
            memcpy(line + h->name_len, ": ", 2);
            memcpy(line + h->name_len + 2, h->value, h->value_len);
            line[h->name_len + 2 + h->value_len] = 0;
        } else {
            line[h->name_len] = ';', line[h->name_len + 1] = 0;
        }
        if ((t = curl_slist_append(l, line))) l = t;
        else *ok = false;
        kp_free(line);
    }
    if (*ok && (t = curl_slist_append(l, "Expect:"))) l = t; /* no 100-continue round trip */
    return l;
}

static void send_request(void *env, const kpP2HttpRequest *req, kpP2HttpResponse *res) {
    (void)env;
    res->error = -1;
    if (strcmp(req->scheme, "http") != 0 && strcmp(req->scheme, "https") != 0)
        return fail(res, KP_HTTP_E_REQUEST_URI_INVALID, "only http and https are supported");
    size_t ulen = strlen(req->scheme) + 3 + req->authority_len + req->path_len + 1;
    char *url = kp_malloc(ulen);
    char method[32];
    if (!url) return fail(res, KP_HTTP_E_INTERNAL, "out of memory");
    snprintf(url, ulen, "%s://%.*s%.*s", req->scheme, (int)req->authority_len, req->authority,
             (int)req->path_len, req->path_with_query);
    snprintf(method, sizeof method, "%.*s", (int)(req->method_len < 31 ? req->method_len : 31), req->method);
    uint64_t now = kpOs_monotonicNs();
    long total_ms = 30000, connect_ms = 10000;
    if (req->deadline_ns) {
        if (req->deadline_ns <= now) {
            kp_free(url);
            return fail(res, KP_HTTP_E_CONNECTION_TIMEOUT, "the request's deadline passed");
        }
        total_ms = (long)((req->deadline_ns - now) / 1000000u) + 1;
    }
    if (req->connect_timeout_ns) connect_ms = (long)(req->connect_timeout_ns / 1000000u) + 1;
    if (connect_ms > total_ms) connect_ms = total_ms;
    bool ok;
    struct curl_slist *headers = header_list(req, &ok);
    CURL *c = ok ? curl_easy_init() : NULL;
    if (!c) {
        curl_slist_free_all(headers);
        kp_free(url);
        return fail(res, KP_HTTP_E_INTERNAL, "out of memory");
    }
    sink s = { res, false };
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (req->body_len || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        fail(res, error_code(rc, &s), curl_easy_strerror(rc));
    } else {
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status < 100 || status > 999) fail(res, KP_HTTP_E_PROTOCOL, "no valid status code");
        else res->status = (uint16_t)status;
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    kp_free(url);
}

void kpServe_client(kpServe_outbound *ob, kpP2HttpClient *out) {
    *out = (kpP2HttpClient){ .allowed = allowed, .send = send_request, .env = ob };
}
