/*
 * wagi.c -- the WAGI mapping (see wagi.h): request -> environment and argv, guest stdout ->
 * response. Pure functions over borrowed bytes; the HTTP front and the instance runner call them.
 *
 * Everything here treats its input as hostile: header names and values, the path and the query
 * come from the client, the output from the guest. Nothing may reach the environment that a
 * guest could mistake for something else (NUL, ambiguous header names), and nothing may reach
 * the response that could split it (CR/LF, framing headers).
 */
#include <stdio.h>
#include <strings.h>

#include "serve/wagi.h"

/* ---- small helpers ----------------------------------------------------------------------------- */

/* RFC 9110 token characters (header names). */
static bool is_tchar(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* What wagi's HeaderValue::to_str accepts for the environment: visible ASCII, space, tab. */
static bool visible_ascii(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 0x20 && c < 0x7f) || c == '\t')) return false;
    }
    return true;
}

/* What a response header value may hold (hyper's HeaderValue rule): no control bytes but tab. */
static bool valid_field_value(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
}

static bool eq_nocase(const char *a, size_t an, const char *b) {
    return an == strlen(b) && strncasecmp(a, b, an) == 0;
}

/* Percent-decode s[0..n) into out as UTF-8, each invalid byte becoming U+FFFD (Spin's
 * percent_decode_str(..).decode_utf8_lossy()). A '%' not followed by two hex digits stays as it
 * is. Returns 0, -1 (out of memory) or 1 (the result would hold a NUL byte). */
static int decode_path(const char *s, size_t n, kpBuf *out) {
    kpBuf raw = { 0 };
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && kpChars_hexval((unsigned char)s[i + 1]) >= 0 &&
            kpChars_hexval((unsigned char)s[i + 2]) >= 0) {
            c = (unsigned char)(kpChars_hexval((unsigned char)s[i + 1]) << 4 |
                                kpChars_hexval((unsigned char)s[i + 2]));
            i += 2;
        }
        if (c == 0) rc = 1;
        else if (kpBuf_byte(&raw, c)) rc = -1;
    }
    for (size_t i = 0; i < raw.len && rc == 0;) {
        size_t k = kpChars_utf8Len(raw.data + i, raw.len - i);
        if (k == 0) {
            if (kpBuf_push(out, "\xEF\xBF\xBD", 3)) rc = -1;
            i++;
        } else {
            if (kpBuf_push(out, raw.data + i, k)) rc = -1;
            i += k;
        }
    }
    kpBuf_free(&raw);
    return rc;
}

/* ---- the environment --------------------------------------------------------------------------- */

typedef struct envb {
    kpStrVec *out;
    size_t first; /* out's entries before this request's */
    size_t bytes;
    kapsul_error *err;
} envb;

static kapsul_status env_nomem(envb *b) { return kpError_set(b->err, KAPSUL_ERR_NOMEM, 0, "out of memory"); }

/* Append "name=value" (value: vlen bytes without NUL). */
static kapsul_status put(envb *b, const char *name, const char *val, size_t vlen) {
    size_t nlen = strlen(name), total = nlen + 1 + vlen + 1;
    if (b->bytes + total > KP_WAGI_MAX_ENV_BYTES)
        return kpError_set(b->err, KAPSUL_ERR_LIMIT, 0,
                           "the request's WAGI environment is larger than %u bytes", KP_WAGI_MAX_ENV_BYTES);
    char *s = kp_malloc(total);
    if (!s || kpVec_grow(b->out)) {
        kp_free(s);
        return env_nomem(b);
    }
    memcpy(s, name, nlen);
    s[nlen] = '=';
    memcpy(s + nlen + 1, val, vlen);
    s[total - 1] = 0;
    b->out->v[b->out->n++] = s;
    b->bytes += total;
    return KAPSUL_OK;
}

static kapsul_status puts_(envb *b, const char *name, const char *val) {
    return put(b, name, val ? val : "", val ? strlen(val) : 0);
}

