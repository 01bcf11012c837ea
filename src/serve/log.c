/*
 * log.c -- JSON log lines and the W3C trace context (see log.h).
 */
#include <stdio.h>
#include <time.h>

#include "serve/log.h"

/* ---- Trace context --------------------------------------------------------------------------- */

static bool lower_hex(const char *s, size_t n) {
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        if (c != '0') nonzero = true;
    }
    return nonzero;
}

/* Random hex ids. The clock stands in when the system generator fails, so a log line still has
 * an id to search for. */
static void random_hex(char *out, size_t digits) {
    uint8_t b[16];
    if (kpOs_random(b, digits / 2) != KP_OS_OK) {
        uint64_t t = kpOs_monotonicNs();
        for (size_t i = 0; i < digits / 2; i++) b[i] = (uint8_t)(t >> (8 * (i % 8))) ^ (uint8_t)i;
    }
    b[0] |= 1; /* never all zero, which the spec calls invalid */
    for (size_t i = 0; i < digits / 2; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static bool is_hex_digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2 = 55 bytes. Version 00 is exactly
 * that; a later version may append "-..." fields, which the spec says to ignore; ff is invalid. */
void kpTrace_begin(kpTrace *t, const char *v, size_t n) {
    memset(t, 0, sizeof *t);
    bool ok = v && n >= 55 && v[2] == '-' && v[35] == '-' && v[52] == '-' && is_hex_digits(v, 2) &&
              memcmp(v, "ff", 2) != 0 && lower_hex(v + 3, 32) && lower_hex(v + 36, 16) &&
              is_hex_digits(v + 53, 2) && (n == 55 || (memcmp(v, "00", 2) != 0 && v[55] == '-'));
    if (ok) {
        memcpy(t->trace_id, v + 3, 32);
        memcpy(t->parent_id, v + 36, 16);
        unsigned f = 0;
        sscanf(v + 53, "%2x", &f);
        t->flags = (uint8_t)(f & 1);
    } else {
        random_hex(t->trace_id, 32);
        t->flags = 1;
    }
    random_hex(t->span_id, 16);
}

void kpTrace_format(const kpTrace *t, char out[56]) {
    snprintf(out, 56, "00-%s-%s-%02x", t->trace_id, t->span_id, t->flags);
}

/* ---- Lines ----------------------------------------------------------------------------------- */

kapsul_status kpLog_open(kpLog *log, const char *path, kapsul_error *err) {
    memset(log, 0, sizeof *log);
    log->fd = 2;
    if (path) {
        kpOs_fd dir;
        /* The file is named by the operator on the command line, not by a guest: a plain open
         * relative to the working directory is what they mean. */
        kpOs_err oe = kpOs_openDir(".", &dir);
        if (oe == KP_OS_OK) {
            oe = kpOs_openAt(dir, path, KP_OS_O_WRITE | KP_OS_O_CREAT | KP_OS_O_APPEND, &log->fd);
            kpOs_close(dir);
        }
        if (oe != KP_OS_OK) return kpError_set(err, KAPSUL_ERR_IO, 0, "%s: %s", path, kpOs_strerror(oe));
        log->owned = true;
    }
    if (!(log->lock = kpOs_mutexNew())) {
        kpLog_close(log);
        return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    }
    return KAPSUL_OK;
}

void kpLog_close(kpLog *log) {
    if (log->owned) kpOs_close(log->fd);
    kpOs_mutexFree(log->lock);
    memset(log, 0, sizeof *log);
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const uint8_t *s, size_t n) {
    size_t need = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    return need && need <= n && kp_utf8_valid(s, need) ? need : 0;
}

/* A JSON string of bytes s[0..n): quotes, backslash and control bytes escaped, and every byte
 * that is not part of well-formed UTF-8 written as \u00XX, so the line stays valid JSON. */
void kpLog_jsonString(kpBuf *b, const char *s, size_t n) {
    kpBuf_byte(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t u = c >= 0x80 ? utf8_len((const uint8_t *)s + i, n - i) : 1;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            kpBuf_push(b, esc, 2);
        } else if (c < 0x20 || c == 0x7f || u == 0) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            kpBuf_push(b, esc, 6);
            u = 1;
        } else {
            kpBuf_push(b, s + i, u);
        }
        i += u;
    }
    kpBuf_byte(b, '"');
}

