/*
 * http.c -- wasi:http 0.2.x for the WASI 0.2 host: types (fields, requests, responses, bodies,
 * futures, the response outparam), outgoing-handler through a client the embedder supplies
 * (kpP2HttpClient; kapsul-serve's is libcurl), and the incoming-handler call (kpP2_httpHandle).
 *
 * Every object behind a resource (fields, a request or response, a body, a future) is reference
 * counted: each p2res entry that names it holds one reference, and so does each object that
 * contains it (a request's headers and body). A guest dropping handles in any order, or never,
 * frees everything exactly once (kpP2_free releases what is left).
 *
 * Bodies live in memory: a request body is handed over whole, a response body grows up to
 * KP_P2_MAX_BODY bytes as the guest writes it, and streams over them are always ready, as the rest
 * of this host's streams are. An outgoing request is sent when the guest first asks for its
 * response (future-incoming-response.get) with its body finished, or never started.
 *
 * Children (headers of a request or response) are immutable, as types.wit says; fields a guest
 * made itself are mutable until it hands them to a constructor. Names are HTTP tokens, stored
 * lower-case; values are free of control bytes other than tab; the hop-by-hop names are forbidden
 * to a guest; one fields object holds at most KP_P2_MAX_FIELDS entries and KP_P2_MAX_FIELD_BYTES
 * bytes (beyond: invalid-syntax, the only error the 0.2 header-error has for it).
 */
#include <stdio.h>

#include "wasip2/p2int.h"

/* ---- Objects ------------------------------------------------------------------------------------ */

enum {
    O_FIELDS,
    O_BODY,
    O_MSG,
    O_FUTURE,
    O_OPTS,
    O_OUTPARAM
};

typedef struct hobj {
    uint32_t refs;
    uint8_t type;
    size_t *budget; /* the kpP2's bytes in use (struct kpP2Http.bytes) */
    size_t charged; /* what this object counts there */
} hobj;

typedef struct hfields {
    hobj h;
    KP_VEC(kpP2HttpField) v;
    size_t bytes;
} hfields;

typedef struct hbody {
    hobj h;
    kpBuf data;
    size_t pos;        /* read position of an incoming body */
    bool finished;     /* outgoing: finish was called; incoming: always */
    bool stream_taken; /* stream() / write() was called once */
    hfields *trailers; /* outgoing-body.finish's trailers, or NULL */
} hbody;

typedef struct hmsg { /* incoming-request, outgoing-request, incoming-response, outgoing-response */
    hobj h;
    hfields *headers;
    hbody *body;
    bool body_taken;
    uint16_t status;
    uint32_t method; /* method case; 9: other */
    char *method_other;
    bool has_scheme;
    uint32_t scheme; /* scheme case; 2: other */
    char *scheme_other;
    char *authority; /* NULL: none */
    char *path;      /* NULL: none */
} hmsg;

typedef struct hopts {
    hobj h;
    bool has[3];
    uint64_t t[3]; /* connect, first-byte, between-bytes (ns) */
} hopts;

typedef struct houtparam {
    hobj h;
    hmsg *resp; /* what set() was given, taken when handle returns */
} houtparam;

typedef struct hfuture {
    hobj h;
    hmsg *req; /* the request, until it is sent */
    hopts opts;
    bool done, taken;
    kpP2HttpResponse res;
} hfuture;

struct kpP2Http {
    size_t bytes; /* host memory the guest's wasi:http objects hold, at most KP_P2_MAX_HTTP_BYTES */
    kpP2HttpClient client;
    bool has_client;
    kpP2HttpResponse *answer; /* kpP2_httpHandle's, while the guest runs */
};