/* Is name already set by this request? */
static bool env_has(const envb *b, const char *name, size_t nlen) {
    for (size_t i = b->first; i < b->out->n; i++)
        if (strncmp(b->out->v[i], name, nlen) == 0 && b->out->v[i][nlen] == '=') return true;
    return false;
}

static const kpWagiHeader *find_header(const kpWagiRequest *rq, const char *name) {
    for (size_t i = 0; i < rq->nheaders; i++)
        if (eq_nocase(rq->headers[i].name, rq->headers[i].name_len, name)) return &rq->headers[i];
    return NULL;
}

/* SERVER_NAME / SERVER_PORT: the Host header if it is usable (wagi: "the most authoritative"),
 * else the listener's. "[v6]:port" is split at the bracket, where wagi splits at the first ':'. */
static void server_name_port(const kpWagiRequest *rq, char *host, size_t hcap, char *port, size_t pcap) {
    snprintf(host, hcap, "%s", rq->server_host ? rq->server_host : "localhost");
    snprintf(port, pcap, "%u", (unsigned)rq->server_port);
    const kpWagiHeader *h = find_header(rq, "host");
    if (!h || !h->value_len || !visible_ascii(h->value, h->value_len) || h->value_len >= hcap) return;
    const char *v = h->value, *end = v + h->value_len, *colon;
    if (v[0] == '[') {
        const char *rb = memchr(v, ']', h->value_len);
        if (!rb) return;
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
        if (!colon && rb + 1 != end) return;
    } else {
        colon = memchr(v, ':', h->value_len);
    }
    const char *hend = colon ? colon : end;
    if (hend > v) snprintf(host, hcap, "%.*s", (int)(hend - v), v);
    if (colon && colon + 1 < end) {
        size_t pn = (size_t)(end - colon - 1);
        bool digits = pn <= 5;
        for (size_t i = 0; i < pn && digits; i++) digits = colon[1 + i] >= '0' && colon[1 + i] <= '9';
        if (digits) snprintf(port, pcap, "%.*s", (int)pn, colon + 1);
    }
}

/* HTTP_<NAME> for every header, RFC 3875 4.1.18. Left out: Authorization and Connection (RFC,
 * wagi), Proxy (httpoxy: HTTP_PROXY is read as a proxy setting), and names with anything but
 * letters, digits and '-' ("X_User" would pose as "X-User", "X.User" makes a variable no shell
 * can name; Apache drops them too, nginx drops '_'). A value that is not visible ASCII becomes
 * "CORRUPT VALUE" (wagi). Repeated headers are joined with ", " ("; " for Cookie), as RFC 3875
 * asks; wagi keeps only the last one. */