static void put_cstr(kpBuf *b, const char *key, const char *v) {
    char k[64];
    int n = snprintf(k, sizeof k, ",\"%s\":", key);
    kpBuf_push(b, k, (size_t)n);
    if (v) kpLog_jsonString(b, v, strlen(v));
    else kpBuf_push(b, "null", 4);
}

static void put_u64(kpBuf *b, const char *key, uint64_t v) {
    char k[96];
    int n = snprintf(k, sizeof k, ",\"%s\":%llu", key, (unsigned long long)v);
    kpBuf_push(b, k, (size_t)n);
}

/* {"time":"2026-12-06T01:02:03.456789Z","kind":KIND */
static void begin(kpBuf *b, const char *kind) {
    struct timespec ts;
    struct tm tm;
    char t[96];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(t, sizeof t, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\",\"kind\":\"%s\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000, kind);
    kpBuf_push(b, t, (size_t)n);
}

/* One line, one write under the lock. A log that cannot be written (disk full, a closed pipe)
 * never stops serving: the line is dropped. A buffer that ran out of memory is dropped too. */
static void emit(kpLog *log, kpBuf *b) {
    if (kpBuf_push(b, "}\n", 2) == 0) {
        kpOs_mutexLock(log->lock);
        size_t off = 0;
        while (off < b->len) {
            kpOs_iov iov = { b->data + off, b->len - off };
            size_t done = 0;
            if (kpOs_writeQuiet(log->fd, &iov, 1, &done) != KP_OS_OK || done == 0) break;
            off += done;
        }
        kpOs_mutexUnlock(log->lock);
    }
    kpBuf_free(b);
}

void kpLog_request(kpLog *log, const kpLogRequest *r) {
    kpBuf b = { 0 };
    begin(&b, "request");
    put_cstr(&b, "trace_id", r->trace->trace_id);
    put_cstr(&b, "span_id", r->trace->span_id);
    put_cstr(&b, "parent_span_id", r->trace->parent_id[0] ? r->trace->parent_id : NULL);
    put_cstr(&b, "component", r->component);
    put_cstr(&b, "route", r->route);
    put_cstr(&b, "method", r->method);
    put_cstr(&b, "path", r->path);
    put_u64(&b, "status", (uint64_t)r->status);
    put_u64(&b, "bytes", r->bytes);
    put_u64(&b, "duration_us", r->duration_us);
    put_u64(&b, "instantiate_us", r->instantiate_us);
    if (r->fuel_metered) put_u64(&b, "fuel_used", r->fuel_used);
    else put_cstr(&b, "fuel_used", NULL);
    put_u64(&b, "memory_pages", r->memory_pages);
    put_cstr(&b, "outcome", r->outcome);
    emit(log, &b);
}

void kpLog_guestStderr(kpLog *log, const kpTrace *trace, const char *component, const uint8_t *text,
                       size_t len) {
    size_t i = 0;
    while (i < len) {
        const uint8_t *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        kpBuf b = { 0 };
        begin(&b, "guest_stderr");
        put_cstr(&b, "trace_id", trace->trace_id);
        put_cstr(&b, "span_id", trace->span_id);
        put_cstr(&b, "component", component);
        kpBuf_push(&b, ",\"line\":", 8);
        kpLog_jsonString(&b, (const char *)text + i, n < KP_SERVE_STDERR_LINE ? n : KP_SERVE_STDERR_LINE);
        emit(log, &b);
        i += n + (nl ? 1 : 0);
    }
}

void kpLog_wasiCall(kpLog *log, const kpTrace *trace, const char *component, const char *call) {
    kpBuf b = { 0 };
    begin(&b, "wasi");
    put_cstr(&b, "trace_id", trace->trace_id);
    put_cstr(&b, "span_id", trace->span_id);
    put_cstr(&b, "component", component);
    put_cstr(&b, "call", call);
    emit(log, &b);
}

void kpLog_event(kpLog *log, const char *message) {
    kpBuf b = { 0 };
    begin(&b, "server");
    put_cstr(&b, "message", message);
    emit(log, &b);
}