static const char *const method_names[] = { "GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                            "CONNECT", "OPTIONS", "TRACE", "PATCH" };

static struct kpP2Http *ctx(kpP2 *p);

/* Count n more bytes against the guest's budget; false (nothing counted) past it. */
static bool charge(hobj *o, size_t n) {
    if (n > KP_P2_MAX_HTTP_BYTES - *o->budget) return false;
    *o->budget += n;
    o->charged += n;
    return true;
}

static void refund(hobj *o, size_t n) {
    *o->budget -= n;
    o->charged -= n;
}

/* A new object of p's (one reference), its size charged; NULL out of memory or budget. */
static void *obj_new(kpP2 *p, size_t size, uint8_t type) {
    struct kpP2Http *h = ctx(p);
    if (!h) return NULL;
    hobj *o = kp_calloc(1, size);
    if (!o) return NULL;
    o->refs = 1, o->type = type, o->budget = &h->bytes;
    if (!charge(o, size)) {
        kp_free(o);
        return NULL;
    }
    return o;
}

static void *obj_ref(void *o) {
    if (o) ((hobj *)o)->refs++;
    return o;
}

static void fields_clear(hfields *f) {
    for (size_t i = 0; i < f->v.n; i++) kp_free(f->v.v[i].name); /* value shares the allocation */
    refund(&f->h, f->bytes);
    f->v.n = 0;
    f->bytes = 0;
}

static void obj_unref(void *p) {
    hobj *o = p;
    if (!o || --o->refs) return;
    switch (o->type) {
    case O_FIELDS:
        fields_clear((hfields *)o);
        kpVec_free(&((hfields *)o)->v);
        break;
    case O_BODY:
        kpBuf_free(&((hbody *)o)->data);
        obj_unref(((hbody *)o)->trailers);
        break;
    case O_MSG: {
        hmsg *m = (hmsg *)o;
        obj_unref(m->headers);
        obj_unref(m->body);
        kp_free(m->method_other);
        kp_free(m->scheme_other);
        kp_free(m->authority);
        kp_free(m->path);
        break;
    }
    case O_OUTPARAM: obj_unref(((houtparam *)o)->resp); break;
    case O_FUTURE:
        obj_unref(((hfuture *)o)->req);
        kpP2HttpResponse_free(&((hfuture *)o)->res);
        break;
    default: break;
    }
    refund(o, o->charged); /* the rest: its size, its body bytes */
    kp_free(o);
}

void kpP2Http_release(kpP2 *p, p2res *r) {
    (void)p;
    obj_unref(r->obj);
    r->obj = NULL;
}

void kpP2Http_free(kpP2 *p) {
    kp_free(p->http);
    p->http = NULL;
}

static struct kpP2Http *ctx(kpP2 *p) {
    if (!p->http) p->http = kp_calloc(1, sizeof *p->http);
    return p->http;
}

void kpP2_setHttpClient(kpP2 *p, const kpP2HttpClient *client) {
    struct kpP2Http *h = ctx(p);
    if (!h) return; /* no client then: every request is denied */
    h->client = *client;
    h->has_client = true;
}

/* A new entry for obj (taking over the caller's reference) into *out as an own handle. */
static kapsul_status give(kpP2 *p, uint8_t kind, void *obj, bool ro, kpCValue *out, kapsul_error *err) {
    uint32_t rep;
    if (!obj) return kpP2_trap(err, "wasi:http: out of host memory for this instance (KP_P2_MAX_HTTP_BYTES)");
    if (kpP2_resNew(p, (p2res){ .kind = kind, .obj = obj, .ro = ro }, &rep) != 0) {
        obj_unref(obj);
        return kpP2_nomem(err);
    }
    out->rep = rep;
    return KAPSUL_OK;
}

static void ok_unit(kpCValue *out) { out->var.disc = 0, out->var.payload = NULL; }
static void err_unit(kpCValue *out) { out->var.disc = 1, out->var.payload = NULL; }

/* ---- Responses (the embedder's view) ------------------------------------------------------------- */

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* A field in one allocation: the name (lower-cased, NUL-terminated), then the value. */
static int field_make(const char *name, size_t name_len, const uint8_t *value, size_t value_len,
                      kpP2HttpField *out) {
    char *n = kp_malloc(name_len + value_len + 2);
    if (!n) return -1;
    for (size_t i = 0; i < name_len; i++) n[i] = lower(name[i]);
    n[name_len] = 0;
    if (value_len) memcpy(n + name_len + 1, value, value_len);
    n[name_len + 1 + value_len] = 0;
    *out = (kpP2HttpField){ n, (uint8_t *)n + name_len + 1, name_len, value_len };
    return 0;
}

int kpP2HttpResponse_addHeader(kpP2HttpResponse *r, const char *name, size_t name_len, const uint8_t *value,
                               size_t value_len) {
    if (kpVec_grow(&r->headers) != 0 ||
        field_make(name, name_len, value, value_len, &r->headers.v[r->headers.n]))
        return -1;
    r->headers.n++;
    return 0;
}

void kpP2HttpResponse_free(kpP2HttpResponse *r) {
    for (size_t i = 0; i < r->headers.n; i++) kp_free(r->headers.v[i].name);
    kpVec_free(&r->headers);
    kpBuf_free(&r->body);
}

const char *kpP2Http_errorName(int code) {
    static const char *const names[KP_HTTP_E_NCASES] = {
        "DNS-timeout",
        "DNS-error",
        "destination-not-found",
        "destination-unavailable",
        "destination-IP-prohibited",
        "destination-IP-unroutable",
        "connection-refused",
        "connection-terminated",
        "connection-timeout",
        "connection-read-timeout",
        "connection-write-timeout",
        "connection-limit-reached",
        "TLS-protocol-error",
        "TLS-certificate-error",
        "TLS-alert-received",
        "HTTP-request-denied",
        "HTTP-request-length-required",
        "HTTP-request-body-size",
        "HTTP-request-method-invalid",
        "HTTP-request-URI-invalid",
        "HTTP-request-URI-too-long",
        "HTTP-request-header-section-size",
        "HTTP-request-header-size",
        "HTTP-request-trailer-section-size",
        "HTTP-request-trailer-size",
        "HTTP-response-incomplete",
        "HTTP-response-header-section-size",
        "HTTP-response-header-size",
        "HTTP-response-body-size",
        "HTTP-response-trailer-section-size",
        "HTTP-response-trailer-size",
        "HTTP-response-transfer-coding",
        "HTTP-response-content-coding",
        "HTTP-response-timeout",
        "HTTP-upgrade-failed",
        "HTTP-protocol-error",
        "loop-detected",
        "configuration-error",
        "internal-error",
    };
    return code >= 0 && code < KP_HTTP_E_NCASES ? names[code] : "?";
}

/* ---- Fields ------------------------------------------------------------------------------------- */

enum {
    HE_SYNTAX,
    HE_FORBIDDEN,
    HE_IMMUTABLE,
    HE_NONE = -1
};

static bool tchar(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool valid_name(const char *s, size_t n) {
    if (n == 0 || n > KP_P2_MAX_FIELD_BYTES) return false;
    for (size_t i = 0; i < n; i++)
        if (!tchar((unsigned char)s[i])) return false;
    return true;
}

static bool valid_value(const uint8_t *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f) return false;
    return true;
}

static bool name_eq(const char *low, size_t n, const char *s, size_t m) {
    if (n != m) return false;
    for (size_t i = 0; i < n; i++)
        if (low[i] != lower(s[i])) return false;
    return true;
}

/* Hop-by-hop and connection-level names: the host's, never a guest's. */
static bool forbidden(const char *s, size_t n) {
    static const char *const names[] = {
        "connection", "keep-alive",     "proxy-connection",   "transfer-encoding",  "upgrade",
        "te",         "http2-settings", "proxy-authenticate", "proxy-authorization"
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (name_eq(names[i], strlen(names[i]), s, n)) return true;
    return false;
}

/* Check a guest's name (and value): HE_NONE when it may be stored. */
static int check_field(const char *name, size_t n, const uint8_t *value, size_t vn) {
    if (!valid_name(name, n) || (value && !valid_value(value, vn))) return HE_SYNTAX;
    return forbidden(name, n) ? HE_FORBIDDEN : HE_NONE;
}

static int fields_add(hfields *f, const char *name, size_t n, const uint8_t *value, size_t vn) {
    size_t bytes = f->bytes + n + vn;
    if (f->v.n >= KP_P2_MAX_FIELDS || bytes > KP_P2_MAX_FIELD_BYTES || bytes < f->bytes) return HE_SYNTAX;
    if (!charge(&f->h, n + vn)) return HE_SYNTAX; /* the guest's whole budget */
    if (kpVec_grow(&f->v) != 0 || field_make(name, n, value, vn, &f->v.v[f->v.n]) != 0) {
        refund(&f->h, n + vn);
        return -2;
    }
    f->v.n++;
    f->bytes = bytes;
    return HE_NONE;
}

static void fields_remove(hfields *f, const char *name, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < f->v.n; i++) {
        kpP2HttpField *e = &f->v.v[i];
        if (name_eq(e->name, e->name_len, name, n)) {
            f->bytes -= e->name_len + e->value_len;
            refund(&f->h, e->name_len + e->value_len);
            kp_free(e->name);
        } else {
            f->v.v[k++] = *e;
        }
    }
    f->v.n = k;
}

static hfields *fields_copy(kpP2 *p, const hfields *src) {
    hfields *f = obj_new(p, sizeof *f, O_FIELDS);
    for (size_t i = 0; f && i < src->v.n; i++) {
        const kpP2HttpField *e = &src->v.v[i];
        if (fields_add(f, e->name, e->name_len, e->value, e->value_len) != HE_NONE) {
            obj_unref(f);
            return NULL;
        }
    }
    return f;
}

static kapsul_status header_error(kpCHostCall *call, kpCValue *out, int he, kapsul_error *err) {
    if (he == -2) return kpP2_nomem(err);
    kpCValue *pl;
    kapsul_status st = kpP2_putResult(call, out, 1, &pl, true, err);
    if (st == KAPSUL_OK) pl->var.disc = (uint32_t)he, pl->var.payload = NULL;
    return st;
}

/* A list<u8> argument as bytes in the call's arena. */
static uint8_t *arg_bytes(kpCHostCall *call, const kpCValue *v) {
    uint8_t *b = kpCArena_alloc(call->arena, v->agg.n ? v->agg.n : 1);
    for (uint32_t i = 0; b && i < v->agg.n; i++) b[i] = (uint8_t)v->agg.v[i].u;
    return b;
}

#define HOST(name) \
    kapsul_status name(void *env, kpCHostCall *call, const kpCValue *a, kpCValue *r, kapsul_error *err)
#define P2         \
    kpP2 *p = env; \
    (void)p, (void)call, (void)a, (void)r, (void)err

static p2res *get(kpP2 *p, const kpCValue *v, uint8_t kind) { return kpP2_resGet(p, v->rep, kind); }

static hfields *fields_of(kpP2 *p, const kpCValue *v, bool *ro) {
    p2res *e = get(p, v, R_FIELDS);
    if (!e) return NULL;
    if (ro) *ro = e->ro;
    return e->obj;
}

HOST(kpP2Http_fieldsNew) {
    P2;
    return give(p, R_FIELDS, obj_new(p, sizeof(hfields), O_FIELDS), false, &r[0], err);
}

HOST(kpP2Http_fieldsFromList) {
    P2;
    hfields *f = obj_new(p, sizeof *f, O_FIELDS);
    if (!f) return kpP2_nomem(err);
    for (uint32_t i = 0; i < a[0].agg.n; i++) {
        const kpCValue *t = a[0].agg.v[i].agg.v;
        uint8_t *b = arg_bytes(call, &t[1]);
        int he = b ? check_field(t[0].str.p, t[0].str.len, b, t[1].agg.n) : -2;
        if (he == HE_NONE) he = fields_add(f, t[0].str.p, t[0].str.len, b, t[1].agg.n);
        if (he != HE_NONE) {
            obj_unref(f);
            return header_error(call, &r[0], he, err);
        }
    }
    kpCValue *pl;
    kapsul_status st = kpP2_putResult(call, &r[0], 0, &pl, true, err);
    if (st != KAPSUL_OK) {
        obj_unref(f);
        return st;
    }
    return give(p, R_FIELDS, f, false, pl, err);
}

/* get: every value of name (none for a name that is not a token). */
HOST(kpP2Http_fieldsGet) {
    P2;
    hfields *f = fields_of(p, &a[0], NULL);
    if (!f) return kpP2_trap(err, "wasi:http: not a fields resource");
    uint32_t n = 0;
    for (size_t i = 0; i < f->v.n; i++)
        n += name_eq(f->v.v[i].name, f->v.v[i].name_len, a[1].str.p, a[1].str.len);
    kpCValue *v = kpP2_vals(call, n);
    if (!v) return kpP2_nomem(err);
    uint32_t k = 0;
    for (size_t i = 0; i < f->v.n && k < n; i++) {
        const kpP2HttpField *e = &f->v.v[i];
        if (name_eq(e->name, e->name_len, a[1].str.p, a[1].str.len) &&
            !kpP2_bytesValue(call, e->value, e->value_len, &v[k++]))
            return kpP2_nomem(err);
    }
    r[0].agg.v = v, r[0].agg.n = n;
    return KAPSUL_OK;
}

HOST(kpP2Http_fieldsHas) {
    P2;
    hfields *f = fields_of(p, &a[0], NULL);
    if (!f) return kpP2_trap(err, "wasi:http: not a fields resource");
    r[0].b = false;
    for (size_t i = 0; i < f->v.n && !r[0].b; i++)
        r[0].b = name_eq(f->v.v[i].name, f->v.v[i].name_len, a[1].str.p, a[1].str.len);
    return KAPSUL_OK;
}

/* set, delete, append: the checks they share; NULL with *he set when refused. */
static hfields *mutable_fields(kpP2 *p, const kpCValue *a, int *he) {
    bool ro = false;
    hfields *f = fields_of(p, &a[0], &ro);
    if (f && ro) *he = HE_IMMUTABLE;
    else if (f) *he = check_field(a[1].str.p, a[1].str.len, NULL, 0);
    return f;
}

HOST(kpP2Http_fieldsSet) {
    P2;
    int he;
    hfields *f = mutable_fields(p, a, &he);
    if (!f) return kpP2_trap(err, "wasi:http: not a fields resource");
    uint8_t **vals = kpCArena_alloc(call->arena, (a[2].agg.n + 1) * sizeof *vals);
    if (!vals) return kpP2_nomem(err);
    for (uint32_t i = 0; he == HE_NONE && i < a[2].agg.n; i++) {
        if (!(vals[i] = arg_bytes(call, &a[2].agg.v[i]))) return kpP2_nomem(err);
        if (!valid_value(vals[i], a[2].agg.v[i].agg.n)) he = HE_SYNTAX;
    }
    if (he != HE_NONE) return header_error(call, &r[0], he, err);
    /* all or nothing: the new values go into a copy that replaces the fields' entries */
    hfields *next = fields_copy(p, f);
    if (!next) return kpP2_nomem(err);
    fields_remove(next, a[1].str.p, a[1].str.len);
    for (uint32_t i = 0; he == HE_NONE && i < a[2].agg.n; i++)
        he = fields_add(next, a[1].str.p, a[1].str.len, vals[i], a[2].agg.v[i].agg.n);
    if (he == HE_NONE) { /* f takes next's entries, and the charge for their bytes */
        fields_clear(f);
        kpVec_free(&f->v);
        f->v.v = next->v.v, f->v.n = next->v.n, f->v.cap = next->v.cap, f->bytes = next->bytes;
        next->h.charged -= next->bytes, f->h.charged += next->bytes;
        next->v.v = NULL, next->v.n = next->v.cap = 0, next->bytes = 0;
    }
    obj_unref(next);
    if (he != HE_NONE) return header_error(call, &r[0], he, err);
    ok_unit(&r[0]);
    return KAPSUL_OK;
}

HOST(kpP2Http_fieldsDelete) {
    P2;
    int he;
    hfields *f = mutable_fields(p, a, &he);
    if (!f) return kpP2_trap(err, "wasi:http: not a fields resource");
    if (he != HE_NONE) return header_error(call, &r[0], he, err);
    fields_remove(f, a[1].str.p, a[1].str.len);
    ok_unit(&r[0]);
    return KAPSUL_OK;
}

HOST(kpP2Http_fieldsAppend) {
    P2;
    int he;
    hfields *f = mutable_fields(p, a, &he);
    if (!f) return kpP2_trap(err, "wasi:http: not a fields resource");
    uint8_t *b = arg_bytes(call, &a[2]);
    if (!b) return kpP2_nomem(err);
    if (he == HE_NONE && !valid_value(b, a[2].agg.n)) he = HE_SYNTAX;
    if (he == HE_NONE) he = fields_add(f, a[1].str.p, a[1].str.len, b, a[2].agg.n);
    if (he != HE_NONE) return header_error(call, &r[0], he, err);
    ok_unit(&r[0]);
    return KAPSUL_OK;
}

HOST(kpP2Http_fieldsEntries) {
    P2;
    hfields *f = fields_of(p, &a[0], NULL);
    if (!f) return kpP2_trap(err, "wasi:http: not a fields resource");
    kpCValue *v = kpP2_vals(call, f->v.n);
    if (!v) return kpP2_nomem(err);
    for (size_t i = 0; i < f->v.n; i++) {
        const kpP2HttpField *e = &f->v.v[i];
        kpCValue *t = kpP2_vals(call, 2);
        if (!t || !kpP2_stringValue(call, e->name, e->name_len, &t[0]) ||
            !kpP2_bytesValue(call, e->value, e->value_len, &t[1]))
            return kpP2_nomem(err);
        v[i].agg.v = t, v[i].agg.n = 2;
    }
    r[0].agg.v = v, r[0].agg.n = (uint32_t)f->v.n;
    return KAPSUL_OK;
}

HOST(kpP2Http_fieldsClone) {
    P2;
    hfields *f = fields_of(p, &a[0], NULL);
    if (!f) return kpP2_trap(err, "wasi:http: not a fields resource");
    return give(p, R_FIELDS, fields_copy(p, f), false, &r[0], err);
}

/* Take the fields of an own<fields> argument (a constructor's): the entry goes, its object stays
 * for the caller (one reference). */
static hfields *take_fields(kpP2 *p, const kpCValue *v) {
    p2res *e = get(p, v, R_FIELDS);
    if (!e) return NULL;
    hfields *f = obj_ref(e->obj);
    kpP2_resDrop(p, v->rep);
    return f;
}

/* ---- Requests and responses -------------------------------------------------------------------- */

static hmsg *msg_of(kpP2 *p, const kpCValue *v) {
    if (v->rep >= p->res.n) return NULL;
    p2res *e = &p->res.v[v->rep];
    bool ok = e->kind == R_INREQ || e->kind == R_OUTREQ || e->kind == R_INRESP || e->kind == R_OUTRESP;
    return ok ? e->obj : NULL;
}

static kapsul_status option_string(kpCHostCall *call, const char *s, kpCValue *out, kapsul_error *err) {
    out->var.disc = s != NULL;
    out->var.payload = NULL;
    if (!s) return KAPSUL_OK;
    if (!(out->var.payload = kpP2_vals(call, 1)) || !kpP2_stringValue(call, s, strlen(s), out->var.payload))
        return kpP2_nomem(err);
    return KAPSUL_OK;
}

HOST(kpP2Http_method) {
    P2;
    hmsg *m = msg_of(p, &a[0]);
    if (!m) return kpP2_trap(err, "wasi:http: not a request");
    r[0].var.disc = m->method;
    r[0].var.payload = NULL;
    if (m->method != 9) return KAPSUL_OK;
    if (!(r[0].var.payload = kpP2_vals(call, 1)) ||
        !kpP2_stringValue(call, m->method_other, strlen(m->method_other), r[0].var.payload))
        return kpP2_nomem(err);
    return KAPSUL_OK;
}

HOST(kpP2Http_pathWithQuery) {
    P2;
    hmsg *m = msg_of(p, &a[0]);
    if (!m) return kpP2_trap(err, "wasi:http: not a request");
    return option_string(call, m->path, &r[0], err);
}

HOST(kpP2Http_authority) {
    P2;
    hmsg *m = msg_of(p, &a[0]);
    if (!m) return kpP2_trap(err, "wasi:http: not a request");
    return option_string(call, m->authority, &r[0], err);
}

HOST(kpP2Http_scheme) {
    P2;
    hmsg *m = msg_of(p, &a[0]);
    if (!m) return kpP2_trap(err, "wasi:http: not a request");
    r[0].var.disc = m->has_scheme;
    r[0].var.payload = NULL;
    if (!m->has_scheme) return KAPSUL_OK;
    kpCValue *s = r[0].var.payload = kpP2_vals(call, 1);
    if (!s) return kpP2_nomem(err);
    s->var.disc = m->scheme;
    s->var.payload = NULL;
    if (m->scheme == 2 && (!(s->var.payload = kpP2_vals(call, 1)) ||
                           !kpP2_stringValue(call, m->scheme_other, strlen(m->scheme_other), s->var.payload)))
        return kpP2_nomem(err);
    return KAPSUL_OK;
}

/* headers(): an immutable child view of the message's fields. */
HOST(kpP2Http_headers) {
    P2;
    hmsg *m = msg_of(p, &a[0]);
    if (!m) return kpP2_trap(err, "wasi:http: not a request or response");
    return give(p, R_FIELDS, obj_ref(m->headers), true, &r[0], err);
}

/* consume (incoming) and body (outgoing): the body, once. */
static kapsul_status take_body(kpP2 *p, kpCHostCall *call, const kpCValue *a, uint8_t kind, kpCValue *out,
                               kapsul_error *err) {
    hmsg *m = msg_of(p, &a[0]);
    if (!m) return kpP2_trap(err, "wasi:http: not a request or response");
    if (m->body_taken) {
        err_unit(out);
        return KAPSUL_OK;
    }
    if (!m->body && !(m->body = obj_new(p, sizeof(hbody), O_BODY))) return kpP2_nomem(err);
    kpCValue *pl;
    kapsul_status st = kpP2_putResult(call, out, 0, &pl, true, err);
    if (st == KAPSUL_OK) st = give(p, kind, obj_ref(m->body), false, pl, err);
    if (st == KAPSUL_OK) m->body_taken = true;
    return st;
}

HOST(kpP2Http_consume) {
    P2;
    return take_body(p, call, a, R_INBODY, &r[0], err);
}

HOST(kpP2Http_body) {
    P2;
    return take_body(p, call, a, R_OUTBODY, &r[0], err);
}

HOST(kpP2Http_status) {
    P2;
    hmsg *m = msg_of(p, &a[0]);
    if (!m) return kpP2_trap(err, "wasi:http: not a response");
    r[0].u = m->status;
    return KAPSUL_OK;
}

HOST(kpP2Http_setStatus) {
    P2;
    hmsg *m = msg_of(p, &a[0]);
    if (!m) return kpP2_trap(err, "wasi:http: not a response");
    if (a[1].u < 100 || a[1].u > 999) {
        err_unit(&r[0]);
        return KAPSUL_OK;
    }
    m->status = (uint16_t)a[1].u;
    ok_unit(&r[0]);
    return KAPSUL_OK;
}

static hmsg *msg_new(kpP2 *p, const kpCValue *headers) {
    hmsg *m = obj_new(p, sizeof *m, O_MSG);
    if (!m) return NULL;
    if (!(m->headers = take_fields(p, headers))) {
        obj_unref(m);
        return NULL;
    }
    return m;
}

HOST(kpP2Http_outResponseNew) {
    P2;
    if (!get(p, &a[0], R_FIELDS)) return kpP2_trap(err, "wasi:http: not a fields resource");
    hmsg *m = msg_new(p, &a[0]);
    if (m) m->status = 200;
    return give(p, R_OUTRESP, m, false, &r[0], err);
}

HOST(kpP2Http_outRequestNew) {
    P2;
    if (!get(p, &a[0], R_FIELDS)) return kpP2_trap(err, "wasi:http: not a fields resource");
    return give(p, R_OUTREQ, msg_new(p, &a[0]), false, &r[0], err);
}

static hmsg *out_request(kpP2 *p, const kpCValue *v) {
    p2res *e = get(p, v, R_OUTREQ);
    return e ? e->obj : NULL;
}

/* A method or scheme name of other(string): a token, as the request line needs. */
static char *other_name(const kpCValue *s) {
    return valid_name(s->str.p, s->str.len) ? kp_strndup(s->str.p, s->str.len) : NULL;
}

HOST(kpP2Http_setMethod) {
    P2;
    hmsg *m = out_request(p, &a[0]);
    if (!m) return kpP2_trap(err, "wasi:http: not an outgoing-request");
    char *other = NULL;
    if (a[1].var.disc == 9 && !(other = other_name(a[1].var.payload))) {
        err_unit(&r[0]);
        return KAPSUL_OK;
    }
    kp_free(m->method_other);
    m->method = a[1].var.disc, m->method_other = other;
    ok_unit(&r[0]);
    return KAPSUL_OK;
}

HOST(kpP2Http_setScheme) {
    P2;
    hmsg *m = out_request(p, &a[0]);
    if (!m) return kpP2_trap(err, "wasi:http: not an outgoing-request");
    const kpCValue *s = a[1].var.disc ? a[1].var.payload : NULL;
    char *other = NULL;
    if (s && s->var.disc == 2 && !(other = other_name(s->var.payload))) {
        err_unit(&r[0]);
        return KAPSUL_OK;
    }
    kp_free(m->scheme_other);
    m->has_scheme = s != NULL, m->scheme = s ? s->var.disc : 0, m->scheme_other = other;
    ok_unit(&r[0]);
    return KAPSUL_OK;
}

/* set-path-with-query and set-authority: printable ASCII without spaces (what a URL may hold). */
static kapsul_status set_text(kpCHostCall *call, const kpCValue *opt, char **slot, kpCValue *out,
                              kapsul_error *err) {
    (void)call;
    char *s = NULL;
    if (opt->var.disc) {
        const kpCValue *v = opt->var.payload;
        for (uint32_t i = 0; i < v->str.len; i++)
            if ((unsigned char)v->str.p[i] <= 0x20 || (unsigned char)v->str.p[i] >= 0x7f) {
                err_unit(out);
                return KAPSUL_OK;
            }
        if (!(s = kp_strndup(v->str.p, v->str.len))) return kpP2_nomem(err);
    }
    kp_free(*slot);
    *slot = s;
    ok_unit(out);
    return KAPSUL_OK;
}

HOST(kpP2Http_setPathWithQuery) {
    P2;
    hmsg *m = out_request(p, &a[0]);
    if (!m) return kpP2_trap(err, "wasi:http: not an outgoing-request");
    return set_text(call, &a[1], &m->path, &r[0], err);
}

HOST(kpP2Http_setAuthority) {
    P2;
    hmsg *m = out_request(p, &a[0]);
    if (!m) return kpP2_trap(err, "wasi:http: not an outgoing-request");
    return set_text(call, &a[1], &m->authority, &r[0], err);
}

/* ---- Request options ----------------------------------------------------------------------------- */

HOST(kpP2Http_optionsNew) {
    P2;
    return give(p, R_REQOPT, obj_new(p, sizeof(hopts), O_OPTS), false, &r[0], err);
}

/* The getters and setters of the three timeouts (i: connect, first-byte, between-bytes). */
static kapsul_status timeout_get(kpP2 *p, kpCHostCall *call, const kpCValue *a, kpCValue *r, int i,
                                 kapsul_error *err) {
    p2res *e = get(p, &a[0], R_REQOPT);
    if (!e) return kpP2_trap(err, "wasi:http: not a request-options");
    hopts *o = e->obj;
    r[0].var.disc = o->has[i];
    r[0].var.payload = NULL;
    if (o->has[i]) {
        if (!(r[0].var.payload = kpP2_vals(call, 1))) return kpP2_nomem(err);
        r[0].var.payload->u = o->t[i];
    }
    return KAPSUL_OK;
}

static kapsul_status timeout_set(kpP2 *p, const kpCValue *a, kpCValue *r, int i, kapsul_error *err) {
    p2res *e = get(p, &a[0], R_REQOPT);
    if (!e) return kpP2_trap(err, "wasi:http: not a request-options");
    hopts *o = e->obj;
    o->has[i] = a[1].var.disc != 0;
    o->t[i] = o->has[i] ? a[1].var.payload->u : 0;
    ok_unit(&r[0]);
    return KAPSUL_OK;
}

HOST(kpP2Http_connectTimeout) {
    P2;
    return timeout_get(p, call, a, r, 0, err);
}
HOST(kpP2Http_firstByteTimeout) {
    P2;
    return timeout_get(p, call, a, r, 1, err);
}
HOST(kpP2Http_betweenBytesTimeout) {
    P2;
    return timeout_get(p, call, a, r, 2, err);
}
HOST(kpP2Http_setConnectTimeout) {
    P2;
    return timeout_set(p, a, r, 0, err);
}
HOST(kpP2Http_setFirstByteTimeout) {
    P2;
    return timeout_set(p, a, r, 1, err);
}
HOST(kpP2Http_setBetweenBytesTimeout) {
    P2;
    return timeout_set(p, a, r, 2, err);
}

/* ---- Bodies -------------------------------------------------------------------------------------- */

/* incoming-body.stream / outgoing-body.write: the one stream over the body. */
HOST(kpP2Http_bodyStream) {
    P2;
    p2res *e = get(p, &a[0], R_INBODY);
    bool in = e != NULL;
    if (!e && !(e = get(p, &a[0], R_OUTBODY))) return kpP2_trap(err, "wasi:http: not a body");
    hbody *b = e->obj;
    if (b->stream_taken || (!in && b->finished)) {
        err_unit(&r[0]);
        return KAPSUL_OK;
    }
    kpCValue *pl;
    kapsul_status st = kpP2_putResult(call, &r[0], 0, &pl, true, err);
    if (st == KAPSUL_OK) st = give(p, in ? R_IN : R_OUT, obj_ref(b), false, pl, err);
    if (st == KAPSUL_OK) b->stream_taken = true;
    return st;
}

void kpP2Http_read(p2res *s, size_t want, const uint8_t **data, size_t *got) {
    hbody *b = s->obj;
    size_t left = b->data.len - b->pos;
    *got = want < left ? want : left;
    *data = b->data.data + b->pos;
    b->pos += *got;
}

uint16_t kpP2Http_write(p2res *s, const uint8_t *data, size_t n, bool zero) {
    hbody *b = s->obj;
    if (b->finished) return KP_WE_PIPE;
    if (n > KP_P2_MAX_BODY - b->data.len || !charge(&b->h, n)) return KP_WE_FBIG;
    if (kpBuf_reserve(&b->data, n) != 0) {
        refund(&b->h, n);
        return KP_WE_NOMEM;
    }
    if (zero) memset(b->data.data + b->data.len, 0, n);
    else if (n) memcpy(b->data.data + b->data.len, data, n);
    b->data.len += n;
    return 0;
}

HOST(kpP2Http_bodyFinishIn) {
    P2;
    p2res *e = get(p, &a[0], R_INBODY);
    if (!e) return kpP2_trap(err, "wasi:http: not an incoming-body");
    hbody *b = obj_ref(e->obj);
    kpP2_resDrop(p, a[0].rep);
    return give(p, R_FUTTRAIL, b, false, &r[0], err);
}

HOST(kpP2Http_bodyFinishOut) {
    P2;
    p2res *e = get(p, &a[0], R_OUTBODY);
    if (!e) return kpP2_trap(err, "wasi:http: not an outgoing-body");
    if (a[1].var.disc && !get(p, a[1].var.payload, R_FIELDS))
        return kpP2_trap(err, "wasi:http: not a fields resource");
    hbody *b = e->obj;
    b->finished = true;
    if (a[1].var.disc) {
        obj_unref(b->trailers);
        b->trailers = take_fields(p, a[1].var.payload);
    }
    kpP2_resDrop(p, a[0].rep);
    ok_unit(&r[0]);
    return KAPSUL_OK;
}

/* Futures are ready when asked: the pollable is ready at once. */
HOST(kpP2Http_subscribe) {
    P2;
    if (!get(p, &a[0], R_FUTTRAIL) && !get(p, &a[0], R_FUTRESP))
        return kpP2_trap(err, "wasi:http: not a future");
    return kpP2_newPollable(p, 0, &r[0], err);
}

/* option<result<result<T, error-code>>>: some(ok(...)) the first time, some(err) after. */
static kapsul_status future_value(kpCHostCall *call, p2res *e, kpCValue *out, kpCValue **inner,
                                  kapsul_error *err) {
    kpCValue *res = kpP2_vals(call, 1);
    if (!res) return kpP2_nomem(err);
    out->var.disc = 1, out->var.payload = res;
    *inner = NULL;
    if (e->taken) {
        err_unit(res);
        return KAPSUL_OK;
    }
    e->taken = true;
    return kpP2_putResult(call, res, 0, inner, true, err);
}

HOST(kpP2Http_trailersGet) {
    P2;
    p2res *e = get(p, &a[0], R_FUTTRAIL);
    if (!e) return kpP2_trap(err, "wasi:http: not a future-trailers");
    kpCValue *in;
    kapsul_status st = future_value(call, e, &r[0], &in, err);
    if (st != KAPSUL_OK || !in) return st;
    hbody *b = e->obj;
    kpCValue *pl;
    if ((st = kpP2_putResult(call, in, 0, &pl, true, err)) != KAPSUL_OK) return st;
    pl->var.disc = b->trailers != NULL, pl->var.payload = NULL;
    if (!b->trailers) return KAPSUL_OK;
    if (!(pl->var.payload = kpP2_vals(call, 1))) return kpP2_nomem(err);
    return give(p, R_FIELDS, obj_ref(b->trailers), true, pl->var.payload, err);
}

HOST(kpP2Http_errorCode) {
    P2;
    if (!get(p, &a[0], R_ERROR)) return kpP2_trap(err, "wasi:http: not an error resource");
    r[0].var.disc = 0, r[0].var.payload = NULL;
    return KAPSUL_OK;
}

/* ---- The response outparam ------------------------------------------------------------------------ */

/* Copy a finished outgoing response into the embedder's answer. */
static void answer_from(kpP2HttpResponse *ans, const hmsg *m) {
    ans->set = true;
    ans->error = -1;
    ans->status = m->status;
    const hbody *b = m->body;
    if (m->body_taken && (!b || !b->finished)) {
        ans->error = 25; /* HTTP-response-incomplete */
        snprintf(ans->detail, sizeof ans->detail,
                 "the response body was not finished (outgoing-body.finish)");
        return;
    }
    for (size_t i = 0; i < m->headers->v.n; i++) {
        const kpP2HttpField *f = &m->headers->v.v[i];
        if (kpP2HttpResponse_addHeader(ans, f->name, f->name_len, f->value, f->value_len) != 0) goto nomem;
    }
    if (b && b->data.len && kpBuf_push(&ans->body, b->data.data, b->data.len) != 0) goto nomem;
    return;
nomem:
    ans->error = KP_HTTP_E_INTERNAL;
    snprintf(ans->detail, sizeof ans->detail, "out of memory for the response");
}

HOST(kpP2Http_outparamSet) {
    P2;
    p2res *e = get(p, &a[0], R_OUTPARAM);
    if (!e) return kpP2_trap(err, "wasi:http: not a response-outparam");
    hmsg *m = NULL;
    if (a[1].var.disc == 0) {
        p2res *re = get(p, a[1].var.payload, R_OUTRESP);
        if (!re) return kpP2_trap(err, "wasi:http: not an outgoing-response");
        m = re->obj;
    }
    struct kpP2Http *h = p->http;
    kpP2HttpResponse *ans = h ? h->answer : NULL;
    if (ans && !ans->set) {
        if (m) {
            /* the body may still be written after set: the answer is taken when handle returns,
             * from the outparam's entry (which the guest cannot reach any more) */
            ((houtparam *)e->obj)->resp = obj_ref(m);
            ans->set = true;
            ans->error = -1;
        } else {
            ans->set = true;
            ans->error = (int)a[1].var.payload->var.disc;
            const kpCValue *pl = a[1].var.payload->var.payload;
            if (ans->error == KP_HTTP_E_INTERNAL && pl && pl->var.disc)
                snprintf(ans->detail, sizeof ans->detail, "%.*s",
                         (int)(pl->var.payload->str.len > 150 ? 150 : pl->var.payload->str.len),
                         pl->var.payload->str.p);
        }
    }
    if (m) kpP2_resDrop(p, a[1].var.payload->rep);
    return KAPSUL_OK;
}

/* ---- Outgoing requests ---------------------------------------------------------------------------- */

static void deny(hfuture *fu, int code, const char *detail) {
    fu->done = true;
    fu->res.error = code;
    snprintf(fu->res.detail, sizeof fu->res.detail, "%s", detail);
}

static const char *scheme_text(const hmsg *m) {
    if (!m->has_scheme) return "https"; /* types.wit leaves it to the host; wasmtime's default */
    return m->scheme == 0 ? "http" : m->scheme == 1 ? "https" : m->scheme_other;
}

static kapsul_status error_value(kpCHostCall *call, int code, const char *detail, kpCValue *out,
                                 kapsul_error *err) {
    out->var.disc = (uint32_t)code;
    out->var.payload = NULL;
    if (code != KP_HTTP_E_INTERNAL && code != KP_HTTP_E_RESPONSE_BODY_SIZE && code != KP_HTTP_E_DNS_ERROR)
        return KAPSUL_OK;
    kpCValue *pl = kpP2_vals(call, 2);
    if (!pl) return kpP2_nomem(err);
    memset(pl, 0, 2 * sizeof *pl);
    out->var.payload = pl;
    if (code == KP_HTTP_E_DNS_ERROR) { /* record{option<string>, option<u16>}: both none */
        kpCValue *rec = kpP2_vals(call, 2);
        if (!rec) return kpP2_nomem(err);
        memset(rec, 0, 2 * sizeof *rec);
        pl->agg.v = rec, pl->agg.n = 2;
        return KAPSUL_OK;
    }
    if (code == KP_HTTP_E_INTERNAL && detail && *detail) {
        pl->var.disc = 1;
        if (!(pl->var.payload = kpP2_vals(call, 1)) ||
            !kpP2_stringValue(call, detail, strlen(detail), pl->var.payload))
            return kpP2_nomem(err);
    }
    return KAPSUL_OK;
}

HOST(kpP2Http_send) {
    P2;
    hmsg *m = out_request(p, &a[0]);
    if (!m) return kpP2_trap(err, "wasi:http: not an outgoing-request");
    hopts opts = { 0 };
    if (a[1].var.disc) {
        p2res *o = get(p, a[1].var.payload, R_REQOPT);
        if (!o) return kpP2_trap(err, "wasi:http: not a request-options");
        opts = *(hopts *)o->obj;
        kpP2_resDrop(p, a[1].var.payload->rep);
    }
    hfuture *fu = obj_new(p, sizeof *fu, O_FUTURE);
    if (!fu) return kpP2_nomem(err);
    fu->req = obj_ref(m);
    fu->opts = opts;
    fu->res.error = -1;
    kpP2_resDrop(p, a[0].rep);
    struct kpP2Http *h = ctx(p);
    const char *scheme = scheme_text(m);
    if (!m->authority || !*m->authority) {
        deny(fu, KP_HTTP_E_REQUEST_URI_INVALID, "no authority");
    } else if (!h || !h->has_client || !h->client.allowed ||
               !h->client.allowed(h->client.env, scheme, m->authority, strlen(m->authority))) {
        deny(fu, KP_HTTP_E_REQUEST_DENIED, "not in the allowed outbound hosts");
    }
    if (fu->done) { /* refused now: the error is the result of handle itself */
        int code = fu->res.error;
        char detail[sizeof fu->res.detail];
        memcpy(detail, fu->res.detail, sizeof detail);
        obj_unref(fu);
        kpCValue *pl;
        kapsul_status st = kpP2_putResult(call, &r[0], 1, &pl, true, err);
        return st == KAPSUL_OK ? error_value(call, code, detail, pl, err) : st;
    }
    kpCValue *pl;
    kapsul_status st = kpP2_putResult(call, &r[0], 0, &pl, true, err);
    if (st != KAPSUL_OK) {
        obj_unref(fu);
        return st;
    }
    return give(p, R_FUTRESP, fu, false, pl, err);
}

/* Send the future's request through the client (its body is complete). */
static void perform(kpP2 *p, hfuture *fu) {
    hmsg *m = fu->req;
    struct kpP2Http *h = p->http;
    kpP2HttpHeader *hs = kp_calloc(m->headers->v.n + 1, sizeof *hs);
    fu->done = true;
    if (!hs || !h || !h->client.send) {
        deny(fu, KP_HTTP_E_INTERNAL, hs ? "no HTTP client" : "out of memory");
        kp_free(hs);
        return;
    }
    for (size_t i = 0; i < m->headers->v.n; i++) {
        const kpP2HttpField *f = &m->headers->v.v[i];
        hs[i] = (kpP2HttpHeader){ f->name, f->name_len, f->value, f->value_len };
    }
    const char *method = m->method < 9 ? method_names[m->method] : m->method_other;
    kpP2HttpRequest rq = {
        .method = method,
        .method_len = strlen(method),
        .scheme = scheme_text(m),
        .authority = m->authority,
        .authority_len = strlen(m->authority),
        .path_with_query = m->path ? m->path : "/",
        .path_len = m->path ? strlen(m->path) : 1,
        .headers = hs,
        .nheaders = m->headers->v.n,
        .body = m->body ? m->body->data.data : NULL,
        .body_len = m->body ? m->body->data.len : 0,
        .connect_timeout_ns = fu->opts.has[0] ? fu->opts.t[0] : 0,
        .first_byte_timeout_ns = fu->opts.has[1] ? fu->opts.t[1] : 0,
        .deadline_ns = p->w->deadline,
    };
    h->client.send(h->client.env, &rq, &fu->res);
    kp_free(hs);
    obj_unref(fu->req);
    fu->req = NULL;
}

HOST(kpP2Http_responseGet) {
    P2;
    p2res *e = get(p, &a[0], R_FUTRESP);
    if (!e) return kpP2_trap(err, "wasi:http: not a future-incoming-response");
    hfuture *fu = e->obj;
    if (!fu->done && fu->req->body_taken && (!fu->req->body || !fu->req->body->finished)) {
        r[0].var.disc = 0, r[0].var.payload = NULL; /* not ready: the body is still being written */
        return KAPSUL_OK;
    }
    if (!fu->done) perform(p, fu);
    kpCValue *in;
    kapsul_status st = future_value(call, e, &r[0], &in, err);
    if (st != KAPSUL_OK || !in) return st;
    kpCValue *pl;
    if (fu->res.error >= 0) {
        if ((st = kpP2_putResult(call, in, 1, &pl, true, err)) != KAPSUL_OK) return st;
        return error_value(call, fu->res.error, fu->res.detail, pl, err);
    }
    hmsg *m = obj_new(p, sizeof *m, O_MSG);
    hfields *f = obj_new(p, sizeof *f, O_FIELDS);
    hbody *b = obj_new(p, sizeof *b, O_BODY);
    if (!m || !f || !b) goto nomem;
    m->headers = f, m->body = b, m->status = fu->res.status;
    f = NULL, b = NULL;
    for (size_t i = 0; i < fu->res.headers.n; i++) {
        const kpP2HttpField *x = &fu->res.headers.v[i];
        if (fields_add(m->headers, x->name, x->name_len, x->value, x->value_len) != HE_NONE) goto nomem;
    }
    if (!charge(&m->body->h, fu->res.body.len)) {
        obj_unref(m);
        return kpP2_trap(err, "wasi:http: responses held past the host's budget for one request");
    }
    m->body->data = fu->res.body; /* moved */
    fu->res.body = (kpBuf){ 0 };
    m->body->finished = true;
    if ((st = kpP2_putResult(call, in, 0, &pl, true, err)) != KAPSUL_OK) {
        obj_unref(m);
        return st;
    }
    return give(p, R_INRESP, m, false, pl, err);
nomem:
    obj_unref(m), obj_unref(f), obj_unref(b);
    return kpP2_nomem(err);
}

/* ---- The incoming handler ------------------------------------------------------------------------- */

/* The client's request as an incoming-request (its body is not charged to the guest: the front
 * bounds it). */
static hmsg *request_in(kpP2 *p, const kpP2HttpRequest *req) {
    hmsg *m = obj_new(p, sizeof *m, O_MSG);
    if (!m || !(m->headers = obj_new(p, sizeof(hfields), O_FIELDS)) ||
        !(m->body = obj_new(p, sizeof(hbody), O_BODY)))
        goto fail;
    m->method = 9;
    for (uint32_t i = 0; i < 9; i++)
        if (strlen(method_names[i]) == req->method_len &&
            memcmp(method_names[i], req->method, req->method_len) == 0)
            m->method = i;
    if (m->method == 9 && !(m->method_other = kp_strndup(req->method, req->method_len))) goto fail;
    m->has_scheme = true;
    m->scheme = strcmp(req->scheme, "http") == 0 ? 0 : strcmp(req->scheme, "https") == 0 ? 1 : 2;
    if (m->scheme == 2 && !(m->scheme_other = kp_strndup(req->scheme, strlen(req->scheme)))) goto fail;
    if (req->authority_len && !(m->authority = kp_strndup(req->authority, req->authority_len))) goto fail;
    if (!(m->path = kp_strndup(req->path_with_query, req->path_len))) goto fail;
    for (size_t i = 0; i < req->nheaders; i++) {
        const kpP2HttpHeader *x = &req->headers[i];
        /* the front bounds what a client sends; what does not fit is refused as too large */
        if (fields_add(m->headers, x->name, x->name_len, x->value, x->value_len) != HE_NONE) goto fail;
    }
    if (req->body_len && kpBuf_push(&m->body->data, req->body, req->body_len) != 0) goto fail;
    m->body->finished = true;
    return m;
fail:
    obj_unref(m);
    return NULL;
}

kapsul_status kpP2_httpHandle(kpP2 *p, kpCInstance *ci, kpCFunc *handle, const kpP2HttpRequest *req,
                              kpP2HttpResponse *res, kapsul_error *err) {
    memset(res, 0, sizeof *res);
    res->error = -1;
    struct kpP2Http *h = ctx(p);
    if (!h) return kpP2_nomem(err);
    if (p->ci != ci)
        return kpError_set(err, KAPSUL_ERR_ARG, 0, "the component imports no wasi:http/types from this host");
    hmsg *m = request_in(p, req);
    if (!m) return kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory (or too many request headers)");
    uint32_t in_rep, out_rep;
    kpCValue params[2];
    if (give(p, R_INREQ, m, false, &params[0], err) != KAPSUL_OK) return KAPSUL_ERR_NOMEM;
    in_rep = params[0].rep;
    if (give(p, R_OUTPARAM, obj_new(p, sizeof(houtparam), O_OUTPARAM), false, &params[1], err) != KAPSUL_OK) {
        kpP2_resDrop(p, in_rep);
        return KAPSUL_ERR_NOMEM;
    }
    out_rep = params[1].rep;
    h->answer = res;
    kpCArena arena = { 0 };
    kpCValue results[1];
    kapsul_status st = kpCFunc_call(ci, handle, params, results, &arena, err);
    kpCArena_free(&arena);
    h->answer = NULL;
    /* set() parked the response on the outparam's entry; its body is complete now or never */
    p2res *o = kpP2_resGet(p, out_rep, R_OUTPARAM);
    houtparam *op = o ? o->obj : NULL;
    if (res->set && res->error < 0) {
        if (op && op->resp) answer_from(res, op->resp);
        else res->error = KP_HTTP_E_INTERNAL; /* cannot happen: set() parks it on the entry */
    }
    return st;
}