static kapsul_status http_vars(envb *b, const kpWagiRequest *rq) {
    if (rq->nheaders > KP_WAGI_MAX_REQUEST_HEADERS)
        return kpError_set(b->err, KAPSUL_ERR_LIMIT, 0, "more than %d request headers",
                           KP_WAGI_MAX_REQUEST_HEADERS);
    for (size_t i = 0; i < rq->nheaders; i++) {
        const kpWagiHeader *h = &rq->headers[i];
        bool ok = h->name_len > 0 && h->name_len < 200;
        for (size_t k = 0; k < h->name_len && ok; k++) {
            char ch = h->name[k];
            ok =
                (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-';
        }
        if (!ok || eq_nocase(h->name, h->name_len, "authorization") ||
            eq_nocase(h->name, h->name_len, "connection") || eq_nocase(h->name, h->name_len, "proxy"))
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = rq->headers[j].name_len == h->name_len &&
                   strncasecmp(rq->headers[j].name, h->name, h->name_len) == 0;
        if (seen) continue; /* joined into the first occurrence below */
        char name[210];
        memcpy(name, "HTTP_", 5);
        for (size_t k = 0; k < h->name_len; k++) {
            char c = h->name[k];
            name[5 + k] = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
        }
        name[5 + h->name_len] = 0;
        const char *sep = eq_nocase(h->name, h->name_len, "cookie") ? "; " : ", ";
        kpBuf val = { 0 };
        int rc = 0;
        for (size_t j = i; j < rq->nheaders && rc == 0; j++) {
            const kpWagiHeader *hj = &rq->headers[j];
            if (hj->name_len != h->name_len || strncasecmp(hj->name, h->name, h->name_len) != 0) continue;
            bool clean = visible_ascii(hj->value, hj->value_len);
            if (val.len) rc = kpBuf_push(&val, sep, 2);
            if (!rc)
                rc = clean ? kpBuf_push(&val, hj->value, hj->value_len)
                           : kpBuf_push(&val, "CORRUPT VALUE", 13);
        }
        kapsul_status st = rc ? env_nomem(b) : put(b, name, val.len ? (const char *)val.data : "", val.len);
        kpBuf_free(&val);
        if (st) return st;
    }
    return KAPSUL_OK;
}

/* The route-derived variables (Spin's compute_default_headers, and wagi's PATH_INFO). */
static kapsul_status route_vars(envb *b, const kpWagiRequest *rq) {
    const kpRouteMatch *m = rq->match;
    const kpRoute *rt = m->route;
    kapsul_status st;
    kpBuf decoded = { 0 };
    int rc = decode_path(m->path_info, m->path_info_len, &decoded);
    if (rc < 0) return env_nomem(b);
    if (rc > 0) {
        kpBuf_free(&decoded);
        return kpError_set(b->err, KAPSUL_ERR_ARG, 0, "the request path decodes to a NUL byte");
    }
    const char *d = decoded.len ? (const char *)decoded.data : "";
    size_t raw_len = strlen(rt->raw_route);
    size_t comp_len = raw_len >= 4 && !strcmp(rt->raw_route + raw_len - 4, "/...") ? raw_len - 4 : raw_len;
    if ((st = put(b, "PATH_INFO", d, decoded.len)) || (st = put(b, "PATH_TRANSLATED", d, decoded.len)) ||
        (st = put(b, "X_RAW_PATH_INFO", m->path_info, m->path_info_len)) ||
        (st = put(b, "SCRIPT_NAME", m->script_name, m->script_name_len)) ||
        (st = puts_(b, "X_MATCHED_ROUTE", rt->based_route)) ||
        (st = puts_(b, "X_RAW_COMPONENT_ROUTE", rt->raw_route)) ||
        (st = put(b, "X_COMPONENT_ROUTE", rt->raw_route, comp_len)) ||
        (st = puts_(b, "X_BASE_PATH", rq->base ? rq->base : "/")))
        goto fail;
fail:
    kpBuf_free(&decoded);
    return st;
}

/* The request's origin and target: addresses, ports, X_FULL_URL. */
static kapsul_status server_vars(envb *b, const kpWagiRequest *rq) {
    char host[512], port[8], client[128];
    kapsul_status st;
    server_name_port(rq, host, sizeof host, port, sizeof port);
    snprintf(client, sizeof client, "%s:%u", rq->client_addr ? rq->client_addr : "",
             (unsigned)rq->client_port);
    if ((st = puts_(b, "SERVER_NAME", host)) || (st = puts_(b, "SERVER_PORT", port)) ||
        (st = puts_(b, "REMOTE_ADDR", rq->client_addr)) || (st = puts_(b, "REMOTE_HOST", rq->client_addr)) ||
        (st = puts_(b, "X_CLIENT_ADDR", client)))
        return st;
    /* Spin: scheme "://" Host-header path ["?" query]; without a usable Host, the listener's. */
    const kpWagiHeader *h = find_header(rq, "host");
    kpBuf url = { 0 };
    int rc = kpBuf_push(&url, rq->scheme ? rq->scheme : "http", strlen(rq->scheme ? rq->scheme : "http"));
    rc |= kpBuf_push(&url, "://", 3);
    if (h && h->value_len && visible_ascii(h->value, h->value_len))
        rc |= kpBuf_push(&url, h->value, h->value_len);
    else {
        char hp[600];
        snprintf(hp, sizeof hp, "%s:%s", rq->server_host ? rq->server_host : "localhost", port);
        rc |= kpBuf_push(&url, hp, strlen(hp));
    }
    rc |= kpBuf_push(&url, rq->path, rq->path_len);
    if (rq->query_len) rc |= kpBuf_byte(&url, '?') | kpBuf_push(&url, rq->query, rq->query_len);
    st = rc ? env_nomem(b) : put(b, "X_FULL_URL", (const char *)url.data, url.len);
    kpBuf_free(&url);
    return st;
}

/* The CGI variables, then the route's, the server's, the headers', then the component's; on
 * failure out is as it was. */
kapsul_status kpWagi_buildEnv(const kpWagiRequest *rq, kpStrVec *out, kapsul_error *err) {
    envb b = { out, out->n, 0, err };
    kapsul_status st;
    char len[24];
    if (!rq->match || rq->match->result != KP_ROUTE_MATCH || !rq->method)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "no matched route or method");
    if (memchr(rq->path, 0, rq->path_len) || (rq->query_len && memchr(rq->query, 0, rq->query_len)))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "the request path or query holds a NUL byte");
    snprintf(len, sizeof len, "%llu", (unsigned long long)rq->content_length);
    const kpWagiHeader *ct = find_header(rq, "content-type");
    bool ct_ok = ct && visible_ascii(ct->value, ct->value_len);
    if ((st = puts_(&b, "AUTH_TYPE", "")) || (st = puts_(&b, "CONTENT_LENGTH", len)) ||
        (st = put(&b, "CONTENT_TYPE", ct_ok ? ct->value : "", ct_ok ? ct->value_len : 0)) ||
        (st = puts_(&b, "GATEWAY_INTERFACE", "CGI/1.1")) ||
        (st = put(&b, "QUERY_STRING", rq->query_len ? rq->query : "", rq->query_len)) ||
        (st = puts_(&b, "REMOTE_USER", "")) || (st = puts_(&b, "REQUEST_METHOD", rq->method)) ||
        (st = puts_(&b, "SERVER_PROTOCOL", rq->protocol ? rq->protocol : "HTTP/1.1")) ||
        (st = puts_(&b, "SERVER_SOFTWARE", "WAGI/1")) || (st = route_vars(&b, rq)) ||
        (st = server_vars(&b, rq)) || (st = http_vars(&b, rq)))
        goto fail;
    /* The component's own variables, where they do not shadow a CGI one (wagi puts them first
     * and lets the CGI values overwrite). */
    for (size_t i = 0; i < rq->nenv; i++) {
        const kpManifestEnv *e = &rq->env[i];
        if (env_has(&b, e->name, strlen(e->name))) continue;
        if ((st = puts_(&b, e->name, e->value))) goto fail;
    }
    return KAPSUL_OK;
fail:
    while (out->n > b.first) kp_free(out->v[--out->n]);
    if (b.first == 0) kpVec_free(out);
    return st;
}

/* ---- argv -------------------------------------------------------------------------------------- */

kapsul_status kpWagi_buildArgv(const char *tmpl, const kpWagiRequest *rq, kpStrVec *out, kapsul_error *err) {
    kpBuf line = { 0 };
    size_t first = out->n;
    int rc = 0;
    if (memchr(rq->path, 0, rq->path_len) || (rq->query_len && memchr(rq->query, 0, rq->query_len)))
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "the request path or query holds a NUL byte");
    /* One pass, so a path that contains "${ARGS}" is not expanded again (Spin replaces twice). */
    for (const char *t = tmpl; *t && !rc;) {
        if (!strncmp(t, "${SCRIPT_NAME}", 14)) {
            rc = kpBuf_push(&line, rq->path, rq->path_len);
            t += 14;
        } else if (!strncmp(t, "${ARGS}", 7)) {
            for (size_t i = 0; i < rq->query_len && !rc; i++)
                rc = kpBuf_byte(&line, rq->query[i] == '&' ? ' ' : (uint8_t)rq->query[i]);
            t += 7;
        } else {
            rc = kpBuf_byte(&line, (uint8_t)*t++);
        }
    }
    if (rc) goto nomem;
    for (size_t start = 0, i = 0;; i++) {
        if (i < line.len && line.data[i] != ' ') continue;
        char *s = kp_strndup(line.len ? (const char *)line.data + start : "", i - start);
        if (!s || kpVec_grow(out)) {
            kp_free(s);
            goto nomem;
        }
        out->v[out->n++] = s;
        if (i >= line.len) break;
        start = i + 1;
    }
    kpBuf_free(&line);
    return KAPSUL_OK;
nomem:
    kpBuf_free(&line);
    while (out->n > first) kp_free(out->v[--out->n]);
    if (first == 0) kpVec_free(out);
    return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
}

void kpWagi_freeStrings(kpStrVec *v) {
    for (size_t i = 0; i < v->n; i++) kp_free(v->v[i]);
    kpVec_free(v);
}

/* ---- the response ------------------------------------------------------------------------------ */

/* Replace whatever was parsed with a plain error response; the reason goes to err. */
static kapsul_status fail_response(kpWagiResponse *r, kapsul_error *err, int status, const char *msg) {
    kpVec_free(&r->headers);
    r->status = status;
    r->reason = NULL;
    r->body = (const uint8_t *)msg;
    r->body_len = strlen(msg);
    return kpError_set(err, KAPSUL_ERR_MALFORMED, 0, "%s", msg);
}

/* Drop spaces and tabs at both ends (wagi trims each name and value). */
static void trim(char **s, size_t *n) {
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

/* Headers the HTTP front owns: the guest must not frame or hijack the connection. */
static bool framing_header(const char *name, size_t n) {
    static const char *const names[] = { "content-length",
                                         "transfer-encoding",
                                         "connection",
                                         "keep-alive",
                                         "upgrade",
                                         "trailer",
                                         "te",
                                         "proxy-connection",
                                         NULL };
    for (int i = 0; names[i]; i++)
        if (eq_nocase(name, n, names[i])) return true;
    return false;
}

/* An already-parsed header by name, case-insensitively. */
static kpWagiOutHeader *find_out(kpWagiResponse *r, const char *lname) {
    for (size_t i = 0; i < r->headers.n; i++)
        if (strcasecmp(r->headers.v[i].name, lname) == 0) return &r->headers.v[i];
    return NULL;
}

/* One "Name: value" line of the header block (NUL-terminated in place). Returns 0, or the
 * static reason the response is bad; sufficient and explicit_status track wagi's flags. */
static const char *header_line(kpWagiResponse *r, char *line, size_t n, bool *sufficient,
                               bool *explicit_status, bool *nomem) {
    char *colon = memchr(line, ':', n);
    if (!colon) return NULL; /* wagi: "corrupt header", skipped */
    char *name = line, *val = colon + 1;
    size_t nn = (size_t)(colon - line), vn = n - nn - 1;
    trim(&name, &nn);
    trim(&val, &vn);
    name[nn] = 0;
    val[vn] = 0;
    if (!valid_field_value(val, vn)) return "the guest wrote a header value with control characters";
    if (eq_nocase(name, nn, "status")) {
        *sufficient = *explicit_status = true;
        char *sp = memchr(val, ' ', vn);
        size_t cn = sp ? (size_t)(sp - val) : vn;
        if (cn == 3 && val[0] >= '1' && val[0] <= '9' && val[1] >= '0' && val[1] <= '9' && val[2] >= '0' &&
            val[2] <= '9') {
            r->status = (val[0] - '0') * 100 + (val[1] - '0') * 10 + (val[2] - '0');
            if (sp) {
                char *reason = sp + 1;
                size_t rn = vn - cn - 1;
                trim(&reason, &rn);
                r->reason = rn ? reason : NULL;
            }
        } else {
            r->status = 502; /* wagi: an unparsable Status is a bad gateway */
        }
        return NULL;
    }
    bool is_ct = eq_nocase(name, nn, "content-type"), is_loc = eq_nocase(name, nn, "location");
    if (is_ct || is_loc) {
        *sufficient = true;
        if (is_loc && !*explicit_status) r->status = 302;
        kpWagiOutHeader *old = find_out(r, name);
        if (old) {
            old->value = val;
            return NULL;
        } /* the last one wins, as in wagi's map */
    } else {
        for (size_t i = 0; i < nn; i++)
            if (!is_tchar((unsigned char)name[i])) return NULL; /* wagi drops invalid names */
        if (nn == 0 || framing_header(name, nn)) return NULL;
    }
    if (r->headers.n >= KP_WAGI_MAX_RESPONSE_HEADERS) return "the guest wrote too many headers";
    if (kpVec_grow(&r->headers)) {
        *nomem = true;
        return NULL;
    }
    r->headers.v[r->headers.n++] = (kpWagiOutHeader){ name, val };
    return NULL;
}

/* wagi's compose_response, with the checks it lacks (sizes, control bytes, framing headers). */
kapsul_status kpWagi_parseOutput(const uint8_t *out, size_t len, int exit_code, bool trapped,
                                 kpWagiResponse *resp, kapsul_error *err) {
    memset(resp, 0, sizeof *resp);
    resp->status = 200;
    if (trapped) return fail_response(resp, err, 500, "the guest trapped");
    if (exit_code != 0) return fail_response(resp, err, 500, "the guest exited with a non-zero status");
    if (len == 0)
        return fail_response(resp, err, 500, "the guest wrote nothing to stdout (is it a WAGI module?)");
    /* The header block ends at the first empty line; CRs in it are ignored (wagi). */
    size_t cap = len < KP_WAGI_MAX_RESPONSE_HEAD ? len : KP_WAGI_MAX_RESPONSE_HEAD;
    if (!(resp->head = kp_malloc(cap + 1))) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
    size_t hn = 0, i = 0;
    int last = 0;
    bool found = false;
    for (; i < len; i++) {
        uint8_t c = out[i];
        if (c == '\r') continue;
        if (c == '\n' && last == '\n') {
            found = true;
            break;
        }
        if (hn == cap) return fail_response(resp, err, 500, "the guest's header block is too large");
        resp->head[hn++] = (char)c;
        last = c;
    }
    if (!found)
        return fail_response(resp, err, 500, "the guest's output has no empty line ending the headers");
    resp->head[hn] = 0;
    if (!kp_utf8_valid((const uint8_t *)resp->head, hn))
        return fail_response(resp, err, 500, "the guest's headers are not UTF-8");
    bool sufficient = false, explicit_status = false, nomem = false;
    for (char *line = resp->head, *end = resp->head + hn; line < end;) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
        const char *why = header_line(resp, line, n, &sufficient, &explicit_status, &nomem);
        if (nomem) {
            kpWagi_freeResponse(resp);
            return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
        }
        if (why) return fail_response(resp, err, 500, why);
        line += n + 1;
    }
    if (!sufficient)
        return fail_response(resp, err, 500, "Exactly one of 'location' or 'content-type' must be specified");
    resp->body = out + i + 1;
    resp->body_len = len - i - 1;
    return KAPSUL_OK;
}

void kpWagi_freeResponse(kpWagiResponse *r) {
    kpVec_free(&r->headers);
    kp_free(r->head);
    r->head = NULL;
}
